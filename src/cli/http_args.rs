//! `serve`'s HTTP settings: which browser origins may call, whether the schema is
//! introspectable, and how many persisted queries are kept.

use anyhow::Context;
use axum::http::HeaderValue;

use super::*;

/// Whether introspection is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    /// Answered (the default: GraphiQL and code generators load the schema).
    On,
    /// Refused: `__schema` and `__type` are unknown fields.
    Off,
}

/// HTTP settings of `serve`.
#[derive(Debug, Clone, Args)]
pub struct HttpArgs {
    /// A browser origin allowed to call this node (CORS), such as `https://app.example.org`;
    /// repeat the flag or comma-separate several, `*` for any. None by default: browsers then
    /// keep pages of other origins out.
    ///
    /// Example: `morgue serve --cors-origin https://app.example.org`
    #[arg(long = "cors-origin", env = "MORGUE_CORS_ORIGIN", value_name = "ORIGIN", value_delimiter = ',')]
    pub cors_origin: Vec<String>,
    /// `off` refuses introspection (`__schema`, `__type`), for public nodes that keep their
    /// schema to themselves; GraphiQL then cannot load it either.
    #[arg(long, env = "MORGUE_INTROSPECTION", value_enum, default_value_t = Switch::On)]
    pub introspection: Switch,
    /// Queries kept for Apollo's automatic persisted queries (least recently used go first;
    /// at most 32 MiB of text whatever this says); 0 turns them off.
    #[arg(long, env = "MORGUE_PERSISTED_QUERIES", default_value_t = crate::http::apq::DEFAULT_ENTRIES)]
    pub persisted_queries: usize,
}

impl HttpArgs {
    /// The settings, checked: every origin is a valid header value.
    pub fn options(&self) -> anyhow::Result<crate::http::HttpOptions> {
        let mut cors_origins = Vec::new();
        for origin in self.cors_origin.iter().map(|o| o.trim()).filter(|o| !o.is_empty()) {
            let origin = origin.trim_end_matches('/');
            if origin != "*" && !(origin.starts_with("http://") || origin.starts_with("https://")) {
                anyhow::bail!(
                    "--cors-origin {origin:?}: an origin is `*` or a scheme and host, such as https://app.example.org"
                );
            }
            cors_origins.push(
                HeaderValue::from_str(origin)
                    .with_context(|| format!("--cors-origin {origin:?} is not a valid origin"))?,
            );
        }
        Ok(crate::http::HttpOptions {
            cors_origins,
            introspection: self.introspection == Switch::On,
            persisted_queries: self.persisted_queries,
        })
    }
}
