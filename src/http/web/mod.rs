//! The web page for readers and historians, served by morgue itself: search, articles, their
//! history, authors and timelines, each readable as of any date. Server-rendered HTML (maud),
//! a little optional JavaScript, assets compiled in. Pages read through the same archive
//! handle as the GraphQL resolvers. Every state is a URL.

mod markdown;
mod pages;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
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
        .route("/timeline", get(timeline))
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

async fn search(State(state): State<AppState>, Query(params): Query<Params>) -> Response {
    let p = params.clone();
    render(&state, &params, "", move |a, r| pages::search(a, r, &p).map(Some)).await
}

async fn article(state: State<AppState>, slug: Path<String>, params: Query<Params>) -> Response {
    article_page(state, slug, params, pages::article).await
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
) -> Response {
    let Ok(id) = id.parse() else {
        return error_page(StatusCode::NOT_FOUND, "There is no such author.");
    };
    let p = params.clone();
    render(&state, &params, "There is no such author in the archive at this date.", move |a, r| {
        a.author(r, id)?.map(|snap| pages::author(a, r, &p, &snap)).transpose()
    })
    .await
}

async fn timeline(State(state): State<AppState>, Query(params): Query<Params>) -> Response {
    let p = params.clone();
    render(&state, &params, "", move |a, r| pages::timeline(a, r, &p).map(Some)).await
}

/// A not-found page for every other path.
pub async fn not_found() -> Response {
    error_page(StatusCode::NOT_FOUND, "There is no such page.")
}
