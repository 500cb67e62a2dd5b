//! Memento (RFC 7089) for article and author pages: time travel over plain HTTP, for the
//! Wayback Machine's tools, pywb, the Memento aggregators and their Python client.
//!
//! - The page (`/articles/{slug}`, `/authors/{id}`) is the Original Resource and its own
//!   TimeGate: with `Accept-Datetime` (an HTTP date) it answers 302 to the memento readers saw
//!   at that instant, with `Vary: accept-datetime` and a `Link` header naming the original,
//!   the TimeMaps and the first, last, previous and next mementos. A date before the first
//!   memento is sent to the first one (the closest there is).
//! - A memento is the page read `asOf` the instant a version took effect; any page read
//!   `asOf` an instant answers with `Memento-Datetime` (the instant its version took effect)
//!   and its own `Link` header.
//! - TimeMaps at `/timemap/link/…` (`application/link-format`) and `/timemap/json/…`, paged
//!   by [`PAGE`] mementos (`?page=2`, linked by `rel="next"` and `rel="prev"`).
//!
//! Mementos are only what readers saw: an article's public versions (never its drafts); an
//! author's versions. They come from the same reads, through the same rule, as the pages.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};

use crate::Result;
use crate::archive::{Archive, ReadRequest, Reading};
use crate::domain::ArticleId;

/// Mementos per TimeMap page.
pub const PAGE: usize = 1000;
/// Longest `Accept-Datetime` accepted.
const LONGEST_DATE: usize = 64;

/// A resource with mementos.
#[derive(Clone, Debug)]
pub(super) enum Resource {
    /// An article, by its slug.
    Article(String),
    /// An author, by id.
    Author(crate::domain::AuthorId),
}

impl Resource {
    /// The original's path.
    pub(super) fn path(&self) -> String {
        match self {
            Resource::Article(slug) => format!("/articles/{}", encode(slug)),
            Resource::Author(id) => format!("/authors/{id}"),
        }
    }
}

fn encode(segment: &str) -> String {
    form_urlencoded::byte_serialize(segment.as_bytes()).collect()
}

/// One memento: the instant a version readers saw took effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Memento {
    /// When it took effect (its `Memento-Datetime`, to the second).
    pub at: DateTime<Utc>,
}

/// The present, as a reader (not staff) reads it.
pub(super) async fn reader_now(archive: &Archive) -> Result<Reading> {
    archive.reading(ReadRequest::default()).await
}

/// The mementos of a resource as readers may see them, oldest first, one per second (the
/// precision of HTTP dates; the last version of a second stands for it); `None` when readers
/// see nothing of it.
pub(super) fn mementos(archive: &Archive, r: &Reading, resource: &Resource) -> Result<Option<Vec<Memento>>> {
    let mut instants: Vec<DateTime<Utc>> = match resource {
        Resource::Article(slug) => {
            let Some(id) = article_id(archive, r, slug)? else { return Ok(None) };
            // A scheduled publication is a memento from its instant, not from its recording.
            let from = |s: &crate::archive::Snapshot<crate::archive::ArticleFacts>| {
                s.state.first_published_at.map_or(s.effective_at, |p| p.max(s.effective_at))
            };
            archive.article_history_facts(r, id)?.iter().map(from).collect()
        }
        Resource::Author(id) => archive.author_history(r, *id)?.into_iter().map(|s| s.effective_at).collect(),
    };
    for t in &mut instants {
        *t = second(*t);
    }
    instants.sort();
    instants.dedup();
    if instants.is_empty() {
        return Ok(None);
    }
    Ok(Some(instants.into_iter().map(|at| Memento { at }).collect()))
}

fn article_id(archive: &Archive, r: &Reading, slug: &str) -> Result<Option<ArticleId>> {
    // Any version a reader may see makes the slug known to readers; drafts do not.
    Ok(archive.article_by_slug(r, slug)?.map(|s| s.state.id))
}

fn second(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

/// An HTTP date (RFC 1123), as `Accept-Datetime` and `Memento-Datetime` carry it.
pub(super) fn http_date(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// Parses `Accept-Datetime`: an HTTP date (RFC 1123; RFC 2822's other forms are accepted).
pub(super) fn parse_accept_datetime(value: &HeaderValue) -> std::result::Result<DateTime<Utc>, String> {
    let text = value.to_str().map_err(|_| "Accept-Datetime is not ASCII".to_owned())?;
    if text.len() > LONGEST_DATE {
        return Err(format!("Accept-Datetime is at most {LONGEST_DATE} characters"));
    }
    let text = text.trim();
    // A weekday that does not match the date is forgiven: the date says which day it is.
    let without_weekday = text.split_once(", ").map_or(text, |(_, rest)| rest);
    let t = DateTime::parse_from_rfc2822(text)
        .or_else(|_| DateTime::parse_from_rfc2822(without_weekday))
        .map_err(|_| {
            format!("Accept-Datetime {text:?} is not an HTTP date, such as \"Tue, 20 Mar 2001 20:35:00 GMT\"")
        })?
        .to_utc();
    if !crate::store::limits::instant_in_range(t) {
        return Err(format!("Accept-Datetime {text:?} is outside the years the archive reads"));
    }
    Ok(t)
}

/// The memento a reader saw at `t`: the last at or before it, else the first.
pub(super) fn select(mementos: &[Memento], t: DateTime<Utc>) -> usize {
    mementos.partition_point(|m| m.at <= t).saturating_sub(1)
}

/// Where URLs point: the scheme and host the client used, when they are usable.
pub(super) fn origin(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        })
        .unwrap_or("localhost");
    let https = headers.get("x-forwarded-proto").is_some_and(|p| p.as_bytes().eq_ignore_ascii_case(b"https"));
    format!("{}://{host}", if https { "https" } else { "http" })
}

/// A memento's URL: the page read as of the instant.
pub(super) fn memento_url(base: &str, resource: &Resource, m: &Memento) -> String {
    format!("{base}{}?asOf={}", resource.path(), encode(&m.at.to_rfc3339_opts(SecondsFormat::Secs, true)))
}

fn timemap_url(base: &str, resource: &Resource, format: &str) -> String {
    format!("{base}/timemap/{format}{}", resource.path())
}

/// The `Link` header of a TimeGate's redirect or of a memento: the original, the TimeMaps,
/// and the first, last, previous and next mementos around `i`.
pub(super) fn link_header(base: &str, resource: &Resource, mementos: &[Memento], i: Option<usize>) -> String {
    let original = format!("{base}{}", resource.path());
    let mut links = vec![
        format!("<{original}>; rel=\"original timegate\""),
        format!(
            "<{}>; rel=\"timemap\"; type=\"application/link-format\"",
            timemap_url(base, resource, "link")
        ),
        format!("<{}>; rel=\"timemap\"; type=\"application/json\"", timemap_url(base, resource, "json")),
    ];
    let Some(i) = i else { return links.join(", ") };
    let last = mementos.len() - 1;
    let mut rels: Vec<(usize, Vec<&str>)> = Vec::new();
    let mut add = |at: usize, rel: &'static str| match rels.iter_mut().find(|(j, _)| *j == at) {
        Some((_, names)) => names.push(rel),
        None => rels.push((at, vec![rel])),
    };
    add(0, "first");
    if i > 0 {
        add(i - 1, "prev");
    }
    if i < last {
        add(i + 1, "next");
    }
    add(last, "last");
    rels.sort_by_key(|(j, _)| *j);
    for (j, names) in rels {
        let m = &mementos[j];
        links.push(format!(
            "<{}>; rel=\"{} memento\"; datetime=\"{}\"",
            memento_url(base, resource, m),
            names.join(" "),
            http_date(m.at)
        ));
    }
    links.join(", ")
}

/// The TimeGate's answer: 302 to the memento for `t`.
pub(super) fn redirect(base: &str, resource: &Resource, mementos: &[Memento], t: DateTime<Utc>) -> Response {
    let i = select(mementos, t);
    let location = memento_url(base, resource, &mementos[i]);
    let mut response = StatusCode::FOUND.into_response();
    let h = response.headers_mut();
    h.insert(header::VARY, HeaderValue::from_static("accept-datetime"));
    if let Ok(v) = HeaderValue::from_str(&location) {
        h.insert(header::LOCATION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&link_header(base, resource, mementos, Some(i))) {
        h.insert(header::LINK, v);
    }
    h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    response
}

/// The headers of a page: a memento (read `asOf` an instant) gets `Memento-Datetime`; the
/// original gets `Vary: accept-datetime`; both get their `Link` header.
pub(super) fn decorate(
    response: &mut Response,
    base: &str,
    resource: &Resource,
    mementos: &[Memento],
    as_of: Option<DateTime<Utc>>,
) {
    let h = response.headers_mut();
    let link = match as_of {
        Some(t) if !mementos.is_empty() && mementos[0].at <= t => {
            let i = select(mementos, t);
            if let Ok(v) = HeaderValue::from_str(&http_date(mementos[i].at)) {
                h.insert("memento-datetime", v);
            }
            link_header(base, resource, mementos, Some(i))
        }
        _ => {
            h.append(header::VARY, HeaderValue::from_static("accept-datetime"));
            link_header(base, resource, mementos, None)
        }
    };
    if let Ok(v) = HeaderValue::from_str(&link) {
        h.insert(header::LINK, v);
    }
}

/// One TimeMap page: `link` (application/link-format) or `json`.
pub(super) fn timemap(
    base: &str,
    resource: &Resource,
    mementos: &[Memento],
    format: &str,
    page: usize,
) -> Response {
    let pages = mementos.len().div_ceil(PAGE).max(1);
    let page = page.clamp(1, pages);
    let slice = &mementos[(page - 1) * PAGE..(page * PAGE).min(mementos.len())];
    let original = format!("{base}{}", resource.path());
    let this = |format: &str, page: usize| {
        let url = timemap_url(base, resource, format);
        if page == 1 { url } else { format!("{url}?page={page}") }
    };
    if format == "json" {
        let list: Vec<_> = slice
            .iter()
            .map(|m| serde_json::json!({"datetime": m.at.to_rfc3339_opts(SecondsFormat::Secs, true), "uri": memento_url(base, resource, m)}))
            .collect();
        let edge = |m: &Memento| serde_json::json!({"datetime": m.at.to_rfc3339_opts(SecondsFormat::Secs, true), "uri": memento_url(base, resource, m)});
        let mut body = serde_json::json!({
            "original_uri": original,
            "timegate_uri": original,
            "timemap_uri": {"link_format": this("link", page), "json_format": this("json", page)},
            "mementos": {"first": edge(&mementos[0]), "last": edge(&mementos[mementos.len() - 1]), "list": list},
        });
        if page < pages {
            body["pages"] = serde_json::json!({"next": this("json", page + 1)});
        }
        if page > 1 {
            body["pages"]["prev"] = serde_json::json!(this("json", page - 1));
        }
        return ([(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response();
    }
    let mut lines = vec![
        format!("<{original}>; rel=\"original\""),
        format!("<{original}>; rel=\"timegate\""),
        format!(
            "<{}>; rel=\"self\"; type=\"application/link-format\"; from=\"{}\"; until=\"{}\"",
            this("link", page),
            http_date(slice[0].at),
            http_date(slice[slice.len() - 1].at)
        ),
    ];
    if page > 1 {
        lines.push(format!("<{}>; rel=\"prev\"; type=\"application/link-format\"", this("link", page - 1)));
    }
    if page < pages {
        lines.push(format!("<{}>; rel=\"next\"; type=\"application/link-format\"", this("link", page + 1)));
    }
    let first_index = (page - 1) * PAGE;
    for (k, m) in slice.iter().enumerate() {
        let i = first_index + k;
        let rel = match (i == 0, i == mementos.len() - 1) {
            (true, true) => "first last memento",
            (true, false) => "first memento",
            (false, true) => "last memento",
            (false, false) => "memento",
        };
        lines.push(format!(
            "<{}>; rel=\"{rel}\"; datetime=\"{}\"",
            memento_url(base, resource, m),
            http_date(m.at)
        ));
    }
    ([(header::CONTENT_TYPE, "application/link-format")], lines.join(",\n") + "\n").into_response()
}

/// The search page's query, without its time: the original a search memento belongs to.
fn search_original(base: &str, params: &super::Params) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    let pairs = [
        ("q", params.q.clone()),
        ("section", params.section.clone()),
        ("year", params.year.map(|y| y.to_string())),
        ("month", params.month.map(|m| m.to_string())),
        ("author", params.author.clone()),
        ("sort", params.sort.clone()),
        ("page", params.page.map(|p| p.to_string())),
    ];
    let mut any = false;
    for (k, v) in pairs {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            query.append_pair(k, &v);
            any = true;
        }
    }
    if any { format!("{base}/?{}", query.finish()) } else { format!("{base}/") }
}

/// The search TimeGate's answer: 302 to the search as of `t`, pinned at `basis`.
pub(super) fn search_redirect(
    base: &str,
    params: &super::Params,
    t: DateTime<Utc>,
    basis: crate::Position,
) -> Response {
    let original = search_original(base, params);
    let separator = if original.contains('?') { '&' } else { '?' };
    let location = format!(
        "{original}{separator}asOf={}&basis={basis}",
        encode(&second(t).to_rfc3339_opts(SecondsFormat::Secs, true))
    );
    let mut response = StatusCode::FOUND.into_response();
    let h = response.headers_mut();
    h.insert(header::VARY, HeaderValue::from_static("accept-datetime"));
    for (name, value) in [
        (header::LOCATION, location.clone()),
        (
            header::LINK,
            format!(
                "<{original}>; rel=\"original timegate\", <{location}>; rel=\"memento\"; datetime=\"{}\"",
                http_date(t)
            ),
        ),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    }
    h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    response
}

/// The headers of a search page: as of an instant, a memento of the search; otherwise the
/// original, which is its own TimeGate.
pub(super) fn decorate_search(
    response: &mut Response,
    base: &str,
    params: &super::Params,
    as_of: Option<DateTime<Utc>>,
) {
    let original = search_original(base, params);
    let h = response.headers_mut();
    let link = match as_of {
        Some(t) => {
            if let Ok(v) = HeaderValue::from_str(&http_date(t)) {
                h.insert("memento-datetime", v);
            }
            format!("<{original}>; rel=\"original timegate\"")
        }
        None => {
            h.append(header::VARY, HeaderValue::from_static("accept-datetime"));
            format!("<{original}>; rel=\"original timegate\"")
        }
    };
    if let Ok(v) = HeaderValue::from_str(&link) {
        h.insert(header::LINK, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(s: i64) -> Memento {
        Memento { at: DateTime::from_timestamp(s, 0).unwrap() }
    }

    #[test]
    fn the_memento_for_an_instant_is_the_last_before_it_or_the_first() {
        let ms = [at(100), at(200), at(300)];
        let t = |s| DateTime::from_timestamp(s, 0).unwrap();
        assert_eq!(select(&ms, t(50)), 0);
        assert_eq!(select(&ms, t(100)), 0);
        assert_eq!(select(&ms, t(250)), 1);
        assert_eq!(select(&ms, t(999)), 2);
    }

    #[test]
    fn http_dates_round_trip() {
        let t = DateTime::from_timestamp(985120500, 0).unwrap();
        assert_eq!(http_date(t), "Tue, 20 Mar 2001 20:35:00 GMT");
        assert_eq!(parse_accept_datetime(&HeaderValue::from_static("Tue, 20 Mar 2001 20:35:00 GMT")), Ok(t));
    }

    proptest! {
        /// Any header value is an instant or a clear refusal, never a panic.
        #[test]
        fn any_accept_datetime_is_answered(text in "\\PC{0,80}") {
            if let Ok(value) = HeaderValue::from_str(&text) {
                let _ = parse_accept_datetime(&value);
            }
        }
    }
}
