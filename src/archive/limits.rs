//! The bounds every read is held to, checked before any work that grows with its input runs.
//! A read over a bound gets a coded error that names the bound; none reaches LMDB, Tantivy
//! or the allocator unchecked.

use crate::domain::commands::limits as fields;
use crate::project::search::SearchRequest;
use crate::{Error, Result};

/// Hits a reader may page to: offset plus page size, as Elasticsearch's
/// `max_result_window`. Deeper paging is BAD_INPUT.
pub const MAX_RESULT_WINDOW: usize = 10_000;
/// Bytes of a search query's text (LIMIT beyond).
pub const MAX_QUERY_BYTES: usize = 1_000;
/// Parentheses nested in a search query (LIMIT beyond): the query parser recurses on them.
pub const MAX_QUERY_NESTING: usize = 16;
/// Characters of an opaque listing cursor (BAD_INPUT beyond): cursors this node hands out are
/// far shorter, and a cursor becomes an LMDB key.
pub const MAX_CURSOR: usize = 128;

/// How deeply parentheses nest in `text`, counted without regard to quotes, so the count is
/// never below what a parser that honours quotes would meet.
pub fn nesting(text: &str, open: &[u8], close: &[u8]) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    for b in text.bytes() {
        if open.contains(&b) {
            depth += 1;
            deepest = deepest.max(depth);
        } else if close.contains(&b) {
            depth = depth.saturating_sub(1);
        }
    }
    deepest
}

/// Checks a search's text, its filters and its window before it runs.
pub fn check_search(request: &SearchRequest) -> Result<()> {
    let window = request.offset.saturating_add(request.first);
    if window > MAX_RESULT_WINDOW {
        return Err(Error::BadInput(format!(
            "results can be paged only within the first {MAX_RESULT_WINDOW} (asked for up to {window}); \
             narrow the query or the dates instead"
        )));
    }
    check_query_text(&request.query)?;
    if let Some(section) = &request.section {
        check_name("section", section, fields::SECTION)?;
    }
    if let Some(tag) = &request.tag {
        check_name("tag", tag, fields::TAG)?;
    }
    Ok(())
}

/// Checks a search query's length and nesting.
pub fn check_query_text(query: &str) -> Result<()> {
    if query.len() > MAX_QUERY_BYTES {
        return Err(Error::Limit(format!(
            "the search query is {} bytes, limit is {MAX_QUERY_BYTES}",
            query.len()
        )));
    }
    let depth = nesting(query, b"(", b")");
    if depth > MAX_QUERY_NESTING {
        return Err(Error::Limit(format!(
            "the search query nests parentheses {depth} deep, limit is {MAX_QUERY_NESTING}"
        )));
    }
    Ok(())
}

/// Checks a name a read looks up (a section, a tag, a slug): at most `limit` bytes, as the
/// write path allows, so the lookup key is one the views can hold.
pub fn check_name(field: &str, value: &str, limit: usize) -> Result<()> {
    if value.len() > limit {
        return Err(Error::BadInput(format!("{field} is {} bytes, limit is {limit}", value.len())));
    }
    Ok(())
}

/// Checks an opaque cursor's length.
pub fn check_cursor(cursor: Option<&str>) -> Result<()> {
    match cursor {
        Some("") => Err(Error::BadInput("the cursor is empty; omit `after` for the first page".into())),
        Some(c) if c.len() > MAX_CURSOR => Err(Error::BadInput(format!(
            "the cursor is {} characters, limit is {MAX_CURSOR}; pass a cursor this list handed out",
            c.len()
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_never_undercounts_and_ignores_stray_closers() {
        assert_eq!(nesting("a (b (c)) d", b"(", b")"), 2);
        assert_eq!(nesting("\"))))\" ((((x))))", b"(", b")"), 4);
        assert_eq!(nesting(")))", b"(", b")"), 0);
    }

    #[test]
    fn paging_past_the_window_names_it() {
        let request = SearchRequest { offset: 9_995, first: 10, ..Default::default() };
        let e = check_search(&request).unwrap_err();
        assert_eq!(e.code(), "BAD_INPUT");
        assert!(e.to_string().contains("10000"), "{e}");
        let request = SearchRequest { offset: usize::MAX, first: 10, ..Default::default() };
        assert_eq!(check_search(&request).unwrap_err().code(), "BAD_INPUT");
    }
}
