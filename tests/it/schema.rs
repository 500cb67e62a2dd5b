//! The SDL file and the public contract.

use std::collections::{HashMap, HashSet};

use async_graphql::parser::parse_schema;
use async_graphql::parser::types::{
    BaseType, InputValueDefinition, InterfaceType, ObjectType, Type, TypeKind, TypeSystemDefinition,
};

#[test]
fn the_schema_file_matches_the_code() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/morgue.graphql");
    let file = std::fs::read_to_string(&path).expect("schema/morgue.graphql exists");
    let served = morgue::graphql::sdl();
    assert!(
        file == served,
        "schema/morgue.graphql is out of date: run `cargo run -- schema > schema/morgue.graphql` and review the diff"
    );
}

/// The scalars GraphQL itself defines: their meaning is the spec's, not ours to describe.
const BUILT_IN_SCALARS: &[&str] = &["String", "Int", "Float", "Boolean", "ID"];

#[test]
fn every_type_field_and_argument_is_documented() {
    let doc = parse_schema(morgue::graphql::sdl()).expect("valid SDL");
    let blank =
        |d: &Option<async_graphql::Positioned<String>>| d.as_ref().is_none_or(|d| d.node.trim().is_empty());
    let mut undocumented = Vec::new();
    let mut types = 0;
    for def in doc.definitions {
        let TypeSystemDefinition::Type(t) = def else { continue };
        let t = t.node;
        let name = t.name.node.to_string();
        if BUILT_IN_SCALARS.contains(&name.as_str()) {
            continue;
        }
        types += 1;
        if blank(&t.description) {
            undocumented.push(format!("type {name}"));
        }
        match &t.kind {
            TypeKind::Object(ObjectType { fields, .. })
            | TypeKind::Interface(InterfaceType { fields, .. }) => {
                for f in fields {
                    let field = format!("{name}.{}", f.node.name.node);
                    if blank(&f.node.description) {
                        undocumented.push(format!("field {field}"));
                    }
                    for a in &f.node.arguments {
                        if blank(&a.node.description) {
                            undocumented.push(format!("argument {field}({})", a.node.name.node));
                        }
                    }
                }
            }
            TypeKind::InputObject(i) => {
                for f in &i.fields {
                    if blank(&f.node.description) {
                        undocumented.push(format!("input field {name}.{}", f.node.name.node));
                    }
                }
            }
            TypeKind::Enum(e) => {
                for v in &e.values {
                    if blank(&v.node.description) {
                        undocumented.push(format!("enum value {name}.{}", v.node.value.node));
                    }
                }
            }
            TypeKind::Scalar | TypeKind::Union(_) => {}
        }
    }
    assert!(types > 20, "the SDL lists only {types} types: is the walk broken?");
    undocumented.sort();
    assert!(
        undocumented.is_empty(),
        "{} parts of the served schema have no description:\n{}",
        undocumented.len(),
        undocumented.join("\n")
    );
}

/// What one type of a schema offers.
#[derive(Default)]
struct Shape {
    kind: &'static str,
    /// field → (type, arguments → type)
    fields: HashMap<String, (Type, HashMap<String, Type>)>,
    values: HashSet<String>,
}

fn shapes(sdl: &str) -> HashMap<String, Shape> {
    let doc = parse_schema(sdl).expect("valid SDL");
    let mut out = HashMap::new();
    let args = |a: &[async_graphql::Positioned<InputValueDefinition>]| {
        a.iter().map(|a| (a.node.name.node.to_string(), a.node.ty.node.clone())).collect()
    };
    for def in doc.definitions {
        let TypeSystemDefinition::Type(t) = def else { continue };
        let mut shape = Shape::default();
        match &t.node.kind {
            TypeKind::Object(o) => {
                shape.kind = "object";
                for f in &o.fields {
                    shape.fields.insert(
                        f.node.name.node.to_string(),
                        (f.node.ty.node.clone(), args(&f.node.arguments)),
                    );
                }
            }
            TypeKind::InputObject(i) => {
                shape.kind = "input";
                for f in &i.fields {
                    shape
                        .fields
                        .insert(f.node.name.node.to_string(), (f.node.ty.node.clone(), HashMap::new()));
                }
            }
            TypeKind::Enum(e) => {
                shape.kind = "enum";
                shape.values = e.values.iter().map(|v| v.node.value.node.to_string()).collect();
            }
            TypeKind::Scalar => shape.kind = "scalar",
            _ => shape.kind = "other",
        }
        out.insert(t.node.name.node.to_string(), shape);
    }
    out
}

/// Same named type and list structure.
fn same_base(a: &Type, b: &Type) -> bool {
    match (&a.base, &b.base) {
        (BaseType::Named(x), BaseType::Named(y)) => x == y,
        (BaseType::List(x), BaseType::List(y)) => same_base(x, y) && x.nullable == y.nullable,
        _ => false,
    }
}

/// An output may be stricter than the contract (non-null where it says nullable).
fn output_compatible(contract: &Type, served: &Type) -> bool {
    same_base(contract, served) && (contract.nullable || !served.nullable)
}

/// An input may be looser than the contract (optional where it says required).
fn input_compatible(contract: &Type, served: &Type) -> bool {
    same_base(contract, served) && (served.nullable || !contract.nullable)
}

/// Parts of the contract that may be absent (none: the whole contract is served).
const LATER: &[&str] = &[];

#[test]
fn the_served_schema_covers_the_public_contract() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/contract.graphql");
    let Ok(contract) = std::fs::read_to_string(&path) else {
        eprintln!("skipping: {} is absent", path.display());
        return;
    };
    let contract = shapes(&contract);
    let served = shapes(&morgue::graphql::sdl());
    let mut problems = Vec::new();
    for (name, want) in &contract {
        if LATER.contains(&name.as_str()) {
            continue;
        }
        let Some(have) = served.get(name) else {
            problems.push(format!("type {name} is missing"));
            continue;
        };
        if have.kind != want.kind {
            problems.push(format!("{name} is a {} here, the contract says {}", have.kind, want.kind));
        }
        for v in want.values.difference(&have.values) {
            problems.push(format!("enum {name} lacks {v}"));
        }
        for (field, (ty, args)) in &want.fields {
            let key = format!("{name}.{field}");
            if LATER.contains(&key.as_str()) {
                continue;
            }
            let Some((have_ty, have_args)) = have.fields.get(field) else {
                problems.push(format!("{key} is missing"));
                continue;
            };
            let ok = if want.kind == "input" {
                input_compatible(ty, have_ty)
            } else {
                output_compatible(ty, have_ty)
            };
            if !ok {
                problems.push(format!("{key} is {have_ty}, the contract says {ty}"));
            }
            for (arg, arg_ty) in args {
                let akey = format!("{key}({arg})");
                if LATER.contains(&akey.as_str()) {
                    continue;
                }
                match have_args.get(arg) {
                    None => problems.push(format!("{akey} is missing")),
                    Some(t) if !input_compatible(arg_ty, t) => {
                        problems.push(format!("{akey} is {t}, the contract says {arg_ty}"))
                    }
                    Some(_) => {}
                }
            }
            // A new required argument would break the contract's clients.
            for (arg, t) in have_args {
                if !args.contains_key(arg) && !t.nullable {
                    problems.push(format!("{key}({arg}) is required but not in the contract"));
                }
            }
        }
    }
    problems.sort();
    assert!(problems.is_empty(), "the served schema breaks the contract:\n{}", problems.join("\n"));
}

/// graphql-js itself (installed by `.ci/run` into `tests/js`) loads the schema from a running
/// node with its standard introspection query, every option on, and builds a valid client
/// schema holding every type the node serves.
#[test]
fn graphql_js_loads_the_schema_by_introspection() {
    let js = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js");
    if !js.join("node_modules/graphql").exists() {
        assert!(std::env::var_os("CI").is_none(), "CI must install graphql-js: npm ci --prefix tests/js");
        eprintln!("skipped: graphql-js is not installed (npm ci --prefix tests/js)");
        return;
    }
    let server = crate::server::Server::with_fixtures();
    let out = std::process::Command::new("node")
        .arg(js.join("introspect.mjs"))
        .arg(format!("{}/graphql", server.base))
        .output()
        .expect("node runs");
    assert!(out.status.success(), "graphql-js refused the schema: {}", String::from_utf8_lossy(&out.stderr));
    let loaded: HashSet<String> = serde_json::from_slice(&out.stdout).expect("a JSON array of type names");
    let names = |doc: async_graphql::parser::types::ServiceDocument| -> HashSet<String> {
        doc.definitions
            .into_iter()
            .filter_map(|d| match d {
                TypeSystemDefinition::Type(t) => Some(t.node.name.node.to_string()),
                _ => None,
            })
            .collect()
    };
    let served = names(parse_schema(morgue::graphql::sdl()).unwrap());
    let missing: Vec<_> =
        served.iter().filter(|n| !loaded.contains(*n) && !BUILT_IN_SCALARS.contains(&n.as_str())).collect();
    assert!(missing.is_empty(), "graphql-js did not load {missing:?}");
    assert!(loaded.contains("Query") && loaded.contains("Article") && loaded.contains("Subscription"));
}

/// Every limit a request meets is stated in the SDL (the `Query` type's description), with the
/// value the node enforces.
#[test]
fn the_sdl_states_every_request_limit() {
    use morgue::graphql::limits::*;
    let doc = parse_schema(morgue::graphql::sdl()).unwrap();
    let query = doc
        .definitions
        .into_iter()
        .find_map(|d| match d {
            TypeSystemDefinition::Type(t) if t.node.name.node == "Query" => {
                t.node.description.map(|d| d.node)
            }
            _ => None,
        })
        .expect("Query has a description");
    let stated = [
        ("query text", format!("at most 2 MiB ({} bytes)", MAX_TEXT)),
        ("nesting", format!("nested at most {MAX_NESTING} deep")),
        ("depth", format!("at most {MAX_DEPTH} deep")),
        ("fragments", format!("spreads nested at most {MAX_FRAGMENT_NESTING} deep")),
        ("expanded", format!("at most {MAX_EXPANDED} selections")),
        ("complexity", format!("complexity of at most {MAX_COMPLEXITY}")),
        ("directives", format!("at most {} directives", morgue::graphql::MAX_DIRECTIVES)),
        ("body", format!("body of at most {} MiB", morgue::http::MAX_BODY >> 20)),
        ("time", format!("{} seconds per request", morgue::http::REQUEST_TIMEOUT.as_secs())),
        ("page", format!("at most {} items", morgue::graphql::MAX_PAGE)),
        (
            "socket messages",
            format!("messages of at most {} MiB", morgue::http::ws_limits::MAX_MESSAGE >> 20),
        ),
        (
            "socket operations",
            format!("at most {} operations per socket", morgue::http::ws_limits::MAX_OPERATIONS),
        ),
    ];
    let query = query.split_whitespace().collect::<Vec<_>>().join(" ");
    for (what, text) in stated {
        assert!(query.contains(&text), "the SDL does not state the {what} limit as {text:?}: {query}");
    }
}
