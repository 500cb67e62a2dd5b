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

/// Starts `morgue serve` on `data` with `--fixtures fixtures` (`none` loads nothing); returns
/// once it listens, and whether it said it loaded the fixtures.
pub(crate) fn spawn_serve(data: &std::path::Path, fixtures: &std::path::Path) -> (Served, bool) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_morgue"))
        .args(["serve", "--listen", "127.0.0.1:0", "--map-size", "1073741824", "--fixtures"])
        .arg(fixtures)
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
    let served = serve(dir.path());
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
