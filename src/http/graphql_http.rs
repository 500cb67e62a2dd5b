//! GraphQL over HTTP, to the letter of the spec and not only its happy path: GET and POST,
//! media types, status codes, bounded bodies, Apollo's automatic persisted queries, and every
//! operation run on the blocking pool under the request timeout.

use std::sync::Arc;

use async_graphql::parser::types::{DocumentOperations, OperationType};
use axum::body::{Body, Bytes};
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::layers::GraphqlAnswer;
use super::{AppState, MAX_BODY, apq, offload};
use crate::Code;
use crate::auth::Refusal;

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

/// The media type the response uses, chosen from `Accept`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Media {
    GraphqlResponse,
    Json,
}

fn negotiate(headers: &HeaderMap) -> Option<Media> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Some(Media::Json);
    };
    let mut best: Option<(f32, Media)> = None;
    for part in accept.split(',') {
        let mut pieces = part.split(';');
        let media = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = pieces
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        let kind = match media.as_str() {
            GRAPHQL_RESPONSE => Media::GraphqlResponse,
            JSON | "application/*" | "*/*" => Media::Json,
            _ => continue,
        };
        if q > 0.0
            && best.is_none_or(|(bq, bk)| q > bq || (q == bq && kind == Media::GraphqlResponse && bk != kind))
        {
            best = Some((q, kind));
        }
    }
    best.map(|(_, kind)| kind)
}

fn reply(media: Media, status: StatusCode, body: serde_json::Value) -> Response {
    let content_type = match media {
        Media::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
        Media::Json => "application/json; charset=utf-8",
    };
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

pub(super) fn request_error(
    media: Media,
    status: StatusCode,
    code: Code,
    message: impl Into<String>,
) -> Response {
    let mut response = reply(
        media,
        status,
        json!({ "errors": [{ "message": message.into(), "extensions": { "code": code.as_str() } }] }),
    );
    response.extensions_mut().insert(GraphqlAnswer { operation: None, codes: vec![code.as_str()] });
    response
}

/// The answer to a hash the node does not know: what Apollo's clients look for before
/// sending the query with its hash.
fn persisted_query_not_found(media: Media) -> Response {
    let status = if media == Media::GraphqlResponse { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    let mut response = reply(
        media,
        status,
        json!({ "errors": [{ "message": apq::NOT_FOUND, "extensions": { "code": apq::NOT_FOUND_CODE } }] }),
    );
    response.extensions_mut().insert(GraphqlAnswer { operation: None, codes: vec![apq::NOT_FOUND_CODE] });
    response
}

/// The query a request runs, its persisted-query extension resolved.
// The refusal is the answer itself, built once per refused request.
#[allow(clippy::result_large_err)]
fn resolve_query(
    state: &AppState,
    media: Media,
    query: Option<String>,
    extensions: Option<&serde_json::Value>,
) -> Result<Option<String>, Response> {
    match state.persisted.resolve(query, extensions) {
        Ok(query) => Ok(query),
        Err(apq::Refusal::NotFound) => Err(persisted_query_not_found(media)),
        Err(apq::Refusal::Bad(message)) => {
            Err(request_error(media, StatusCode::BAD_REQUEST, Code::BadInput, message))
        }
    }
}

#[derive(serde::Deserialize)]
struct GetParams {
    query: Option<String>,
    #[serde(rename = "operationName")]
    operation_name: Option<String>,
    variables: Option<String>,
    extensions: Option<String>,
}

pub(super) async fn graphql(State(state): State<AppState>, request: Request) -> Response {
    let mut response = handle(&state, request).await;
    // Every answer of this route is a GraphQL answer, for the access log and the metrics.
    if response.extensions().get::<GraphqlAnswer>().is_none() {
        response.extensions_mut().insert(GraphqlAnswer::default());
    }
    response
}

async fn handle(state: &AppState, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Some(media) = negotiate(&parts.headers) else {
        return request_error(
            Media::Json,
            StatusCode::NOT_ACCEPTABLE,
            Code::BadInput,
            "accept application/graphql-response+json or application/json",
        );
    };
    let viewer = match viewer_of(state, &parts.headers, media) {
        Ok(viewer) => viewer,
        Err(refusal) => return refusal,
    };
    let gql_request = match parts.method {
        Method::GET => from_get(state, &parts.uri, media),
        Method::POST => {
            // Uploads are for staff on a writer: anyone else is refused before a byte of the
            // body is read.
            if let Some(refusal) = super::multipart::refuse_upload(state, &parts.headers, &viewer, media) {
                return refusal;
            }
            from_post(state, &parts.headers, body, media).await
        }
        _ => {
            let mut r =
                request_error(media, StatusCode::METHOD_NOT_ALLOWED, Code::BadInput, "use GET or POST");
            r.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, POST"));
            return r;
        }
    };
    match gql_request {
        Ok(gql_request) => execute(state, media, viewer, gql_request).await,
        Err(refusal) => refusal,
    }
}

/// Who is asking, from the bearer token.
// The refusal is the answer itself, built once per refused request.
#[allow(clippy::result_large_err)]
fn viewer_of(
    state: &AppState,
    headers: &HeaderMap,
    media: Media,
) -> Result<crate::graphql::Viewer, Response> {
    match state.tokens.viewer(headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok())) {
        Ok(viewer) => Ok(viewer),
        // A read replica takes no writes, so a token can only show drafts there: an unknown
        // one reads as anonymous, and its mutations meet READ_ONLY like everyone's.
        Err(_) if state.archive.read_only().is_err() => Ok(crate::graphql::Viewer::Anonymous),
        Err(Refusal::Malformed) => Err(request_error(
            media,
            StatusCode::UNAUTHORIZED,
            Code::Unauthenticated,
            "send `Authorization: Bearer <token>`",
        )),
        Err(Refusal::Unknown) => Err(request_error(
            media,
            StatusCode::UNAUTHORIZED,
            Code::Unauthenticated,
            "the token is unknown or revoked",
        )),
    }
}

/// A GET request's GraphQL request (queries only: GraphQL over HTTP keeps GET from changing state).
// The refusal is the answer itself, built once per refused request.
#[allow(clippy::result_large_err)]
fn from_get(
    state: &AppState,
    uri: &axum::http::Uri,
    media: Media,
) -> Result<async_graphql::Request, Response> {
    let Ok(Query(params)) = Query::<GetParams>::try_from_uri(uri) else {
        return Err(request_error(media, StatusCode::BAD_REQUEST, Code::BadInput, "malformed query string"));
    };
    let extensions = match params.extensions.as_deref().map(serde_json::from_str::<serde_json::Value>) {
        None => None,
        Some(Ok(e @ serde_json::Value::Object(_))) => Some(e),
        Some(_) => {
            return Err(request_error(
                media,
                StatusCode::BAD_REQUEST,
                Code::BadInput,
                "`extensions` must be a JSON object",
            ));
        }
    };
    let Some(query) = resolve_query(state, media, params.query, extensions.as_ref())? else {
        return Err(request_error(
            media,
            StatusCode::BAD_REQUEST,
            Code::BadInput,
            "the `query` parameter is missing",
        ));
    };
    let variables = match params.variables.as_deref().map(serde_json::from_str::<serde_json::Value>) {
        None => None,
        Some(Ok(v @ serde_json::Value::Object(_))) => Some(v),
        Some(Ok(serde_json::Value::Null)) => None,
        Some(_) => {
            return Err(request_error(
                media,
                StatusCode::BAD_REQUEST,
                Code::BadInput,
                "`variables` must be a JSON object",
            ));
        }
    };
    if let Err(message) = crate::graphql::limits::check_text(&query) {
        return Err(request_error(media, StatusCode::BAD_REQUEST, Code::Limit, message));
    }
    // Mutations only over POST (GraphQL over HTTP: GET must not change state).
    if let Ok(doc) = async_graphql::parser::parse_query(&query) {
        let is_mutation = match &doc.operations {
            DocumentOperations::Single(op) => op.node.ty == OperationType::Mutation,
            DocumentOperations::Multiple(ops) => match &params.operation_name {
                Some(name) => ops.get(name.as_str()).is_some_and(|op| op.node.ty == OperationType::Mutation),
                None => false,
            },
        };
        if is_mutation {
            let mut r = request_error(
                media,
                StatusCode::METHOD_NOT_ALLOWED,
                Code::BadInput,
                "mutations must be sent with POST",
            );
            r.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
            return Err(r);
        }
    }
    Ok(build(query, params.operation_name, variables))
}

/// A POST request's GraphQL request, from a JSON body of at most [`MAX_BODY`] bytes.
async fn from_post(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    media: Media,
) -> Result<async_graphql::Request, Response> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if essence == "multipart/form-data" {
        return super::multipart::from_multipart(content_type, body, media).await;
    }
    if essence != JSON && essence != "application/graphql-response+json" {
        return Err(request_error(
            media,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Code::BadInput,
            format!(
                "send the request as application/json (or multipart/form-data with files), not {content_type:?}"
            ),
        ));
    }
    let bytes: Bytes = match read_body(body).await {
        Ok(b) => b,
        Err(size) => {
            let mut r = request_error(
                media,
                StatusCode::PAYLOAD_TOO_LARGE,
                Code::Limit,
                format!("the request body is {size} bytes or more; the limit is {MAX_BODY} bytes"),
            );
            r.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
            return Err(r);
        }
    };
    let value: serde_json::Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => {
            return Err(request_error(
                media,
                StatusCode::BAD_REQUEST,
                Code::BadInput,
                format!("the body is not JSON: {e}"),
            ));
        }
    };
    let Some(object) = value.as_object() else {
        return Err(request_error(
            media,
            StatusCode::BAD_REQUEST,
            Code::BadInput,
            "the body must be a JSON object",
        ));
    };
    if object.get("extensions").is_some_and(|e| !(e.is_object() || e.is_null())) {
        return Err(request_error(
            media,
            StatusCode::BAD_REQUEST,
            Code::BadInput,
            "`extensions` must be an object",
        ));
    }
    let query = match object.get("query") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(q)) => Some(q.clone()),
        Some(_) => {
            return Err(request_error(
                media,
                StatusCode::BAD_REQUEST,
                Code::BadInput,
                "`query` must be a string",
            ));
        }
    };
    let Some(query) = resolve_query(state, media, query, object.get("extensions"))? else {
        return Err(request_error(
            media,
            StatusCode::BAD_REQUEST,
            Code::BadInput,
            "`query` must be a string",
        ));
    };
    let operation_name = match object.get("operationName") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(_) => {
            return Err(request_error(
                media,
                StatusCode::BAD_REQUEST,
                Code::BadInput,
                "`operationName` must be a string",
            ));
        }
    };
    let variables = match object.get("variables") {
        None | Some(serde_json::Value::Null) => None,
        Some(v @ serde_json::Value::Object(_)) => Some(v.clone()),
        Some(_) => {
            return Err(request_error(
                media,
                StatusCode::BAD_REQUEST,
                Code::BadInput,
                "`variables` must be an object",
            ));
        }
    };
    Ok(build(query, operation_name, variables))
}

/// Runs a request in its snapshot on the blocking pool, and answers with its data, its coded
/// errors and the position it was computed at.
async fn execute(
    state: &AppState,
    media: Media,
    viewer: crate::graphql::Viewer,
    gql_request: async_graphql::Request,
) -> Response {
    let operation = gql_request.operation_name.clone().or_else(|| leading_operation_name(&gql_request.query));
    let bases = Arc::new(crate::graphql::Bases::default());
    let gql_request = gql_request.data(viewer.clone()).data(crate::graphql::BasesHandle(bases.clone()));
    // One snapshot for the whole request: every field reads at the position it pins.
    let snapshot = match state
        .archive
        .snapshot(viewer.is_staff(), crate::graphql::highest_min_position(&gql_request))
        .await
    {
        Ok(snapshot) => snapshot,
        Err(e) => {
            let code = e.code();
            let status =
                StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return request_error(media, status, code, e.to_string());
        }
    };
    let pinned = snapshot.basis();
    let gql_request = gql_request.data(snapshot);
    let schema = state.schema.clone();
    let response = match state.pool.run_async(async move { schema.execute(gql_request).await }).await {
        Ok(response) => response,
        Err(refused @ offload::Refused::TimedOut(_)) => {
            return request_error(media, StatusCode::SERVICE_UNAVAILABLE, Code::Limit, refused.to_string());
        }
        Err(refused @ offload::Refused::Panicked) => {
            return request_error(
                media,
                StatusCode::INTERNAL_SERVER_ERROR,
                Code::Internal,
                refused.to_string(),
            );
        }
    };
    let request_failed = response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty());
    let mut body = serde_json::to_value(&response).unwrap_or_else(|_| json!({}));
    // Our errors carry their code; the few async-graphql raises itself while coercing a
    // field's input (a malformed `DateTime`, a wrong type) are the caller's input.
    if let Some(errors) = body.get_mut("errors").and_then(|e| e.as_array_mut()) {
        for error in errors {
            if let Some(object) = error.as_object_mut()
                && let Some(serde_json::Value::Object(ext)) =
                    Some(object.entry("extensions").or_insert_with(|| json!({})))
            {
                ext.entry("code").or_insert_with(|| json!(Code::BadInput.as_str()));
            }
        }
    }
    // Say which instants the answer was computed for: the log position, and the effective
    // instant when it was a read of the past.
    let reading = bases.0.lock().expect("lock poisoned").last().copied();
    if let (Some(reading), Some(object)) = (reading, body.as_object_mut())
        && let Some(ext) = object.entry("extensions").or_insert_with(|| json!({})).as_object_mut()
    {
        ext.insert("basis".into(), json!(pinned.min(reading.basis).to_string()));
        if let Some(as_of) = reading.at.as_of {
            ext.insert("asOf".into(), json!(as_of.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)));
        }
    }
    let answer = GraphqlAnswer { operation, codes: codes_of(&body) };
    let status = if request_failed {
        if let Some(object) = body.as_object_mut() {
            object.remove("data");
        }
        if media == Media::GraphqlResponse { StatusCode::BAD_REQUEST } else { StatusCode::OK }
    } else {
        StatusCode::OK
    };
    let mut response = reply(media, status, body);
    response.extensions_mut().insert(answer);
    response
}

/// The name of a document's first operation, read from its first tokens (`query Name`), for
/// the access log and metrics of requests that send no `operationName`. A document with
/// several operations must send one, so the first is the one run.
fn leading_operation_name(query: &str) -> Option<String> {
    let mut rest = query;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == ',' || c == '\u{feff}');
        match rest.strip_prefix('#') {
            Some(comment) => rest = comment.split_once('\n').map_or("", |(_, after)| after),
            None => break,
        }
    }
    let keyword = ["query", "mutation", "subscription"].into_iter().find(|k| rest.starts_with(k))?;
    let after = &rest[keyword.len()..];
    let name_start = after.trim_start();
    if name_start.len() == after.len() {
        return None;
    }
    let end = name_start.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(name_start.len());
    let name = &name_start[..end.min(64)];
    (!name.is_empty() && !name.starts_with(|c: char| c.is_ascii_digit())).then(|| name.to_owned())
}

/// The codes of an answer's errors, as metric labels: ours, Apollo's, or `OTHER`.
fn codes_of(body: &serde_json::Value) -> Vec<&'static str> {
    let Some(errors) = body.get("errors").and_then(|e| e.as_array()) else { return Vec::new() };
    errors
        .iter()
        .map(|e| {
            let code = e.pointer("/extensions/code").and_then(|c| c.as_str()).unwrap_or("");
            Code::ALL.iter().map(|c| c.as_str()).find(|c| *c == code).unwrap_or("OTHER")
        })
        .collect()
}

/// Reads a body of at most [`MAX_BODY`] bytes. A larger one is read on (and dropped) up to a
/// bound, so that the client, still sending, receives the 413 rather than a reset; the error
/// carries how much was seen.
async fn read_body(body: Body) -> Result<Bytes, usize> {
    use http_body_util::BodyExt;
    const DRAIN: usize = 8 * MAX_BODY;
    let mut body = body;
    let mut buf = Vec::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { return Err(seen) };
        if let Ok(data) = frame.into_data() {
            seen += data.len();
            if seen <= MAX_BODY {
                buf.extend_from_slice(&data);
            } else if seen > DRAIN {
                return Err(seen);
            }
        }
    }
    if seen > MAX_BODY { Err(seen) } else { Ok(Bytes::from(buf)) }
}

fn build(
    query: String,
    operation_name: Option<String>,
    variables: Option<serde_json::Value>,
) -> async_graphql::Request {
    let mut request = async_graphql::Request::new(query);
    if let Some(name) = operation_name {
        request = request.operation_name(name);
    }
    if let Some(variables) = variables {
        request = request.variables(async_graphql::Variables::from_json(variables));
    }
    request
}

#[cfg(test)]
mod tests {
    use super::leading_operation_name;
    use proptest::prelude::*;

    #[test]
    fn the_operation_name_is_read_from_the_first_tokens() {
        assert_eq!(leading_operation_name("query Heads { a }").as_deref(), Some("Heads"));
        assert_eq!(leading_operation_name("# note\n  mutation Go($a: Int) { a }").as_deref(), Some("Go"));
        assert_eq!(leading_operation_name("{ a }"), None);
        assert_eq!(leading_operation_name("query { a }"), None);
        assert_eq!(leading_operation_name("queryX { a }"), None);
    }

    proptest! {
        /// Any text gives no name or a GraphQL name of at most 64 bytes, and never panics.
        #[test]
        fn any_text_gives_a_bounded_name(text in "\\PC{0,200}", prefix in "(query|mutation|subscription|#)?[ \\n]?") {
            if let Some(name) = leading_operation_name(&format!("{prefix}{text}")) {
                prop_assert!(!name.is_empty() && name.len() <= 64);
                prop_assert!(name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
            }
        }
    }
}
