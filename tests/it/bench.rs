//! `bench/compare` at smoke size: the harness still generates, loads, measures and prints
//! every row (PostgreSQL's column when its server programs are installed). Timings are not
//! checked here: speed is measured by the benchmark itself, never asserted in a test.

use std::process::Command;

#[test]
fn the_compare_harness_runs_at_smoke_size_and_prints_every_row() {
    // `cargo test` builds the examples beside the test binaries: target/<profile>/examples.
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|d| d.parent()).unwrap();
    let harness = profile_dir.join("examples").join("compare");
    assert!(harness.exists(), "{} was not built", harness.display());
    let work = tempfile::tempdir().unwrap();
    let out_file = work.path().join("table.md");
    let output = Command::new(&harness)
        .arg("--smoke")
        .arg("--work")
        .arg(work.path().join("run"))
        .arg("--out")
        .arg(&out_file)
        .env("MORGUE_BIN", env!("CARGO_BIN_EXE_morgue"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the harness failed:\n{stderr}");
    let table = std::fs::read_to_string(&out_file).unwrap();
    let postgres = std::fs::read_dir("/usr/lib/postgresql").is_ok_and(|mut d| d.next().is_some());
    for row in [
        "disk: write + fdatasync",
        "durable append, 1 writer",
        "durable append, 32 writers",
        "batched import",
        "rebuild of the views",
        "build of the search index",
        "search, ranked top 10, present: p50",
        "search asOf 1950: p99",
        "article(id) now, 10,000 revisions",
        "article(id, asOf), 1 revision",
        "store size per 1,000,000 events",
        "peak memory: import",
        "sealing: seal one event's payload",
        "sealing: share of the import's time spent sealing",
    ] {
        let line =
            table.lines().find(|l| l.contains(row)).unwrap_or_else(|| panic!("no row {row:?}:\n{table}"));
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        assert!(!cells[2].is_empty() && cells[2] != "n/a", "morgue has a value in {line}");
        // Rows of morgue alone: the disk's limit, memory, and what sealing costs.
        if row != "disk: write + fdatasync" && row != "peak memory: import" && !row.starts_with("sealing") {
            assert_ne!(cells[6], "n/a", "SQLite has a value in {line}");
            assert!(!cells[7].is_empty(), "morgue / SQLite is computed in {line}");
            if postgres {
                assert_ne!(cells[3], "n/a", "PostgreSQL has a value in {line}");
            }
        }
    }
    assert!(table.contains("corpus 100 articles"), "{table}");
}
