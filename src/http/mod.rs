//! HTTP: the axum router. GraphQL over HTTP (to the letter of the spec, not only the happy
//! path, with Apollo's automatic persisted queries), subscriptions over WebSocket, GraphiQL,
//! health, readiness and metrics, under request ids, CORS, compression and an access log.
//! Bearer tokens become a [`Viewer`]; limits on body size, query depth and complexity and time.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::http::GraphiQLSource;
pub mod apq;
mod graphql_http;
mod images;
pub mod layers;
mod metrics;
mod multipart;
pub mod offload;
pub mod web;
mod ws;

/// The WebSocket limits, as the SDL states them.
pub mod ws_limits {
    pub use super::ws::{MAX_MESSAGE, MAX_OPERATIONS, MAX_SOCKETS};
}

use graphql_http::{Media, request_error};
pub use metrics::Metrics;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::Code;
use crate::archive::Archive;
use crate::auth::Tokens;
use crate::graphql::MorgueSchema;

/// Largest request body accepted.
pub const MAX_BODY: usize = 2 << 20;
/// Longest a request may run.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// How a node's HTTP side is set up (`serve`'s flags).
#[derive(Clone, Debug)]
pub struct HttpOptions {
    /// Origins a browser may call from (`*` for any); none by default.
    pub cors_origins: Vec<axum::http::HeaderValue>,
    /// Whether `__schema` and `__type` are answered (public nodes may switch them off).
    pub introspection: bool,
    /// Persisted queries kept per node (Apollo's automatic persisted queries).
    pub persisted_queries: usize,
}

impl Default for HttpOptions {
    fn default() -> HttpOptions {
        HttpOptions { cors_origins: Vec::new(), introspection: true, persisted_queries: apq::DEFAULT_ENTRIES }
    }
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The schema (holds the archive).
    pub schema: MorgueSchema,
    /// The archive, for health and metrics.
    pub archive: Archive,
    /// The tokens.
    pub tokens: Tokens,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Where heavy work (GraphQL operations, pages) runs.
    pub pool: offload::Pool,
    /// Places for open WebSockets.
    pub sockets: Arc<tokio::sync::Semaphore>,
    /// Queries registered by their SHA-256 (Apollo's automatic persisted queries).
    pub persisted: Arc<apq::Cache>,
    /// The settings.
    pub options: Arc<HttpOptions>,
}

impl AppState {
    /// The state for an archive and its tokens, with the default settings.
    pub fn new(archive: Archive, tokens: Tokens) -> AppState {
        AppState::with_options(archive, tokens, HttpOptions::default())
    }

    /// The state for an archive and its tokens, with these settings.
    pub fn with_options(archive: Archive, tokens: Tokens, options: HttpOptions) -> AppState {
        AppState {
            schema: crate::graphql::schema_with(archive.clone(), options.introspection),
            archive,
            tokens,
            metrics: Arc::default(),
            pool: offload::Pool::default(),
            sockets: Arc::new(tokio::sync::Semaphore::new(ws::MAX_SOCKETS)),
            persisted: Arc::new(apq::Cache::new(options.persisted_queries)),
            options: Arc::new(options),
        }
    }
}

/// The router, every route under the layers of [`layers`]: the access log and request id
/// outermost, then CORS (when origins are allowed), compression, and a panic guard.
pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .route("/graphql", get(graphql_http::graphql).post(graphql_http::graphql))
        .route("/graphql/ws", get(ws::upgrade))
        .route("/ws", get(ws::upgrade))
        .route("/graphiql", get(graphiql))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics::metrics))
        .merge(web::routes())
        .merge(images::routes())
        .fallback(web::not_found)
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panicked))
        .layer(tower_http::compression::CompressionLayer::new());
    let routes = match layers::cors(&state.options.cors_origins) {
        Some(cors) => routes.layer(cors),
        None => routes,
    };
    routes.layer(axum::middleware::from_fn_with_state(state.clone(), layers::observe)).with_state(state)
}

/// Serves until `shutdown` resolves, then stops taking connections and lets in-flight
/// requests (and the writes they started) finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await
}

/// A handler that panicked (a bug): logged, answered 500 with a coded error, and the node
/// goes on serving.
fn panicked(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    request_error(
        Media::Json,
        StatusCode::INTERNAL_SERVER_ERROR,
        Code::Internal,
        "internal error; it has been logged",
    )
}

async fn graphiql() -> Html<String> {
    Html(
        GraphiQLSource::build()
            .endpoint("/graphql")
            .subscription_endpoint("/graphql/ws")
            .title("morgue")
            .finish(),
    )
}

async fn readyz(State(state): State<AppState>) -> Response {
    let (head, projectors) = state.archive.status();
    let link = state.archive.link_report();
    let ready =
        link.as_ref().is_none_or(|l| l.ready) && projectors.iter().all(|p| p.lag == 0 && p.error.is_none());
    let body = json!({
        "ready": ready,
        "head": head.to_string(),
        "projectors": projectors.iter().map(|p| json!({"name": p.name, "checkpoint": p.checkpoint.to_string(), "lag": p.lag, "error": p.error})).collect::<Vec<_>>(),
        "replication": link.map(|l| json!({
            "role": if l.replica { "replica" } else { "writer" },
            "target": l.target,
            "connected": l.connected,
            "position": l.position.to_string(),
            "lag": l.lag,
            "caughtUp": l.caught_up,
            "error": l.error,
            "halted": l.halted,
        })),
    });
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, axum::Json(body)).into_response()
}
