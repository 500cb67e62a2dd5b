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

/// The field a query names for captions: `caption:WORD` or `caption:"a phrase"`.
const CAPTION: &str = "caption:";

/// A query's `caption:` clauses, each joined to the images that answer it.
///
/// `caption:WORD` (or `caption:"a phrase"`, with any `^boost` after it) becomes `(caption:WORD
/// OR image: IN ["id" ...])`: an article is found by its placements' own captions and credits,
/// indexed with its versions, or by placing an image that `images` names for the clause's text.
/// The images are read at the search's instant, so the join follows their captions as they
/// change. Text inside quotes is left alone; `caption:` followed by anything but a word or a
/// phrase is refused. `images` is called once per clause, in order, and may refuse (a limit).
pub fn join_captions<E: From<Error>>(
    query: &str,
    mut images: impl FnMut(&str) -> std::result::Result<Vec<String>, E>,
) -> std::result::Result<String, E> {
    let mut out = String::with_capacity(query.len());
    let (mut in_quote, mut escaped, mut previous) = (false, false, None::<char>);
    let mut rest = query;
    while let Some(c) = rest.chars().next() {
        let starts_clause = !in_quote
            && !escaped
            && previous.is_none_or(|p| p.is_whitespace() || matches!(p, '(' | '+' | '-'))
            && rest.starts_with(CAPTION);
        if starts_clause {
            let after = &rest[CAPTION.len()..];
            let (raw, text, tail) = caption_value(after)?;
            let (raw, boost) = match raw.rfind('^') {
                Some(i) if i > 0 && raw[i + 1..].parse::<f32>().is_ok() => (&raw[..i], &raw[i..]),
                _ => (raw, ""),
            };
            let text = if raw.starts_with('"') { text } else { raw };
            let ids = images(text)?;
            out.push_str("(caption:");
            out.push_str(raw);
            out.push_str(" OR image: IN [");
            for (i, id) in ids.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push('"');
                out.push_str(&id.replace('\\', "\\\\").replace('"', "\\\""));
                out.push('"');
            }
            out.push_str("])");
            out.push_str(boost);
            previous = Some(')');
            rest = tail;
            continue;
        }
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => in_quote = !in_quote,
            _ => {}
        }
        out.push(c);
        previous = Some(c);
        rest = &rest[c.len_utf8()..];
    }
    Ok(out)
}

/// The value after `caption:`: as written, its text, and what follows it.
fn caption_value(after: &str) -> Result<(&str, &str, &str)> {
    let refuse = || Error::Query("caption: takes a word or a \"phrase\", as in caption:lighthouse".into());
    match after.chars().next() {
        Some('"') => {
            let mut escaped = false;
            for (i, c) in after.char_indices().skip(1) {
                match c {
                    _ if escaped => escaped = false,
                    '\\' => escaped = true,
                    '"' => {
                        // A boost may follow the closing quote.
                        let end = i + 1;
                        let boost = after[end..]
                            .find(|c: char| c.is_whitespace() || c == ')')
                            .map_or(after.len(), |j| end + j);
                        return Ok((&after[..boost], &after[1..i], &after[boost..]));
                    }
                    _ => {}
                }
            }
            Err(Error::Query("caption: a phrase without its closing quote".into()))
        }
        Some(c) if c.is_whitespace() || "()[]{}:^".contains(c) => Err(refuse()),
        None => Err(refuse()),
        Some(_) => {
            let end = after.find(|c: char| c.is_whitespace() || c == ')').unwrap_or(after.len());
            Ok((&after[..end], &after[..end], &after[end..]))
        }
    }
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

    use super::join_captions;
    use crate::project::Error;

    fn joined(query: &str) -> Result<(String, Vec<String>), Error> {
        let mut asked = Vec::new();
        let out = join_captions(query, |text: &str| -> Result<Vec<String>, Error> {
            asked.push(text.to_owned());
            Ok(vec![format!("image-{}", asked.len())])
        })?;
        Ok((out, asked))
    }

    #[test]
    fn caption_clauses_are_joined_to_the_images_named_for_them() {
        let (out, asked) = joined("harbour caption:lighthouse -caption:\"old light\"^2").unwrap();
        assert_eq!(
            out,
            "harbour (caption:lighthouse OR image: IN [\"image-1\"]) \
             -(caption:\"old light\" OR image: IN [\"image-2\"])^2"
        );
        assert_eq!(asked, ["lighthouse", "old light"]);
        // Inside quotes, or inside another word, it is text.
        let (out, asked) = joined("\"caption:x\" subcaption:y").unwrap();
        assert_eq!((out.as_str(), asked.len()), ("\"caption:x\" subcaption:y", 0));
        let (out, _) = joined("(caption:a^1.5)").unwrap();
        assert_eq!(out, "((caption:a OR image: IN [\"image-1\"])^1.5)");
        for bad in ["caption:", "caption: x", "caption:(a b)", "caption:\"open"] {
            assert!(matches!(joined(bad), Err(Error::Query(_))), "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_query_is_joined_or_refused_and_without_clauses_unchanged(query in "[a-z :\"()^\\\\+-]{0,40}") {
            if let Ok((out, asked)) = joined(&query) {
                if asked.is_empty() {
                    proptest::prop_assert_eq!(out, query);
                } else {
                    proptest::prop_assert_eq!(out.matches(" OR image: IN [").count(), asked.len());
                }
            }
        }
    }
}
