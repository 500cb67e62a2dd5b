//! Beyond one machine: real `nats-server` processes on loopback ports, the real `morgue`
//! binary as writer (`--publish`) and read replicas (`--follow`), and the faults: NATS down
//! while the writer writes, the writer SIGKILLed mid-publish, a cluster node lost mid-burst.
//!
//! `.ci/run` installs Debian's `nats-server` when it is missing; outside CI these tests skip
//! with a message when it is absent.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(120);

/// The `nats-server` command, or `None` (skip) outside CI when it is not installed.
pub(crate) fn nats_server() -> Option<&'static str> {
    let found = Command::new("nats-server").arg("--version").output().is_ok_and(|o| o.status.success());
    if found {
        return Some("nats-server");
    }
    assert!(std::env::var_os("CI").is_none(), "CI must have nats-server (.ci/run installs it)");
    eprintln!("skipping: nats-server is not installed (apt-get install nats-server)");
    None
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts a process and waits until a line of its standard error contains `ready`; returns
/// the child, that line, and the lines it logs (kept for failure messages).
pub(crate) fn spawn_until(
    mut command: Command,
    ready: &str,
    what: &str,
) -> (Child, String, Arc<Mutex<Vec<String>>>) {
    let mut child = command.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let log = Arc::new(Mutex::new(Vec::new()));
    let found = loop {
        match lines.next() {
            Some(Ok(line)) => {
                log.lock().unwrap().push(line.clone());
                if line.contains(ready) {
                    break line;
                }
            }
            _ => panic!("{what} exited before it was ready:\n{}", log.lock().unwrap().join("\n")),
        }
    };
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    (child, found, log)
}

/// A JetStream-enabled `nats-server` on a loopback port, with its store in a directory that
/// survives restarts.
pub(crate) struct Nats {
    child: Option<Child>,
    port: u16,
    args: Vec<String>,
}

impl Nats {
    pub(crate) fn start(bin: &str, dir: &Path, extra: &[String]) -> Nats {
        let port = free_port();
        let mut args = server_args(port, dir);
        args.extend_from_slice(extra);
        let mut nats = Nats { child: None, port, args };
        nats.run(bin);
        nats
    }

    fn run(&mut self, bin: &str) {
        let mut command = Command::new(bin);
        command.args(&self.args);
        let (child, _, _) = spawn_until(command, "Server is ready", "nats-server");
        self.child = Some(child);
    }

    pub(crate) fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// SIGKILL: the hardest stop.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A JetStream server's arguments: loopback, `port`, its store in `dir`.
fn server_args(port: u16, dir: &Path) -> Vec<String> {
    let port = port.to_string();
    let dir = dir.display().to_string();
    ["-js", "-a", "127.0.0.1", "-p", &port, "-sd", &dir].map(str::to_owned).to_vec()
}

/// A three-node JetStream cluster on loopback.
fn cluster(bin: &str, dir: &Path) -> Vec<Nats> {
    let routes: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let all = routes.iter().map(|p| format!("nats://127.0.0.1:{p}")).collect::<Vec<_>>().join(",");
    let mut nodes = Vec::new();
    let mut children = Vec::new();
    // Start all three before waiting on any: JetStream needs a quorum to be ready.
    for (i, route) in routes.iter().enumerate() {
        let port = free_port();
        let mut args = server_args(port, &dir.join(format!("n{i}")));
        args.extend([
            "-n".into(),
            format!("n{i}"),
            "--cluster_name".into(),
            "morgue-test".into(),
            "--cluster".into(),
            format!("nats://127.0.0.1:{route}"),
            "--routes".into(),
            all.clone(),
        ]);
        let mut command = Command::new(bin);
        command.args(&args);
        let child = command.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
        children.push(child);
        nodes.push(Nats { child: None, port, args });
    }
    for (node, mut child) in nodes.iter_mut().zip(children) {
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        loop {
            match lines.next() {
                Some(Ok(line)) if line.contains("Server is ready") => break,
                Some(Ok(_)) => {}
                _ => panic!("a cluster node exited before it was ready"),
            }
        }
        std::thread::spawn(move || for _ in lines {});
        node.child = Some(child);
    }
    nodes
}

/// A `morgue serve` process.
pub(crate) struct Node {
    child: Child,
    pub(crate) base: String,
    pub(crate) data: PathBuf,
    log: Arc<Mutex<Vec<String>>>,
}

impl Node {
    pub(crate) fn start(data: &Path, args: &[String]) -> Node {
        let mut command = Command::new(env!("CARGO_BIN_EXE_morgue"));
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--map-size", "1073741824"])
            .args(["--fixture-images", "none"])
            .args(args)
            .env("MORGUE_DATA", data)
            .env("MORGUE_LOG", "info");
        let (child, line, log) = spawn_until(command, "GraphiQL: http://", "morgue serve");
        let address = line.split("GraphiQL: http://").nth(1).unwrap().split('/').next().unwrap().to_owned();
        Node { child, base: format!("http://{address}"), data: data.to_owned(), log }
    }

    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub(crate) fn logs(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

pub(crate) fn fixtures() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/archive.jsonl").display().to_string()
}

pub(crate) fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

pub(crate) async fn gql(
    http: &reqwest::Client,
    node: &str,
    token: Option<&str>,
    query: &str,
    variables: Value,
) -> Value {
    let mut request =
        http.post(format!("{node}/graphql")).json(&json!({"query": query, "variables": variables}));
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    request.send().await.unwrap().json().await.unwrap()
}

pub(crate) async fn head(http: &reqwest::Client, node: &str) -> u64 {
    let body = gql(http, node, None, "{ status { head } }", json!({})).await;
    body["data"]["status"]["head"].as_str().unwrap().parse().unwrap()
}

/// Waits until the node's views and search index hold `position` (each read waits up to 5 s
/// server-side and answers STALE if it has not come).
pub(crate) async fn reach(http: &reqwest::Client, node: &Node, position: u64) {
    let deadline = Instant::now() + WAIT;
    let query = "query($p: Position!) { articles(first: 0, minPosition: $p) { totalCount } \
                 search(query: \"the\", first: 0, minPosition: $p) { totalCount } }";
    loop {
        let body = gql(http, &node.base, None, query, json!({"p": position.to_string()})).await;
        match body["errors"][0]["extensions"]["code"].as_str() {
            None => return,
            Some("STALE") if Instant::now() < deadline => {}
            _ => panic!("{} did not reach {position}: {body}\n{}", node.base, node.logs()),
        }
    }
}

/// Concurrent editors: `n` of them each register an author, draft an article, add the byline
/// and publish it. Returns the highest position acknowledged.
async fn burst(http: &reqwest::Client, node: &str, token: &str, n: usize, tag: &str) -> u64 {
    let mut tasks = Vec::new();
    for i in 0..n {
        let (http, node, token, tag) = (http.clone(), node.to_owned(), token.to_owned(), tag.to_owned());
        tasks.push(tokio::spawn(async move {
            let t = Some(token.as_str());
            let author = gql(&http, &node, t, "mutation($n: String!) { registerAuthor(input: {name: $n}) { author { id } } }",
                json!({"n": format!("Correspondent {tag} {i}")})).await;
            let author_id = author["data"]["registerAuthor"]["author"]["id"].as_str().unwrap_or_else(|| panic!("{author}")).to_owned();
            let draft = gql(&http, &node, t,
                "mutation($h: String!, $b: String!) { draftArticle(input: {headline: $h, body: $b, section: \"harbour\"}) { article { id } } }",
                json!({"h": format!("Harbour lights {tag} {i}"), "b": format!("The night ferry {i} came in under the storm; the lighthouse keeper logged it.")})).await;
            let id = draft["data"]["draftArticle"]["article"]["id"].as_str().unwrap_or_else(|| panic!("{draft}")).to_owned();
            let byline = gql(&http, &node, t, "mutation($a: ID!, $u: ID!) { addByline(input: {articleId: $a, authorId: $u}) { position } }",
                json!({"a": id, "u": author_id})).await;
            assert!(byline["errors"].is_null(), "{byline}");
            let published = gql(&http, &node, t, "mutation($a: ID!) { publishArticle(input: {id: $a}) { position } }", json!({"a": id})).await;
            published["data"]["publishArticle"]["position"].as_str().unwrap_or_else(|| panic!("{published}")).parse::<u64>().unwrap()
        }));
    }
    let mut last = 0;
    for t in tasks {
        last = last.max(t.await.unwrap());
    }
    last
}

/// The stream holds the writer's log exactly: sequence = position from 1 to the head, no gap,
/// no duplicate, every checksum the log's.
async fn assert_stream_is_the_log(url: &str, writer_data: &Path, head: u64) {
    let client = async_nats::connect(url).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let mut stream = js.get_stream("MORGUE").await.unwrap();
    let state = stream.info().await.unwrap().state.clone();
    assert_eq!((state.first_sequence, state.last_sequence, state.messages), (1, head, head), "{state:?}");
    let store = morgue::store::Store::open_reader(
        writer_data.join("log"),
        morgue::store::StoreOptions { map_size: 1 << 30 },
    )
    .unwrap();
    let reader = store.reader().unwrap();
    for sequence in 1..=head {
        let message = stream.get_raw_message(sequence).await.unwrap();
        let event = reader.event(morgue::Position(sequence)).unwrap();
        assert_eq!(message.headers.get("Morgue-Position").unwrap().as_str(), sequence.to_string());
        let checksum: String = event.checksum.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(message.headers.get("Morgue-Checksum").unwrap().as_str(), checksum, "sequence {sequence}");
    }
}

/// `morgue verify` on a data directory (its server stopped) passes.
pub(crate) fn verify(data: &Path) {
    let out =
        Command::new(env!("CARGO_BIN_EXE_morgue")).arg("verify").env("MORGUE_DATA", data).output().unwrap();
    assert!(
        out.status.success(),
        "verify failed on {}: {}",
        data.display(),
        String::from_utf8_lossy(&out.stdout)
    );
}

/// The writer's public key (`morgue writer-key`, which makes the key before the writer starts).
pub(crate) fn writer_key(data: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_morgue"))
        .args(["writer-key"])
        .env("MORGUE_DATA", data)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

pub(crate) fn editor_token(data: &Path) -> String {
    let tokens = morgue::auth::Tokens::load(data).unwrap();
    tokens.create("desk", morgue::graphql::Role::Editor).unwrap()
}

const SAME_ANSWERS: &[&str] = &[
    "{ articles(first: 100) { totalCount edges { node { id slug headline version bylines { name } } } } }",
    // Relevance: the same hits, order, scores, snippets, facets and counts on every node.
    "{ search(query: \"harbour lighthouse\", first: 100) { totalCount hits { score article { slug } snippets { field html } } facets { sections { value count } years { value count } authors { value count } } } }",
    "{ search(query: \"storm OR harbour OR flood\", first: 30, asOf: \"1990-01-01T00:00:00Z\") { totalCount hits { score article { slug version } } } }",
    "{ search(query: \"harbour\", first: 5, after: \"hit:4\", basis: \"250\") { totalCount pageInfo { hasNextPage } hits { cursor score article { slug } } } }",
    "{ search(query: \"harbour lighthouse\", first: 20, sort: DATE) { totalCount hits { article { slug } snippets { html } } } }",
    "{ search(query: \"storm\", asOf: \"1990-01-01T00:00:00Z\", sort: DATE) { totalCount hits { article { slug headline } } } }",
    "{ authors(first: 100) { totalCount edges { node { id name } } } }",
    "{ authors(first: 100, asOf: \"1950-06-01T00:00:00Z\") { totalCount } }",
    "{ articles(first: 20, basis: \"200\") { totalCount edges { node { slug version } } } }",
    "{ articles(first: 20, asOf: \"1969-07-21T00:00:00Z\") { totalCount edges { node { slug headline status } } } }",
    "{ events(first: 100, after: \"300\") { edges { node { position type streamId version } } } }",
    "{ timeline(bucket: YEAR) { start count } }",
];

#[test]
fn a_writer_and_two_replicas_answer_every_read_alike() {
    let Some(bin) = nats_server() else { return };
    let dir = tempfile::tempdir().unwrap();
    let nats = Nats::start(bin, &dir.path().join("nats"), &[]);
    let url = nats.url();
    let token = editor_token(&dir.path().join("writer"));
    let writer = Node::start(
        &dir.path().join("writer"),
        &["--fixtures".into(), fixtures(), "--publish".into(), url.clone()],
    );
    let key = writer_key(&dir.path().join("writer"));
    // The log is staff's: each replica gets its own editor token to read it.
    let staff: std::collections::HashMap<&str, String> =
        ["r1", "r2"].into_iter().map(|n| (n, editor_token(&dir.path().join(n)))).collect();
    let follow = |name: &str| {
        Node::start(
            &dir.path().join(name),
            &[
                "--follow".into(),
                url.clone(),
                "--consumer".into(),
                name.into(),
                "--writer-url".into(),
                writer.base.clone(),
                "--writer-key".into(),
                key.clone(),
            ],
        )
    };
    let r1 = follow("r1");
    let rt = rt();
    let http = reqwest::Client::new();
    let last = rt.block_on(burst(&http, &writer.base, &token, 24, "a"));
    // A second replica starts empty after the burst and catches up from the stream alone.
    let r2 = follow("r2");
    rt.block_on(async {
        let head = head(&http, &writer.base).await;
        assert!(head >= last && head >= 339 + 24 * 4, "head {head}");
        for node in [&writer, &r1, &r2] {
            reach(&http, node, head).await;
            assert_eq!(self::head(&http, &node.base).await, head, "{} holds the whole log", node.base);
        }
        for query in SAME_ANSWERS {
            let expected = gql(&http, &writer.base, Some(&token), query, json!({})).await;
            assert!(expected["errors"].is_null(), "{query}: {expected}");
            for (replica, name) in [(&r1, "r1"), (&r2, "r2")] {
                let got = gql(&http, &replica.base, Some(&staff[name]), query, json!({})).await;
                assert_eq!(got, expected, "{query} on {}", replica.base);
            }
        }
        // The web page too: the same HTML for a search, an article, its history, and as of a date.
        for page in [
            "/?q=harbour",
            "/?q=harbour+lighthouse&asOf=1990-01-01",
            "/?q=harbour&sort=date",
            "/?q=storm&sort=date&asOf=1950-06-01",
            "/articles/harbour-lights-a-3",
            "/articles/harbour-lights-a-3/history",
            "/timeline",
        ] {
            let get = |base: String| {
                let http = http.clone();
                async move {
                    let r = http.get(format!("{base}{page}")).send().await.unwrap();
                    (r.status().as_u16(), r.text().await.unwrap())
                }
            };
            let expected = get(writer.base.clone()).await;
            assert_eq!(expected.0, 200, "{page} on the writer");
            for replica in [&r1, &r2] {
                assert_eq!(get(replica.base.clone()).await, expected, "{page} on {}", replica.base);
            }
        }
        // Status and /readyz report the replica's link and lag.
        for replica in [&r1, &r2] {
            let status = gql(
                &http,
                &replica.base,
                None,
                "{ status { role replication { connected lag caughtUp position } } }",
                json!({}),
            )
            .await;
            let s = &status["data"]["status"];
            assert_eq!(s["role"], "REPLICA", "{status}");
            assert_eq!(s["replication"]["lag"], 0, "{status}");
            assert_eq!(s["replication"]["position"], head.to_string(), "{status}");
            let ready = http.get(format!("{}/readyz", replica.base)).send().await.unwrap();
            assert_eq!(ready.status(), 200);
            let body: Value = ready.json().await.unwrap();
            assert_eq!(body["replication"]["role"], "replica", "{body}");
            assert_eq!(body["replication"]["lag"], 0, "{body}");
        }
        let status = gql(
            &http,
            &writer.base,
            None,
            "{ status { role replication { connected lag position } } }",
            json!({}),
        )
        .await;
        assert_eq!(status["data"]["status"]["role"], "WRITER", "{status}");
        assert_eq!(status["data"]["status"]["replication"]["position"], head.to_string(), "{status}");
        assert_stream_is_the_log(&url, &writer.data, head).await;
    });

    // Another service reads the same feed: the Python consumer from docs/feed.md.
    consume_with_python(&url, &writer.data);

    let (mut r1, mut r2) = (r1, r2);
    r1.kill();
    r2.kill();
    verify(&r1.data);
    verify(&r2.data);
}

#[test]
fn a_replica_refuses_every_mutation_with_read_only_and_appends_nothing() {
    let Some(bin) = nats_server() else { return };
    let dir = tempfile::tempdir().unwrap();
    let nats = Nats::start(bin, &dir.path().join("nats"), &[]);
    let writer = Node::start(
        &dir.path().join("writer"),
        &["--fixtures".into(), fixtures(), "--publish".into(), nats.url()],
    );
    // Whatever the token: the replica's own editor and admin tokens do not make it writable.
    let replica_dir = dir.path().join("replica");
    let editor = editor_token(&replica_dir);
    let admin = morgue::auth::Tokens::load(&replica_dir)
        .unwrap()
        .create("ops", morgue::graphql::Role::Admin)
        .unwrap();
    let replica = Node::start(
        &replica_dir,
        &[
            "--follow".into(),
            nats.url(),
            "--writer-url".into(),
            writer.base.clone(),
            "--writer-key".into(),
            writer_key(&dir.path().join("writer")),
        ],
    );
    let rt = rt();
    let http = reqwest::Client::new();
    rt.block_on(async {
        reach(&http, &replica, 339).await;
        let author = gql(&http, &replica.base, None, "{ authors(first: 1) { edges { node { id } } } }", json!({})).await;
        let author_id = author["data"]["authors"]["edges"][0]["node"]["id"].as_str().unwrap().to_owned();
        let mutations = [
            ("mutation { registerAuthor(input: {name: \"Nobody\"}) { position } }".to_owned(), None),
            ("mutation { registerAuthor(input: {name: \"Nobody\"}) { position } }".to_owned(), Some(editor.as_str())),
            (format!("mutation {{ renameAuthor(input: {{id: \"{author_id}\", name: \"X\"}}) {{ position }} }}"), Some(editor.as_str())),
            ("mutation { draftArticle(input: {headline: \"H\", body: \"B\", section: \"s\"}) { position } }".to_owned(), Some(admin.as_str())),
            ("mutation { rebuildProjector(projector: VIEWS) { name } }".to_owned(), Some(admin.as_str())),
            ("mutation { publishArticle(input: {id: \"not-an-id\"}) { position } }".to_owned(), Some("wrong-token")),
        ];
        for (mutation, token) in &mutations {
            let body = gql(&http, &replica.base, *token, mutation, json!({})).await;
            let ext = &body["errors"][0]["extensions"];
            assert_eq!(ext["code"], "READ_ONLY", "{mutation}: {body}");
            assert_eq!(ext["writer"], writer.base.as_str(), "{body}");
            assert!(body["errors"][0]["message"].as_str().unwrap().contains(&writer.base), "{body}");
        }
        assert_eq!(head(&http, &replica.base).await, 339, "the replica appended nothing");
        assert_eq!(head(&http, &writer.base).await, 339, "nor did the writer");
    });
}

#[test]
fn nats_down_while_the_writer_writes_then_back_the_stream_catches_up_without_gap_or_duplicate() {
    let Some(bin) = nats_server() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut nats = Nats::start(bin, &dir.path().join("nats"), &[]);
    let url = nats.url();
    let token = editor_token(&dir.path().join("writer"));
    let writer = Node::start(
        &dir.path().join("writer"),
        &["--fixtures".into(), fixtures(), "--publish".into(), url.clone()],
    );
    let rt = rt();
    let http = reqwest::Client::new();
    rt.block_on(burst(&http, &writer.base, &token, 8, "before"));
    nats.kill();
    // Appends never wait for NATS: the writer keeps taking writes while it is down.
    let during = rt.block_on(burst(&http, &writer.base, &token, 8, "during"));
    let status =
        rt.block_on(gql(&http, &writer.base, None, "{ status { head replication { lag } } }", json!({})));
    assert!(
        status["data"]["status"]["replication"]["lag"].as_i64().unwrap() > 0,
        "unpublished events show as lag: {status}"
    );
    nats.run(bin);
    rt.block_on(async {
        let deadline = Instant::now() + WAIT;
        // The publisher reconnects by itself; wait on its status until the stream has the head.
        loop {
            let s = gql(
                &http,
                &writer.base,
                None,
                "{ status { head replication { lag position connected } } }",
                json!({}),
            )
            .await;
            let r = &s["data"]["status"]["replication"];
            if r["lag"] == 0 && r["connected"] == true && r["position"] == s["data"]["status"]["head"] {
                break;
            }
            assert!(Instant::now() < deadline, "the publisher did not catch up: {s}\n{}", writer.logs());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let head = head(&http, &writer.base).await;
        assert!(head >= during);
        assert_stream_is_the_log(&url, &writer.data, head).await;
    });
}

#[test]
fn the_writer_killed_mid_publish_resumes_without_gap_or_duplicate() {
    let Some(bin) = nats_server() else { return };
    let dir = tempfile::tempdir().unwrap();
    let nats = Nats::start(bin, &dir.path().join("nats"), &[]);
    let url = nats.url();
    // A log big enough that publishing it takes a while: generated articles, imported.
    let writer_dir = dir.path().join("writer");
    let corpus = dir.path().join("corpus.jsonl");
    let morgue = env!("CARGO_BIN_EXE_morgue");
    let ok = |c: &mut Command| assert!(c.env("MORGUE_DATA", &writer_dir).status().unwrap().success());
    ok(Command::new(morgue)
        .args([
            "generate",
            "--articles",
            "3000",
            "--revisions",
            "3",
            "--min-words",
            "20",
            "--max-words",
            "60",
            "--out",
        ])
        .arg(&corpus));
    ok(Command::new(morgue).args(["import", "--map-size", "1073741824"]).arg(&corpus));
    let head = {
        let store = morgue::store::Store::open_reader(
            writer_dir.join("log"),
            morgue::store::StoreOptions { map_size: 1 << 30 },
        )
        .unwrap();
        store.head().get()
    };
    assert!(head > 10_000, "{head}");
    let args = ["--fixtures".to_owned(), "none".into(), "--publish".into(), url.clone()];
    let mut writer = Node::start(&writer_dir, &args);
    let rt = rt();
    let published = rt.block_on(async {
        let client = async_nats::connect(url.as_str()).await.unwrap();
        let js = async_nats::jetstream::new(client);
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(mut stream) = js.get_stream("MORGUE").await {
                let last = stream.info().await.unwrap().state.last_sequence;
                if last > 0 {
                    return last;
                }
            }
            assert!(Instant::now() < deadline, "nothing was published:\n{}", writer.logs());
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    writer.kill();
    let at_kill = rt.block_on(async {
        let js = async_nats::jetstream::new(async_nats::connect(url.as_str()).await.unwrap());
        js.get_stream("MORGUE").await.unwrap().info().await.unwrap().state.last_sequence
    });
    assert!(published >= 1 && at_kill < head, "killed mid-publish: {at_kill} of {head} were out");
    eprintln!("killed the writer with {at_kill} of {head} events published");
    let writer = Node::start(&writer_dir, &args);
    rt.block_on(async {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + WAIT;
        loop {
            let s =
                gql(&http, &writer.base, None, "{ status { replication { position } } }", json!({})).await;
            if s["data"]["status"]["replication"]["position"].as_str() == Some(head.to_string().as_str()) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the restarted publisher did not finish: {s}\n{}",
                writer.logs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_stream_is_the_log(&url, &writer.data, head).await;
    });
}

#[test]
fn a_three_node_cluster_loses_a_node_mid_burst_and_nothing_is_lost() {
    let Some(bin) = nats_server() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut nodes = cluster(bin, &dir.path().join("nats"));
    let urls = nodes.iter().map(Nats::url).collect::<Vec<_>>().join(",");
    let token = editor_token(&dir.path().join("writer"));
    let writer = Node::start(
        &dir.path().join("writer"),
        &[
            "--fixtures".into(),
            fixtures(),
            "--publish".into(),
            urls.clone(),
            "--stream-replicas".into(),
            "3".into(),
        ],
    );
    let replica_token = editor_token(&dir.path().join("replica"));
    let replica = Node::start(
        &dir.path().join("replica"),
        &["--follow".into(), urls.clone(), "--writer-key".into(), writer_key(&dir.path().join("writer"))],
    );
    let rt = rt();
    let http = reqwest::Client::new();
    rt.block_on(async {
        let first = burst(&http, &writer.base, &token, 12, "one");
        let second = async {
            // Lose a node while the first burst is in flight, then keep writing.
            reach(&http, &replica, 339).await;
            nodes[0].kill();
            burst(&http, &writer.base, &token, 12, "two").await
        };
        let (_, _) = tokio::join!(first, second);
        let head = head(&http, &writer.base).await;
        assert_eq!(head, 339 + 24 * 4);
        // Reads without a basis answer at what both projectors hold: wait for both everywhere.
        reach(&http, &writer, head).await;
        reach(&http, &replica, head).await;
        assert_eq!(self::head(&http, &replica.base).await, head);
        for query in SAME_ANSWERS {
            assert_eq!(
                gql(&http, &replica.base, Some(&replica_token), query, json!({})).await,
                gql(&http, &writer.base, Some(&token), query, json!({})).await,
                "{query}"
            );
        }
        assert_stream_is_the_log(&nodes[1].url(), &writer.data, head).await;
    });
    let mut replica = replica;
    replica.kill();
    verify(&replica.data);
}

/// Runs `docs/feed_consumer.py` (nats-py) against the stream: it prints every event in
/// position order.
fn consume_with_python(url: &str, writer_data: &Path) {
    let has_client =
        Command::new("python3").args(["-c", "import nats"]).output().is_ok_and(|o| o.status.success());
    if !has_client {
        assert!(std::env::var_os("CI").is_none(), "CI must have nats-py (.ci/run installs it)");
        eprintln!(
            "skipping the Python consumer: python3 with nats-py is not installed (pip install nats-py)"
        );
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/feed_consumer.py");
    let out = Command::new("python3").arg(&script).arg(url).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let store = morgue::store::Store::open_reader(
        writer_data.join("log"),
        morgue::store::StoreOptions { map_size: 1 << 30 },
    )
    .unwrap();
    let events = store.read_all(morgue::Position::ZERO, usize::MAX).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), events.len(), "one line per event:\n{stdout}");
    for (line, event) in lines.iter().zip(&events) {
        let mut words = line.split_whitespace();
        assert_eq!(words.next(), Some(event.position.to_string().as_str()), "{line}");
        assert_eq!(words.next(), Some(event.event_type.as_str()), "{line}");
        assert_eq!(words.next(), Some(event.stream.as_str()), "{line}");
    }
}

/// `/readyz` of a node: its status code and body.
async fn readyz(http: &reqwest::Client, node: &str) -> (u16, Value) {
    let r = http.get(format!("{node}/readyz")).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

/// Polls a node's `status { replication { error } }` until it names `words`, within [`WAIT`].
async fn wait_for_halt(http: &reqwest::Client, node: &Node, words: &str) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let body = gql(http, &node.base, None, "{ status { replication { error } } }", json!({})).await;
        if let Some(error) = body["data"]["status"]["replication"]["error"].as_str()
            && error.contains(words)
        {
            return error.to_owned();
        }
        assert!(Instant::now() < deadline, "{} never said {words:?}: {body}\n{}", node.base, node.logs());
        tokio::task::yield_now().await;
    }
}

#[test]
fn a_forged_event_with_a_valid_chain_stops_the_replica_and_is_never_served() {
    let Some(bin) = nats_server() else { return };
    let dir = tempfile::tempdir().unwrap();
    let nats = Nats::start(bin, &dir.path().join("nats"), &[]);
    let _writer = Node::start(
        &dir.path().join("writer"),
        &["--fixtures".into(), fixtures(), "--publish".into(), nats.url()],
    );
    let replica = Node::start(
        &dir.path().join("replica"),
        &["--follow".into(), nats.url(), "--writer-key".into(), writer_key(&dir.path().join("writer"))],
    );
    let rt = rt();
    let http = reqwest::Client::new();
    rt.block_on(async {
        reach(&http, &replica, 339).await;
        // A forger with access to the stream appends the next event: the right position, the
        // right previous hash, a checksum that matches its fields; only the signature is not
        // the writer's.
        let client = async_nats::connect(nats.url()).await.unwrap();
        let js = async_nats::jetstream::new(client);
        let stream = js.get_stream("MORGUE").await.unwrap();
        let last = stream.get_raw_message(339).await.unwrap();
        let line: morgue::transfer::Line = serde_json::from_slice(&last.payload).unwrap();
        let previous = morgue::transfer::restored(&line, None).unwrap().event;
        let author = morgue::domain::AuthorId::generate();
        let mut forged = previous.clone();
        forged.position = morgue::Position(340);
        forged.stream = format!("author-{author}");
        forged.version = 1;
        forged.event_type = "AuthorRegistered".into();
        forged.schema_version = 1;
        forged.payload = br#"{"name":"Forgedname Quarrelsome"}"#.to_vec();
        forged.sealed = false;
        forged.recorded_at = previous.recorded_at + chrono::Duration::seconds(1);
        forged.effective_at = forged.recorded_at;
        forged.actor = Some("forger".into());
        forged.idempotency_key = None;
        forged.prev_hash = previous.checksum;
        forged.checksum = morgue::store::codec::checksum_of(&forged);
        let message = async_nats::jetstream::message::PublishMessage::build()
            .payload(serde_json::to_vec(&morgue::transfer::Line::of(&forged)).unwrap().into())
            .message_id("340")
            .expected_last_sequence(339)
            .header(morgue::replicate::trust::H_SIGNATURE, "00".repeat(64).as_str());
        js.send_publish(format!("morgue.author.{author}"), message).await.unwrap().await.unwrap();
        // And a second one chained to it: when both arrive in one batch, the batch's last
        // signature fails, and the halt names the first event that is not the writer's.
        let mut second = forged.clone();
        second.position = morgue::Position(341);
        second.version = 2;
        second.event_type = "AuthorRenamed".into();
        second.payload = br#"{"name":"Forgedname Twice"}"#.to_vec();
        second.recorded_at = forged.recorded_at + chrono::Duration::seconds(1);
        second.effective_at = second.recorded_at;
        second.prev_hash = forged.checksum;
        second.checksum = morgue::store::codec::checksum_of(&second);
        let message = async_nats::jetstream::message::PublishMessage::build()
            .payload(serde_json::to_vec(&morgue::transfer::Line::of(&second)).unwrap().into())
            .message_id("341")
            .expected_last_sequence(340)
            .header(morgue::replicate::trust::H_SIGNATURE, "00".repeat(64).as_str());
        js.send_publish(format!("morgue.author.{author}"), message).await.unwrap().await.unwrap();

        let reason = wait_for_halt(&http, &replica, "not signed by the writer's key").await;
        assert!(reason.contains("sequence 340"), "{reason}");
        let (status, body) = readyz(&http, &replica.base).await;
        assert_eq!(status, 503, "{body}");
        assert!(body.to_string().contains("not signed"), "{body}");
        assert_eq!(head(&http, &replica.base).await, 339, "the forged event is not in the replica's log");
        let found = gql(&http, &replica.base, None, "{ search(query: \"Quarrelsome\") { totalCount } authors(first: 100) { edges { node { name } } } }", json!({})).await;
        assert!(!found.to_string().contains("Forgedname"), "{found}");
    });
    let mut replica = replica;
    replica.kill();
    verify(&replica.data);
}

#[test]
fn a_writer_restored_from_an_old_backup_refuses_writes_instead_of_forking_the_feed() {
    let Some(bin) = nats_server() else { return };
    let dir = tempfile::tempdir().unwrap();
    let nats = Nats::start(bin, &dir.path().join("nats"), &[]);
    let old = dir.path().join("old");
    let token = editor_token(&dir.path().join("writer"));
    let mut writer = Node::start(
        &dir.path().join("writer"),
        &["--fixtures".into(), fixtures(), "--publish".into(), nats.url()],
    );
    let rt = rt();
    let http = reqwest::Client::new();
    let head = rt.block_on(async {
        reach(&http, &writer, 339).await;
        let backup = Command::new(env!("CARGO_BIN_EXE_morgue"))
            .args(["backup", "--out"])
            .arg(&old)
            .env("MORGUE_DATA", &writer.data)
            .output()
            .unwrap();
        assert!(backup.status.success(), "{backup:?}");
        burst(&http, &writer.base, &token, 3, "after-backup").await;
        let head = head(&http, &writer.base).await;
        // Wait until the stream holds everything, so the backup is behind it.
        let deadline = Instant::now() + WAIT;
        loop {
            let body =
                gql(&http, &writer.base, None, "{ status { replication { position } } }", json!({})).await;
            let published = body["data"]["status"]["replication"]["position"].as_str();
            if published.and_then(|p| p.parse::<u64>().ok()) == Some(head) {
                break head;
            }
            assert!(Instant::now() < deadline, "the writer never published its head: {body}");
            tokio::task::yield_now().await;
        }
    });
    writer.kill();
    let restored = Node::start(&old, &["--fixtures".into(), "none".into(), "--publish".into(), nats.url()]);
    rt.block_on(async {
        let reason = wait_for_halt(&http, &restored, "refuses writes").await;
        assert!(reason.contains(&head.to_string()), "{reason}");
        let (status, body) = readyz(&http, &restored.base).await;
        assert_eq!(status, 503, "{body}");
        let before = self::head(&http, &restored.base).await;
        assert_eq!(before, 339);
        let body = gql(
            &http,
            &restored.base,
            Some(&token),
            "mutation { registerAuthor(input: {name: \"Late\"}) { position } }",
            json!({}),
        )
        .await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "READ_ONLY", "{body}");
        assert!(body["errors"][0]["message"].as_str().unwrap().contains("refuses writes"), "{body}");
        assert_eq!(self::head(&http, &restored.base).await, before, "nothing was appended");
    });
}

#[test]
fn nats_credentials_are_used_and_never_shown() {
    let Some(bin) = nats_server() else { return };
    let dir = tempfile::tempdir().unwrap();
    let secret = "s3cret-pass-word";
    let nats = Nats::start(
        bin,
        &dir.path().join("nats"),
        &["--user".into(), "alice".into(), "--pass".into(), secret.into()],
    );
    let with_url = nats.url().replace("nats://", &format!("nats://alice:{secret}@"));
    let writer = Node::start(
        &dir.path().join("writer"),
        &[
            "--fixtures".into(),
            fixtures(),
            "--publish".into(),
            nats.url(),
            "--nats-user".into(),
            "alice".into(),
            "--nats-password".into(),
            secret.into(),
        ],
    );
    // Credentials in the URL work too, and are hidden the same way.
    let replica = Node::start(
        &dir.path().join("replica"),
        &["--follow".into(), with_url, "--writer-key".into(), writer_key(&dir.path().join("writer"))],
    );
    // Without credentials, the server refuses, and the error shows no secret either.
    let stranger = Node::start(
        &dir.path().join("stranger"),
        &["--follow".into(), nats.url(), "--writer-key".into(), writer_key(&dir.path().join("writer"))],
    );
    let rt = rt();
    let http = reqwest::Client::new();
    rt.block_on(async {
        reach(&http, &replica, 339).await;
        let _ = wait_for_halt(&http, &stranger, "").await;
        for node in [&writer, &replica, &stranger] {
            let status = gql(
                &http,
                &node.base,
                None,
                "{ status { replication { target connected error } } }",
                json!({}),
            )
            .await;
            let (_, ready) = readyz(&http, &node.base).await;
            for text in [status.to_string(), ready.to_string(), node.logs()] {
                assert!(!text.contains(secret), "{} shows the password: {text}", node.base);
            }
        }
        let status =
            gql(&http, &replica.base, None, "{ status { replication { target connected } } }", json!({}))
                .await;
        assert_eq!(status["data"]["status"]["replication"]["connected"], true, "{status}");
        assert!(
            status["data"]["status"]["replication"]["target"].as_str().unwrap().contains("***@"),
            "{status}"
        );
    });
}

/// Makes a CA, a server certificate for 127.0.0.1 and a client certificate with openssl, in
/// `dir`; `None` (the test skips) where openssl is missing.
fn certificates(dir: &Path) -> Option<()> {
    let run = |args: &[&str]| {
        let out = Command::new("openssl").args(args).current_dir(dir).output().ok()?;
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        Some(())
    };
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("server.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
    for name in ["ca", "server", "client"] {
        run(&[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            &format!("{name}-key.pem"),
        ])?;
    }
    run(&[
        "req",
        "-x509",
        "-new",
        "-key",
        "ca-key.pem",
        "-subj",
        "/CN=morgue test CA",
        "-days",
        "2",
        "-out",
        "ca.pem",
    ])?;
    for name in ["server", "client"] {
        run(&[
            "req",
            "-new",
            "-key",
            &format!("{name}-key.pem"),
            "-subj",
            &format!("/CN={name}"),
            "-out",
            &format!("{name}.csr"),
        ])?;
        run(&[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca-key.pem",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &format!("{name}.ext"),
            "-out",
            &format!("{name}.pem"),
        ])?;
    }
    Some(())
}

#[test]
fn the_feed_runs_over_mutual_tls() {
    let Some(bin) = nats_server() else { return };
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    if certificates(&certs).is_none() {
        assert!(std::env::var_os("CI").is_none(), "CI needs openssl for the TLS test");
        eprintln!("skipping: openssl is not installed");
        return;
    }
    let file = |name: &str| certs.join(name).display().to_string();
    let tls_server = [
        "--tls".to_owned(),
        "--tlscert".into(),
        file("server.pem"),
        "--tlskey".into(),
        file("server-key.pem"),
        "--tlsverify".into(),
        "--tlscacert".into(),
        file("ca.pem"),
    ];
    let nats = Nats::start(bin, &dir.path().join("nats"), &tls_server);
    let url = nats.url().replace("nats://", "tls://");
    let tls_client = |args: &mut Vec<String>| {
        args.extend([
            "--nats-ca".into(),
            file("ca.pem"),
            "--nats-cert".into(),
            file("client.pem"),
            "--nats-key".into(),
            file("client-key.pem"),
        ]);
    };
    let mut writer_args = vec!["--fixtures".into(), fixtures(), "--publish".into(), url.clone()];
    tls_client(&mut writer_args);
    let writer = Node::start(&dir.path().join("writer"), &writer_args);
    let key = writer_key(&dir.path().join("writer"));
    let mut replica_args = vec!["--follow".into(), url.clone(), "--writer-key".into(), key.clone()];
    tls_client(&mut replica_args);
    let replica = Node::start(&dir.path().join("replica"), &replica_args);
    // Trusting the CA but without a client certificate: the server refuses.
    let stranger = Node::start(
        &dir.path().join("stranger"),
        &["--follow".into(), url, "--writer-key".into(), key, "--nats-ca".into(), file("ca.pem")],
    );
    let rt = rt();
    let http = reqwest::Client::new();
    rt.block_on(async {
        reach(&http, &replica, 339).await;
        assert_eq!(head(&http, &replica.base).await, head(&http, &writer.base).await);
        let _ = wait_for_halt(&http, &stranger, "").await;
        assert_eq!(head(&http, &stranger.base).await, 0, "no client certificate, no feed");
    });
}
