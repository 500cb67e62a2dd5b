//! The real `morgue` binary: `serve` on an empty data directory loads the fixtures and
//! answers; the README's tour runs as written.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

pub(crate) struct Served {
    pub(crate) child: Child,
    pub(crate) address: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `morgue serve` on a free port with the repo's fixtures; returns once it listens.
pub(crate) fn serve(data: &std::path::Path) -> Served {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/archive.jsonl");
    let (served, loaded) = spawn_serve(data, &fixtures);
    assert!(loaded, "an empty archive loads the fixtures, and says so");
    served
}

/// Starts `morgue serve` on `data` with `--fixtures fixtures` (`none` loads nothing) and no
/// fixture images, so the fixtures' head is 339; returns once it listens, and whether it said
/// it loaded the fixtures.
pub(crate) fn spawn_serve(data: &std::path::Path, fixtures: &std::path::Path) -> (Served, bool) {
    spawn_serve_with(data, fixtures, std::path::Path::new("none"))
}

/// [`spawn_serve`] with `--fixture-images images`.
pub(crate) fn spawn_serve_with(
    data: &std::path::Path,
    fixtures: &std::path::Path,
    images: &std::path::Path,
) -> (Served, bool) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_morgue"))
        .args(["serve", "--listen", "127.0.0.1:0", "--map-size", "1073741824", "--fixtures"])
        .arg(fixtures)
        .arg("--fixture-images")
        .arg(images)
        .env("MORGUE_DATA", data)
        .env("MORGUE_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn morgue serve");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut loaded = false;
    let address = loop {
        let line = lines.next().expect("serve exited before listening").unwrap();
        loaded |= line.contains("loading the fixtures");
        if let Some(rest) = line.split("GraphiQL: http://").nth(1) {
            break rest.split('/').next().unwrap().to_owned();
        }
    };
    // Keep draining the log so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (Served { child, address }, loaded)
}

#[test]
fn serve_on_an_empty_directory_loads_the_fixtures_and_answers_a_search() {
    let dir = tempfile::tempdir().unwrap();
    let served = serve(dir.path());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let body: serde_json::Value = rt.block_on(async {
        reqwest::Client::new()
            .post(format!("http://{}/graphql", served.address))
            .json(&serde_json::json!({"query": "{ search(query: \"lighthouse\", minPosition: \"339\") { totalCount hits { article { slug } } } }"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    assert!(body["search"].is_null() && body["data"]["search"]["totalCount"].as_i64().unwrap() > 0, "{body}");
}

#[test]
fn the_readme_tour_runs_as_written() {
    let readme =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let tour = readme.split("## A five-minute tour").nth(1).unwrap().split("\n## ").next().unwrap();
    let blocks: Vec<&str> = tour.split("```sh\n").skip(1).map(|b| b.split("```").next().unwrap()).collect();
    assert!(blocks.len() >= 4, "the tour has its examples");
    let dir = tempfile::tempdir().unwrap();
    // As the README's command starts it: the fixtures and their images.
    let (served, loaded) =
        spawn_serve_with(dir.path(), &manifest("archive.jsonl"), &manifest("images/images.json"));
    assert!(loaded);
    // The tour as a reader would type it, with the binary this test built and the port it got.
    let script = blocks
        .iter()
        .map(|b| {
            b.replace("cargo run --release -q --", env!("CARGO_BIN_EXE_morgue"))
                .replace("127.0.0.1:8080", &served.address)
        })
        .collect::<Vec<_>>()
        .join("\necho\n");
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("set -euo pipefail\n{script}\necho"))
        .env("MORGUE_DATA", dir.path())
        .env("MORGUE_LOG", "warn")
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "the tour failed: {}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    // curl prints each answer without a newline: read them as a stream of JSON values.
    let answers: Vec<serde_json::Value> =
        serde_json::Deserializer::from_str(&stdout).into_iter().collect::<Result<_, _>>().unwrap();
    assert_eq!(answers.len(), 7, "{stdout}");
    for a in &answers {
        assert!(a.get("errors").is_none(), "{a}");
    }
    assert_eq!(answers[0]["data"]["publishArticle"]["article"]["status"], "PUBLISHED");
    assert!(answers[1]["data"]["search"]["totalCount"].as_i64().unwrap() > 0);
    assert!(answers[2]["data"]["article"]["headline"].as_str().unwrap().contains("Zeppelin"));
    // A reader is shown the public history only: publication and the revision after it.
    let revisions = answers[3]["data"]["article"]["revisions"].as_array().unwrap();
    let versions: Vec<i64> = revisions.iter().map(|r| r["version"].as_i64().unwrap()).collect();
    assert_eq!(versions, [3, 4], "{revisions:?}");
    assert!(revisions.iter().all(|r| r["actor"].is_null()));
    let diff = &answers[4]["data"]["article"]["diff"]["fields"];
    assert!(diff.to_string().contains("INSERT") && diff.to_string().contains("DELETE"), "{diff}");
    // The photograph: placed as the lead, with its caption, and served to a reader.
    let images = &answers[5]["data"]["placeImage"]["article"]["images"];
    assert_eq!(images[0]["role"], "LEAD", "{images}");
    assert_eq!(images[0]["caption"], "The sea wall at high tide");
    assert_eq!(images[0]["image"]["width"], 640);
    assert_eq!(answers[6], 200, "a reader fetches the rendition");
}

#[test]
fn sigterm_lets_in_flight_writes_finish_and_loses_none() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = morgue::auth::Tokens::load(dir.path()).unwrap();
    let token = tokens.create("desk", morgue::graphql::Role::Editor).unwrap();
    let served = serve(dir.path());
    let pid = served.child.id();
    let url = format!("http://{}/graphql", served.address);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let outcomes: Vec<Result<serde_json::Value, String>> = rt.block_on(async {
        let client = reqwest::Client::new();
        let mut tasks = Vec::new();
        for i in 0..40 {
            let (client, url, token) = (client.clone(), url.clone(), token.clone());
            tasks.push(tokio::spawn(async move {
                let query = format!(
                    "mutation {{ registerAuthor(input: {{name: \"Reporter {i}\"}}) {{ position }} }}"
                );
                let response = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&serde_json::json!({"query": query}))
                    .send()
                    .await;
                match response {
                    // Once the server has begun answering, the answer must arrive whole.
                    Ok(r) => r.json::<serde_json::Value>().await.map_err(|e| format!("cut mid-answer: {e}")),
                    // Refused, or reset while waiting in the listen queue: never acknowledged.
                    Err(_) => Err("not taken".to_owned()),
                }
            }));
        }
        // Ask for shutdown while the writes are in flight.
        let status = std::process::Command::new("kill").arg("-TERM").arg(pid.to_string()).status().unwrap();
        assert!(status.success());
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    });
    let mut served = served;
    let exit = served.child.wait().unwrap();
    assert!(exit.success(), "serve exits cleanly on SIGTERM: {exit:?}");
    let mut acknowledged = Vec::new();
    for outcome in &outcomes {
        match outcome {
            Ok(body) => acknowledged
                .push(body["data"]["registerAuthor"]["position"].as_str().unwrap().parse::<u64>().unwrap()),
            Err(e) => assert_eq!(e, "not taken", "an answer was cut instead of finished"),
        }
    }
    eprintln!("{} of {} writes acknowledged around the stop", acknowledged.len(), outcomes.len());
    let store =
        morgue::store::Store::open(dir.path().join("log"), morgue::store::StoreOptions { map_size: 1 << 30 })
            .unwrap();
    let report = morgue::store::verify(&store.reader().unwrap(), |_| {}).unwrap();
    assert!(report.is_ok());
    // Every acknowledged write is in the log, and every write in the log beyond the fixtures
    // was acknowledged: a write the server took, it finished and answered.
    assert_eq!(report.head.get(), 339 + acknowledged.len() as u64);
    for p in acknowledged {
        assert!(
            store.reader().unwrap().event(morgue::Position(p)).is_ok(),
            "acknowledged write {p} is in the log"
        );
    }
}

fn manifest(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name)
}

/// A reader's GET of `path` on `served`: status, content type and body.
fn fetch(served: &Served, path: &str) -> (u16, String, Vec<u8>) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let resp = reqwest::get(format!("http://{}{path}", served.address)).await.unwrap();
        let kind =
            resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        (resp.status().as_u16(), kind, resp.bytes().await.unwrap().to_vec())
    })
}

#[test]
fn serve_loads_the_fixture_images_and_a_reader_sees_them() {
    let dir = tempfile::tempdir().unwrap();
    let (served, loaded) =
        spawn_serve_with(dir.path(), &manifest("archive.jsonl"), &manifest("images/images.json"));
    assert!(loaded);
    let list: serde_json::Value =
        serde_json::from_slice(&std::fs::read(manifest("images/images.json")).unwrap()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let query = "{ lead: article(slug: \"gannet-head-lighthouse-lit\") { images { role caption credit image { id alt width } } } \
                 inline: article(slug: \"gannet-head-light-goes-automatic\") { images { role caption } } \
                 dusk: search(query: \"caption:dusk\") { hits { article { slug } } } \
                 keeper: search(query: \"caption:keeper\") { hits { article { slug } } } }";
    let body: serde_json::Value = rt.block_on(async {
        let url = format!("http://{}/graphql", served.address);
        let resp = reqwest::Client::new().post(url).json(&serde_json::json!({"query": query})).send().await;
        resp.unwrap().json().await.unwrap()
    });
    assert!(body.get("errors").is_none(), "{body}");
    // One upload and its two placements, after the fixtures' 339 events.
    assert_eq!(body["extensions"]["basis"], "342", "{body}");
    let lead = &body["data"]["lead"]["images"][0];
    assert_eq!(lead["role"], "LEAD", "{body}");
    assert_eq!(lead["caption"], list[0]["caption"]);
    assert_eq!(lead["credit"], list[0]["credit"]);
    assert_eq!(lead["image"]["alt"], list[0]["alt"]);
    let inline = &body["data"]["inline"]["images"][0];
    assert_eq!(
        (&inline["role"], &inline["caption"]),
        (&"INLINE".into(), &list[0]["placements"][1]["caption"])
    );
    // The image's own caption finds both articles; a placement's own caption, only its own.
    let slugs = |search: &str| {
        let mut slugs: Vec<String> = body["data"][search]["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["article"]["slug"].as_str().unwrap().to_owned())
            .collect();
        slugs.sort();
        slugs
    };
    assert_eq!(slugs("dusk"), ["gannet-head-light-goes-automatic", "gannet-head-lighthouse-lit"], "{body}");
    assert_eq!(slugs("keeper"), ["gannet-head-light-goes-automatic"], "{body}");

    // A reader gets the very bytes drawn for the fixtures, a rendition, and the lead image on
    // the article's page.
    let id = lead["image"]["id"].as_str().unwrap();
    let (status, _, original) = fetch(&served, &format!("/images/{id}/original"));
    assert_eq!((status, original), (200, std::fs::read(manifest("images/lighthouse.png")).unwrap()));
    let (status, kind, _) = fetch(&served, &format!("/images/{id}/full/320.jpg"));
    assert_eq!((status, kind.as_str()), (200, "image/jpeg"));
    let (status, _, page) = fetch(&served, "/articles/gannet-head-lighthouse-lit");
    let page = String::from_utf8(page).unwrap();
    assert_eq!(status, 200);
    assert!(page.contains("srcset=") && page.contains(&format!("/images/{id}/")), "{page}");
}

#[test]
fn a_bad_fixture_image_list_names_the_entry_and_the_field() {
    let lists = [
        (
            r#"[{"file": "lighthouse.png", "placements": [{"article": "nope", "role": "LEAD"}]}]"#,
            "entry 0, field \"placements[0].article\"",
        ),
        (r#"[{"file": "../archive.jsonl"}]"#, "entry 0, field \"file\""),
        (r#"[{"file": "missing.png"}]"#, "entry 0, field \"file\""),
        (r#"{"file": 1}"#, "not a list"),
    ];
    for (list, named) in lists {
        let dir = tempfile::tempdir().unwrap();
        let images = dir.path().join("images");
        std::fs::create_dir(&images).unwrap();
        std::fs::copy(manifest("images/lighthouse.png"), images.join("lighthouse.png")).unwrap();
        std::fs::write(images.join("images.json"), list).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_morgue"))
            .args(["serve", "--listen", "127.0.0.1:0", "--map-size", "1073741824", "--fixtures"])
            .arg(manifest("archive.jsonl"))
            .arg("--fixture-images")
            .arg(images.join("images.json"))
            .env("MORGUE_DATA", dir.path().join("data"))
            .env("MORGUE_LOG", "warn")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{list}: {stderr}");
        assert!(stderr.contains(named), "{list}: expected {named:?} in {stderr}");
    }
}
