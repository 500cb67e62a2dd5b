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

/// Files in one request.
const MAX_FILES: usize = 4;

/// A multipart request's GraphQL request, its files spooled to temporary files.
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
