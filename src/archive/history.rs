//! Time-travel answers built from states: word diffs between versions and timelines.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use similar::{ChangeTag, TextDiff};

use crate::domain::Article;

/// What a diff hunk does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Text in both versions.
    Equal,
    /// Text only in the later version.
    Insert,
    /// Text only in the earlier version.
    Delete,
}

/// One field's word diff.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldDiff {
    /// `headline`, `summary` or `body`.
    pub field: &'static str,
    /// Runs of equal, inserted and deleted text, in order.
    pub hunks: Vec<(Op, String)>,
}

/// Word-level diffs of headline, summary and body from `old` to `new` (fields that did not
/// change are left out).
pub fn diff(old: &Article, new: &Article) -> Vec<FieldDiff> {
    let fields: [(&'static str, &str, &str); 3] = [
        ("headline", &old.headline, &new.headline),
        ("summary", old.summary.as_deref().unwrap_or(""), new.summary.as_deref().unwrap_or("")),
        ("body", &old.body, &new.body),
    ];
    fields
        .into_iter()
        .filter(|(_, a, b)| a != b)
        .map(|(field, a, b)| {
            let diff = TextDiff::from_words(a, b);
            let mut hunks: Vec<(Op, String)> = Vec::new();
            for change in diff.iter_all_changes() {
                let op = match change.tag() {
                    ChangeTag::Equal => Op::Equal,
                    ChangeTag::Insert => Op::Insert,
                    ChangeTag::Delete => Op::Delete,
                };
                match hunks.last_mut() {
                    Some((last, text)) if *last == op => text.push_str(change.value()),
                    _ => hunks.push((op, change.value().to_owned())),
                }
            }
            FieldDiff { field, hunks }
        })
        .collect()
}

/// Timeline buckets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bucket {
    /// Calendar years.
    Year,
    /// Calendar months.
    Month,
    /// Days.
    Day,
}

/// Most buckets one timeline may have.
pub const MAX_BUCKETS: usize = 100_000;

fn start_of(bucket: Bucket, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let (y, m, d) = match bucket {
        Bucket::Year => (t.year(), 1, 1),
        Bucket::Month => (t.year(), t.month(), 1),
        Bucket::Day => (t.year(), t.month(), t.day()),
    };
    Some(Utc.from_utc_datetime(&NaiveDate::from_ymd_opt(y, m, d)?.and_hms_opt(0, 0, 0)?))
}

fn next(bucket: Bucket, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match bucket {
        Bucket::Year => start_of(bucket, t.with_year(t.year().checked_add(1)?)?),
        Bucket::Month => {
            let (y, m) =
                if t.month() == 12 { (t.year().checked_add(1)?, 1) } else { (t.year(), t.month() + 1) };
            Some(Utc.from_utc_datetime(&NaiveDate::from_ymd_opt(y, m, 1)?.and_hms_opt(0, 0, 0)?))
        }
        Bucket::Day => t.checked_add_signed(chrono::Duration::days(1)),
    }
}

/// Counts instants per bucket from the bucket holding `from` (or the earliest instant) to the
/// one holding `to` (exclusive; or the latest instant), empty buckets included.
pub fn timeline(
    instants: &[i64],
    bucket: Bucket,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<Vec<(DateTime<Utc>, u64)>, String> {
    let times: Vec<DateTime<Utc>> =
        instants.iter().filter_map(|us| DateTime::from_timestamp_micros(*us)).collect();
    let (Some(lo), Some(hi)) = (
        from.or_else(|| times.iter().min().copied()),
        to.or_else(|| {
            times.iter().max().and_then(|t| t.checked_add_signed(chrono::Duration::microseconds(1)))
        }),
    ) else {
        return Ok(Vec::new());
    };
    let unrepresentable = || "the timeline's range is outside the years the archive reads".to_owned();
    let mut buckets = Vec::new();
    let mut at = start_of(bucket, lo).ok_or_else(unrepresentable)?;
    while at < hi {
        if buckets.len() == MAX_BUCKETS {
            return Err(format!(
                "the timeline would have more than {MAX_BUCKETS} buckets: narrow from/to or use a larger bucket"
            ));
        }
        buckets.push((at, 0u64));
        at = next(bucket, at).ok_or_else(unrepresentable)?;
    }
    for t in times.into_iter().filter(|t| *t >= lo && *t < hi) {
        let Some(start) = start_of(bucket, t) else { continue };
        if let Ok(i) = buckets.binary_search_by(|(b, _)| b.cmp(&start)) {
            buckets[i].1 += 1;
        }
    }
    Ok(buckets)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn months_include_empty_ones_and_bounds_are_half_open() {
        let instants: Vec<i64> =
            ["1918-10-05T00:00:00Z", "1918-10-31T23:59:59Z", "1918-12-01T00:00:00Z", "1919-01-01T00:00:00Z"]
                .iter()
                .map(|s| at(s).timestamp_micros())
                .collect();
        let t = timeline(
            &instants,
            Bucket::Month,
            Some(at("1918-10-01T00:00:00Z")),
            Some(at("1919-01-01T00:00:00Z")),
        )
        .unwrap();
        let counts: Vec<u64> = t.iter().map(|(_, c)| *c).collect();
        assert_eq!(counts, vec![2, 0, 1]);
        assert_eq!(t[1].0, at("1918-11-01T00:00:00Z"));
        assert!(
            timeline(
                &instants,
                Bucket::Day,
                Some(at("0001-01-01T00:00:00Z")),
                Some(at("2026-01-01T00:00:00Z"))
            )
            .is_err()
        );
    }
}
