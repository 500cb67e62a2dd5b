//! What a reader's query becomes before Tantivy runs it: `published:` dates turned into the
//! microseconds the index holds.

use chrono::DateTime;

use crate::project::{Error, Result};

/// The query with every date in a `published:` clause (`published:[1919-01-01 TO
/// 1920-01-01}`, `published:>=1919-06-01T12:00:00Z`) turned into the microseconds the field
/// holds, so readers write dates and every year from 1 to 9999 can be asked for.
pub(super) fn published_in_micros(query: &str) -> Result<String> {
    const FIELD: &str = "published:";
    let mut out = String::with_capacity(query.len());
    let mut rest = query;
    while let Some(at) = rest.find(FIELD) {
        let (head, tail) = rest.split_at(at + FIELD.len());
        out.push_str(head);
        let end = match tail.chars().next() {
            Some('[' | '{') => tail.find([']', '}']).map_or(tail.len(), |i| i + 1),
            _ => tail.find(|c: char| c.is_whitespace() || c == ')').unwrap_or(tail.len()),
        };
        let clause = &tail[..end];
        let mut piece = String::new();
        let mut bound = String::new();
        let flush = |bound: &mut String, piece: &mut String| -> Result<()> {
            if !bound.is_empty() {
                if bound == "*" || bound == "TO" {
                    piece.push_str(bound);
                } else {
                    piece.push_str(&instant_micros(bound)?.to_string());
                }
                bound.clear();
            }
            Ok(())
        };
        for c in clause.chars() {
            if matches!(c, '[' | ']' | '{' | '}' | '>' | '<' | '=' | ' ') {
                flush(&mut bound, &mut piece)?;
                piece.push(c);
            } else {
                bound.push(c);
            }
        }
        flush(&mut bound, &mut piece)?;
        out.push_str(&piece);
        rest = &tail[end..];
    }
    out.push_str(rest);
    Ok(out)
}

/// An RFC 3339 instant or a bare date (its start, UTC) in microseconds, within the years the
/// archive reads.
fn instant_micros(text: &str) -> Result<i64> {
    let bad = || {
        Error::Query(format!(
            "published: takes dates such as 1919-01-01 or 1919-01-01T12:00:00Z, not {text:?}"
        ))
    };
    let t = DateTime::parse_from_rfc3339(text)
        .map(|t| t.to_utc())
        .ok()
        .or_else(|| {
            chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()?
                .and_hms_opt(0, 0, 0)
                .map(|t| t.and_utc())
        })
        .ok_or_else(bad)?;
    if !crate::store::limits::instant_in_range(t) {
        return Err(bad());
    }
    Ok(t.timestamp_micros())
}

/// The words of `text` as the index analyses them (`en_stem`: split on non-alphanumerics,
/// lowercased, stemmed; words over 40 bytes dropped): what decides whether a text matches a
/// word without running the index.
pub fn stems(text: &str) -> std::collections::HashSet<String> {
    use tantivy::tokenizer::{
        Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, TextAnalyzer,
    };
    let mut analyzer = TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(Stemmer::new(Language::English))
        .build();
    let mut out = std::collections::HashSet::new();
    let mut stream = analyzer.token_stream(text);
    while let Some(token) = stream.next() {
        out.insert(token.text.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::published_in_micros;

    #[test]
    fn published_dates_become_microseconds_in_every_form() {
        assert_eq!(
            published_in_micros("flu AND published:[1919-01-01T00:00:00Z TO 1920-01-01}").unwrap(),
            "flu AND published:[-1609459200000000 TO -1577923200000000}"
        );
        assert_eq!(
            published_in_micros("published:>=1665-09-02 x").unwrap(),
            "published:>=-9603705600000000 x"
        );
        assert_eq!(published_in_micros("published:[* TO 1970-01-01]").unwrap(), "published:[* TO 0]");
        assert!(published_in_micros("published:[0000-01-01 TO *]").is_err());
        assert!(published_in_micros("published:yesterday").is_err());
        assert_eq!(published_in_micros("no dates here").unwrap(), "no dates here");
    }
}
