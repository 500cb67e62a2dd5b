//! Importing IPTC ninjs from elsewhere, and hostile lines: every bad line is refused with its
//! line and field, never a panic, and nothing of it (or of its batch) is appended.

use serde_json::{Value, json};

fn import(
    store: &morgue::store::Store,
    lines: &[String],
    batch: usize,
) -> Result<u64, morgue::archive::ImportError> {
    morgue::archive::import_ninjs(store, lines.iter().cloned().map(Ok), batch, |_| {}).map(|r| r.appended)
}

/// A valid item from elsewhere: its `uri` is not morgue's.
fn item(n: u32) -> Value {
    json!({
        "uri": format!("https://example.org/items/{n}"), "type": "text", "version": "1",
        "firstCreated": "1950-05-01T06:00:00Z", "contentCreated": "1950-05-01T06:00:00Z", "pubStatus": "usable",
        "headlines": [{"role": "main", "value": "Mill reopens"}],
        "bodies": [{"role": "main", "contentType": "text/markdown", "value": "The mill reopened."}],
        "descriptions": [{"role": "summary", "value": "Work resumes."}],
        "subjects": [{"name": "business", "rel": "section"}, {"name": "mills", "rel": "tag"}],
        "people": [{"name": "Ida Quill", "rel": "reporter"}],
    })
}

/// Sets (or with `None`, removes) the field at a `/`-separated path of an item.
fn with(mut v: Value, path: &str, value: Option<Value>) -> Value {
    let (parent, last) = path.rsplit_once('/').unwrap_or(("", path));
    let target = if parent.is_empty() { &mut v } else { v.pointer_mut(&format!("/{parent}")).unwrap() };
    match (target, value) {
        (Value::Object(o), Some(x)) => drop(o.insert(last.to_owned(), x)),
        (Value::Object(o), None) => drop(o.remove(last)),
        (Value::Array(a), Some(x)) => a[last.parse::<usize>().unwrap()] = x,
        (Value::Array(a), None) => drop(a.remove(last.parse::<usize>().unwrap())),
        (t, _) => panic!("{path} is not in {t}"),
    }
    v
}

#[test]
fn hostile_import_lines_are_refused_by_line_and_field_and_append_nothing() {
    let big = |n: usize| json!("x".repeat(n));
    let corrected = || with(item(2), "descriptions/0/role", Some(json!("correction")));
    let one = |path: &str, value: Option<Value>| vec![with(item(2), path, value)];
    let cases: Vec<(Vec<Value>, &str)> = vec![
        (one("uri", None), "uri"),
        (one("uri", Some(json!(7))), "uri"),
        (one("uri", Some(big(5000))), "uri"),
        (one("type", Some(json!("picture"))), "type"),
        (one("headlines", Some(json!("Mill"))), "headlines"),
        (one("headlines", Some(json!([]))), "headlines"),
        (one("headlines/0/value", Some(Value::Null)), "headlines[0].value"),
        (one("headlines/0/value", Some(big(2000))), "headlines"),
        (one("bodies", None), "bodies"),
        (one("bodies/0/value", Some(big((1 << 20) + 1))), "bodies"),
        (one("bodies/0/contentType", Some(json!("text/html"))), "bodies[0].contentType"),
        (one("subjects", Some(json!({}))), "subjects"),
        (one("subjects/0/rel", Some(json!("desk"))), "subjects"),
        (one("subjects/0/name", Some(big(100))), "subjects"),
        (
            one(
                "subjects",
                Some(json!(
                    (0..40)
                        .map(|i| json!({"name": format!("t{i}"), "rel": "tag"}))
                        .chain([json!({"name": "s", "rel": "section"})])
                        .collect::<Vec<_>>()
                )),
            ),
            "subjects",
        ),
        (one("people/0/name", None), "people[0].name"),
        (one("people/0/name", Some(big(300))), "people[0].name"),
        (one("people/0/rel", Some(big(100))), "people[0].rel"),
        (one("people", Some(json!(vec![json!({"name": "A"}); 300]))), "people"),
        (one("descriptions/0", Some(json!({"role": "correction"}))), "descriptions[0].value"),
        (one("descriptions/0/value", Some(big(9000))), "descriptions"),
        (one("language", Some(big(100))), "language"),
        (one("pubStatus", Some(json!("gone"))), "pubStatus"),
        (one("firstCreated", Some(json!("yesterday"))), "firstCreated"),
        (one("firstCreated", Some(json!(1950))), "firstCreated"),
        (one("firstCreated", Some(json!("0000-01-01T00:00:00Z"))), "firstCreated"),
        (one("firstCreated", Some(json!("9999-01-01T00:00:00Z"))), "firstCreated"),
        (
            vec![with(with(with(item(2), "firstCreated", None), "contentCreated", None), "version", None)],
            "firstCreated",
        ),
        (
            vec![with(
                with(item(2), "contentCreated", Some(json!("1940-01-01T00:00:00Z"))),
                "descriptions/0/role",
                Some(json!("correction")),
            )],
            "contentCreated",
        ),
        (
            vec![with(
                with(item(2), "pubStatus", Some(json!("withheld"))),
                "descriptions/0/role",
                Some(json!("correction")),
            )],
            "descriptions",
        ),
        // A second version of the same item that history does not allow.
        (vec![item(2), with(item(2), "pubStatus", Some(json!("withheld")))], "pubStatus"),
        (
            vec![
                with(item(2), "pubStatus", Some(json!("canceled"))),
                with(item(2), "version", Some(json!("2"))),
            ],
            "pubStatus",
        ),
        (
            vec![
                with(item(2), "descriptions/0/role", Some(json!("correction"))),
                with(with(item(2), "descriptions", Some(json!([]))), "version", Some(json!("2"))),
            ],
            "descriptions",
        ),
        (
            vec![
                with(corrected(), "contentCreated", Some(json!("1950-06-01T00:00:00Z"))),
                with(corrected(), "headlines/0/value", Some(json!("Mill reopens at last"))),
            ],
            "contentCreated",
        ),
    ];
    let good = item(1).to_string();
    for (bad, field) in cases {
        let mut lines = vec![good.clone()];
        lines.extend(bad.iter().map(Value::to_string));
        let last = lines.len() as u64;
        // One line per batch: what came before the bad line stays; nothing of it is appended.
        let (_dir, store) = crate::support::temp_store();
        let err = import(&store, &lines, 1).expect_err(field);
        assert_eq!((err.line, err.field.as_str()), (last, field), "{err}");
        assert!(err.to_string().starts_with(&format!("line {last}, field {field}: ")), "{err}");
        let head = store.head();
        assert_eq!(
            import(&store, &lines[..last as usize - 1], 1).unwrap(),
            0,
            "the lines before were imported"
        );
        assert_eq!(store.head(), head);
        // In one batch, nothing of it is appended.
        let (_dir, store) = crate::support::temp_store();
        let err = import(&store, &lines, 100).expect_err(field);
        assert_eq!((err.line, err.committed, store.head().get()), (last, 0, 0), "{err}");
    }
    // Not JSON, not an object, nested past any limit: still a named refusal.
    for (text, field) in [("{", "(json)"), ("42", "(json)"), (&"[".repeat(100_000) as &str, "(json)")] {
        let (_dir, store) = crate::support::temp_store();
        let err = import(&store, &[text.to_owned()], 1).expect_err(text);
        assert_eq!((err.line, err.field.as_str(), store.head().get()), (1, field, 0), "{err}");
    }
}

/// Valid items from elsewhere import, and again import nothing.
#[test]
fn an_item_from_elsewhere_imports_once_under_a_stable_id() {
    let (_dir, store) = crate::support::temp_store();
    let lines = vec![
        item(1).to_string(),
        with(
            with(item(1), "version", Some(json!("2"))),
            "headlines/0/value",
            Some(json!("Mill reopens, 300 return")),
        )
        .to_string(),
        with(item(3), "people", None).to_string(),
    ];
    // Registered once (Ida Quill), drafted, credited, published; revised; one more with a `by` name.
    let appended = import(&store, &lines, 2).unwrap();
    let head = store.head();
    assert_eq!(appended, head.get());
    assert_eq!(import(&store, &lines, 2).unwrap(), 0);
    assert_eq!(store.head(), head);
    let mut out = Vec::new();
    assert_eq!(morgue::archive::export_ninjs(&store, &mut out, |_| {}).unwrap(), 3);
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("Mill reopens, 300 return") && text.contains("\"name\":\"Ida Quill\""), "{text}");
}

mod generated {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    /// Fields of an item, and values of every shape to put there.
    const PATHS: [&str; 16] = [
        "uri",
        "type",
        "version",
        "firstCreated",
        "contentCreated",
        "pubStatus",
        "headlines",
        "headlines/0",
        "headlines/0/value",
        "bodies/0/value",
        "bodies/0/contentType",
        "descriptions/0",
        "subjects",
        "subjects/0/name",
        "people/0",
        "people/0/name",
    ];

    fn value() -> impl Strategy<Value = Option<Value>> {
        prop_oneof![
            Just(None),
            Just(Some(Value::Null)),
            any::<bool>().prop_map(|b| Some(json!(b))),
            any::<i64>().prop_map(|n| Some(json!(n))),
            "\\PC{0,40}".prop_map(|s| Some(json!(s))),
            (0usize..3_000_000).prop_map(|n| Some(json!("y".repeat(n)))),
            prop::collection::vec(any::<u8>(), 0..4).prop_map(|v| Some(json!(v))),
            Just(Some(json!({"value": "v", "name": "n", "rel": "section"}))),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]
        /// Any field of any shape: imported, or refused naming line 1 and a field, with the log
        /// untouched; never a panic.
        #[test]
        fn malformed_items_are_refused_by_field(path in 0..PATHS.len(), value in value()) {
            let line = super::with(super::item(9), PATHS[path], value).to_string();
            let (_dir, store) = crate::support::temp_store();
            match super::import(&store, &[line], 1) {
                Ok(appended) => prop_assert_eq!(appended, store.head().get()),
                Err(e) => {
                    prop_assert_eq!(e.line, 1);
                    prop_assert!(!e.field.is_empty() && !e.message.is_empty(), "{}", e);
                    prop_assert_eq!(store.head().get(), 0);
                }
            }
        }
    }
}
