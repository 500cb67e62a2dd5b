//! Image bytes over HTTP: `/images/{id}/original` and `/images/{id}/{crop}/{width}.{jpg|webp}`.
//!
//! Readers get an image only under the archive's rule (placed in a version they may see at
//! the instant read, `?asOf=` for historians): 404 otherwise, 410 once it is retired or its
//! rights have run out. A token holder's `Authorization` shows every image. A rendition is made
//! once, from the master, and then served from disk; every answer is addressed by content, so
//! it carries an ETag and immutable caching.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::AppState;
use crate::Position;
use crate::archive::ImageReading;
use crate::domain::{Image, ImageId};

/// The image routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/images/{id}/original", get(original))
        .route("/images/{id}/{crop}/{file}", get(rendition))
}

/// `?asOf=` and `?basis=`, as on the web pages.
#[derive(serde::Deserialize, Default)]
pub struct ImageParams {
    /// The instant read.
    #[serde(rename = "asOf")]
    as_of: Option<String>,
    /// The log position read.
    basis: Option<u64>,
}

fn plain(status: StatusCode, message: &str) -> Response {
    let mut r = (status, format!("{message}\n")).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    r
}

/// The image the asker may fetch, or the answer that refuses it.
async fn found(
    state: &AppState,
    id: &str,
    params: &ImageParams,
    headers: &HeaderMap,
) -> Result<Image, Response> {
    let Ok(id) = id.parse::<ImageId>() else { return Err(plain(StatusCode::NOT_FOUND, "no such image")) };
    let staff = match state.tokens.viewer(headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok())) {
        Ok(viewer) => viewer.is_staff(),
        Err(_) => return Err(plain(StatusCode::UNAUTHORIZED, "the token is malformed, unknown or revoked")),
    };
    let as_of = match params.as_of.as_deref().filter(|s| !s.trim().is_empty()) {
        None => None,
        Some(text) => {
            Some(crate::archive::parse_instant(text).map_err(|e| plain(StatusCode::BAD_REQUEST, &e))?)
        }
    };
    let archive = state.archive.clone();
    let basis = params.basis.map(Position);
    let answer = state
        .pool
        .run(move || {
            // These reads touch the views alone: they stand at the views' own position.
            let reading = archive.views_reading(staff, as_of, basis)?;
            archive.image(&reading, id)
        })
        .await;
    match answer {
        Ok(Ok(ImageReading::Found(snap))) => Ok(snap.state),
        Ok(Ok(ImageReading::Gone)) => Err(plain(StatusCode::GONE, "this image is no longer available")),
        Ok(Ok(ImageReading::TakenDown { at, legal_reference })) => Err(plain(
            StatusCode::UNAVAILABLE_FOR_LEGAL_REASONS,
            &takedown_notice(at, legal_reference.as_deref()),
        )),
        Ok(Ok(ImageReading::Missing)) => Err(plain(StatusCode::NOT_FOUND, "no such image")),
        Ok(Err(e)) => {
            let status =
                StatusCode::from_u16(e.code().http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            Err(plain(status, &e.to_string()))
        }
        Err(refused) => Err(plain(StatusCode::SERVICE_UNAVAILABLE, &refused.to_string())),
    }
}

/// Bytes addressed by content: an ETag, immutable caching, and 304 for a matching
/// `If-None-Match`.
fn immutable(headers: &HeaderMap, etag: String, media_type: &str, bytes: Vec<u8>) -> Response {
    let etag = format!("\"{etag}\"");
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut r = if matches { StatusCode::NOT_MODIFIED.into_response() } else { bytes.into_response() };
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(media_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    r
}

async fn original(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Query<ImageParams>,
    headers: HeaderMap,
) -> Response {
    let image = match found(&state, &id, &params, &headers).await {
        Ok(image) => image,
        Err(refusal) => return refusal,
    };
    let archive = state.archive.clone();
    let media_type = image.upload.media_type.clone();
    let etag = image.upload.hash.clone();
    match state.pool.run(move || archive.image_original(&image)).await {
        Ok(Ok(bytes)) => immutable(&headers, etag, &media_type, bytes),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "an original could not be read");
            plain(StatusCode::INTERNAL_SERVER_ERROR, "the image's bytes cannot be read")
        }
        Err(refused) => plain(StatusCode::SERVICE_UNAVAILABLE, &refused.to_string()),
    }
}

async fn rendition(
    State(state): State<AppState>,
    Path((id, crop, file)): Path<(String, String, String)>,
    Query(params): Query<ImageParams>,
    headers: HeaderMap,
) -> Response {
    let Some((width, ext)) = file.split_once('.') else {
        return plain(StatusCode::NOT_FOUND, "ask for {width}.jpg or {width}.webp");
    };
    let webp = match ext {
        "jpg" => false,
        "webp" => true,
        _ => return plain(StatusCode::NOT_FOUND, "renditions are .jpg or .webp"),
    };
    let widths = crate::archive::IMAGE_WIDTHS;
    let Some(width) = width.parse::<u32>().ok().filter(|w| widths.contains(w)) else {
        return plain(StatusCode::NOT_FOUND, &format!("widths are {widths:?}"));
    };
    if crop.len() > crate::domain::image::limits::CROP_NAME {
        return plain(StatusCode::NOT_FOUND, "no such crop");
    }
    let image = match found(&state, &id, &params, &headers).await {
        Ok(image) => image,
        Err(refusal) => return refusal,
    };
    let Some(c) = image.crop(&crop) else { return plain(StatusCode::NOT_FOUND, "no such crop") };
    let etag = format!("{}-{}-{}-{}-{}-{width}-{ext}", image.upload.hash, c.x, c.y, c.width, c.height);
    let archive = state.archive.clone();
    match state.pool.run(move || archive.rendition(&image, &crop, width, webp)).await {
        Ok(Ok(r)) => immutable(&headers, etag, r.media_type, r.bytes),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "a rendition could not be made");
            plain(StatusCode::INTERNAL_SERVER_ERROR, "the rendition cannot be made")
        }
        Err(refused) => plain(StatusCode::SERVICE_UNAVAILABLE, &refused.to_string()),
    }
}

/// The notice a taken-down image answers with (RFC 7725): the date, and the order it follows.
pub fn takedown_notice(at: chrono::DateTime<chrono::Utc>, legal_reference: Option<&str>) -> String {
    let date = at.format("%-d %B %Y");
    match legal_reference {
        Some(r) => format!("this image was taken down on {date} for legal reasons ({r})"),
        None => format!("this image was taken down on {date} for legal reasons"),
    }
}
