//! GraphQL multipart requests (the GraphQL multipart request spec): an `operations` part, a
//! `map` part, and the files, each of at most [`crate::archive::MAX_UPLOAD`] bytes. The whole
//! body is bounded too; anything beyond is a LIMIT, anything malformed a BAD_INPUT.

use async_graphql::http::MultipartOptions;
use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use futures_util::TryStreamExt;

use super::MAX_BODY;
use super::graphql_http::{Media, request_error};
use crate::Code;

/// Files in one request (an upload is one file).
const MAX_FILES: usize = 1;

/// Whether a request is a multipart one.
fn is_multipart(headers: &axum::http::HeaderMap) -> bool {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    content_type.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("multipart/form-data")
}

/// The answer refusing a multipart request before its body is read: on a read replica
/// (READ_ONLY), or without an editor's or admin's token (UNAUTHENTICATED). `None` lets it in.
pub(super) fn refuse_upload(
    state: &super::AppState,
    headers: &axum::http::HeaderMap,
    viewer: &crate::graphql::Viewer,
    media: Media,
) -> Option<Response> {
    if !is_multipart(headers) {
        return None;
    }
    if let Err(e) = state.archive.read_only() {
        let status = StatusCode::from_u16(e.code().http_status()).unwrap_or(StatusCode::FORBIDDEN);
        return Some(request_error(media, status, e.code(), e.to_string()));
    }
    if !viewer.is_staff() {
        let mut r = request_error(
            media,
            StatusCode::UNAUTHORIZED,
            Code::Unauthenticated,
            "uploads need an editor's or admin's token: send `Authorization: Bearer <token>`",
        );
        r.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        return Some(r);
    }
    None
}

/// A multipart request's GraphQL request, its file held in memory (at most
/// [`crate::archive::MAX_UPLOAD`] bytes; only staff get here).
// The refusal is the answer itself, built once per refused request.
#[allow(clippy::result_large_err)]
pub(super) async fn from_multipart(
    content_type: &str,
    body: Body,
    media: Media,
) -> Result<async_graphql::Request, Response> {
    let limit = (crate::archive::MAX_UPLOAD * MAX_FILES + MAX_BODY) as u64;
    let reader = body.into_data_stream().map_err(|e| std::io::Error::other(e.to_string())).into_async_read();
    let reader = futures_util::AsyncReadExt::take(reader, limit);
    let options =
        MultipartOptions::default().max_file_size(crate::archive::MAX_UPLOAD).max_num_files(MAX_FILES);
    let request =
        async_graphql::http::receive_body(Some(content_type), reader, options).await.map_err(|e| {
            use async_graphql::ParseRequestError as P;
            let (status, code) = match &e {
                P::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, Code::Limit),
                _ => (StatusCode::BAD_REQUEST, Code::BadInput),
            };
            let mut r = request_error(media, status, code, format!("multipart request: {e}"));
            if status == StatusCode::PAYLOAD_TOO_LARGE {
                r.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            r
        })?;
    if let Err(message) = crate::graphql::limits::check_text(&request.query) {
        return Err(request_error(media, StatusCode::BAD_REQUEST, Code::Limit, message));
    }
    Ok(request)
}
