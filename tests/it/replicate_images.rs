//! Images across machines: the writer puts an image's bytes in the JetStream object store
//! before it publishes the upload; a replica fetches, checks and stores them before it
//! restores the event, and serves byte-identical originals (and renditions of them).

use std::process::Command;

use serde_json::{Value, json};

use crate::replicate::{Nats, Node, editor_token, fixtures, gql, nats_server, reach, rt, writer_key};

const UPLOAD: &str = "mutation($file: Upload!) { uploadImage(input: {file: $file, caption: \"Spray over the sea wall\"}) { image { id } position } }";

/// An upload with curl, as the GraphQL multipart request spec shows it.
fn curl_upload(base: &str, token: &str, path: &std::path::Path) -> Value {
    let operations = json!({"query": UPLOAD, "variables": {"file": null}}).to_string();
    let out = Command::new("curl")
        .args(["-sS", &format!("{base}/graphql"), "-H", &format!("authorization: Bearer {token}")])
        .args(["-F", &format!("operations={operations}"), "-F", r#"map={"0":["variables.file"]}"#])
        .args(["-F", &format!("0=@{}", path.display())])
        .output()
        .expect("curl runs");
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_replica_serves_byte_identical_originals_and_destroys_them_with_an_erasure() {
    let Some(bin) = nats_server() else { return };
    let dir = tempfile::tempdir().unwrap();
    let nats = Nats::start(bin, &dir.path().join("nats"), &[]);
    let writer_dir = dir.path().join("writer");
    let editor = editor_token(&writer_dir);
    let admin =
        morgue::auth::Tokens::load(&writer_dir).unwrap().create("ops", morgue::graphql::Role::Admin).unwrap();
    let writer = Node::start(&writer_dir, &["--fixtures".into(), fixtures(), "--publish".into(), nats.url()]);
    let replica = Node::start(
        &dir.path().join("replica"),
        &["--follow".into(), nats.url(), "--writer-key".into(), writer_key(&writer_dir)],
    );
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/images/sea-wall.png");
    let bytes = std::fs::read(&path).unwrap();
    let uploaded = curl_upload(&writer.base, &editor, &path);
    let image = uploaded["data"]["uploadImage"]["image"]["id"].as_str().expect("uploaded").to_owned();
    let rt = rt();
    let http = reqwest::Client::new();
    rt.block_on(async {
        let placed = gql(
            &http,
            &writer.base,
            Some(&editor),
            "mutation($i: ID!) { placeImage(input: {articleId: \"01H0000000000000000000B033\", imageId: $i, role: LEAD}) { position } }",
            json!({"i": image}),
        )
        .await;
        let position: u64 = placed["data"]["placeImage"]["position"].as_str().expect("placed").parse().unwrap();
        reach(&http, &replica, position).await;
        for node in [&writer, &replica] {
            let original = http.get(format!("{}/images/{image}/original", node.base)).send().await.unwrap();
            assert_eq!(original.status(), 200, "{}", node.base);
            assert!(original.bytes().await.unwrap() == bytes, "{}: the original differs", node.base);
            let rendition = http.get(format!("{}/images/{image}/full/320.jpg", node.base)).send().await.unwrap();
            assert_eq!(rendition.status(), 200, "{}", node.base);
            let picture = image::load_from_memory(&rendition.bytes().await.unwrap()).unwrap();
            assert_eq!(picture.width(), 320);
        }
        let caption = gql(&http, &replica.base, None, "query($i: ID!) { image(id: $i) { caption } }", json!({"i": image})).await;
        assert_eq!(caption["data"]["image"]["caption"], "Spray over the sea wall", "{caption}");
    });
    let hash = blake3::hash(&bytes).to_hex().to_string();
    let stored = dir.path().join("replica/blobs").join(&hash[..2]).join(&hash);
    assert!(std::fs::read(&stored).unwrap() == bytes, "the replica's blob is the writer's bytes");

    // Erased on the writer: the replica destroys its copy when it restores the tombstone, and a
    // replica started afterwards never gets the bytes.
    rt.block_on(async {
        let erased = gql(
            &http,
            &writer.base,
            Some(&admin),
            "mutation($i: ID!) { eraseImage(input: {id: $i, reason: \"destroy it\"}) { position } }",
            json!({"i": image}),
        )
        .await;
        let position: u64 =
            erased["data"]["eraseImage"]["position"].as_str().expect("erased").parse().unwrap();
        reach(&http, &replica, position).await;
        let late = Node::start(
            &dir.path().join("late"),
            &["--follow".into(), nats.url(), "--writer-key".into(), writer_key(&writer_dir)],
        );
        reach(&http, &late, position).await;
        for node in [&writer, &replica, &late] {
            let original = http.get(format!("{}/images/{image}/original", node.base)).send().await.unwrap();
            assert_eq!(original.status(), 404, "{}", node.base);
        }
    });
    assert!(!stored.exists(), "the replica destroyed its copy");
    let late_blob = dir.path().join("late/blobs").join(&hash[..2]).join(&hash);
    assert!(!late_blob.exists(), "a replica started after the erasure never had the bytes");
}
