//! The pages, as maud templates. Everything is escaped by maud except the search snippets
//! (escaped by the index, matched words in `<mark>`) and article bodies (rendered by
//! [`super::markdown`], which lets no HTML through).

use chrono::{DateTime, Datelike, TimeZone, Utc};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::{PER_PAGE, Params, markdown};
use crate::archive::Snapshot;
use crate::archive::history::{self, Bucket, Op};
use crate::archive::{Archive, Reading};
use crate::archive::{SearchRequest, Sort};
use crate::domain::{Article, ArticleStatus, Author, AuthorId};
use crate::{Error, Result};

/// A URL with query parameters (empty ones left out).
pub(super) fn url(path: &str, pairs: Vec<(&str, Option<String>)>) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    let mut any = false;
    for (k, v) in &pairs {
        if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
            query.append_pair(k, v);
            any = true;
        }
    }
    if any { format!("{path}?{}", query.finish()) } else { path.to_owned() }
}

/// The time parameters every link keeps.
pub(super) fn time(params: &Params) -> Vec<(&'static str, Option<String>)> {
    vec![("asOf", params.as_of.clone()), ("basis", params.basis.map(|b| b.to_string()))]
}

fn with_time(
    params: &Params,
    mut pairs: Vec<(&'static str, Option<String>)>,
) -> Vec<(&'static str, Option<String>)> {
    pairs.extend(time(params));
    pairs
}

pub(super) fn day(t: DateTime<Utc>) -> String {
    t.format("%-d %B %Y").to_string()
}

pub(super) fn layout(
    title: &str,
    r: &Reading,
    params: &Params,
    path: &str,
    here: Vec<(&'static str, Option<String>)>,
    body: Markup,
) -> Markup {
    let as_of_date = r.at.as_of.map(|t| t.format("%Y-%m-%d").to_string()).unwrap_or_default();
    let year = r.at.as_of.map_or(Utc::now().year(), |t| t.year());
    // The same view, pinned to the position it was computed at: a citation.
    let mut cite = here.clone();
    cite.retain(|(k, _)| *k != "basis");
    cite.push(("basis", Some(r.basis.to_string())));
    let today: Vec<_> = here.iter().filter(|(k, _)| *k != "asOf" && *k != "basis").cloned().collect();
    // Robust Links: the citation names the page, the pinned version, and the date read.
    let version_date = r.at.as_of.unwrap_or_else(Utc::now).format("%Y-%m-%d").to_string();
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · morgue" }
                link rel="stylesheet" href="/assets/morgue.css";
                script src="/assets/morgue.js" defer {}
            }
            body {
                header.masthead {
                    a.name href=(url("/", time(params))) { "morgue" }
                    nav {
                        a href=(url("/", time(params))) { "Search" }
                        a href=(url("/timeline", time(params))) { "Timeline" }
                    }
                }
                main {
                    @if let Some(t) = r.at.as_of {
                        p.banner {
                            "You are reading the archive as it stood on " strong { (day(t)) } ". "
                            a href=(url(path, today.clone())) { "Back to today" }
                        }
                    }
                    form.time method="get" action=(path) {
                        @for (k, v) in &here {
                            @if *k != "asOf" && *k != "basis" && *k != "page" {
                                @if let Some(v) = v {
                                    input type="hidden" name=(k) value=(v);
                                }
                            }
                        }
                        label for="asOf" { "Read the archive as of" }
                        input type="date" id="asOf" name="asOf" value=(as_of_date) min="1851-01-01";
                        input type="range" min="1851" max=(Utc::now().year()) value=(year) aria-label="Year" hidden;
                        span.year { (year) }
                        input type="submit" value="Go";
                    }
                    (body)
                }
                footer {
                    "Computed at log position " (r.basis.get()) ". "
                    a.cite href=(url(path, cite.clone())) data-originalurl=(url(path, today))
                        data-versionurl=(url(path, cite)) data-versiondate=(version_date) { "Cite this page" }
                    " (the link reproduces this page whatever is recorded later)."
                }
            }
        }
    }
}

/// The error page.
pub fn error(status: axum::http::StatusCode, message: &str) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head { meta charset="utf-8"; meta name="viewport" content="width=device-width, initial-scale=1";
                title { (status.as_u16()) " · morgue" } link rel="stylesheet" href="/assets/morgue.css"; }
            body {
                header.masthead { a.name href="/" { "morgue" } }
                main { h1 { (status.canonical_reason().unwrap_or("Error")) } p { (message) } p { a href="/" { "Search the archive" } } }
            }
        }
    }
}

fn byline_names(archive: &Archive, r: &Reading, a: &Article) -> Result<Vec<(AuthorId, String)>> {
    let mut out = Vec::new();
    for b in &a.bylines {
        if let Some(author) = archive.author(r, b.author_id)? {
            out.push((b.author_id, author.state.name));
        }
    }
    Ok(out)
}

/// The search page (and the front page, with no query).
pub fn search(archive: &Archive, r: &Reading, params: &Params) -> Result<Markup> {
    let q = params.q.clone().unwrap_or_default();
    let page = params.page.unwrap_or(1).max(1);
    if let Some(year) = params.year
        && !(crate::store::limits::MIN_YEAR..=crate::store::limits::MAX_YEAR).contains(&year)
    {
        return Err(Error::BadInput(format!(
            "year {year} is outside the years {} to {}",
            crate::store::limits::MIN_YEAR,
            crate::store::limits::MAX_YEAR
        )));
    }
    let by_date = params.sort.as_deref() == Some("date") || (q.trim().is_empty() && params.sort.is_none());
    let author = match params.author.as_deref() {
        Some(a) => {
            Some(a.parse::<AuthorId>().map_err(|_| Error::BadInput(format!("{a:?} is not an author id")))?)
        }
        None => None,
    };
    // A year, or one month of it.
    let month = params.month.filter(|m| (1..=12).contains(m));
    let period_start = |y: i32, m: u32| Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).single();
    let period = params.year.map(|y| match month {
        Some(12) => (period_start(y, 12), period_start(y + 1, 1)),
        Some(m) => (period_start(y, m), period_start(y, m + 1)),
        None => (period_start(y, 1), period_start(y + 1, 1)),
    });
    let request = SearchRequest {
        query: q.clone(),
        section: params.section.clone().filter(|s| !s.is_empty()),
        author_id: author,
        published_from: period.and_then(|(from, _)| from),
        published_to: period.and_then(|(_, to)| to),
        first: PER_PAGE,
        offset: (page - 1).saturating_mul(PER_PAGE),
        sort: if by_date { Sort::Date } else { Sort::Relevance },
        ..Default::default()
    };
    let results = archive.search(r, request)?;
    let mut hits = Vec::new();
    for hit in &results.hits {
        if let Some(snap) = archive.article(r, hit.article)? {
            let names = byline_names(archive, r, &snap.state)?;
            hits.push((snap, names, hit.snippets.clone()));
        }
    }
    let mut author_facets = Vec::new();
    for (id, count) in &results.authors {
        let name = match id.parse::<AuthorId>() {
            Ok(aid) => archive.author(r, aid)?.map(|a| a.state.name),
            Err(_) => None,
        };
        author_facets.push((id.clone(), name.unwrap_or_else(|| id.clone()), *count));
    }
    let base = vec![
        ("q", Some(q.clone())),
        ("section", params.section.clone()),
        ("year", params.year.map(|y| y.to_string())),
        ("month", month.filter(|_| params.year.is_some()).map(|m| m.to_string())),
        ("author", params.author.clone()),
        ("sort", params.sort.clone()),
    ];
    let here =
        with_time(params, [base.clone(), vec![("page", (page > 1).then(|| page.to_string()))]].concat());
    let set = |key: &'static str, value: Option<String>| -> String {
        // A new year drops the month chosen within the old one.
        let mut pairs: Vec<_> =
            base.iter().filter(|(k, _)| *k != key && !(key == "year" && *k == "month")).cloned().collect();
        pairs.push((key, value));
        url("/", with_time(params, pairs))
    };
    let page_url = |n: usize| {
        url("/", with_time(params, [base.clone(), vec![("page", (n > 1).then(|| n.to_string()))]].concat()))
    };
    let title = if q.is_empty() { "The archive".to_owned() } else { format!("“{q}”") };
    let total = results.total.unwrap_or_default() as usize;
    let body = html! {
        form.search method="get" action="/" role="search" {
            input type="search" name="q" value=(q) placeholder="Search: words, \"phrases\", -word, headline:, author:, section:, caption:" aria-label="Search the archive";
            @if let Some(a) = &params.as_of { input type="hidden" name="asOf" value=(a); }
            @if let Some(b) = params.basis { input type="hidden" name="basis" value=(b); }
            button type="submit" { "Search" }
        }
        div.layout {
            section.results {
                p.meta {
                    (total) @if total == 1 { " article" } @else { " articles" }
                    @if !q.is_empty() { " for “" (q) "”" }
                    " · sort by "
                    @if by_date { a href=(set("sort", Some("relevance".into()))) { "relevance" } " | date" }
                    @else { "relevance | " a href=(set("sort", Some("date".into()))) { "date" } }
                }
                @for (snap, names, snippets) in &hits {
                    div.hit {
                        h2 { a href=(url(&format!("/articles/{}", snap.state.slug), time(params))) { (snap.state.headline) } }
                        p.meta {
                            (snap.state.section)
                            @if let Some(p) = snap.state.published_at { " · " (day(p)) }
                            @if !names.is_empty() {
                                " · "
                                @for (i, (id, name)) in names.iter().enumerate() {
                                    @if i > 0 { ", " }
                                    a href=(url(&format!("/authors/{id}"), time(params))) { (name) }
                                }
                            }
                        }
                        @for s in snippets { @if s.field != "headline" { p.snippet { (PreEscaped(&s.html)) } } }
                    }
                }
                div.pager {
                    span { @if page > 1 { a rel="prev" href=(page_url(page - 1)) { "← Newer results" } } }
                    span { @if page.saturating_mul(PER_PAGE) < total { a rel="next" href=(page_url(page + 1)) { "More results →" } } }
                }
            }
            aside {
                h3 { "Sections" }
                ul { @for (s, c) in &results.sections { li { a href=(set("section", Some(s.clone()))) { (s) } " (" (c) ")" } } }
                h3 { "Years" }
                ul { @for (y, c) in &results.years { li { a href=(set("year", Some(y.clone()))) { (y) } " (" (c) ")" } } }
                h3 { "Authors" }
                ul { @for (id, name, c) in &author_facets { li { a href=(set("author", Some(id.clone()))) { (name) } " (" (c) ")" } } }
                @if params.section.is_some() || params.year.is_some() || params.author.is_some() {
                    p { a href=(url("/", with_time(params, vec![("q", Some(q.clone()))]))) { "Clear filters" } }
                }
            }
        }
    };
    Ok(layout(&title, r, params, "/", here, body))
}

/// An article.
pub fn article(archive: &Archive, r: &Reading, params: &Params, snap: &Snapshot<Article>) -> Result<Markup> {
    let a = &snap.state;
    let names = byline_names(archive, r, a)?;
    let figures = super::figures::figures(archive, r, params, a)?;
    let path = format!("/articles/{}", a.slug);
    let body = html! {
        article {
            p.meta { (a.section) @if !a.tags.is_empty() { " · " (a.tags.join(", ")) } }
            @if a.status == ArticleStatus::Retracted {
                p.retracted { strong { "Retracted." } " " (a.retraction_reason.clone().unwrap_or_default()) }
            }
            h1 { (a.headline) }
            @if let Some(s) = &a.summary { p.summary { (s) } }
            p.meta {
                @if !names.is_empty() {
                    "By "
                    @for (i, (id, name)) in names.iter().enumerate() {
                        @if i > 0 { " and " }
                        a href=(url(&format!("/authors/{id}"), time(params))) { (name) }
                    }
                    " · "
                }
                @if let Some(p) = a.first_published_at { "Published " (day(p)) }
                " · version " (snap.version)
                " · " a href=(url(&format!("{path}/history"), time(params))) { "History" }
            }
            @if let Some(lead) = &figures.lead { (lead) }
            div.body { (PreEscaped(markdown::render(&a.body))) }
            @if !figures.rest.is_empty() {
                section.figures { @for f in &figures.rest { (f) } }
            }
            @if !a.corrections.is_empty() {
                section.corrections {
                    h2 { "Corrections" }
                    @for c in &a.corrections { p { strong { (day(c.effective_at)) ": " } (c.text) } }
                }
            }
            script type="application/ld+json" { (PreEscaped(json_ld(snap, &names))) }
        }
    };
    Ok(layout(&a.headline, r, params, &path, time(params), body))
}

/// schema.org's `NewsArticle` for the version shown, as JSON-LD: what search engines read,
/// corrections included (`CorrectionComment`). Escaped so that no text can close the script.
fn json_ld(snap: &Snapshot<Article>, names: &[(AuthorId, String)]) -> String {
    let a = &snap.state;
    let instant = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut doc = serde_json::json!({
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "@id": format!("/articles/{}", a.slug),
        "url": format!("/articles/{}", a.slug),
        "headline": a.headline,
        "articleSection": a.section,
        "dateModified": instant(snap.effective_at),
        "author": names.iter().map(|(id, name)| serde_json::json!({"@type": "Person", "name": name, "url": format!("/authors/{id}")})).collect::<Vec<_>>(),
        "correction": a.corrections.iter().map(|c| serde_json::json!({"@type": "CorrectionComment", "text": c.text, "datePublished": instant(c.effective_at)})).collect::<Vec<_>>(),
    });
    if let Some(t) = a.first_published_at {
        doc["datePublished"] = instant(t).into();
    }
    if let Some(summary) = &a.summary {
        doc["description"] = summary.clone().into();
    }
    if let Some(language) = &a.language {
        doc["inLanguage"] = language.clone().into();
    }
    if !a.tags.is_empty() {
        doc["keywords"] = a.tags.join(", ").into();
    }
    if a.status == ArticleStatus::Retracted {
        doc["creativeWorkStatus"] = "Retracted".into();
    }
    doc.to_string().replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026")
}

/// An article's history and a word diff between two versions.
pub fn history(archive: &Archive, r: &Reading, params: &Params, snap: &Snapshot<Article>) -> Result<Markup> {
    let a = &snap.state;
    // Only the versions this reader may see are listed and compared (for readers, none from
    // the article's draft days).
    let revisions = archive.revisions(r, &a.id.stream(), snap.version)?;
    let listed: Vec<u64> = revisions.iter().map(|rev| rev.version).collect();
    let before = |v: u64| listed.iter().copied().rfind(|l| *l < v);
    let to = params.to.unwrap_or(snap.version).min(snap.version).max(1);
    let from = params.from.or_else(|| before(to)).unwrap_or(to).min(to);
    let old = archive.article_version(r, a.id, from)?;
    let new = archive.article_version(r, a.id, to)?;
    let diff = match (&old, &new) {
        (Some(o), Some(n)) => history::diff(&o.state, &n.state),
        _ => Vec::new(),
    };
    let path = format!("/articles/{}/history", a.slug);
    let here = with_time(params, vec![("from", Some(from.to_string())), ("to", Some(to.to_string()))]);
    let body = html! {
        h1 { "History of “" a href=(url(&format!("/articles/{}", a.slug), time(params))) { (a.headline) } "”" }
        table.revisions {
            thead { tr { th { "Version" } th { "Change" } th { "Took effect" } th { "By" } th { "Note" } th { "Compare" } } }
            tbody {
                @for rev in &revisions {
                    tr {
                        td { (rev.version) }
                        td { (rev.event_type) @if !rev.changed_fields.is_empty() { br; span.meta { (rev.changed_fields.join(", ")) } } }
                        td { (day(rev.effective_at)) }
                        td { (rev.actor.clone().unwrap_or_default()) }
                        td { (rev.note.clone().unwrap_or_default()) }
                        td { @if let Some(previous) = before(rev.version) {
                            a href=(url(&path, with_time(params, vec![("from", Some(previous.to_string())), ("to", Some(rev.version.to_string()))]))) { "diff" }
                        } }
                    }
                }
            }
        }
        section.diff {
            h2 { "Changes from version " (from) " to version " (to) }
            @if diff.is_empty() { p.meta { "Headline, summary and body are the same in both versions." } }
            @for field in &diff {
                h3 { (field.field) }
                p {
                    @for (op, text) in &field.hunks {
                        @match op {
                            Op::Equal => { (text) }
                            Op::Insert => { ins { (text) } }
                            Op::Delete => { del { (text) } }
                        }
                    }
                }
            }
        }
    };
    Ok(layout(&format!("History: {}", a.headline), r, params, &path, here, body))
}

/// An author, their names over time, and their articles.
pub fn author(archive: &Archive, r: &Reading, params: &Params, snap: &Snapshot<Author>) -> Result<Markup> {
    let a = &snap.state;
    let names: Vec<(String, DateTime<Utc>)> = archive
        .author_history(r, a.id)?
        .into_iter()
        .filter(|s| s.effective_at <= r.at.as_of.unwrap_or_else(Utc::now))
        .fold(Vec::new(), |mut acc: Vec<(String, DateTime<Utc>)>, s| {
            if acc.last().is_none_or(|(n, _)| *n != s.state.name) {
                acc.push((s.state.name.clone(), s.effective_at));
            }
            acc
        });
    let (ids, total) =
        archive.list_at(r, SearchRequest { author_id: Some(a.id), ..Default::default() }, 0, 100)?;
    let mut articles = Vec::new();
    for id in ids {
        if let Some(s) = archive.article(r, id)? {
            articles.push(s);
        }
    }
    let path = format!("/authors/{}", a.id);
    let body = html! {
        h1 { (a.name) }
        @if let Some(bio) = &a.bio { p.summary { (bio) } }
        @if names.len() > 1 {
            h2 { "Names" }
            ul { @for (n, since) in &names { li { (n) " (from " (day(*since)) ")" } } }
        }
        h2 { (total) " published " @if total == 1 { "article" } @else { "articles" } }
        ul {
            @for s in &articles {
                li {
                    a href=(url(&format!("/articles/{}", s.state.slug), time(params))) { (s.state.headline) }
                    @if let Some(p) = s.state.published_at { span.meta { " · " (day(p)) } }
                }
            }
        }
    };
    Ok(layout(&a.name, r, params, &path, time(params), body))
}

/// A timeline of published articles (matching a query) per year or month, as an SVG chart.
pub fn timeline(archive: &Archive, r: &Reading, params: &Params) -> Result<Markup> {
    let q = params.q.clone().unwrap_or_default();
    let bucket = if params.bucket.as_deref() == Some("month") { Bucket::Month } else { Bucket::Year };
    let counts = archive.timeline(r, SearchRequest { query: q.clone(), ..Default::default() }, bucket)?;
    let max = counts.iter().map(|(_, c)| *c).max().unwrap_or(0).max(1);
    let (width, height) = (900.0f64, 240.0f64);
    let bar = if counts.is_empty() { 0.0 } else { width / counts.len() as f64 };
    let label = |t: &DateTime<Utc>| match bucket {
        Bucket::Month => t.format("%B %Y").to_string(),
        _ => t.format("%Y").to_string(),
    };
    let here = with_time(params, vec![("q", Some(q.clone())), ("bucket", params.bucket.clone())]);
    let body = html! {
        h1 { "Timeline" @if !q.is_empty() { " of “" (q) "”" } }
        form.search method="get" action="/timeline" {
            input type="search" name="q" value=(q) placeholder="Words to count (empty: every article)" aria-label="Words to count";
            select name="bucket" aria-label="Bucket" {
                option value="year" selected[bucket == Bucket::Year] { "by year" }
                option value="month" selected[bucket == Bucket::Month] { "by month" }
            }
            @if let Some(a) = &params.as_of { input type="hidden" name="asOf" value=(a); }
            @if let Some(b) = params.basis { input type="hidden" name="basis" value=(b); }
            button type="submit" { "Count" }
        }
        @if counts.is_empty() { p { "No published article matches." } } @else {
            svg.timeline xmlns="http://www.w3.org/2000/svg" viewBox=(format!("0 0 {width} {}", height + 20.0)) role="img" aria-label="Published articles per period" {
                @for (i, (start, count)) in counts.iter().enumerate() {
                    @let h = (*count as f64 / max as f64) * height;
                    a href=(url("/", with_time(params, vec![
                        ("q", Some(q.clone())),
                        ("year", Some(start.year().to_string())),
                        ("month", (bucket == Bucket::Month).then(|| start.month().to_string())),
                    ]))) {
                        rect x=(format!("{:.2}", i as f64 * bar + bar * 0.1)) y=(format!("{:.2}", height - h)) width=(format!("{:.2}", (bar * 0.8).max(0.5))) height=(format!("{:.2}", h)) {
                            title { (label(start)) ": " (count) }
                        }
                    }
                }
                text x="0" y=(height + 16.0) font-size="12" { (counts.first().map(|(t, _)| label(t)).unwrap_or_default()) }
                text x=(width) y=(height + 16.0) font-size="12" text-anchor="end" { (counts.last().map(|(t, _)| label(t)).unwrap_or_default()) }
            }
            table.revisions {
                thead { tr { th { "Period" } th { "Articles" } } }
                tbody { @for (start, count) in counts.iter().filter(|(_, c)| *c > 0) { tr { td { (label(start)) } td { (count) } } } }
            }
        }
    };
    Ok(layout("Timeline", r, params, "/timeline", here, body))
}
