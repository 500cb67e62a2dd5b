//! The container image, replayed without a Docker engine: the Dockerfile's build stage copies
//! what the build needs, its dependency-cache layer loads, its own `cargo build` builds the
//! binary from exactly the copied tree, and its runtime stage runs as the issue asks.
//!
//! A test binary of its own, so that its release build (the longest step of the suite) runs
//! alone rather than beside the timing-sensitive tests of `tests/it`.

use std::process::Command;

/// The Dockerfile's build stage copies what the build needs: its `COPY` lines, replayed into an
/// empty directory, give a tree whose manifest loads with every target it names.
#[test]
fn the_dockerfile_build_stage_copies_what_the_manifest_names() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dockerfile = std::fs::read_to_string(root.join("Dockerfile")).unwrap();
    let build_stage = dockerfile.split("\nFROM ").nth(1).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut copied = 0;
    for line in build_stage.lines().filter(|l| l.starts_with("COPY ") && !l.contains("--from")) {
        let parts: Vec<&str> = line.split_whitespace().skip(1).collect();
        let (sources, target) = parts.split_at(parts.len() - 1);
        for source in sources {
            let to = if target[0].ends_with('/') && sources.len() > 1 || target[0] == "./" {
                dir.path().join(source)
            } else {
                dir.path().join(target[0])
            };
            let status = Command::new("cp").arg("-r").arg(root.join(source)).arg(&to).status().unwrap();
            assert!(status.success(), "{line}: copying {source}");
            copied += 1;
        }
    }
    assert!(copied >= 3, "the build stage copies the sources: {build_stage}");
    // What .dockerignore keeps out of the build context is not in the copy either.
    for ignored in std::fs::read_to_string(root.join(".dockerignore")).unwrap_or_default().lines() {
        let path = dir.path().join(ignored.trim());
        if !ignored.trim().is_empty()
            && !ignored.contains('*')
            && path.starts_with(dir.path())
            && path.exists()
        {
            let _ = std::fs::remove_dir_all(&path).or_else(|_| std::fs::remove_file(&path));
        }
    }
    // `cargo build` parses the manifest (every target it names must exist) before it looks for
    // the target asked for: asking for none that exists stops right there, without compiling.
    let out = Command::new(env!("CARGO"))
        .args(["build", "--offline", "--locked", "--bin", "no-such-target"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!said.contains("failed to parse manifest"), "the copied tree's manifest does not load:\n{said}");
    assert!(said.contains("no bin target named"), "cargo got past the manifest:\n{said}");

    // The Dockerfile's own build command, in that tree: the image's binary builds from exactly
    // what the stage copies. Its target directory stays under target/, so a second run only
    // rebuilds morgue itself.
    // The last RUN that builds: the one after the sources are copied (the first builds the
    // dependency cache).
    let run = build_stage
        .lines()
        .rfind(|l| l.starts_with("RUN ") && l.contains("cargo build --release"))
        .expect("the build stage builds the binary");
    let command = run
        .trim_start_matches("RUN ")
        .split("&&")
        .map(|c| c.trim().trim_end_matches('\\').trim())
        .find(|c| c.starts_with("cargo build"))
        .expect("a cargo build command");
    let target = root.join("target/docker-replay");
    let out = Command::new(env!("CARGO"))
        .args(command.split_whitespace().skip(1))
        .current_dir(dir.path())
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "`{command}` in the copied tree:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let version = Command::new(target.join("release/morgue")).arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("morgue "), "the built binary runs");

    // The dependency-cache layer: the manifest alone, with the stand-ins the Dockerfile makes
    // for our targets, loads too (so its `cargo build` compiles the dependencies only).
    let cache = tempfile::tempdir().unwrap();
    for file in ["Cargo.toml", "Cargo.lock"] {
        std::fs::copy(root.join(file), cache.path().join(file)).unwrap();
    }
    let lines: Vec<&str> = build_stage.lines().collect();
    let first =
        lines.iter().position(|l| l.starts_with("RUN mkdir -p src")).expect("a dependency-cache layer");
    let mut stand_ins = String::new();
    for line in &lines[first..] {
        stand_ins.push_str(line.trim_start_matches("RUN ").trim_end_matches('\\'));
        stand_ins.push(' ');
        if !line.ends_with('\\') {
            break;
        }
    }
    assert!(
        stand_ins.contains("src/main.rs"),
        "the build stage has a dependency-cache layer:\n{build_stage}"
    );
    let status = Command::new("sh").arg("-c").arg(&stand_ins).current_dir(cache.path()).status().unwrap();
    assert!(status.success(), "{stand_ins}");
    let out = Command::new(env!("CARGO"))
        .args(["build", "--offline", "--locked", "--bin", "no-such-target"])
        .current_dir(cache.path())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("no bin target named"), "the dependency layer's manifest does not load:\n{said}");

    // The runtime stage: non-root, checked by its health endpoint, and empty unless asked.
    let runtime = dockerfile.split("\nFROM ").nth(2).unwrap();
    for line in ["USER morgue", "HEALTHCHECK ", "/healthz", "ENTRYPOINT [\"morgue\"]", "MORGUE_FIXTURES=none"]
    {
        assert!(runtime.contains(line), "the runtime stage lacks {line:?}:\n{runtime}");
    }
}
