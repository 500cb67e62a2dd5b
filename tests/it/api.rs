//! The GraphQL API end to end over real HTTP: every mutation and query, roles, error codes,
//! limits, the GraphQL-over-HTTP rules, and the subscription's seam.

use serde_json::{Value, json};

use crate::server::Server;

const ARTICLE_FIELDS: &str = "id slug headline summary body section tags language status version
    bylines { name role author { id name } } corrections { text effectiveAt } firstPublishedAt publishedAt
    revisions { version eventType actor note changedFields position }";

fn register(s: &Server, name: &str) -> String {
    let d = s.ok(
        Some(&s.editor),
        "mutation($n: String!) { registerAuthor(input: {name: $n}) { author { id name version } version position } }",
        json!({"n": name}),
    );
    d["registerAuthor"]["author"]["id"].as_str().unwrap().to_owned()
}

fn draft(s: &Server, headline: &str, body: &str) -> Value {
    s.ok(
        Some(&s.editor),
        &format!(
            "mutation($h: String!, $b: String!) {{ draftArticle(input: {{headline: $h, body: $b, section: \"city\", tags: [\"harbour\"], language: \"en\"}}) {{ article {{ {ARTICLE_FIELDS} }} version position }} }}"
        ),
        json!({"h": headline, "b": body}),
    )["draftArticle"]
        .clone()
}

#[test]
fn editors_write_and_readers_read_everything_the_contract_offers() {
    let s = Server::start();
    let ada = register(&s, "Ada Quill");
    let d = draft(&s, "Harbour ice breaks early", "The ice in the harbour broke on Tuesday.");
    let id = d["article"]["id"].as_str().unwrap().to_owned();
    assert_eq!(d["article"]["status"], "DRAFT");
    assert_eq!(d["article"]["slug"], "harbour-ice-breaks-early");
    assert_eq!(d["version"], 1);

    let m = |q: &str, v: Value| s.ok(Some(&s.editor), q, v);
    m(
        "mutation($id: ID!, $a: ID!) { addByline(input: {articleId: $id, authorId: $a, role: \"reporter\"}) { version } }",
        json!({"id": id, "a": ada}),
    );
    m(
        "mutation($id: ID!) { reviseArticle(input: {id: $id, body: \"The harbour ice broke on Tuesday, a week early.\", note: \"date\"}) { version } }",
        json!({"id": id}),
    );
    let published = m(
        "mutation($id: ID!) { publishArticle(input: {id: $id, expectedVersion: 3}) { article { status publishedAt } version position } }",
        json!({"id": id}),
    );
    assert_eq!(published["publishArticle"]["article"]["status"], "PUBLISHED");
    m(
        "mutation($id: ID!) { appendCorrection(input: {id: $id, text: \"It was Wednesday.\"}) { version } }",
        json!({"id": id}),
    );
    let renamed = m(
        "mutation($a: ID!) { renameAuthor(input: {id: $a, name: \"Ada Quill-Marsh\"}) { author { name version } position } }",
        json!({"a": ada}),
    );
    let position = renamed["renameAuthor"]["position"].as_str().unwrap().to_owned();
    assert_eq!(renamed["renameAuthor"]["author"]["name"], "Ada Quill-Marsh");

    // Readers: anonymous, reading their write with minPosition.
    let read = s.ok(
        None,
        &format!(
            "query($id: ID!, $p: Position) {{ article(id: $id, minPosition: $p) {{ {ARTICLE_FIELDS} }} }}"
        ),
        json!({"id": id, "p": position}),
    );
    let a = &read["article"];
    assert_eq!(a["bylines"][0]["name"], "Ada Quill-Marsh");
    assert_eq!(a["bylines"][0]["role"], "reporter");
    assert_eq!(a["corrections"][0]["text"], "It was Wednesday.");
    assert_eq!(a["body"], "The harbour ice broke on Tuesday, a week early.");
    let kinds: Vec<&str> =
        a["revisions"].as_array().unwrap().iter().map(|r| r["eventType"].as_str().unwrap()).collect();
    // A reader sees only the changes made in public, and no actors.
    assert_eq!(kinds, ["ArticlePublished", "CorrectionAppended"]);
    assert!(a["revisions"].as_array().unwrap().iter().all(|r| r["actor"].is_null()));
    // Staff see the whole history, with who wrote each change.
    let staff = s.ok(
        Some(&s.editor),
        "query($id: ID!) { article(id: $id) { revisions { eventType note actor changedFields } } }",
        json!({"id": id}),
    );
    let revisions = &staff["article"]["revisions"];
    let kinds: Vec<&str> =
        revisions.as_array().unwrap().iter().map(|r| r["eventType"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["ArticleDrafted", "BylineAdded", "ArticleRevised", "ArticlePublished", "CorrectionAppended"]
    );
    assert_eq!(revisions[2]["note"], "date");
    assert_eq!(revisions[2]["actor"], "night-desk");
    assert_eq!(revisions[2]["changedFields"], json!(["body"]));

    let by_slug = s.ok(None, "{ article(slug: \"harbour-ice-breaks-early\") { id } }", json!({}));
    assert_eq!(by_slug["article"]["id"], json!(id));
    let p = json!({"p": position});
    let list = s.ok(None, "query($p: Position) { articles(section: \"city\", first: 5, minPosition: $p) { totalCount edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }", p.clone());
    assert_eq!(list["articles"]["totalCount"], 1);
    let found = s.ok(None, "query($p: Position) { search(query: \"harbour ice\", minPosition: $p) { totalCount hits { score article { id } snippets { field html } } facets { sections { value count } years { value count } authors { value count } } pageInfo { hasNextPage } } }", p.clone());
    let search = &found["search"];
    assert_eq!(search["totalCount"], 1);
    assert_eq!(search["hits"][0]["article"]["id"], json!(id));
    assert!(search["hits"][0]["snippets"].to_string().contains("<mark>"));
    assert_eq!(search["facets"]["sections"][0], json!({"value": "city", "count": 1}));
    let author = s.ok(None, "query($a: ID!) { author(id: $a) { name version articles { totalCount } history { eventType changedFields } } }", json!({"a": ada}));
    assert_eq!(author["author"]["articles"]["totalCount"], 1);
    assert_eq!(author["author"]["history"].as_array().unwrap().len(), 2);
    let authors = s.ok(None, "{ authors(first: 10) { totalCount edges { node { name } } } }", json!({}));
    assert_eq!(authors["authors"]["totalCount"], 1);
    // The raw log is staff's: a reader is refused, an editor reads it.
    assert_eq!(s.code(None, "{ events(first: 3) { edges { cursor } } }", json!({})), "UNAUTHENTICATED");
    let events = s.ok(Some(&s.editor), "{ events(first: 3) { edges { cursor node { position streamId version type schemaVersion recordedAt effectiveAt actor payload } } pageInfo { hasNextPage } } }", json!({}));
    assert_eq!(events["events"]["edges"][0]["node"]["type"], "AuthorRegistered");
    assert_eq!(events["events"]["edges"][0]["node"]["payload"]["name"], "Ada Quill");
    assert_eq!(events["events"]["pageInfo"]["hasNextPage"], true);
    let status = s.ok(None, "{ status { head projectors { name checkpoint lag } } }", json!({}));
    assert_eq!(status["status"]["head"], json!(s.head().to_string()));

    // The past keeps the old name; the retraction takes it out of search.
    m(
        "mutation($id: ID!, $a: ID!) { removeByline(input: {articleId: $id, authorId: $a}) { version } }",
        json!({"id": id, "a": ada}),
    );
    let gone = m(
        "mutation($id: ID!) { retractArticle(input: {id: $id, reason: \"wrong week\"}) { article { status } position } }",
        json!({"id": id}),
    );
    assert_eq!(gone["retractArticle"]["article"]["status"], "RETRACTED");
    let p = json!({"p": gone["retractArticle"]["position"]});
    let after =
        s.ok(None, "query($p: Position) { search(query: \"harbour\", minPosition: $p) { totalCount } }", p);
    assert_eq!(after["search"]["totalCount"], 0);
}

#[test]
fn drafts_are_hidden_from_readers() {
    let s = Server::start();
    let d = draft(&s, "Secret plans", "Not yet.");
    let id = d["article"]["id"].as_str().unwrap();
    let p = d["position"].as_str().unwrap();
    let q = "query($id: ID!, $p: Position) { article(id: $id, minPosition: $p) { id } search(query: \"secret\", minPosition: $p) { totalCount } }";
    let anon = s.ok(None, q, json!({"id": id, "p": p}));
    assert_eq!(anon["article"], Value::Null);
    assert_eq!(anon["search"]["totalCount"], 0);
    let editor = s.ok(Some(&s.editor), q, json!({"id": id, "p": p}));
    assert_eq!(editor["article"]["id"], json!(id));
}

#[test]
fn every_mutation_needs_a_valid_token_and_refusals_append_nothing() {
    let s = Server::start();
    let author = register(&s, "Reporter");
    let d = draft(&s, "Tram fares", "Fares rose.");
    let id = d["article"]["id"].as_str().unwrap().to_owned();
    let mutations = [
        "mutation { registerAuthor(input: {name: \"X\"}) { version } }".to_owned(),
        format!("mutation {{ renameAuthor(input: {{id: \"{author}\", name: \"Y\"}}) {{ version }} }}"),
        "mutation { draftArticle(input: {headline: \"H\", body: \"B\", section: \"s\"}) { version } }"
            .to_owned(),
        format!("mutation {{ reviseArticle(input: {{id: \"{id}\", body: \"New\"}}) {{ version }} }}"),
        format!("mutation {{ publishArticle(input: {{id: \"{id}\"}}) {{ version }} }}"),
        format!("mutation {{ retractArticle(input: {{id: \"{id}\", reason: \"r\"}}) {{ version }} }}"),
        format!("mutation {{ appendCorrection(input: {{id: \"{id}\", text: \"t\"}}) {{ version }} }}"),
        format!(
            "mutation {{ addByline(input: {{articleId: \"{id}\", authorId: \"{author}\"}}) {{ version }} }}"
        ),
        format!(
            "mutation {{ removeByline(input: {{articleId: \"{id}\", authorId: \"{author}\"}}) {{ version }} }}"
        ),
    ];
    for m in &mutations {
        let head = s.head();
        assert_eq!(s.code(None, m, json!({})), "UNAUTHENTICATED", "{m}");
        let (status, body) = s.post(Some("morgue_not-a-real-token"), m, json!({}));
        assert_eq!(
            (status, body["errors"][0]["extensions"]["code"].as_str()),
            (401, Some("UNAUTHENTICATED")),
            "{m}"
        );
        assert_eq!(s.head(), head, "a refused mutation appended: {m}");
        for token in [&s.editor, &s.admin] {
            let (_, body) = s.post(Some(token), m, json!({}));
            let code = body["errors"][0]["extensions"]["code"].as_str().unwrap_or("");
            assert!(code != "UNAUTHENTICATED" && code != "FORBIDDEN", "{m}: {body}");
        }
    }
}

#[test]
fn only_admins_rebuild_and_reads_go_on_meanwhile() {
    let s = Server::start();
    let d = draft(&s, "Regatta results", "The blue boat won.");
    let id = d["article"]["id"].as_str().unwrap().to_owned();
    s.ok(
        Some(&s.editor),
        "mutation($id: ID!) { publishArticle(input: {id: $id}) { version } }",
        json!({"id": id}),
    );
    let m = "mutation { rebuildProjector(projector: SEARCH) { name checkpoint lag } }";
    assert_eq!(s.code(None, m, json!({})), "UNAUTHENTICATED");
    assert_eq!(s.code(Some(&s.editor), m, json!({})), "FORBIDDEN");
    let done = s.ok(Some(&s.admin), m, json!({}));
    assert_eq!(done["rebuildProjector"]["name"], "search");
    assert_eq!(done["rebuildProjector"]["checkpoint"], json!(s.head().to_string()));
    let views =
        s.ok(Some(&s.admin), "mutation { rebuildProjector(projector: VIEWS) { name lag } }", json!({}));
    assert_eq!(views["rebuildProjector"]["lag"], 0);
    let found = s.ok(
        None,
        "{ search(query: \"regatta\") { totalCount } article(slug: \"regatta-results\") { status } }",
        json!({}),
    );
    assert_eq!(found["search"]["totalCount"], 1);
    assert_eq!(found["article"]["status"], "PUBLISHED");
}

#[test]
fn errors_carry_codes_a_program_can_act_on() {
    let s = Server::start();
    let d = draft(&s, "Mill strike", "The mill stopped.");
    let id = d["article"]["id"].as_str().unwrap().to_owned();
    let e = Some(s.editor.as_str());
    assert_eq!(
        s.code(
            e,
            "mutation { draftArticle(input: {headline: \" \", body: \"B\", section: \"s\"}) { version } }",
            json!({})
        ),
        "BAD_INPUT"
    );
    assert_eq!(
        s.code(
            e,
            "mutation { publishArticle(input: {id: \"01J00000000000000000000000\"}) { version } }",
            json!({})
        ),
        "NOT_FOUND"
    );
    assert_eq!(
        s.code(e, "mutation { publishArticle(input: {id: \"not-an-id\"}) { version } }", json!({})),
        "BAD_INPUT"
    );
    let (_, body) = s.post(
        e,
        &format!("mutation {{ publishArticle(input: {{id: \"{id}\", expectedVersion: 7}}) {{ version }} }}"),
        json!({}),
    );
    assert_eq!(body["errors"][0]["extensions"]["code"], "CONFLICT");
    assert_eq!(body["errors"][0]["extensions"]["actualVersion"], 1);
    assert_eq!(s.code(None, "{ articles(first: 1000) { totalCount } }", json!({})), "BAD_INPUT");
    assert_eq!(s.code(None, "{ search(query: \"\\\"unclosed\") { totalCount } }", json!({})), "BAD_INPUT");
    let far = (s.head() + 1000).to_string();
    assert_eq!(s.code(None, "query($p: Position) { status { head } article(id: \"01J00000000000000000000000\", minPosition: $p) { id } }", json!({"p": far})), "STALE");
}

#[test]
fn limits_refuse_oversized_deep_and_complex_requests() {
    let s = Server::start();
    let big = "x".repeat(3 << 20);
    let (status, body) = s.post(Some(&s.editor), "mutation($b: String!) { draftArticle(input: {headline: \"H\", body: $b, section: \"s\"}) { version } }", json!({"b": big}));
    assert_eq!((status, body["errors"][0]["extensions"]["code"].as_str()), (413, Some("LIMIT")));
    let mut deep = String::from("id");
    for _ in 0..3 {
        deep = format!("bylines {{ author {{ articles {{ edges {{ node {{ {deep} }} }} }} }} }}");
    }
    let (_, body) = s.post(None, &format!("{{ articles {{ edges {{ node {{ {deep} }} }} }} }}"), json!({}));
    assert_eq!(body["errors"][0]["extensions"]["code"], "LIMIT", "{body}");
    let wide: String = (0..3000).map(|i| format!("a{i}: status {{ head }} ")).collect();
    let (_, body) = s.post(None, &format!("{{ {wide} }}"), json!({}));
    assert_eq!(body["errors"][0]["extensions"]["code"], "LIMIT", "{body}");
    assert_eq!(s.head(), 0);
}

#[test]
fn graphql_over_http_is_followed_to_the_letter() {
    let s = Server::start();
    let url = format!("{}/graphql", s.base);
    let rt = &s.rt;
    let send = |req: reqwest::RequestBuilder| {
        rt.block_on(async {
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            let ct =
                r.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            (status, ct, body)
        })
    };
    let c = &s.http;
    // No Accept: application/json.
    let (st, ct, _) = send(c.get(&url).query(&[("query", "{ status { head } }")]));
    assert_eq!((st, ct.starts_with("application/json")), (200, true));
    // Asked for: application/graphql-response+json.
    let gr = "application/graphql-response+json";
    let (st, ct, _) = send(c.get(&url).header("accept", gr).query(&[("query", "{ status { head } }")]));
    assert_eq!((st, ct.starts_with(gr)), (200, true));
    // A request that fails validation: 4xx and no data under graphql-response+json ...
    let (st, _, body) = send(c.post(&url).header("accept", gr).json(&json!({"query": "{ nope }"})));
    assert_eq!(st, 400);
    assert!(body.get("data").is_none() && body["errors"].is_array(), "{body}");
    // ... 200 under application/json.
    let (st, _, body) =
        send(c.post(&url).header("accept", "application/json").json(&json!({"query": "{ nope }"})));
    assert_eq!(st, 200);
    assert!(body["errors"].is_array());
    // A parse error likewise.
    let (st, _, _) = send(c.post(&url).header("accept", gr).json(&json!({"query": "{"})));
    assert_eq!(st, 400);
    // Missing or mistyped query: 400.
    let (st, _, _) = send(c.post(&url).json(&json!({"variables": {}})));
    assert_eq!(st, 400);
    let (st, _, _) = send(c.post(&url).json(&json!({"query": 42})));
    assert_eq!(st, 400);
    let (st, _, _) = send(c.get(&url));
    assert_eq!(st, 400);
    // A mutation over GET: 405.
    let (st, _, _) =
        send(c.get(&url).query(&[("query", "mutation { publishArticle(input: {id: \"x\"}) { version } }")]));
    assert_eq!(st, 405);
    // A POST that is not JSON: 415.
    let (st, _, _) = send(c.post(&url).header("content-type", "text/plain").body("{ status { head } }"));
    assert_eq!(st, 415);
    // Bad JSON body: 400.
    let (st, _, _) = send(c.post(&url).header("content-type", "application/json").body("{not json"));
    assert_eq!(st, 400);
    // Nothing acceptable: 406.
    let (st, _, _) =
        send(c.get(&url).header("accept", "text/html").query(&[("query", "{ status { head } }")]));
    assert_eq!(st, 406);
    // Every answer says which position (and, in the past, which instant) it was computed at.
    let (_, _, body) = send(c.get(&url).query(&[("query", "{ articles { totalCount } }")]));
    assert_eq!(body["extensions"]["basis"], "0");
    assert!(body["extensions"].get("asOf").is_none());
    let (_, _, body) = send(
        c.get(&url).query(&[("query", "{ articles(asOf: \"1990-05-01T12:00:00+02:00\") { totalCount } }")]),
    );
    assert_eq!(body["extensions"]["asOf"], "1990-05-01T10:00:00Z");
}

#[test]
fn health_readiness_metrics_and_graphiql_answer() {
    let s = Server::start();
    let get = |path: &str| {
        s.rt.block_on(async {
            let r = s.http.get(format!("{}{path}", s.base)).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        })
    };
    assert_eq!(get("/healthz").0, 200);
    s.ok(None, "{ status { head } }", json!({}));
    let (st, text) = get("/metrics");
    assert_eq!(st, 200);
    assert!(text.contains("morgue_graphql_requests_total{operation=\"anonymous\"} 1"), "{text}");
    assert!(text.contains("morgue_projector_lag_events{projector=\"views\"}"), "{text}");
    let (st, html) = get("/graphiql");
    assert_eq!(st, 200);
    assert!(html.contains("graphiql"));
    register(&s, "Someone");
    s.archive.projections().unwrap().catch_up(std::time::Duration::from_secs(30)).unwrap();
    assert_eq!(get("/readyz").0, 200);
}
