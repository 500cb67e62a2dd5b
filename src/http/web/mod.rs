//! The web page for readers and historians, served by morgue itself: search, articles, their
//! history, authors and timelines, each readable as of any date. Server-rendered HTML (maud),
//! a little optional JavaScript, assets compiled in. Pages read through the same archive
//! handle as the GraphQL resolvers. Every state is a URL.

mod feed;
mod figures;
mod markdown;
mod memento;
mod ninjs;
mod pages;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use super::AppState;
use crate::archive::{Archive, ReadRequest, Reading};
use crate::{Error, Position};

/// Content-Security-Policy of every page: nothing inline, nothing from elsewhere.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Results per search page.
pub const PER_PAGE: usize = 10;

/// The query string every page understands (the permalink shapes).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Params {
    /// Search words.
    pub q: Option<String>,
    /// Section filter.
    pub section: Option<String>,
    /// Publication year filter.
    pub year: Option<i32>,
    /// Publication month filter (1–12, with `year`).
    pub month: Option<u32>,
    /// Author id filter.
    pub author: Option<String>,
    /// `relevance` or `date`.
    pub sort: Option<String>,
    /// Result page, from 1.
    pub page: Option<usize>,
    /// The date the archive is read at.
    #[serde(rename = "asOf")]
    pub as_of: Option<String>,
    /// A log position, for citations.
    pub basis: Option<u64>,
    /// History: the version to diff from.
    pub from: Option<u64>,
    /// History: the version to diff to.
    pub to: Option<u64>,
    /// Timeline: `year` or `month`.
    pub bucket: Option<String>,
}

/// The web routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(search))
        .route("/articles/{slug}", get(article))
        .route("/articles/{slug}/history", get(history))
        .route("/authors/{id}", get(author))
        .route("/images/{id}", get(image))
        .route("/timeline", get(timeline))
        .route("/feeds/atom", get(atom))
        .route("/timemap/{format}/articles/{slug}", get(article_timemap))
        .route("/timemap/{format}/authors/{id}", get(author_timemap))
        .route(
            "/assets/morgue.css",
            get(|| async { asset("text/css; charset=utf-8", include_str!("assets/morgue.css")) }),
        )
        .route(
            "/assets/morgue.js",
            get(|| async { asset("text/javascript; charset=utf-8", include_str!("assets/morgue.js")) }),
        )
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=3600")], body)
        .into_response()
}

/// An HTML response with the page headers.
fn html(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    r
}

fn error_page(status: StatusCode, message: &str) -> Response {
    html(status, pages::error(status, message).into_string())
}

/// Resolves the page's reading; readers never see drafts.
async fn reading(archive: &Archive, params: &Params) -> Result<Reading, Response> {
    let as_of = match params.as_of.as_deref().filter(|s| !s.trim().is_empty()) {
        None => None,
        Some(text) => {
            Some(crate::archive::parse_instant(text).map_err(|e| error_page(StatusCode::BAD_REQUEST, &e))?)
        }
    };
    let request = ReadRequest { as_of, basis: params.basis.map(Position), ..Default::default() };
    archive.reading(request).await.map_err(|e| failure(&e))
}

/// A failed page, with the status the code's table gives; internal errors are logged and not
/// described.
fn failure(e: &Error) -> Response {
    let code = e.code();
    let status = StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if code == crate::Code::Internal {
        tracing::error!(error = %e, "page failed");
        return error_page(status, "Something went wrong on our side; it has been logged.");
    }
    error_page(status, &e.to_string())
}

/// Resolves the page's reading, then renders it on the blocking pool (see
/// [`crate::http::offload`]); `None` from `page` is a 404 with `missing`.
async fn render(
    state: &AppState,
    params: &Params,
    missing: &str,
    page: impl FnOnce(&Archive, &Reading) -> crate::Result<Option<maud::Markup>> + Send + 'static,
) -> Response {
    let archive = state.archive.clone();
    let r = match reading(&archive, params).await {
        Ok(r) => r,
        Err(page) => return page,
    };
    match state.pool.run(move || page(&archive, &r).map(|m| m.map(maud::Markup::into_string))).await {
        Ok(Ok(Some(markup))) => html(StatusCode::OK, markup),
        Ok(Ok(None)) => error_page(StatusCode::NOT_FOUND, missing),
        Ok(Err(e)) => failure(&e),
        Err(refused @ super::offload::Refused::TimedOut(_)) => {
            error_page(StatusCode::SERVICE_UNAVAILABLE, &refused.to_string())
        }
        Err(refused) => error_page(StatusCode::INTERNAL_SERVER_ERROR, &refused.to_string()),
    }
}

const NO_ARTICLE: &str = "There is no such article in the archive at this date.";

async fn search(State(state): State<AppState>, Query(params): Query<Params>, headers: HeaderMap) -> Response {
    let base = memento::origin(&headers);
    // Memento for search: the search as of an instant, pinned at the position the archive
    // stands at now (what it knows of that instant), so the link answers the same forever.
    let accept = headers.get("accept-datetime").filter(|_| params.as_of.is_none() && params.basis.is_none());
    if let Some(value) = accept {
        let t = match memento::parse_accept_datetime(value) {
            Ok(t) => t,
            Err(message) => return error_page(StatusCode::BAD_REQUEST, &message),
        };
        let basis = match memento::reader_now(&state.archive).await {
            Ok(r) => r.basis,
            Err(e) => return failure(&e),
        };
        return memento::search_redirect(&base, &params, t, basis);
    }
    let p = params.clone();
    let mut response = render(&state, &params, "", move |a, r| pages::search(a, r, &p).map(Some)).await;
    if response.status().is_success() {
        let as_of = params.as_of.as_deref().and_then(|t| crate::archive::parse_instant(t).ok());
        memento::decorate_search(&mut response, &base, &params, as_of);
    }
    response
}

async fn article(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Query(params): Query<Params>,
    headers: HeaderMap,
) -> Response {
    // IPTC ninjs: always at `{slug}.ninjs.json`; here when `Accept` prefers it to HTML.
    if let Some(slug) = ninjs::suffixed(&slug) {
        return ninjs::answer(&state, slug.to_owned(), &params).await;
    }
    let resource = memento::Resource::Article(slug.clone());
    let as_ninjs = ninjs::wanted(&headers);
    let page = async {
        if as_ninjs {
            ninjs::answer(&state, slug.clone(), &params).await
        } else {
            article_page(State(state.clone()), Path(slug.clone()), Query(params.clone()), pages::article)
                .await
        }
    };
    ninjs::vary(time_travel(&state, &params, &headers, resource, NO_ARTICLE, page).await)
}

/// Memento around a page: with `Accept-Datetime` (and no `asOf` or `basis` of its own) the
/// page is a TimeGate and redirects to the memento for that instant; otherwise the page is
/// served with its `Link` header, and `Memento-Datetime` when it is read as of an instant.
async fn time_travel(
    state: &AppState,
    params: &Params,
    headers: &HeaderMap,
    resource: memento::Resource,
    missing: &'static str,
    page: impl std::future::Future<Output = Response>,
) -> Response {
    let base = memento::origin(headers);
    let accept = headers.get("accept-datetime").filter(|_| params.as_of.is_none() && params.basis.is_none());
    let wanted = match accept.map(memento::parse_accept_datetime) {
        None => None,
        Some(Ok(t)) => Some(t),
        Some(Err(message)) => return error_page(StatusCode::BAD_REQUEST, &message),
    };
    let archive = state.archive.clone();
    let now = match memento::reader_now(&archive).await {
        Ok(r) => r,
        Err(e) => return failure(&e),
    };
    let listed = resource.clone();
    let mementos = match state.pool.run(move || memento::mementos(&archive, &now, &listed)).await {
        Ok(Ok(m)) => m,
        Ok(Err(e)) => return failure(&e),
        Err(refused) => return error_page(StatusCode::SERVICE_UNAVAILABLE, &refused.to_string()),
    };
    if let Some(t) = wanted {
        return match mementos {
            Some(m) => memento::redirect(&base, &resource, &m, t),
            None => error_page(StatusCode::NOT_FOUND, missing),
        };
    }
    let mut response = page.await;
    if let (true, Some(m)) = (response.status().is_success(), mementos) {
        let as_of = params.as_of.as_deref().and_then(|t| crate::archive::parse_instant(t).ok());
        memento::decorate(&mut response, &base, &resource, &m, as_of);
    }
    response
}

/// The Atom feed of what readers saw change (see [`feed`]).
async fn atom(State(state): State<AppState>, Query(params): Query<Params>, headers: HeaderMap) -> Response {
    let archive = state.archive.clone();
    let r = match reading(&archive, &params).await {
        Ok(r) => r,
        Err(page) => return page,
    };
    let base = memento::origin(&headers);
    match state.pool.run(move || feed::atom(&archive, &r, &params, &base)).await {
        Ok(Ok(xml)) => ([(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8")], xml).into_response(),
        Ok(Err(e)) => failure(&e),
        Err(refused) => error_page(StatusCode::SERVICE_UNAVAILABLE, &refused.to_string()),
    }
}

/// A TimeMap's query string.
#[derive(Debug, Default, Deserialize)]
struct TimemapParams {
    page: Option<usize>,
}

async fn article_timemap(
    State(state): State<AppState>,
    Path((format, slug)): Path<(String, String)>,
    Query(tm): Query<TimemapParams>,
    headers: HeaderMap,
) -> Response {
    timemap(&state, &format, memento::Resource::Article(slug), tm, &headers, NO_ARTICLE).await
}

async fn author_timemap(
    State(state): State<AppState>,
    Path((format, id)): Path<(String, String)>,
    Query(tm): Query<TimemapParams>,
    headers: HeaderMap,
) -> Response {
    let Ok(id) = id.parse() else {
        return error_page(StatusCode::NOT_FOUND, "There is no such author.");
    };
    timemap(&state, &format, memento::Resource::Author(id), tm, &headers, "There is no such author.").await
}

async fn timemap(
    state: &AppState,
    format: &str,
    resource: memento::Resource,
    tm: TimemapParams,
    headers: &HeaderMap,
    missing: &'static str,
) -> Response {
    if format != "link" && format != "json" {
        return error_page(StatusCode::NOT_FOUND, "TimeMaps are at /timemap/link/… and /timemap/json/….");
    }
    let archive = state.archive.clone();
    let now = match memento::reader_now(&archive).await {
        Ok(r) => r,
        Err(e) => return failure(&e),
    };
    let listed = resource.clone();
    match state.pool.run(move || memento::mementos(&archive, &now, &listed)).await {
        Ok(Ok(Some(m))) => {
            memento::timemap(&memento::origin(headers), &resource, &m, format, tm.page.unwrap_or(1))
        }
        Ok(Ok(None)) => error_page(StatusCode::NOT_FOUND, missing),
        Ok(Err(e)) => failure(&e),
        Err(refused) => error_page(StatusCode::SERVICE_UNAVAILABLE, &refused.to_string()),
    }
}

async fn history(state: State<AppState>, slug: Path<String>, params: Query<Params>) -> Response {
    article_page(state, slug, params, pages::history).await
}

/// A page about one article, found by its slug at the page's reading.
async fn article_page(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Query(params): Query<Params>,
    page: fn(
        &Archive,
        &Reading,
        &Params,
        &crate::archive::Snapshot<crate::domain::Article>,
    ) -> crate::Result<maud::Markup>,
) -> Response {
    let p = params.clone();
    render(&state, &params, NO_ARTICLE, move |a, r| {
        a.article_by_slug(r, &slug)?.map(|snap| page(a, r, &p, &snap)).transpose()
    })
    .await
}

async fn author(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Query<Params>,
    headers: HeaderMap,
) -> Response {
    const NO_AUTHOR: &str = "There is no such author in the archive at this date.";
    let Ok(id) = id.parse() else {
        return error_page(StatusCode::NOT_FOUND, "There is no such author.");
    };
    let p = params.clone();
    let page = render(&state, &params, NO_AUTHOR, move |a, r| {
        a.author(r, id)?.map(|snap| pages::author(a, r, &p, &snap)).transpose()
    });
    time_travel(&state, &params, &headers, memento::Resource::Author(id), NO_AUTHOR, page).await
}

/// An image's page: 404 when the reader may not see it at the instant, 410 once retired.
async fn image(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Query<Params>,
) -> Response {
    const NO_IMAGE: &str = "There is no such image in the archive at this date.";
    let Ok(id) = id.parse() else {
        return error_page(StatusCode::NOT_FOUND, "There is no such image.");
    };
    let archive = state.archive.clone();
    let r = match reading(&archive, &params).await {
        Ok(r) => r,
        Err(page) => return page,
    };
    let page = state
        .pool
        .run(move || {
            figures::image(&archive, &r, &params, id).map(|page| match page {
                figures::ImagePage::Page(m) => Ok(m.into_string()),
                figures::ImagePage::Gone => {
                    Err((StatusCode::GONE, "This image is no longer available.".into()))
                }
                figures::ImagePage::TakenDown(notice) => {
                    Err((StatusCode::UNAVAILABLE_FOR_LEGAL_REASONS, notice))
                }
                figures::ImagePage::Missing => Err((StatusCode::NOT_FOUND, NO_IMAGE.into())),
            })
        })
        .await;
    match page {
        Ok(Ok(Ok(markup))) => html(StatusCode::OK, markup),
        Ok(Ok(Err((status, message)))) => error_page(status, &message),
        Ok(Err(e)) => failure(&e),
        Err(refused) => error_page(StatusCode::SERVICE_UNAVAILABLE, &refused.to_string()),
    }
}

async fn timeline(State(state): State<AppState>, Query(params): Query<Params>) -> Response {
    let p = params.clone();
    render(&state, &params, "", move |a, r| pages::timeline(a, r, &p).map(Some)).await
}

/// A not-found page for every other path.
pub async fn not_found() -> Response {
    error_page(StatusCode::NOT_FOUND, "There is no such page.")
}
