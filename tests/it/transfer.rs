//! Import and export: errors that name line and field, idempotent re-runs, exact round trips.

use morgue::Position;
use morgue::archive::{self, ImportError};
use morgue::store::{self, Store, StoreOptions};
use morgue::transfer;

use crate::support::{random_history, raw_log, temp_store};

fn import(store: &Store, text: &str) -> Result<archive::ImportReport, ImportError> {
    archive::import(store, text.lines().map(|l| Ok(l.to_owned())), 2, |_| {})
}

const AUTHOR: &str = "author-01HZX3Q8V7M2K9D4N6P1R5T0WB";
const ARTICLE: &str = "article-01HZX3QB2C8E5F7G9H1J3K4M6N";

fn good() -> String {
    [
        format!(r#"{{"stream":"{AUTHOR}","version":1,"type":"AuthorRegistered","effective_at":"1901-02-03T04:05:06Z","actor":"desk","payload":{{"name":"Ida Quill"}}}}"#),
        format!(r#"{{"stream":"{ARTICLE}","version":1,"type":"ArticleDrafted","effective_at":"1901-02-04T00:00:00Z","payload":{{"slug":"ice","headline":"Ice","body":"Cold.","section":"city","tags":[]}}}}"#),
        format!(r#"{{"stream":"{ARTICLE}","version":2,"type":"BylineAdded","effective_at":"1901-02-04T00:00:00Z","payload":{{"author_id":"01HZX3Q8V7M2K9D4N6P1R5T0WB"}}}}"#),
        format!(r#"{{"stream":"{ARTICLE}","version":3,"type":"ArticlePublished","effective_at":"1901-02-05T00:00:00Z","payload":{{}}}}"#),
    ]
    .join("\n")
}

#[test]
fn importing_twice_appends_nothing_the_second_time() {
    let (_dir, store) = temp_store();
    let first = import(&store, &good()).unwrap();
    assert_eq!((first.lines, first.appended, first.skipped), (4, 4, 0));
    let log = raw_log(&store);
    let again = import(&store, &good()).unwrap();
    assert_eq!((again.appended, again.skipped), (0, 4));
    assert_eq!(raw_log(&store), log);
    assert!(store::verify(&store.reader().unwrap(), |_| {}).unwrap().is_ok());
}

#[test]
fn bad_lines_name_line_and_field_and_append_nothing_of_their_batch() {
    let base = good();
    let cases: Vec<(String, u64, &str)> = vec![
        (format!("{base}\n{{not json"), 5, "(json)"),
        (
            format!(
                "{base}\n{{\"stream\":\"{ARTICLE}\",\"version\":4,\"type\":\"ArticleExploded\",\"payload\":{{}}}}"
            ),
            5,
            "type",
        ),
        (
            format!(
                "{base}\n{{\"stream\":\"{ARTICLE}\",\"version\":4,\"type\":\"ArticleRetracted\",\"payload\":{{}}}}"
            ),
            5,
            "payload.reason",
        ),
        (format!("{base}\n{{\"version\":4,\"type\":\"ArticlePublished\",\"payload\":{{}}}}"), 5, "stream"),
        (
            format!(
                "{base}\n{{\"stream\":\"{ARTICLE}\",\"version\":7,\"type\":\"ArticleRetracted\",\"payload\":{{\"reason\":\"x\"}}}}"
            ),
            5,
            "version",
        ),
        (
            format!(
                "{base}\n{{\"stream\":\"{ARTICLE}\",\"version\":4,\"type\":\"ArticlePublished\",\"payload\":{{}}}}"
            ),
            5,
            "type",
        ),
        (
            format!(
                "{base}\n{{\"stream\":\"article-01HZX3QB2C8E5F7G9H1J3K4M6P\",\"version\":1,\"type\":\"ArticleDrafted\",\"payload\":{{\"slug\":\"ice\",\"headline\":\"H\",\"body\":\"B\",\"section\":\"s\"}}}}"
            ),
            5,
            "payload.slug",
        ),
        (
            format!(
                "{base}\n{{\"stream\":\"{ARTICLE}\",\"version\":4,\"type\":\"ArticleRetracted\",\"payload\":{{\"reason\":\"x\"}},\"colour\":1}}"
            ),
            5,
            "colour",
        ),
    ];
    for (text, line, field) in cases {
        let (_dir, store) = temp_store();
        // Batches of two lines: lines 1-4 land, the batch holding line 5 does not.
        let err = import(&store, &text).unwrap_err();
        assert_eq!((err.line, err.field.as_str()), (line, field), "{err}");
        assert!(err.to_string().starts_with(&format!("line {line}, field {field}")), "{err}");
        assert_eq!(store.head(), Position(4), "{err}");
        assert_eq!(err.committed, 4, "{err}");
        assert!(err.to_string().ends_with("(lines 1 to 4 were imported; nothing after)"), "{err}");
    }
}

#[test]
fn export_then_import_into_an_empty_store_is_identical() {
    let (dir, archive) = crate::support::temp_archive();
    random_history(&archive, 99, 300);
    let store = archive.store();
    let mut out = Vec::new();
    let n = transfer::export(store, Position::ZERO, &mut out, |_| {}).unwrap();
    assert_eq!(n, store.head().get());

    let copy = tempfile::tempdir().unwrap();
    let restored = Store::open(copy.path(), StoreOptions { map_size: 1 << 30 }).unwrap();
    let text = String::from_utf8(out.clone()).unwrap();
    let report = archive::import(&restored, text.lines().map(|l| Ok(l.to_owned())), 64, |_| {}).unwrap();
    assert_eq!(report.appended, n);
    assert_eq!(raw_log(&restored), raw_log(store), "same events, same hash chain, byte for byte");
    // Slugs came along: the restored store refuses a taken one.
    let again = archive::import(&restored, text.lines().map(|l| Ok(l.to_owned())), 64, |_| {}).unwrap();
    assert_eq!((again.appended, again.skipped), (0, n));
    let mut second = Vec::new();
    transfer::export(&restored, Position::ZERO, &mut second, |_| {}).unwrap();
    assert_eq!(second, out);
    archive.close();
    drop(dir);
}

#[test]
fn the_real_corpora_import_and_verify() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    let file = dir.join("go-blog.events.jsonl.gz");
    if !file.exists() {
        eprintln!("skipping: {} is absent", file.display());
        return;
    }
    let (_tmp, store) = temp_store();
    let input = morgue::cli::open_input(&file).unwrap();
    let report = archive::import(&store, transfer::corpus::lines(input, &store), 5000, |_| {}).unwrap();
    assert!(report.appended > 1000, "{report:?}");
    assert!(store::verify(&store.reader().unwrap(), |_| {}).unwrap().is_ok());
    let input = morgue::cli::open_input(&file).unwrap();
    let again = archive::import(&store, transfer::corpus::lines(input, &store), 5000, |_| {}).unwrap();
    assert_eq!(again.appended, 0);
}

/// An export's sealed lines: without their stream's key, or with sealed bytes that are not
/// base64 or do not open, each names its line and field, and nothing is appended.
#[test]
fn sealed_lines_without_their_key_or_with_bad_ciphertext_name_the_field() {
    let (dir, archive) = crate::support::temp_archive();
    random_history(&archive, 7, 20);
    let mut out = Vec::new();
    transfer::export(archive.store(), Position::ZERO, &mut out, |_| {}).unwrap();
    let lines: Vec<serde_json::Value> =
        String::from_utf8(out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(lines[0]["sealed"] == true && lines[0]["key"].is_string(), "{}", lines[0]);
    type Damage = Box<dyn Fn(&mut serde_json::Value)>;
    let cases: Vec<(Damage, &str)> = vec![
        (Box::new(|l| drop(l.as_object_mut().unwrap().remove("key"))), "key"),
        (Box::new(|l| l["key"] = "00".into()), "key"),
        (
            Box::new(|l| {
                l["payload"] = serde_json::Value::Null;
                l["ciphertext"] = "!!not base64!!".into();
            }),
            "ciphertext",
        ),
        (
            Box::new(|l| {
                l["payload"] = serde_json::Value::Null;
                l["ciphertext"] = "AAAA".into();
            }),
            "ciphertext",
        ),
        (
            Box::new(|l| {
                l["sealed"] = false.into();
                l["ciphertext"] = "AAAA".into();
            }),
            "ciphertext",
        ),
    ];
    for (damage, field) in cases {
        let mut first = lines[0].clone();
        damage(&mut first);
        let copy = tempfile::tempdir().unwrap();
        let store = Store::open(copy.path(), StoreOptions { map_size: 1 << 30 }).unwrap();
        let err = import(&store, &first.to_string()).unwrap_err();
        assert_eq!((err.line, err.field.as_str()), (1, field), "{err}");
        assert_eq!(store.head(), Position::ZERO, "nothing appended");
    }
    archive.close();
    drop(dir);
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config { cases: 48, ..Default::default() })]
    /// Any key and sealed bytes in an exported line are refused with their line and field, or
    /// accepted only when they restore the very record that was exported.
    #[test]
    fn hostile_keys_and_sealed_bytes_never_pass_as_the_record(
        key in proptest::option::of("[0-9a-f]{0,70}|\\PC{0,20}"),
        ciphertext in proptest::option::of("[A-Za-z0-9+/=]{0,64}|\\PC{0,20}"),
        sealed in proptest::bool::ANY,
    ) {
        let (dir, archive) = crate::support::temp_archive();
        random_history(&archive, 3, 4);
        let mut out = Vec::new();
        transfer::export(archive.store(), Position::ZERO, &mut out, |_| {}).unwrap();
        let text = String::from_utf8(out).unwrap();
        let mut line: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        line["key"] = key.clone().map_or(serde_json::Value::Null, Into::into);
        if ciphertext.is_some() {
            line["payload"] = serde_json::Value::Null;
        }
        line["ciphertext"] = ciphertext.clone().map_or(serde_json::Value::Null, Into::into);
        line["sealed"] = sealed.into();
        let copy = tempfile::tempdir().unwrap();
        let store = Store::open(copy.path(), StoreOptions { map_size: 1 << 30 }).unwrap();
        match import(&store, &line.to_string()) {
            Err(e) => {
                proptest::prop_assert_eq!(e.line, 1);
                proptest::prop_assert_eq!(store.head(), Position::ZERO);
            }
            Ok(_) => proptest::prop_assert_eq!(
                raw_log(&store).first().cloned(),
                raw_log(archive.store()).first().cloned()
            ),
        }
        archive.close();
        drop(dir);
    }
}
