//! `/feeds/atom`: an Atom feed (RFC 4287) of what readers saw change, filtered like the search
//! page (`section=`, `author=`, `q=`: a saved search becomes a feed), read as of the page's
//! instant like every page.
//!
//! - An entry for each publication, correction and retraction, `updated` from valid time
//!   (when it took effect), newest first, at most [`ENTRIES`].
//! - A retracted article's publication is withdrawn from readers: it is replaced by an RFC 6721
//!   `at:deleted-entry` naming it, beside the retraction's own entry.
//! - The articles looked at are the [`ARTICLES`] most recently published that match, and those
//!   written to by the last [`RECENT_EVENTS`] events of the log that match the `section=` and
//!   `author=` filters (so a correction or a retraction of an old story is in the feed; with
//!   `q=`, only the search's). Each is read through the same rule as every page: readers see
//!   only what was public.

use chrono::{DateTime, SecondsFormat, Utc};

use super::Params;
use crate::archive::{Archive, ArticleFacts, Reading, SearchRequest, Snapshot, Sort};
use crate::domain::{ArticleStatus, AuthorId};
use crate::{Error, Result};

/// Entries a feed holds at most.
pub const ENTRIES: usize = 50;
/// Articles a feed looks at: the most recently published that match its filters.
pub const ARTICLES: usize = 100;
/// Events of the log's end a feed looks through for articles that changed.
pub const RECENT_EVENTS: u64 = 2000;

/// What a feed lists.
enum Item {
    Entry {
        id: String,
        title: String,
        updated: DateTime<Utc>,
        link: String,
        text: String,
        snap: Box<Snapshot<ArticleFacts>>,
    },
    Deleted {
        reference: String,
        when: DateTime<Utc>,
        link: String,
        comment: String,
    },
}

impl Item {
    fn when(&self) -> DateTime<Utc> {
        match self {
            Item::Entry { updated, .. } => *updated,
            Item::Deleted { when, .. } => *when,
        }
    }
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 does not allow are left out.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            '\u{fffe}' | '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out
}

fn instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn query_of(pairs: &[(&str, Option<String>)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
            query.append_pair(k, v);
        }
    }
    let q = query.finish();
    if q.is_empty() { q } else { format!("?{q}") }
}

/// The feed's items for one article: its publication (or, once retracted, a deleted entry in
/// its place), its corrections and its retraction, as readers saw them up to the reading.
fn items_of(
    archive: &Archive,
    r: &Reading,
    base: &str,
    id: crate::domain::ArticleId,
    until: DateTime<Utc>,
) -> Result<Vec<Item>> {
    let history: Vec<Snapshot<ArticleFacts>> =
        archive.article_history_facts(r, id)?.into_iter().filter(|s| s.effective_at <= until).collect();
    let mut items = Vec::new();
    let Some(first) = history.first() else { return Ok(items) };
    let page = |snap: &Snapshot<ArticleFacts>, at: DateTime<Utc>| {
        format!("{base}/articles/{}{}", snap.state.slug, query_of(&[("asOf", Some(instant(at)))]))
    };
    let publication_id = format!("urn:morgue:article:{}", first.state.id);
    let published_at = first.state.first_published_at.unwrap_or(first.effective_at);
    let mut corrections = 0;
    let mut retracted: Option<&Snapshot<ArticleFacts>> = None;
    for snap in &history {
        for (n, c) in snap.state.corrections.iter().enumerate().skip(corrections) {
            items.push(Item::Entry {
                id: format!("{publication_id}:correction:{}", n + 1),
                title: format!("Correction: {}", snap.state.headline),
                updated: c.effective_at,
                link: page(snap, c.effective_at),
                text: c.text.clone(),
                snap: Box::new(snap.clone()),
            });
        }
        corrections = corrections.max(snap.state.corrections.len());
        if snap.state.status == ArticleStatus::Retracted && retracted.is_none() {
            retracted = Some(snap);
        }
    }
    match retracted {
        Some(snap) => {
            let reason = snap.state.retraction_reason.clone().unwrap_or_default();
            items.push(Item::Entry {
                id: format!("{publication_id}:retraction"),
                title: format!("Retracted: {}", snap.state.headline),
                updated: snap.effective_at,
                link: page(snap, snap.effective_at),
                text: reason.clone(),
                snap: Box::new(snap.clone()),
            });
            items.push(Item::Deleted {
                reference: publication_id,
                when: snap.effective_at,
                link: page(snap, snap.effective_at),
                comment: reason,
            });
        }
        None => items.push(Item::Entry {
            id: publication_id,
            title: first.state.headline.clone(),
            updated: published_at,
            link: page(first, published_at),
            text: first.state.summary.clone().unwrap_or_default(),
            snap: Box::new(first.clone()),
        }),
    }
    Ok(items)
}

/// The Atom document for a page's filters, read at `r`.
pub(super) fn atom(archive: &Archive, r: &Reading, params: &Params, base: &str) -> Result<String> {
    let author = match params.author.as_deref().filter(|a| !a.is_empty()) {
        Some(a) => {
            Some(a.parse::<AuthorId>().map_err(|_| Error::BadInput(format!("{a:?} is not an author id")))?)
        }
        None => None,
    };
    let request = SearchRequest {
        query: params.q.clone().unwrap_or_default(),
        section: params.section.clone().filter(|s| !s.is_empty()),
        author_id: author,
        first: ARTICLES,
        sort: Sort::Date,
        skip_facets: true,
        skip_snippets: true,
        skip_total: true,
        ..Default::default()
    };
    let until = r.at.as_of.unwrap_or_else(Utc::now);
    let mut articles: Vec<crate::domain::ArticleId> =
        archive.search(r, request)?.hits.iter().map(|h| h.article).collect();
    if params.q.as_deref().is_none_or(|q| q.trim().is_empty()) {
        for id in archive.recently_changed_articles(r, RECENT_EVENTS)? {
            if articles.contains(&id) {
                continue;
            }
            let Some(snap) = archive.article(r, id)? else { continue };
            let section = params.section.as_deref().filter(|s| !s.is_empty());
            if section.is_some_and(|s| snap.state.section != s)
                || author.is_some_and(|a| !snap.state.bylines.iter().any(|b| b.author_id == a))
            {
                continue;
            }
            articles.push(id);
        }
    }
    let mut items = Vec::new();
    for id in articles {
        items.extend(items_of(archive, r, base, id, until)?);
    }
    items.sort_by_key(|item| std::cmp::Reverse(item.when()));
    items.truncate(ENTRIES);

    let filters = [
        ("q", params.q.clone()),
        ("section", params.section.clone()),
        ("author", params.author.clone()),
        ("asOf", params.as_of.clone()),
        ("basis", params.basis.map(|b| b.to_string())),
    ];
    let this = format!("{base}/feeds/atom{}", query_of(&filters));
    let alternate = format!("{base}/{}", query_of(&filters));
    let title = match (&params.q, &params.section) {
        (Some(q), _) if !q.is_empty() => format!("morgue: “{q}”"),
        (_, Some(s)) if !s.is_empty() => format!("morgue: {s}"),
        _ => "morgue".to_owned(),
    };
    let updated = items.first().map_or(until, Item::when);
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    xml.push_str(
        "<feed xmlns=\"http://www.w3.org/2005/Atom\" xmlns:at=\"http://purl.org/atompub/tombstones/1.0\">\n",
    );
    xml.push_str(&format!("  <id>{}</id>\n  <title>{}</title>\n", escape(&this), escape(&title)));
    xml.push_str(&format!("  <updated>{}</updated>\n", instant(updated)));
    xml.push_str(&format!(
        "  <link rel=\"self\" type=\"application/atom+xml\" href=\"{}\"/>\n",
        escape(&this)
    ));
    xml.push_str(&format!(
        "  <link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>\n",
        escape(&alternate)
    ));
    xml.push_str("  <author><name>morgue</name></author>\n  <generator>morgue</generator>\n");
    for item in &items {
        match item {
            Item::Entry { id, title, updated, link, text, snap } => {
                xml.push_str("  <entry>\n");
                xml.push_str(&format!("    <id>{}</id>\n    <title>{}</title>\n", escape(id), escape(title)));
                xml.push_str(&format!("    <updated>{}</updated>\n", instant(*updated)));
                if let Some(p) = snap.state.first_published_at {
                    xml.push_str(&format!("    <published>{}</published>\n", instant(p)));
                }
                xml.push_str(&format!(
                    "    <link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>\n",
                    escape(link)
                ));
                for b in &snap.state.bylines {
                    if let Some(a) = archive.author(r, b.author_id)? {
                        xml.push_str(&format!(
                            "    <author><name>{}</name></author>\n",
                            escape(&a.state.name)
                        ));
                    }
                }
                xml.push_str(&format!("    <category term=\"{}\"/>\n", escape(&snap.state.section)));
                if !text.is_empty() {
                    xml.push_str(&format!("    <summary>{}</summary>\n", escape(text)));
                }
                xml.push_str("  </entry>\n");
            }
            Item::Deleted { reference, when, link, comment } => {
                xml.push_str(&format!(
                    "  <at:deleted-entry ref=\"{}\" when=\"{}\">\n    <link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>\n",
                    escape(reference),
                    instant(*when),
                    escape(link)
                ));
                if !comment.is_empty() {
                    xml.push_str(&format!("    <at:comment>{}</at:comment>\n", escape(comment)));
                }
                xml.push_str("  </at:deleted-entry>\n");
            }
        }
    }
    xml.push_str("</feed>\n");
    Ok(xml)
}

#[cfg(test)]
mod tests {
    use super::escape;
    use proptest::prelude::*;

    proptest! {
        /// Any text is escaped into XML text that holds no markup and no character XML forbids.
        #[test]
        fn any_text_escapes_to_plain_xml_text(text in "\\PC{0,100}|[\\u{0}-\\u{1f}<>&\"']{0,20}") {
            let out = escape(&text);
            prop_assert!(!out.contains('<') && !out.contains('>') && !out.contains('"'));
            prop_assert!(out.chars().all(|c| c as u32 >= 0x20 || matches!(c, '\t' | '\n' | '\r')));
        }
    }
}
