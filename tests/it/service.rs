//! Running morgue like a service, checked with the clients operators and front ends use:
//! CORS preflights, compressed answers (curl decodes them), request ids in answers and in
//! JSON log lines, `/metrics` through `promtool check metrics`, Apollo Client's automatic
//! persisted queries, and introspection switched off.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::server::Server;
use morgue::http::HttpOptions;

/// Whether a real client is installed; CI must have it (`.ci/run` installs it).
fn installed(program: &str, what: &str) -> bool {
    let found = Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(std::env::var_os("CI").is_none(), "CI must install {what} (.ci/run does)");
        eprintln!("skipped: {what} is not installed");
    }
    found
}

fn options(origins: &[&str]) -> HttpOptions {
    HttpOptions {
        cors_origins: origins.iter().map(|o| o.parse().unwrap()).collect(),
        ..HttpOptions::default()
    }
}

/// A preflight, as a browser sends it before a cross-origin JSON POST.
fn preflight(s: &Server, origin: &str) -> reqwest::Response {
    s.rt.block_on(async {
        s.http
            .request(reqwest::Method::OPTIONS, format!("{}/graphql", s.base))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type, authorization")
            .send()
            .await
            .unwrap()
    })
}

#[test]
fn cors_admits_the_listed_origins_and_no_other() {
    let s = Server::start_with_options(false, options(&["https://app.example.org"]));
    let allowed = preflight(&s, "https://app.example.org");
    assert!(allowed.status().is_success());
    let h = allowed.headers();
    assert_eq!(h["access-control-allow-origin"], "https://app.example.org");
    let methods = h["access-control-allow-methods"].to_str().unwrap().to_ascii_uppercase();
    assert!(methods.contains("POST") && methods.contains("GET"), "{methods}");
    let headers = h["access-control-allow-headers"].to_str().unwrap().to_ascii_lowercase();
    assert!(headers.contains("content-type") && headers.contains("authorization"), "{headers}");

    let refused = preflight(&s, "https://evil.example");
    assert!(refused.headers().get("access-control-allow-origin").is_none(), "{:?}", refused.headers());

    // The actual request from the allowed origin carries the header (and exposes the id).
    let answer = s.rt.block_on(async {
        s.http
            .post(format!("{}/graphql", s.base))
            .header("origin", "https://app.example.org")
            .json(&json!({"query": "{ status { head } }"}))
            .send()
            .await
            .unwrap()
    });
    assert_eq!(answer.headers()["access-control-allow-origin"], "https://app.example.org");
    assert!(answer.headers()["access-control-expose-headers"].to_str().unwrap().contains("x-request-id"));

    // With no origin configured (the default), no CORS header is ever sent.
    let closed = Server::start();
    let r = preflight(&closed, "https://app.example.org");
    assert!(r.headers().get("access-control-allow-origin").is_none());
}

/// Fetches with curl, asking for one encoding and letting curl decode it; returns the
/// `content-encoding` the answer had and the decoded bytes.
fn curl(url: &str, encoding: Option<&str>, post: Option<&str>) -> (Option<String>, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let headers = dir.path().join("headers");
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-f", "-D"]).arg(&headers);
    if let Some(e) = encoding {
        cmd.args(["--compressed", "-H", &format!("accept-encoding: {e}")]);
    }
    if let Some(body) = post {
        cmd.args(["-H", "content-type: application/json", "--data-binary", body]);
    }
    let out = cmd.arg(url).output().unwrap();
    assert!(out.status.success(), "curl {url}: {}", String::from_utf8_lossy(&out.stderr));
    let head = std::fs::read_to_string(headers).unwrap();
    let coding = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-encoding:").map(|v| v.trim().to_owned()));
    (coding, out.stdout)
}

#[test]
fn compressed_answers_decode_to_the_same_bytes() {
    if !installed("curl", "curl") {
        return;
    }
    let s = Server::with_fixtures();
    let query = r#"{"query":"{ articles(first: 20) { edges { node { slug headline body } } } }"}"#;
    let graphql = format!("{}/graphql", s.base);
    let page = format!("{}/", s.base);
    let (plain_json_coding, plain_json) = curl(&graphql, None, Some(query));
    let (plain_html_coding, plain_html) = curl(&page, None, None);
    assert_eq!((plain_json_coding, plain_html_coding), (None, None), "nothing is compressed unasked");
    assert!(
        plain_json.len() > 1000 && plain_html.len() > 1000,
        "answers worth compressing: {} and {} bytes",
        plain_json.len(),
        plain_html.len()
    );
    for encoding in ["gzip", "br", "zstd"] {
        let (coding, json) = curl(&graphql, Some(encoding), Some(query));
        assert_eq!(coding.as_deref(), Some(encoding), "JSON in {encoding}");
        assert_eq!(json, plain_json, "JSON in {encoding} decodes to the same bytes");
        let (coding, html) = curl(&page, Some(encoding), None);
        assert_eq!(coding.as_deref(), Some(encoding), "HTML in {encoding}");
        assert_eq!(html, plain_html, "HTML in {encoding} decodes to the same bytes");
    }
}

#[test]
fn a_request_id_is_answered_and_logged_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_morgue"))
        .args(["serve", "--listen", "127.0.0.1:0", "--map-size", "1073741824", "--fixtures", "none"])
        .env("MORGUE_DATA", dir.path())
        .env("MORGUE_LOG", "info")
        .env("MORGUE_LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let next_json = |deadline: Instant| -> Option<Value> {
        let line = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())).ok()?;
        Some(serde_json::from_str(&line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}")))
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let address = loop {
        let line = next_json(deadline).expect("serve logs that it listens");
        let message = line["message"].as_str().unwrap_or_default();
        if let Some(rest) = message.split("GraphiQL: http://").nth(1) {
            break rest.split('/').next().unwrap().to_owned();
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let client = reqwest::Client::new();
    let send = |id: Option<&str>| {
        rt.block_on(async {
            let mut req = client
                .post(format!("http://{address}/graphql"))
                .json(&json!({"query": "query Heads { status { head } }", "operationName": "Heads"}));
            if let Some(id) = id {
                req = req.header("x-request-id", id);
            }
            req.send().await.unwrap()
        })
    };
    let given = send(Some("trace-7f3a-given"));
    assert_eq!(given.headers()["x-request-id"], "trace-7f3a-given");
    let made = send(None);
    let made_id = made.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(made_id.len(), 36, "a UUID is made when none is given: {made_id}");
    let too_long = "x".repeat(morgue::http::layers::MAX_REQUEST_ID + 1);
    let replaced = send(Some(&too_long));
    assert_ne!(replaced.headers()["x-request-id"], too_long.as_str(), "an unusable id is replaced");

    // The access log line for each, in JSON, names the id, the operation and the status.
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.len() < 2 {
        let line = next_json(deadline).expect("the access log lines arrive");
        if line["target"] == "morgue::access" && line["path"] == "/graphql" {
            assert_eq!(line["method"], "POST");
            assert_eq!(line["status"], 200);
            assert_eq!(line["operation"], "Heads");
            assert!(line["latency_ms"].as_f64().is_some(), "{line}");
            assert_eq!(line["span"]["id"], line["request_id"], "the request's span carries its id: {line}");
            seen.push(line["request_id"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(seen, ["trace-7f3a-given".to_owned(), made_id]);
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn metrics_pass_promtool_and_count_errors_inside_200_answers() {
    let s = Server::start();
    s.ok(None, "query Heads { status { head } }", json!({}));
    // A resolver error answered with 200: counted by its code.
    let (status, body) =
        s.post(None, "{ article(slug: \"no-such-article\") { id } author(id: \"nope\") { id } }", json!({}));
    assert_eq!(status, 200, "{body}");
    let codes: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["extensions"]["code"].as_str().unwrap())
        .collect();
    assert!(!codes.is_empty(), "{body}");
    let text = s.rt.block_on(async {
        let r = s.http.get(format!("{}/metrics", s.base)).send().await.unwrap();
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
        r.text().await.unwrap()
    });
    for code in &codes {
        assert!(text.contains(&format!("morgue_graphql_errors_total{{code=\"{code}\"}}")), "{code}: {text}");
    }
    for needle in [
        "morgue_graphql_requests_total{operation=\"Heads\"} 1",
        "morgue_graphql_request_duration_seconds_count{operation=\"Heads\"} 1",
        "morgue_http_requests_total{method=\"POST\",route=\"/graphql\",status=\"200\"}",
        "morgue_http_request_duration_seconds_bucket{route=\"/graphql\"",
        "morgue_store_size_bytes{part=\"log\"}",
        "morgue_projector_lag_events{projector=\"search\"}",
        "morgue_build_info{",
        "process_resident_memory_bytes",
    ] {
        assert!(text.contains(needle), "{needle} missing: {text}");
    }
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let name = line.split(['{', ' ']).next().unwrap();
        let family = ["_bucket", "_sum", "_count"].iter().fold(name, |n, s| n.strip_suffix(s).unwrap_or(n));
        assert!(
            text.contains(&format!("# HELP {family} ")) || text.contains(&format!("# HELP {name} ")),
            "{name} has HELP"
        );
    }
    if !installed("promtool", "promtool (Debian's prometheus package)") {
        return;
    }
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut promtool.stdin.take().unwrap(), text.as_bytes()).unwrap();
    let out = promtool.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Apollo Client's persisted-query link (installed by `.ci/run` into `tests/js`), over GET for
/// hashed queries and over POST: a hash alone first, then the registering request, then the
/// hash alone again, answered from the node's cache.
#[test]
fn apollo_clients_persisted_queries_over_get_and_post() {
    let js = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js");
    if !js.join("node_modules/@apollo/client").exists() {
        assert!(std::env::var_os("CI").is_none(), "CI must install Apollo Client: npm ci --prefix tests/js");
        eprintln!("skipped: Apollo Client is not installed (npm ci --prefix tests/js)");
        return;
    }
    let s = Server::with_fixtures();
    for mode in ["get", "post"] {
        let out = Command::new("node")
            .arg(js.join("apq.mjs"))
            .arg(format!("{}/graphql", s.base))
            .arg(mode)
            .output()
            .expect("node runs");
        assert!(out.status.success(), "Apollo Client ({mode}): {}", String::from_utf8_lossy(&out.stderr));
        let run: Value = serde_json::from_slice(&out.stdout).unwrap();
        let sent = run["sent"].as_array().unwrap();
        let shape: Vec<(String, bool, bool)> = sent
            .iter()
            .map(|r| {
                (r["method"].as_str().unwrap().to_owned(), r["withQuery"] == true, r["withHash"] == true)
            })
            .collect();
        let hashed = if mode == "get" { "GET" } else { "POST" }.to_owned();
        // Each mode runs in a fresh client, but the node remembers GET's registration: POST
        // then finds its hash at once.
        let expected = if mode == "get" {
            vec![(hashed.clone(), false, true), ("POST".into(), true, true), (hashed.clone(), false, true)]
        } else {
            vec![(hashed.clone(), false, true), (hashed.clone(), false, true)]
        };
        assert_eq!(shape, expected, "{run}");
        if mode == "get" {
            assert_eq!(sent[0]["answer"]["errors"][0]["extensions"]["code"], "PERSISTED_QUERY_NOT_FOUND");
        }
        let slugs = &run["first"]["articles"]["edges"];
        assert!(slugs.as_array().is_some_and(|e| e.len() == 3), "{run}");
        assert_eq!(run["first"], run["second"]);
    }
    // A hash that names another text is refused, and nothing is registered by it.
    let (status, body) = s.rt.block_on(async {
        let r = s
            .http
            .post(format!("{}/graphql", s.base))
            .json(&json!({"query": "{ status { head } }", "extensions": {"persistedQuery": {"version": 1, "sha256Hash": "0".repeat(64)}}}))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().await.unwrap())
    });
    assert_eq!((status, &body["errors"][0]["extensions"]["code"]), (400, &json!("BAD_INPUT")), "{body}");
}

#[test]
fn introspection_can_be_switched_off() {
    let s = Server::start_with_options(false, HttpOptions { introspection: false, ..HttpOptions::default() });
    // async-graphql answers a switched-off introspection field with null.
    let (_, body) = s.post(None, "{ __schema { types { name } } }", json!({}));
    assert!(body.pointer("/data/__schema/types").is_none(), "{body}");
    let (_, body) = s.post(None, "{ __type(name: \"Article\") { name } }", json!({}));
    assert!(body.pointer("/data/__type/name").is_none(), "{body}");
    // Everything else is answered as before.
    assert!(s.ok(None, "{ status { head } }", json!({}))["status"]["head"].is_string());
    let on = Server::start();
    assert_eq!(on.ok(None, "{ __type(name: \"Article\") { name } }", json!({}))["__type"]["name"], "Article");
}
