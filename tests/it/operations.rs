//! docs/operations.md runs as written: every `sh` block, in order, as one script, against the
//! binary this test built, with a scratch directory for `/srv` and `/backups`, a JetStream
//! server of its own for `127.0.0.1:4222` and free ports for 8080 and 8081.
//!
//! Like the replication tests, it needs `nats-server` (`.ci/run` installs it) and skips with a
//! message outside CI when it is missing.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Nats(Child);

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A JetStream `nats-server` on `port`, once it says it is ready; `None` (skip) when the
/// program is missing outside CI.
fn nats(port: u16, dir: &Path) -> Option<Nats> {
    let found = Command::new("nats-server").arg("--version").output().is_ok_and(|o| o.status.success());
    if !found {
        assert!(std::env::var_os("CI").is_none(), "CI must have nats-server (.ci/run installs it)");
        eprintln!("skipping: nats-server is not installed (apt-get install nats-server)");
        return None;
    }
    let mut child = Command::new("nats-server")
        .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    loop {
        match lines.next() {
            Some(Ok(line)) if line.contains("Server is ready") => break,
            Some(Ok(_)) => {}
            _ => panic!("nats-server exited before it was ready"),
        }
    }
    std::thread::spawn(move || for _ in lines {});
    Some(Nats(child))
}

#[test]
fn the_operations_runbook_runs_as_written() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("docs/operations.md")).unwrap();
    let blocks: Vec<&str> = doc.split("```sh\n").skip(1).map(|b| b.split("```").next().unwrap()).collect();
    assert!(blocks.len() >= 10, "the runbook has its commands");
    for section in [
        "## Backup",
        "## Restore",
        "## Rebuild",
        "## Upgrade",
        "## Re-seeding a replica",
        "## Moving the writer",
    ] {
        assert!(doc.contains(section), "the runbook covers {section}");
    }
    let dir = tempfile::tempdir().unwrap();
    let (writer, replica, nats_port) = (free_port(), free_port(), free_port());
    let Some(_nats) = nats(nats_port, &dir.path().join("nats")) else { return };
    let scratch = dir.path().display().to_string();
    let script = blocks
        .join("\n")
        .replace("/srv/", &format!("{scratch}/srv/"))
        .replace("/backups/", &format!("{scratch}/backups/"))
        .replace("127.0.0.1:8080", &format!("127.0.0.1:{writer}"))
        .replace("127.0.0.1:8081", &format!("127.0.0.1:{replica}"))
        .replace("127.0.0.1:4222", &format!("127.0.0.1:{nats_port}"));
    // `morgue` is the binary this test built; the servers the page starts with `&` are stopped
    // when the script ends, however it ends.
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_morgue")).parent().unwrap();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true; wait' EXIT\n{script}"))
        .current_dir(root)
        .env("PATH", path)
        .env("MORGUE_LOG", "warn")
        .env_remove("MORGUE_DATA")
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the runbook failed:\n{stderr}\n{stdout}");

    // Everything the page prints on standard output is JSON: `--json` summaries and answers.
    let printed: Vec<Value> = serde_json::Deserializer::from_str(&stdout)
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{e}: {stdout}"));
    for value in &printed {
        assert!(value.get("errors").is_none(), "{value}");
        if let Some(ready) = value.get("ready") {
            assert_eq!(ready, true, "{value}");
        }
        if let Some(ok) = value.get("ok") {
            assert_eq!(ok, true, "{value}");
        }
    }
    let restores: Vec<&Value> =
        printed.iter().filter(|v| v.get("rebuilt").is_some() && v.get("from").is_some()).collect();
    assert_eq!(restores.len(), 2, "restore, then the move's restore: {stdout}");
    for r in restores {
        assert_eq!(r["head"], "339", "{r}");
        assert_eq!(r["copied"], serde_json::json!(["tokens.json", "writer.nkey"]), "{r}");
        assert_eq!(r["rebuilt"], serde_json::json!(["views", "search"]), "{r}");
    }
    let find = |pointer: &str| {
        printed.iter().find_map(|v| v.pointer(pointer)).unwrap_or_else(|| panic!("no {pointer} in {stdout}"))
    };
    assert_eq!(find("/data/rebuildProjector/lag"), 0);
    let articles = find("/data/articles/totalCount").as_u64().unwrap();
    assert!(articles > 0, "the re-seeded replica holds the archive at the writer's head");
    let authors = find("/data/authors/edges").to_string();
    assert!(authors.contains("Moved Desk"), "the replica sees the moved writer's write: {authors}");
}
