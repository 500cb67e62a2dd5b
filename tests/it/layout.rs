//! The layout's promises, kept by a test: each module imports only the modules below it in the
//! data flow (read from its `crate::` paths, `use` groups included), and `clap` appears only in
//! the command line.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// What each top-level module may import, besides itself, `error` and the crate root's items
/// (`Position`, `Error`, `Result`, `Code`).
const ALLOWED: &[(&str, &[&str])] = &[
    ("position", &[]),
    ("store", &[]),
    ("domain", &["store"]),
    ("project", &["store", "domain"]),
    ("archive", &["store", "domain", "project", "transfer"]),
    ("transfer", &["store", "domain"]),
    ("replicate", &["store", "domain", "transfer", "archive"]),
    ("graphql", &["archive", "domain"]),
    ("auth", &["graphql"]),
    ("http", &["archive", "domain", "graphql", "auth", "store"]),
    ("error", &["store", "domain", "project"]),
    ("tools", &["archive", "domain", "project", "store", "transfer", "graphql", "http", "auth"]),
    (
        "cli",
        &[
            "archive",
            "auth",
            "domain",
            "graphql",
            "http",
            "project",
            "replicate",
            "store",
            "tools",
            "transfer",
        ],
    ),
];

/// The first segments of every `crate::` path in `text`, `use crate::{a, b::c}` groups included.
fn imports(text: &str) -> BTreeSet<String> {
    let code: String =
        text.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
    let mut found = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Split at the group's own commas, not those of groups nested in it.
            let (mut depth, mut item) = (0usize, String::new());
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        found.insert(item.trim().split("::").next().unwrap_or("").to_owned());
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
            found.insert(item.trim().split("::").next().unwrap_or("").to_owned());
        } else {
            let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            found.insert(name);
        }
    }
    // Root items (capitalised) and the crate's own error module are open to all.
    found.retain(|n| n.chars().next().is_some_and(|c| c.is_ascii_lowercase()) && n != "error");
    found
}

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn modules_import_only_what_the_layout_allows_and_clap_stays_in_the_cli() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut forbidden = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let module = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if module == "lib" || module == "main" {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        if module != "cli" && (text.contains("clap::") || text.contains("use clap")) {
            forbidden.push(format!("{} uses clap outside the command line", relative.display()));
        }
        let may =
            allowed.get(module.as_str()).unwrap_or_else(|| panic!("module {module} has no row in ALLOWED"));
        for import in imports(&text) {
            if import == module {
                continue;
            }
            graph.entry(module.clone()).or_default().insert(import.clone());
            if !may.contains(&import.as_str()) {
                forbidden.push(format!("{} imports {import}", relative.display()));
            }
        }
    }
    // The graph as it is, for the record (`cargo test layout -- --nocapture`).
    for (module, imports) in &graph {
        eprintln!("{module} -> {}", imports.iter().cloned().collect::<Vec<_>>().join(", "));
    }
    assert!(forbidden.is_empty(), "imports the layout forbids:\n{}", forbidden.join("\n"));
}

#[test]
fn the_import_reader_sees_groups_and_paths() {
    let text = "use crate::{Error, archive::{A, B}, store};\n// crate::http in a comment\nlet x = crate::project::At::default();";
    let found: Vec<String> = imports(text).into_iter().collect();
    assert_eq!(found, ["archive", "project", "store"]);
}
