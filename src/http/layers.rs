//! What wraps every route: request ids, CORS, compression, and the access log with the
//! request metrics.
//!
//! - `x-request-id` is taken from the request (at most [`MAX_REQUEST_ID`] visible ASCII
//!   bytes) or made (a random UUID), returned on the answer, and carried by the `request` span, so
//!   every log line written while answering names it.
//! - CORS admits only the origins the operator lists (`--cors-origin`); with none listed, no
//!   CORS header is ever sent and browsers keep other origins out.
//! - Answers are compressed (zstd, br, gzip) as the client's `Accept-Encoding` asks, except
//!   the small ones and those already compressed (images).
//! - Each answer is logged once (`morgue::access`): method, path, status, latency, request
//!   id, and the GraphQL operation name.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tracing::Instrument;

use super::AppState;

/// The request id header.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// Longest request id taken from a client; a longer or non-printable one is replaced.
pub const MAX_REQUEST_ID: usize = 128;

/// What the GraphQL handler tells the access log and the metrics about its answer (a
/// response extension).
#[derive(Clone, Debug, Default)]
pub struct GraphqlAnswer {
    /// The operation's name, when the request gave one.
    pub operation: Option<String>,
    /// The `extensions.code` of every error in the answer.
    pub codes: Vec<&'static str>,
}

/// The request's id: the client's `x-request-id` when it is usable, otherwise a new UUID.
fn request_id(headers: &axum::http::HeaderMap) -> HeaderValue {
    let given = headers.get(&REQUEST_ID).filter(|v| {
        !v.is_empty() && v.len() <= MAX_REQUEST_ID && v.as_bytes().iter().all(|b| b.is_ascii_graphic())
    });
    if let Some(id) = given {
        return id.clone();
    }
    let mut bytes = [0u8; 16];
    let _ = getrandom::fill(&mut bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let uuid = format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32]);
    HeaderValue::from_str(&uuid).unwrap_or(HeaderValue::from_static("-"))
}

/// The CORS layer for the origins allowed, or none when no origin is.
pub fn cors(origins: &[HeaderValue]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let any = origins.iter().any(|o| o == "*");
    let allow = if any { AllowOrigin::any() } else { AllowOrigin::list(origins.iter().cloned()) };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION, header::ACCEPT, REQUEST_ID])
            .expose_headers([REQUEST_ID])
            .max_age(std::time::Duration::from_secs(600)),
    )
}

/// Logs each answer and counts it in the metrics, inside a `request` span that carries the
/// request id.
pub async fn observe(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id_value = request_id(request.headers());
    request.headers_mut().insert(REQUEST_ID, id_value.clone());
    let id = id_value.to_str().unwrap_or("-").to_owned();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", |m| m.as_str()).to_owned();
    let span = tracing::info_span!("request", id = %id);
    let mut response = next.run(request).instrument(span.clone()).await;
    response.headers_mut().insert(REQUEST_ID, id_value);
    let elapsed = started.elapsed();
    let answer = response.extensions().get::<GraphqlAnswer>();
    let operation = answer.and_then(|a| a.operation.as_deref());
    state.metrics.observe_http(&route, method.as_str(), response.status(), elapsed);
    if let Some(answer) = answer {
        state.metrics.observe_graphql(operation, &answer.codes, elapsed);
    }
    span.in_scope(|| {
        tracing::info!(
            target: "morgue::access",
            method = %method,
            path = %path,
            status = response.status().as_u16(),
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            request_id = %id,
            operation = operation.unwrap_or("-"),
            "answered"
        );
    });
    response
}
