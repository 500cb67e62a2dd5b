//! The hostile-input suite, against the real binary: for every class of input a reader or an
//! editor can send, the answer is a coded error that names the limit, the process is alive,
//! and `/healthz` answers. Then a flood: `/healthz` keeps answering quickly while anonymous
//! clients send the heaviest reads the limits allow.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::binary::{Served, serve};

struct Node {
    served: Served,
    rt: tokio::runtime::Runtime,
    http: reqwest::Client,
    editor: String,
    _dir: tempfile::TempDir,
}

impl Node {
    fn start() -> Node {
        let dir = tempfile::tempdir().unwrap();
        let created = std::process::Command::new(env!("CARGO_BIN_EXE_morgue"))
            .args(["token", "create", "--role", "editor", "--name", "night-desk"])
            .env("MORGUE_DATA", dir.path())
            .output()
            .unwrap();
        assert!(created.status.success(), "{created:?}");
        let editor = String::from_utf8(created.stdout).unwrap().split_whitespace().last().unwrap().to_owned();
        let served = serve(dir.path());
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
        Node { served, rt, http, editor, _dir: dir }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.served.address)
    }

    fn graphql(&self, token: Option<&str>, query: &str, variables: Value) -> (u16, Value) {
        self.rt.block_on(async {
            let mut req =
                self.http.post(self.url("/graphql")).json(&json!({"query": query, "variables": variables}));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            let r = req.send().await.expect("the node answers");
            (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
        })
    }

    fn get(&self, path: &str) -> (u16, String) {
        self.rt.block_on(async {
            let r = self.http.get(self.url(path)).send().await.expect("the node answers");
            (r.status().as_u16(), r.text().await.unwrap())
        })
    }

    /// The node is alive and `/healthz` answers.
    fn alive(&mut self, after: &str) {
        assert!(self.served.child.try_wait().unwrap().is_none(), "the node died after {after}");
        let (status, body) = self.get("/healthz");
        assert_eq!((status, body.as_str()), (200, "ok\n"), "after {after}");
    }

    /// A GraphQL request that must fail with `code`, its message naming `names`.
    fn refused(&mut self, token: Option<&str>, query: &str, variables: Value, code: &str, names: &str) {
        let (_, body) = self.graphql(token, query, variables);
        let error = &body["errors"][0];
        assert_eq!(error["extensions"]["code"], code, "{query}: {body}");
        let message = error["message"].as_str().unwrap_or_default();
        assert!(message.contains(names), "{query}: the message {message:?} names {names:?}");
        self.alive(query);
    }
}

const SEARCH: &str = "query($q: String!, $after: String, $first: Int) { search(query: $q, after: $after, first: $first) { totalCount hits { cursor } } }";

#[test]
fn no_input_kills_or_wedges_the_node() {
    let mut node = Node::start();
    let ed = node.editor.clone();
    let ed = Some(ed.as_str());

    // Result window: deep pages and huge cursors.
    let (status, body) = node.get("/?q=harbour&page=1000000000000");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("10000"), "{body}");
    node.alive("a page a trillion deep");
    let (status, _) = node.get(&format!("/?q=harbour&page={}", usize::MAX));
    assert_eq!(status, 400);
    node.alive("the last page there is");
    for cursor in ["hit:99999999999999", "hit:9999", &format!("hit:{}", u64::MAX), "hit:-1", "hit:"] {
        let vars = json!({"q": "harbour", "after": cursor});
        let (_, body) = node.graphql(None, SEARCH, vars);
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_INPUT", "{cursor}: {body}");
        node.alive(cursor);
    }
    node.refused(
        None,
        SEARCH,
        json!({"q": "harbour", "first": 100, "after": "hit:9950"}),
        "BAD_INPUT",
        "10000",
    );
    let long_cursor = "ab".repeat(400);
    node.refused(
        None,
        "query($c: String) { articles(after: $c) { totalCount } }",
        json!({"c": long_cursor}),
        "BAD_INPUT",
        "128",
    );
    node.refused(
        None,
        "query($c: String) { authors(after: $c) { totalCount } }",
        json!({"c": long_cursor}),
        "BAD_INPUT",
        "128",
    );

    // Query text: nesting and length.
    let nested = format!("{}harbour{}", "(".repeat(50_000), ")".repeat(50_000));
    node.refused(None, SEARCH, json!({"q": nested}), "LIMIT", "1000");
    let nested = format!("{}harbour{}", "(".repeat(400), ")".repeat(400));
    node.refused(None, SEARCH, json!({"q": nested}), "LIMIT", "16");
    let (status, _) = node.get(&format!("/?q={}", "(".repeat(20_000)));
    assert_eq!(status, 400);
    node.alive("a page search nested 20,000 deep");
    node.refused(None, SEARCH, json!({"q": "harbour ".repeat(200)}), "LIMIT", "1000");
    node.refused(
        None,
        "query($q: String!) { timeline(query: $q, bucket: YEAR) { count } }",
        json!({"q": "((((((((((((((((((a))))))))))))))))))"}),
        "LIMIT",
        "16",
    );

    // GraphQL documents: brackets nested before parsing, selections nested, fragment bombs.
    let deep_list = format!(
        "{{ search(query: \"a\", section: {}\"x\"{}) {{ totalCount }} }}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    node.refused(None, &deep_list, json!({}), "LIMIT", "64");
    let (status, body) = node.rt.block_on(async {
        let r = node
            .http
            .get(node.url("/graphql"))
            .query(&[("query", format!("{{{}}}", "{".repeat(10_000)))])
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    });
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("LIMIT"), "{body}");
    node.alive("a GET query nested 10,000 deep");
    let deep = format!(
        "{{ {}id{} }}",
        "article(slug: \"x\") { bylines { author { articles { edges { node { ".repeat(3),
        " } } } } } }".repeat(3)
    );
    node.refused(None, &deep, json!({}), "LIMIT", "deep");
    let mut bomb = String::from("query { ...F0 }\n");
    for i in 0..25 {
        bomb.push_str(&format!("fragment F{i} on Query {{ ...F{} ...F{} }}\n", i + 1, i + 1));
    }
    bomb.push_str("fragment F25 on Query { status { head } }\n");
    node.refused(None, &bomb, json!({}), "LIMIT", "10000");
    let mut wide = String::from("{");
    for i in 0..200 {
        wide.push_str(&format!(" a{i}: search(query: \"harbour\", first: 100) {{ hits {{ article {{ body }} snippets {{ html }} }} }}"));
    }
    wide.push('}');
    node.refused(None, &wide, json!({}), "LIMIT", "complex");
    let deep_json = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
    let (status, body) = node.rt.block_on(async {
        let r = node
            .http
            .post(node.url("/graphql"))
            .header("content-type", "application/json")
            .body(format!(
                "{{\"query\": \"{{ status {{ head }} }}\", \"variables\": {{\"x\": {deep_json}}}}}"
            ))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    });
    assert_eq!(status, 400, "{body}");
    node.alive("variables nested 100,000 deep");

    // Instants: years 1 to 9999 work on every path; others are BAD_INPUT.
    for bad in [
        "0000-06-01",
        "10000-01-01",
        "+10000-01-01T00:00:00Z",
        "-0001-01-01",
        "1920-13-01",
        &"9".repeat(5000),
    ] {
        node.refused(
            None,
            "query($t: DateTime) { articles(asOf: $t) { totalCount } }",
            json!({"t": bad}),
            "BAD_INPUT",
            "",
        );
        let (status, _) = node.get(&format!("/?asOf={bad}"));
        assert_eq!(status, 400, "{bad}");
    }
    for year in ["-5", "0", "10000", "2147483647"] {
        let (status, body) = node.get(&format!("/?year={year}&month=12"));
        assert_eq!(status, 400, "year {year}: {body}");
        node.alive(year);
    }
    let (status, _) = node.get("/?year=99999999999999");
    assert!(status == 400, "{status}");
    let gazette = node.graphql(
        ed,
        "mutation { draftArticle(input: {headline: \"Plague in the city\", body: \"The weekly bill of mortality.\", section: \"city\", effectiveAt: \"1665-09-02T00:00:00Z\"}) { article { id } } }",
        json!({}),
    );
    let id = gazette.1["data"]["draftArticle"]["article"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{gazette:?}"))
        .to_owned();
    let published = node.graphql(
        ed,
        "mutation($id: ID!) { publishArticle(input: {id: $id, effectiveAt: \"1665-09-04T00:00:00Z\"}) { position } }",
        json!({"id": id}),
    );
    let position = published.1["data"]["publishArticle"]["position"].as_str().unwrap().to_owned();
    let found = node.graphql(
        None,
        "query($p: Position) { search(query: \"mortality\", minPosition: $p, publishedFrom: \"0001-01-01\", publishedTo: \"9999-12-31T23:59:59Z\", sort: DATE) { totalCount hits { article { publishedAt } } } past: search(query: \"mortality\", asOf: \"1665-09-05\", minPosition: $p) { totalCount } before: search(query: \"mortality\", asOf: \"1665-09-03\", minPosition: $p) { totalCount } years: timeline(query: \"mortality\", minPosition: $p, bucket: YEAR, from: \"1600-01-01\", to: \"1700-01-01\") { start count } }",
        json!({"p": position}),
    );
    let data = &found.1["data"];
    assert_eq!(data["search"]["totalCount"], 1, "{found:?}");
    assert_eq!(data["search"]["hits"][0]["article"]["publishedAt"], "1665-09-04T00:00:00Z");
    assert_eq!(
        (data["past"]["totalCount"].clone(), data["before"]["totalCount"].clone()),
        (json!(1), json!(0))
    );
    let years = data["years"].as_array().unwrap();
    assert_eq!(years.len(), 100);
    assert_eq!(years[65]["count"], 1, "{years:?}");
    node.alive("an article of 1665");
    node.refused(
        None,
        "{ timeline(bucket: DAY, from: \"0001-01-01\", to: \"9999-12-31\") { count } }",
        json!({}),
        "BAD_INPUT",
        "100000",
    );
    node.refused(
        ed,
        "mutation { registerAuthor(input: {name: \"Ancient\", effectiveAt: \"0000-01-01\"}) { position } }",
        json!({}),
        "BAD_INPUT",
        "",
    );

    // Keys and names: LMDB's key limit is never reached; empty ones are BAD_INPUT.
    let key = "k".repeat(600);
    let before = node.graphql(ed, "{ status { head } }", json!({})).1["data"]["status"]["head"].clone();
    node.refused(
        ed,
        "mutation($k: String) { registerAuthor(input: {name: \"A\", idempotencyKey: $k}) { position } }",
        json!({"k": key}),
        "BAD_INPUT",
        "240",
    );
    node.refused(
        ed,
        "mutation { registerAuthor(input: {name: \"A\", idempotencyKey: \"\"}) { position } }",
        json!({}),
        "BAD_INPUT",
        "idempotencyKey",
    );
    let after = node.graphql(ed, "{ status { head } }", json!({})).1["data"]["status"]["head"].clone();
    assert_eq!(before, after, "a refused write leaves the log untouched");
    node.refused(None, "{ article(slug: \"\") { id } }", json!({}), "BAD_INPUT", "empty");
    node.refused(
        None,
        "query($s: String) { article(slug: $s) { id } }",
        json!({"s": "x".repeat(600)}),
        "BAD_INPUT",
        "128",
    );
    node.refused(
        None,
        "query($s: String) { articles(section: $s) { totalCount } }",
        json!({"s": "x".repeat(600)}),
        "BAD_INPUT",
        "64",
    );
    node.refused(
        None,
        "query($s: String) { search(query: \"a\", tag: $s) { totalCount } }",
        json!({"s": "x".repeat(600)}),
        "BAD_INPUT",
        "64",
    );
    node.refused(
        ed,
        "query($s: ID) { events(streamId: $s) { edges { cursor } } }",
        json!({"s": "x".repeat(600)}),
        "BAD_INPUT",
        "240",
    );
    node.refused(ed, "mutation($s: String) { draftArticle(input: {slug: $s, headline: \"h\", body: \"b\", section: \"s\"}) { position } }", json!({"s": "x".repeat(600)}), "BAD_INPUT", "128");
    let (status, _) = node.get(&format!("/articles/{}", "x".repeat(5000)));
    assert!(status == 400 || status == 404, "{status}");
    node.alive("a 5000-byte slug");

    // The raw log is staff's.
    node.refused(
        None,
        "{ events { edges { node { actor payload } } } }",
        json!({}),
        "UNAUTHENTICATED",
        "staff",
    );

    // The standard introspection query (every option on) is answered.
    let (_, body) = node.graphql(None, INTROSPECTION, json!({}));
    assert!(body.get("errors").is_none(), "{body}");
    assert!(body["data"]["__schema"]["types"].as_array().is_some_and(|t| t.len() > 20));

    flood(&mut node);
}

/// Anonymous clients send the heaviest reads the limits allow while `/healthz` is polled.
fn flood(node: &mut Node) {
    let heavy = [
        "{ search(query: \"\", first: 100) { totalCount hits { article { body bylines { name } } snippets { html } } facets { sections { value } years { value } authors { value } } } }",
        "{ search(query: \"the OR a OR harbour\", first: 100, asOf: \"1950-01-01\") { totalCount hits { snippets { html } } facets { years { value } } } }",
        "{ timeline(bucket: DAY, from: \"1800-01-01\", to: \"2026-01-01\") { count } }",
        "{ articles(first: 100, asOf: \"1990-01-01\") { totalCount edges { node { body revisions { note } } } } }",
    ];
    let url = node.url("/graphql");
    let health = node.url("/healthz");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let mut clients = Vec::new();
    for i in 0..16 {
        let (url, stop, answered, query) =
            (url.clone(), stop.clone(), answered.clone(), heavy[i % heavy.len()].to_owned());
        let client = node.http.clone();
        clients.push(node.rt.spawn(async move {
            let mut sent = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && sent < 500 {
                let _ = client
                    .post(&url)
                    .json(&json!({"query": query}))
                    .send()
                    .await
                    .and_then(|r| r.error_for_status());
                answered.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                sent += 1;
            }
            sent
        }));
    }
    let probe = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
    let mut worst = Duration::ZERO;
    let mut latencies = Vec::new();
    // Probe for as long as the flood has not yet had 160 heavy answers (and at least 40
    // times), so every probe meets a node under load.
    while latencies.len() < 40 || answered.load(std::sync::atomic::Ordering::Relaxed) < 160 {
        assert!(latencies.len() < 100_000, "the flood never got its answers");
        let started = Instant::now();
        let answer = node
            .rt
            .block_on(async { probe.get(&health).send().await })
            .expect("/healthz answers under the flood");
        assert_eq!(answer.status(), 200);
        let took = started.elapsed();
        latencies.push(took);
        worst = worst.max(took);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let sent: u32 = clients.into_iter().map(|c| node.rt.block_on(c).unwrap()).sum();
    latencies.sort();
    eprintln!(
        "flood: {sent} heavy requests from 16 clients; /healthz p50 {:?}, worst {worst:?} over {} probes",
        latencies[latencies.len() / 2],
        latencies.len()
    );
    assert!(worst < Duration::from_secs(1), "/healthz took {worst:?} under the flood");
    node.alive("the flood");
}

/// graphql-js's `getIntrospectionQuery` with every option on (descriptions, specifiedByURL,
/// directiveIsRepeatable, schemaDescription, inputValueDeprecation, oneOf), as GraphiQL,
/// Apollo's tools and graphql-codegen send it.
pub const INTROSPECTION: &str = r#"
    query IntrospectionQuery {
      __schema {
        description
        queryType { name kind }
        mutationType { name kind }
        subscriptionType { name kind }
        types { ...FullType }
        directives { name description isRepeatable locations args(includeDeprecated: true) { ...InputValue } }
      }
    }
    fragment FullType on __Type {
      kind name description specifiedByURL isOneOf
      fields(includeDeprecated: true) { name description args(includeDeprecated: true) { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
      inputFields(includeDeprecated: true) { ...InputValue }
      interfaces { ...TypeRef }
      enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
      possibleTypes { ...TypeRef }
    }
    fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue isDeprecated deprecationReason }
    fragment TypeRef on __Type {
      kind name
      ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } } } }
    }
"#;
