//! An article page's IPTC ninjs representation: `/articles/{slug}` with `Accept:
//! application/ninjs+json`, or `/articles/{slug}.ninjs.json`. It is the version the HTML page
//! shows, read the same way (`asOf`, `basis`, through the one rule of what readers may see);
//! the object is [`crate::archive::Archive::ninjs`]'s. Errors answer as JSON.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{NO_ARTICLE, Params};
use crate::archive::ninjs::MEDIA_TYPE;
use crate::archive::{Archive, ReadRequest, Reading};
use crate::http::AppState;
use crate::{Error, Position};

/// The path suffix that asks for ninjs whatever `Accept` says. Slugs hold no dots, so a slug
/// never ends with it.
pub(super) const SUFFIX: &str = ".ninjs.json";

/// The slug of a `/articles/{slug}.ninjs.json` path.
pub(super) fn suffixed(slug: &str) -> Option<&str> {
    slug.strip_suffix(SUFFIX)
}

/// Whether `Accept` prefers ninjs to HTML: `application/ninjs+json` is listed with a weight
/// above `text/html`'s, and at least that of `text/*` and `*/*`. Anything else is the page.
pub(super) fn wanted(headers: &HeaderMap) -> bool {
    let (mut ninjs, mut html, mut wild) = (0.0f32, 0.0f32, 0.0f32);
    for value in headers.get_all(header::ACCEPT) {
        let Ok(text) = value.to_str() else { continue };
        for range in text.split(',').take(64) {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .filter(|q| (0.0..=1.0).contains(q))
                .unwrap_or(1.0);
            match media.as_str() {
                MEDIA_TYPE => ninjs = ninjs.max(q),
                "text/html" => html = html.max(q),
                "text/*" | "*/*" => wild = wild.max(q),
                _ => {}
            }
        }
    }
    ninjs > 0.0 && ninjs > html && ninjs >= wild
}

/// Adds `Vary: accept` (the page and its ninjs share a URL).
pub(super) fn vary(mut response: Response) -> Response {
    response.headers_mut().append(header::VARY, HeaderValue::from_static("accept"));
    response
}

/// The ninjs of the article version a reader sees at the page's reading; 404 when none.
pub(super) async fn answer(state: &AppState, slug: String, params: &Params) -> Response {
    let archive = state.archive.clone();
    let r = match reading(&archive, params).await {
        Ok(r) => r,
        Err(e) => return failure(&e),
    };
    let found = state
        .pool
        .run(move || archive.article_by_slug(&r, &slug)?.map(|snap| archive.ninjs(&r, &snap)).transpose())
        .await;
    match found {
        Ok(Ok(Some(ninjs))) => match serde_json::to_vec(&ninjs) {
            Ok(body) => {
                let mut response = (StatusCode::OK, body).into_response();
                let h = response.headers_mut();
                h.insert(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE));
                h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
                response
            }
            Err(e) => failure(&Error::Internal(format!("writing ninjs: {e}"))),
        },
        Ok(Ok(None)) => error(StatusCode::NOT_FOUND, crate::Code::NotFound, NO_ARTICLE),
        Ok(Err(e)) => failure(&e),
        Err(refused @ crate::http::offload::Refused::TimedOut(_)) => {
            error(StatusCode::SERVICE_UNAVAILABLE, crate::Code::Limit, &refused.to_string())
        }
        Err(refused) => error(StatusCode::INTERNAL_SERVER_ERROR, crate::Code::Internal, &refused.to_string()),
    }
}

/// The page's reading, exactly as the HTML page resolves it; readers never see drafts.
async fn reading(archive: &Archive, params: &Params) -> crate::Result<Reading> {
    let as_of = match params.as_of.as_deref().filter(|s| !s.trim().is_empty()) {
        None => None,
        Some(text) => Some(crate::archive::parse_instant(text).map_err(Error::BadInput)?),
    };
    archive.reading(ReadRequest { as_of, basis: params.basis.map(Position), ..Default::default() }).await
}

/// A failure with the status its code's table gives; internal errors are logged, not described.
fn failure(e: &Error) -> Response {
    let code = e.code();
    let status = StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if code == crate::Code::Internal {
        tracing::error!(error = %e, "ninjs failed");
        return error(status, code, "Something went wrong on our side; it has been logged.");
    }
    error(status, code, &e.to_string())
}

/// `{"code": …, "message": …}` as JSON.
fn error(status: StatusCode, code: crate::Code, message: &str) -> Response {
    let body = serde_json::json!({ "code": code.as_str(), "message": message }).to_string();
    let mut response = (status, body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
