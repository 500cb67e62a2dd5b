//! `morgue restore`: a backup restored into an empty directory serves the same answers, at the
//! backup's basis, as the archive it was taken from (which has moved on since); a directory
//! that already holds a log is refused with nothing changed.

use std::path::Path;

use morgue::cli::exit;
use serde_json::{Value, json};

use crate::binary::serve;
use crate::cli::{code, fixtures, json, morgue, serve_existing};

/// Reads pinned at `basis`: the lists, a ranked search with its scores and facets, a past date.
const PINNED: &[&str] = &[
    "query($b: Position) { articles(first: 100, basis: $b) { totalCount edges { node { id slug headline version bylines { name } } } } }",
    "query($b: Position) { authors(first: 100, basis: $b) { totalCount edges { node { id name } } } }",
    "query($b: Position) { search(query: \"harbour lighthouse storm\", first: 50, basis: $b) { totalCount hits { score article { slug version } snippets { field html } } facets { sections { value count } years { value count } } } }",
    "query($b: Position) { search(query: \"storm OR flood\", first: 20, asOf: \"1950-01-01T00:00:00Z\", basis: $b) { totalCount hits { article { slug headline } } } }",
];

fn graphql(
    rt: &tokio::runtime::Runtime,
    address: &str,
    token: Option<&str>,
    query: &str,
    vars: Value,
) -> Value {
    rt.block_on(async {
        let mut request = reqwest::Client::new()
            .post(format!("http://{address}/graphql"))
            .json(&json!({"query": query, "variables": vars}));
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        request.send().await.unwrap().json().await.unwrap()
    })
}

#[test]
fn a_restored_backup_serves_the_same_answers_at_the_backup_s_basis() {
    let dir = tempfile::tempdir().unwrap();
    let (original, backup, restored) =
        (dir.path().join("original"), dir.path().join("backup"), dir.path().join("restored"));
    let token =
        morgue::auth::Tokens::load(&original).unwrap().create("desk", morgue::graphql::Role::Editor).unwrap();
    let served = serve(&original);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();

    let backed = json(&morgue(&original, &["backup", "--out", backup.to_str().unwrap(), "--json"]));
    let basis = backed["head"].as_str().unwrap().to_owned();
    // The original moves on: a new author, and a published article the searches would find.
    let written = graphql(
        &rt,
        &served.address,
        Some(&token),
        "mutation { registerAuthor(input: {name: \"After The Backup\"}) { position } \
         draftArticle(input: {headline: \"Storm over the harbour lighthouse\", body: \"The storm kept the lighthouse lit all night over the harbour.\", section: \"city\"}) { article { id } } }",
        json!({}),
    );
    assert!(written.get("errors").is_none(), "{written}");
    let id = written["data"]["draftArticle"]["article"]["id"].as_str().unwrap();
    let published = graphql(
        &rt,
        &served.address,
        Some(&token),
        "mutation($id: ID!) { publishArticle(input: {id: $id}) { position } }",
        json!({"id": id}),
    );
    let head: u64 = published["data"]["publishArticle"]["position"].as_str().unwrap().parse().unwrap();
    assert!(head > basis.parse().unwrap(), "the original is ahead of its backup");

    let summary = json(&morgue(&restored, &["restore", "--from", backup.to_str().unwrap(), "--json"]));
    assert_eq!(summary["head"], basis.as_str());
    assert_eq!(summary["copied"], json!(["tokens.json"]));
    let listed = json(&morgue(&restored, &["token", "list", "--json"]));
    assert_eq!(listed[0]["name"], "desk", "the tokens came with the backup");
    let copy = serve_existing(&restored);

    let now = graphql(
        &rt,
        &served.address,
        None,
        "query($p: Position) { authors(first: 100, minPosition: $p) { totalCount edges { node { id name } } } }",
        json!({"p": head.to_string()}),
    );
    let then = graphql(&rt, &served.address, None, PINNED[1], json!({"b": basis}));
    assert_ne!(now["data"], then["data"], "pinning matters: the original has moved on");
    for query in PINNED {
        let vars = json!({"b": basis});
        let (a, b) = (
            graphql(&rt, &served.address, None, query, vars.clone()),
            graphql(&rt, &copy.address, None, query, vars),
        );
        assert!(a.get("errors").is_none(), "{a}");
        assert_eq!(a["extensions"]["basis"], basis.as_str(), "{a}");
        assert_eq!(a, b, "the restored archive answers {query} differently");
    }
    // Unpinned, the restored archive answers at its own head: the backup's.
    let unpinned = graphql(&rt, &copy.address, None, PINNED[1], json!({"b": null}));
    assert_eq!(unpinned["extensions"]["basis"], basis.as_str());
    assert_eq!(unpinned["data"], then["data"]);
}

/// The files of a directory and their contents' hashes; the log's file by the events it holds
/// (opening a log moves LMDB's transaction counter, which changes no event), the lock's note
/// aside.
fn contents(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.ends_with("log/data.mdb") {
                let export = morgue(dir, &["export"]);
                assert!(export.status.success(), "{export:?}");
                out.push((path.display().to_string(), blake3::hash(&export.stdout).to_hex().to_string()));
            } else if !path.ends_with(morgue::cli::lock::LOCK_FILE) && !path.ends_with("log/lock.mdb") {
                let bytes = std::fs::read(&path).unwrap();
                out.push((path.display().to_string(), blake3::hash(&bytes).to_hex().to_string()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn restore_refuses_a_directory_that_holds_a_log_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (data, backup) = (dir.path().join("data"), dir.path().join("backup"));
    json(&morgue(&data, &["import", fixtures().to_str().unwrap(), "--json"]));
    json(&morgue(&data, &["backup", "--out", backup.to_str().unwrap(), "--json"]));
    let before = contents(&data);

    let refused = morgue(&data, &["restore", "--from", backup.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(code(&refused), i32::from(exit::OCCUPIED), "{stderr}");
    assert!(
        stderr.contains("already holds a log (head position 339)") && stderr.contains("nothing was changed"),
        "{stderr}"
    );
    assert_eq!(contents(&data), before, "nothing was changed");

    // A second backup into the same directory is refused the same way.
    let again = morgue(&data, &["backup", "--out", backup.to_str().unwrap()]);
    assert_eq!(code(&again), i32::from(exit::OCCUPIED), "{again:?}");

    // A directory whose log was only ever opened (empty) is not "holding a log".
    let opened = dir.path().join("opened");
    assert_eq!(json(&morgue(&opened, &["stats", "--json"]))["head"], "0");
    assert_eq!(
        json(&morgue(&opened, &["restore", "--from", backup.to_str().unwrap(), "--json"]))["head"],
        "339"
    );
    assert_eq!(json(&morgue(&opened, &["verify", "--json"]))["head"], "339");

    // Something that is not a backup is named as such.
    let nothing = morgue(
        &dir.path().join("elsewhere"),
        &["restore", "--from", dir.path().join("none").to_str().unwrap()],
    );
    assert_eq!(code(&nothing), i32::from(exit::ERROR));
    assert!(String::from_utf8_lossy(&nothing.stderr).contains("is not a backup"), "{nothing:?}");
}

#[test]
fn a_backup_keeps_keys_apart_and_a_restore_drops_the_keys_of_later_erasures() {
    let dir = tempfile::tempdir().unwrap();
    let original = dir.path().join("original");
    let (old, new) = (dir.path().join("old-backup"), dir.path().join("new-backup"));
    let token =
        morgue::auth::Tokens::load(&original).unwrap().create("legal", morgue::graphql::Role::Admin).unwrap();
    let served = serve(&original);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let listed = graphql(
        &rt,
        &served.address,
        None,
        "{ articles(first: 2) { edges { node { id headline } } } }",
        json!({}),
    );
    let (erased, kept) = (
        listed["data"]["articles"]["edges"][0]["node"].clone(),
        listed["data"]["articles"]["edges"][1]["node"].clone(),
    );
    morgue(&original, &["backup", "--out", old.to_str().unwrap()]);
    // The keys are in a file of their own; the backup's log holds none.
    let keys = std::fs::read_to_string(old.join("keys")).unwrap();
    assert!(keys.contains(&format!("article-{}", erased["id"].as_str().unwrap())), "{keys}");
    {
        let log =
            morgue::store::Store::open(old.join("log"), morgue::store::StoreOptions { map_size: 1 << 30 })
                .unwrap();
        assert!(log.reader().unwrap().keys().unwrap().is_empty(), "the backup's log holds no key");
    }
    let done = graphql(
        &rt,
        &served.address,
        Some(&token),
        "mutation($id: ID!) { eraseArticle(input: {id: $id, reason: \"request\"}) { position } }",
        json!({"id": erased["id"]}),
    );
    assert!(done.get("errors").is_none(), "{done}");
    morgue(&original, &["backup", "--out", new.to_str().unwrap()]);
    let list = std::fs::read_to_string(new.join("erased")).unwrap();
    assert_eq!(list.trim(), format!("article-{}", erased["id"].as_str().unwrap()));

    let read = "query($id: ID!) { article(id: $id) { headline } }";
    for (target, extra, readable) in [
        (dir.path().join("plain"), vec![], true),
        (
            dir.path().join("dropping"),
            vec!["--erased".to_owned(), new.join("erased").display().to_string()],
            false,
        ),
    ] {
        let mut args = vec!["restore", "--from", old.to_str().unwrap()];
        args.extend(extra.iter().map(String::as_str));
        morgue(&target, &args);
        let copy = serve_existing(&target);
        let answer = graphql(&rt, &copy.address, None, read, json!({"id": erased["id"]}));
        assert_eq!(!answer["data"]["article"].is_null(), readable, "{}: {answer}", target.display());
        let other = graphql(&rt, &copy.address, None, read, json!({"id": kept["id"]}));
        assert_eq!(other["data"]["article"]["headline"], kept["headline"], "{other}");
    }
}
