//! The command line as scripts use it, against the real binary: the data-directory lock (a
//! second writer is refused with the holder's pid, readers work beside a server, a killed
//! holder leaves no stale lock), every `--json` output, shell completions, and the exit codes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use morgue::cli::exit;
use serde_json::Value;

use crate::binary::{Served, serve};

pub(crate) fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/archive.jsonl")
}

/// `morgue ARGS --data DATA`, run to the end.
pub(crate) fn morgue(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_morgue"))
        .args(args)
        .arg("--data")
        .arg(data)
        .args(["--map-size", "1073741824"])
        .env("MORGUE_LOG", "warn")
        .output()
        .expect("morgue runs")
}

/// The one JSON value a `--json` command printed, after checking it succeeded.
pub(crate) fn json(out: &Output) -> Value {
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert_eq!(text.lines().count(), 1, "one line of JSON on standard output: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

pub(crate) fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or_else(|| panic!("killed by a signal: {out:?}"))
}

/// `morgue serve` on a data directory that need not be empty (no fixtures are loaded); returns
/// once it listens.
pub(crate) fn serve_existing(data: &Path) -> Served {
    crate::binary::spawn_serve(data, Path::new("none")).0
}

#[test]
fn a_second_writer_is_refused_with_the_holder_s_pid_while_readers_work_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let served = serve(data);
    let pid = served.child.id();
    let holder = format!("in use by process {pid} (morgue serve)");
    let backup = dir.path().join("backup");
    let fixtures = fixtures();
    for args in [
        vec!["import", fixtures.to_str().unwrap()],
        vec!["rebuild"],
        vec!["restore", "--from", backup.to_str().unwrap()],
    ] {
        let out = morgue(data, &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(code(&out), i32::from(exit::LOCKED), "{args:?}: {stderr}");
        assert!(stderr.contains(&holder), "{args:?}: {stderr}");
        assert!(stderr.contains("read-only command (verify, export, backup, stats)"), "{stderr}");
    }
    // The readers, beside the running server.
    assert_eq!(json(&morgue(data, &["stats", "--json"]))["head"], "339");
    assert_eq!(json(&morgue(data, &["verify", "--json"]))["ok"], true);
    let export = dir.path().join("export.jsonl");
    let exported = json(&morgue(data, &["export", "--json", "--out", export.to_str().unwrap()]));
    assert_eq!(exported["events"], 339);
    assert_eq!(json(&morgue(data, &["backup", "--json", "--out", backup.to_str().unwrap()]))["head"], "339");
    // Token commands write only tokens.json, which the server rereads: allowed too.
    assert!(json(&morgue(data, &["token", "create", "--name", "desk", "--json"]))["token"].is_string());
}

#[test]
fn a_killed_holder_leaves_no_stale_lock() {
    let dir = tempfile::tempdir().unwrap();
    let mut served = serve(dir.path());
    let refused = morgue(dir.path(), &["rebuild"]);
    assert_eq!(code(&refused), i32::from(exit::LOCKED));
    served.child.kill().unwrap(); // SIGKILL: no destructor, no cleanup
    served.child.wait().unwrap();
    let note = std::fs::read_to_string(dir.path().join(morgue::cli::lock::LOCK_FILE)).unwrap();
    assert!(note.contains("morgue serve"), "the dead holder's note is still there: {note:?}");
    // The kernel released the lock with the process: the note does not matter.
    let imported = json(&morgue(dir.path(), &["import", fixtures().to_str().unwrap(), "--json"]));
    assert_eq!((imported["appended"].as_u64(), imported["skipped"].as_u64()), (Some(0), Some(339)));
    let rebuilt = json(&morgue(dir.path(), &["rebuild", "--json"]));
    assert_eq!(rebuilt["rebuilt"][1]["projector"], "search", "{rebuilt}");
}

#[test]
fn every_json_output_parses_with_its_fields() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let imported = json(&morgue(&data, &["import", fixtures().to_str().unwrap(), "--json"]));
    assert_eq!(imported["lines"], 339);
    assert_eq!(imported["appended"], 339);
    assert_eq!(imported["skipped"], 0);
    assert_eq!((imported["headBefore"].as_str(), imported["head"].as_str()), (Some("0"), Some("339")));
    assert!(imported["seconds"].is_f64() && imported["file"].as_str().unwrap().ends_with("archive.jsonl"));

    let stats = json(&morgue(&data, &["stats", "--json"]));
    assert_eq!(stats["head"], "339");
    assert!(stats["logBytes"].as_u64().unwrap() > 0, "{stats}");

    let verified = json(&morgue(&data, &["verify", "--json"]));
    assert_eq!((verified["ok"].as_bool(), verified["events"].as_u64()), (Some(true), Some(339)));
    assert_eq!(verified["head"], "339");
    assert!(verified["streams"].as_u64().unwrap() > 1);
    assert_eq!(verified["chainHead"].as_str().unwrap().len(), 64, "{verified}");

    let created =
        json(&morgue(&data, &["token", "create", "--name", "night-desk", "--role", "admin", "--json"]));
    assert_eq!((created["name"].as_str(), created["role"].as_str()), (Some("night-desk"), Some("admin")));
    assert!(created["token"].as_str().unwrap().starts_with("morgue_"));
    json(&morgue(&data, &["token", "create", "--name", "day-desk", "--json"]));
    assert!(morgue(&data, &["token", "revoke", "--name", "day-desk"]).status.success());
    let listed = json(&morgue(&data, &["token", "list", "--json"]));
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert_eq!((listed[0]["name"].as_str(), listed[0]["role"].as_str()), (Some("night-desk"), Some("admin")));
    assert!(listed[0]["revokedAt"].is_null() && listed[0]["createdAt"].is_string());
    assert!(listed[1]["revokedAt"].is_string() && listed[1].get("token").is_none(), "{listed:?}");

    let out = dir.path().join("tail.jsonl");
    let exported =
        json(&morgue(&data, &["export", "--from", "300", "--out", out.to_str().unwrap(), "--json"]));
    assert_eq!((exported["from"].as_str(), exported["through"].as_str()), (Some("300"), Some("339")));
    assert_eq!(exported["events"], 39);
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 39);
    // The events and the summary would share standard output: `--json` needs `--out`.
    let mixed = morgue(&data, &["export", "--json"]);
    assert_eq!(code(&mixed), i32::from(exit::USAGE), "{mixed:?}");

    let backup = dir.path().join("backup");
    let backed = json(&morgue(&data, &["backup", "--out", backup.to_str().unwrap(), "--json"]));
    assert_eq!(backed["head"], "339");
    assert_eq!(backed["copied"], serde_json::json!(["tokens.json"]));
    assert!(backed["out"].as_str().unwrap().ends_with("backup"));

    let restored_dir = dir.path().join("restored");
    let restored = json(&morgue(&restored_dir, &["restore", "--from", backup.to_str().unwrap(), "--json"]));
    assert_eq!((restored["head"].as_str(), restored["events"].as_u64()), (Some("339"), Some(339)));
    assert_eq!(restored["chainHead"], verified["chainHead"]);
    assert_eq!(restored["streams"], verified["streams"]);
    assert_eq!(restored["copied"], serde_json::json!(["tokens.json"]));
    assert_eq!(restored["rebuilt"], serde_json::json!(["views", "search"]));

    let rebuilt = json(&morgue(&restored_dir, &["rebuild", "--which", "views", "--json"]));
    assert_eq!(rebuilt["head"], "339");
    assert_eq!(rebuilt["rebuilt"].as_array().unwrap().len(), 1);
    assert_eq!(rebuilt["rebuilt"][0]["projector"], "views");
    assert!(rebuilt["rebuilt"][0]["seconds"].is_f64() && rebuilt["rebuilt"][0]["dir"].is_string());
}

#[test]
fn completions_are_generated_for_bash_zsh_and_fish() {
    for shell in ["bash", "zsh", "fish"] {
        let out = Command::new(env!("CARGO_BIN_EXE_morgue")).args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}: {out:?}");
        let script = String::from_utf8(out.stdout).unwrap();
        for word in ["restore", "serve", "completions", "json"] {
            assert!(script.contains(word), "{shell} completions lack {word}");
        }
    }
    let unknown =
        Command::new(env!("CARGO_BIN_EXE_morgue")).args(["completions", "cmd.exe"]).output().unwrap();
    assert_eq!(code(&unknown), i32::from(exit::USAGE));
}

#[test]
fn damage_bad_input_and_bad_usage_have_their_exit_codes() {
    use morgue::store::{AppendRequest, ExpectedVersion, Store, StoreOptions};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("damaged");
    let needle =
        {
            let store = Store::open(data.join("log"), StoreOptions { map_size: 1 << 30 }).unwrap();
            for i in 0..5u64 {
                let name = if i == 3 { "NEEDLE-IN-PAYLOAD".to_owned() } else { format!("plain {i}") };
                let event = morgue::domain::events::Event::AuthorRegistered(
                    morgue::domain::events::AuthorRegistered { name, bio: None },
                );
                let stream = format!("author-01J0000000000000000000000{i}");
                store
                    .append(AppendRequest::new(
                        &stream,
                        ExpectedVersion::NoStream,
                        vec![crate::support::proposed(&event)],
                    ))
                    .unwrap();
            }
            store.reader().unwrap().stored_event(morgue::Position(4)).unwrap().payload[..16].to_vec()
        };
    // A flipped byte in the fourth record's sealed payload (wherever LMDB keeps a copy of it).
    let file = data.join("log/data.mdb");
    let mut bytes = std::fs::read(&file).unwrap();
    let places: Vec<usize> =
        bytes.windows(16).enumerate().filter(|(_, w)| *w == needle.as_slice()).map(|(i, _)| i).collect();
    assert!(!places.is_empty());
    for at in places {
        bytes[at] ^= 0x01;
    }
    std::fs::write(&file, bytes).unwrap();

    let text = morgue(&data, &["verify"]);
    assert_eq!(code(&text), i32::from(exit::DAMAGED), "{text:?}");
    assert!(String::from_utf8_lossy(&text.stdout).starts_with("BAD at position 4"), "{text:?}");
    let report = morgue(&data, &["verify", "--json"]);
    assert_eq!(code(&report), i32::from(exit::DAMAGED));
    let report: Value = serde_json::from_slice(&report.stdout).unwrap();
    assert_eq!((report["ok"].as_bool(), report["position"].as_str()), (Some(false), Some("4")), "{report}");
    assert_eq!(report["intactEvents"], 3);
    assert!(report["reason"].as_str().is_some_and(|r| !r.is_empty()));

    // A damaged backup is not restored: the copy is removed again.
    let target = dir.path().join("target");
    let restored = morgue(&target, &["restore", "--from", data.to_str().unwrap()]);
    assert_eq!(code(&restored), i32::from(exit::DAMAGED), "{restored:?}");
    assert!(String::from_utf8_lossy(&restored.stderr).contains("damaged at position 4"), "{restored:?}");
    assert!(!target.join("log").exists(), "the damaged copy was removed");

    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"stream\": \"nonsense\", \"type\": \"AuthorRegistered\", \"payload\": {}}\n")
        .unwrap();
    let imported = morgue(&dir.path().join("fresh"), &["import", bad.to_str().unwrap()]);
    assert_eq!(code(&imported), i32::from(exit::BAD_INPUT), "{imported:?}");
    assert!(String::from_utf8_lossy(&imported.stderr).contains("line 1, field "), "{imported:?}");

    let usage = morgue(&data, &["stats", "--no-such-flag"]);
    assert_eq!(code(&usage), i32::from(exit::USAGE));
    let help = Command::new(env!("CARGO_BIN_EXE_morgue")).arg("--help").output().unwrap();
    assert_eq!(code(&help), 0);
    let help = String::from_utf8(help.stdout).unwrap();
    assert!(help.contains("Exit codes:") && help.contains("3  the data directory is in use"), "{help}");
}

#[test]
fn the_readme_lists_every_exit_code() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let section = readme.split("\n## Exit codes").nth(1).expect("README has an Exit codes section");
    let section = section.split("\n## ").next().unwrap();
    for (code, name) in [
        (exit::SUCCESS, "SUCCESS"),
        (exit::ERROR, "ERROR"),
        (exit::USAGE, "USAGE"),
        (exit::LOCKED, "LOCKED"),
        (exit::DAMAGED, "DAMAGED"),
        (exit::BAD_INPUT, "BAD_INPUT"),
        (exit::OCCUPIED, "OCCUPIED"),
    ] {
        assert!(
            section.contains(&format!("| {code} | `{name}` |")),
            "README lacks exit code {code} ({name})"
        );
    }
}
