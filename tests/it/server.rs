//! A real morgue server on 127.0.0.1:0 for end-to-end tests, and a small GraphQL client.

use std::time::Duration;

use serde_json::{Value, json};

use morgue::archive::Archive;
use morgue::auth::Tokens;
use morgue::graphql::Role;

/// A running server and the tokens to talk to it.
pub struct Server {
    pub base: String,
    pub editor: String,
    pub admin: String,
    pub archive: Archive,
    pub rt: tokio::runtime::Runtime,
    pub http: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    done: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _dir: tempfile::TempDir,
}

impl Server {
    pub fn start() -> Server {
        Server::start_with(false)
    }

    /// A server over the authored fixtures (`fixtures/archive.jsonl`), caught up.
    pub fn with_fixtures() -> Server {
        Server::start_with(true)
    }

    fn start_with(fixtures: bool) -> Server {
        Server::start_with_options(fixtures, morgue::http::HttpOptions::default())
    }

    /// A server with these HTTP settings, over the fixtures or empty.
    pub fn start_with_options(fixtures: bool, options: morgue::http::HttpOptions) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let archive = Archive::open(dir.path(), 1 << 30).unwrap();
        if fixtures {
            let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/archive.jsonl");
            let input = morgue::cli::open_input(&file).unwrap();
            morgue::archive::import(archive.store(), std::io::BufRead::lines(input), 5000, |_| {}).unwrap();
            archive.projections().unwrap().catch_up(Duration::from_secs(60)).unwrap();
        }
        let tokens = Tokens::load(dir.path()).unwrap();
        let editor = tokens.create("night-desk", Role::Editor).unwrap();
        let admin = tokens.create("ops", Role::Admin).unwrap();
        let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let state = morgue::http::AppState::with_options(archive.clone(), tokens, options);
        let done = rt.spawn(morgue::http::serve(listener, state, async {
            let _ = rx.await;
        }));
        Server {
            base,
            editor,
            admin,
            archive,
            rt,
            http: reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap(),
            shutdown: Some(tx),
            done: Some(done),
            _dir: dir,
        }
    }

    /// POSTs a GraphQL request with an optional bearer token; returns status and JSON body.
    pub fn post(&self, token: Option<&str>, query: &str, variables: Value) -> (u16, Value) {
        self.rt.block_on(async {
            let mut req = self
                .http
                .post(format!("{}/graphql", self.base))
                .json(&json!({"query": query, "variables": variables}));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            (status, resp.json().await.unwrap_or(Value::Null))
        })
    }

    /// Runs a query or mutation that must succeed; returns `data`.
    pub fn ok(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let (status, body) = self.post(token, query, variables);
        assert_eq!(status, 200, "{body}");
        assert!(body.get("errors").is_none(), "unexpected errors: {body}");
        body["data"].clone()
    }

    /// Runs a request that must fail; returns the first error's code.
    pub fn code(&self, token: Option<&str>, query: &str, variables: Value) -> String {
        let (_, body) = self.post(token, query, variables);
        body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no error code in {body}"))
            .to_owned()
    }

    /// The data directory (its `tokens.json` is the server's).
    pub fn data(&self) -> &std::path::Path {
        self._dir.path()
    }

    pub fn head(&self) -> u64 {
        self.archive.store().head().get()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(done) = self.done.take() {
            let _ = self.rt.block_on(done);
        }
        self.archive.close();
    }
}
