//! The real `morgue` binary: `serve` on an empty data directory loads the fixtures and
//! answers; the README's tour runs as written.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

struct Served {
    child: Child,
    address: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `morgue serve` on a free port with the repo's fixtures; returns once it listens.
fn serve(data: &std::path::Path) -> Served {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/archive.jsonl");
    let mut child = Command::new(env!("CARGO_BIN_EXE_morgue"))
        .args(["serve", "--listen", "127.0.0.1:0", "--map-size", "1073741824", "--fixtures"])
        .arg(&fixtures)
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
    assert!(loaded, "an empty archive loads the fixtures, and says so");
    // Keep draining the log so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Served { child, address }
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
    assert_eq!(answers.len(), 4, "{stdout}");
    for a in &answers {
        assert!(a.get("errors").is_none(), "{a}");
    }
    assert_eq!(answers[0]["data"]["publishArticle"]["article"]["status"], "PUBLISHED");
    assert!(answers[1]["data"]["search"]["totalCount"].as_i64().unwrap() > 0);
    assert!(answers[2]["data"]["article"]["headline"].as_str().unwrap().contains("Zeppelin"));
    assert!(answers[3]["data"]["article"]["revisions"].as_array().unwrap().len() > 3);
}
