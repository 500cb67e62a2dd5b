//! Erasure by crypto-shredding, end to end: a writer, a replica and the JetStream stream
//! between them. A unique word in an article's body, in its correction and in an author's
//! biography is gone after the erasure from every answer at every instant, from exports, and,
//! after `morgue compact`, from every byte of every file on both nodes and in NATS; `verify`
//! still passes. A held article's erasure is refused with LEGAL_HOLD and writes nothing.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::replicate::{Nats, Node, gql, head, nats_server, reach, rt, verify, writer_key};

const BODY_WORD: &str = "Quillfeatherzanzibar";
const NOTE_WORD: &str = "Marrowgladeperiwinkle";
const BIO_WORD: &str = "Thistledownobservatory";
const WORDS: [&str; 3] = [BODY_WORD, NOTE_WORD, BIO_WORD];

fn admin_token(data: &Path) -> String {
    std::fs::create_dir_all(data).unwrap();
    morgue::auth::Tokens::load(data).unwrap().create("legal", morgue::graphql::Role::Admin).unwrap()
}

fn morgue(data: &Path, args: &[&str]) -> String {
    let out =
        Command::new(env!("CARGO_BIN_EXE_morgue")).args(args).env("MORGUE_DATA", data).output().unwrap();
    assert!(out.status.success(), "morgue {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every file under `dir` whose raw bytes hold one of the words.
fn files_holding(dir: &Path, words: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            stack.extend(std::fs::read_dir(&path).unwrap().flatten().map(|e| e.path()));
        } else if let Ok(bytes) = std::fs::read(&path) {
            for word in words {
                if bytes.windows(word.len()).any(|w| w == word.as_bytes()) {
                    found.push(format!("{} holds {word}", path.display()));
                }
            }
        }
    }
    found
}

async fn ok(http: &reqwest::Client, node: &str, token: &str, query: &str, variables: Value) -> Value {
    let body = gql(http, node, Some(token), query, variables).await;
    assert!(body.get("errors").is_none(), "{query}: {body}");
    body["data"].clone()
}

#[test]
fn an_erased_article_and_author_are_gone_from_every_node_file_and_answer() {
    let Some(bin) = nats_server() else { return };
    let dir = tempfile::tempdir().unwrap();
    let nats_dir = dir.path().join("nats");
    let mut nats = Nats::start(bin, &nats_dir, &[]);
    let (wdata, rdata) = (dir.path().join("writer"), dir.path().join("replica"));
    let token = admin_token(&wdata);
    let mut writer =
        Node::start(&wdata, &["--fixtures".into(), "none".into(), "--publish".into(), nats.url()]);
    let mut replica =
        Node::start(&rdata, &["--follow".into(), nats.url(), "--writer-key".into(), writer_key(&wdata)]);
    let http = reqwest::Client::new();
    let w = writer.base.clone();
    let (article, author, held, erased_at) = rt().block_on(async {
        let author = ok(&http, &w, &token,
            "mutation($bio: String) { registerAuthor(input: {name: \"Ida Vole\", bio: $bio}) { author { id } } }",
            json!({"bio": format!("Keeps the {BIO_WORD} archive.")})).await["registerAuthor"]["author"]["id"].as_str().unwrap().to_owned();
        let draft = "mutation($body: String!, $h: String!) { draftArticle(input: {headline: $h, body: $body, section: \"city\"}) { article { id slug } } }";
        let article = ok(&http, &w, &token, draft, json!({"h": "Harbour lights", "body": format!("The {BODY_WORD} lamp was lit.")})).await
            ["draftArticle"]["article"]["id"].as_str().unwrap().to_owned();
        let held = ok(&http, &w, &token, draft, json!({"h": "Court papers", "body": "Evidence kept."})).await
            ["draftArticle"]["article"]["id"].as_str().unwrap().to_owned();
        for id in [&article, &held] {
            ok(&http, &w, &token, "mutation($id: ID!) { publishArticle(input: {id: $id}) { position } }", json!({"id": id})).await;
        }
        ok(&http, &w, &token, "mutation($a: ID!, $u: ID!) { addByline(input: {articleId: $a, authorId: $u}) { position } }", json!({"a": article, "u": author})).await;
        ok(&http, &w, &token, "mutation($id: ID!, $t: String!) { appendCorrection(input: {id: $id, text: $t}) { position } }",
            json!({"id": article, "t": format!("The {NOTE_WORD} was misnamed.")})).await;
        let before = head(&http, &w).await;
        reach(&http, &replica, before).await;
        // Before the erasure every word is found on the replica: the checks below can fail.
        let found = gql(&http, &replica.base, None, &format!("{{ search(query: \"{BODY_WORD}\") {{ totalCount }} }}"), json!({})).await;
        assert_eq!(found["data"]["search"]["totalCount"], 1, "{found}");

        // A held article: erasure is refused, nothing is appended; a takedown still passes.
        ok(&http, &w, &token, "mutation($id: ID!) { placeLegalHold(input: {id: $id, reason: \"litigation 42\"}) { __typename } }", json!({"id": held})).await;
        let held_head = head(&http, &w).await;
        let refused = gql(&http, &w, Some(&token), "mutation($id: ID!) { eraseArticle(input: {id: $id, reason: \"request\"}) { position } }", json!({"id": held})).await;
        assert_eq!(refused["errors"][0]["extensions"]["code"], "LEGAL_HOLD", "{refused}");
        assert_eq!(head(&http, &w).await, held_head, "a refused erasure appends nothing");
        ok(&http, &w, &token, "mutation($id: ID!) { takeDownArticle(input: {id: $id, reason: \"order\"}) { position } }", json!({"id": held})).await;

        let erased = ok(&http, &w, &token, "mutation($id: ID!) { eraseArticle(input: {id: $id, reason: \"GDPR art. 17\"}) { id position } }", json!({"id": article})).await;
        assert_eq!(erased["eraseArticle"]["id"], article);
        ok(&http, &w, &token, "mutation($id: ID!) { eraseAuthor(input: {id: $id, reason: \"GDPR art. 17\"}) { position } }", json!({"id": author})).await;
        let again = gql(&http, &w, Some(&token), "mutation($id: ID!) { eraseArticle(input: {id: $id, reason: \"twice\"}) { position } }", json!({"id": article})).await;
        assert_eq!(again["errors"][0]["extensions"]["code"], "NOT_FOUND", "{again}");
        let last = head(&http, &w).await;
        reach(&http, &replica, last).await;
        (article, author, held, before)
    });
    let _ = held;

    // No answer holds a word, at any instant or basis, on either node, for readers or staff.
    rt().block_on(async {
        for node in [&writer.base, &replica.base] {
            let reads = [
                format!("{{ article(id: \"{article}\") {{ headline body corrections {{ text }} }} }}"),
                format!("{{ article(id: \"{article}\", asOf: \"2999-01-01T00:00:00Z\") {{ body }} }}"),
                format!("{{ article(id: \"{article}\", basis: \"{erased_at}\") {{ body corrections {{ text }} }} }}"),
                format!("{{ article(id: \"{article}\", knownAt: \"2020-01-01T00:00:00Z\") {{ body }} }}"),
                format!("{{ author(id: \"{author}\") {{ name bio }} }}"),
                format!("{{ author(id: \"{author}\", basis: \"{erased_at}\") {{ name bio }} }}"),
                format!("{{ search(query: \"{BODY_WORD} OR {NOTE_WORD}\") {{ totalCount hits {{ snippets {{ html }} }} }} }}"),
                format!("{{ search(query: \"{BODY_WORD}\", basis: \"{erased_at}\") {{ totalCount }} }}"),
                "{ articles(first: 50) { edges { node { body corrections { text } } } } }".to_owned(),
                "{ authors(first: 50) { edges { node { name bio } } } }".to_owned(),
                "{ events(first: 200) { edges { node { type erased payload } } } }".to_owned(),
            ];
            for read in &reads {
                for token in [None, Some(token.as_str())] {
                    let body = gql(&http, node, token, read, json!({})).await.to_string();
                    for word in WORDS {
                        assert!(!body.contains(word), "{node} {read} answers {word}: {body}");
                    }
                }
            }
            for page in ["/", "/?q=harbour+lamp", "/feeds/atom", "/timeline"] {
                let text = http.get(format!("{node}{page}")).send().await.unwrap().text().await.unwrap();
                for word in WORDS {
                    assert!(!text.contains(word), "{node}{page} shows {word}");
                }
            }
        }
    });
    for data in [&wdata, &rdata] {
        let export = morgue(data, &["export"]);
        assert!(export.contains("ArticleErased"), "the tombstone is exported");
        for word in WORDS {
            assert!(!export.contains(word), "the export of {} holds {word}", data.display());
        }
    }

    // Compact both nodes: no file's bytes hold a word; the logs still verify.
    writer.kill();
    replica.kill();
    nats.kill();
    for data in [&wdata, &rdata] {
        morgue(data, &["compact"]);
        verify(data);
    }
    let mut left = files_holding(&wdata, &WORDS);
    left.extend(files_holding(&rdata, &WORDS));
    left.extend(files_holding(&nats_dir, &WORDS));
    assert!(left.is_empty(), "{left:#?}");
}
