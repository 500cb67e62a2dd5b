//! Erasing an image: its tombstone is appended, its bytes and renditions are destroyed, no one
//! gets it any more (staff included), the log still verifies, and the same bytes can be
//! uploaded again as a new image.

use serde_json::json;

use crate::images::{curl_upload, fixture, get, place, published_article, settle};
use crate::server::Server;

#[test]
fn an_erased_image_s_bytes_and_renditions_are_destroyed_and_nobody_gets_it() {
    let server = Server::start();
    let path = fixture("sea-wall.png");
    let up = curl_upload(&server, Some(&server.editor), &path, "The breakwater at dawn");
    let image = up["data"]["uploadImage"]["image"]["id"].as_str().unwrap().to_owned();
    let hash = up["data"]["uploadImage"]["image"]["contentHash"].as_str().unwrap().to_owned();
    let article = published_article(&server, "Storm damage.");
    place(&server, &article, &image);
    settle(&server);
    assert_eq!(get(&server, &format!("/images/{image}/full/320.jpg"), None).0, 200);
    let id = morgue::store::blobs::BlobId::parse(&hash).unwrap();
    let blobs = server.archive.blobs();
    let data = blobs.dir().parent().unwrap().to_owned();
    assert!(blobs.contains(id));
    assert!(data.join("renditions").join(&hash).exists());

    let erase = "mutation($id: ID!) { eraseImage(input: {id: $id, reason: \"a court ordered it destroyed\"}) { id position } }";
    assert_eq!(server.code(Some(&server.editor), erase, json!({"id": image})), "FORBIDDEN");
    assert!(blobs.contains(id), "a refused erasure destroys nothing");
    let erased = server.ok(Some(&server.admin), erase, json!({"id": image}));
    assert_eq!(erased["eraseImage"]["id"], image.as_str());
    assert_eq!(server.code(Some(&server.admin), erase, json!({"id": image})), "NOT_FOUND");
    settle(&server);

    assert!(!blobs.contains(id), "the blob is destroyed");
    assert!(!data.join("renditions").join(&hash).exists(), "its renditions are destroyed");
    for token in [None, Some(server.editor.as_str())] {
        for p in [
            format!("/images/{image}/original"),
            format!("/images/{image}/full/320.jpg"),
            format!("/images/{image}"),
        ] {
            assert_eq!(get(&server, &p, token).0, 404, "{p}");
        }
        let (_, body) = server.post(
            token,
            "query($i: ID!, $a: ID!) { image(id: $i) { id } article(id: $a) { images { caption } } }",
            json!({"i": image, "a": article}),
        );
        assert!(body["data"]["image"].is_null(), "{body}");
        assert_eq!(body["data"]["article"]["images"], json!([]), "{body}");
        assert!(!body.to_string().contains("breakwater"), "{body}");
    }
    assert!(blobs.verify().unwrap().damaged.is_empty());

    // The same bytes again: a new image, stored again.
    let again = curl_upload(&server, Some(&server.editor), &path, "Again");
    assert_eq!(again["data"]["uploadImage"]["existing"], false, "{again}");
    assert_ne!(again["data"]["uploadImage"]["image"]["id"], image.as_str());
    assert!(blobs.contains(id));
}
