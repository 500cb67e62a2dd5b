//! An image taken down for legal reasons: from then on no reader gets it at any instant, on
//! any path (bytes, renditions, its page, GraphQL, articles, image search), with 451 and the
//! notice where a status is given; staff still see it; only admins take down and restore.

use serde_json::json;

use crate::images::{curl_upload, fixture, get, later_than, now, place, published_article, settle};
use crate::server::Server;

#[test]
fn a_taken_down_image_reaches_no_reader_at_any_instant_and_staff_keep_it() {
    let server = Server::start();
    let up =
        curl_upload(&server, Some(&server.editor), &fixture("lighthouse.png"), "The quenched nightjar lamp");
    let image = up["data"]["uploadImage"]["image"]["id"].as_str().unwrap().to_owned();
    let article = published_article(&server, "The lamp went out.");
    place(&server, &article, &image);
    let placed = later_than(&now());
    settle(&server);
    let paths = [
        format!("/images/{image}/original"),
        format!("/images/{image}/full/320.jpg"),
        format!("/images/{image}"),
    ];
    for path in &paths {
        assert_eq!(get(&server, path, None).0, 200, "public before the takedown: {path}");
    }

    let take_down = "mutation($id: ID!) { takeDownImage(input: {id: $id, reason: \"court order\", legalReference: \"Case 12/2026\"}) { image { takedown { reason legalReference } } position } }";
    assert_eq!(server.code(None, take_down, json!({"id": image})), "UNAUTHENTICATED");
    assert_eq!(server.code(Some(&server.editor), take_down, json!({"id": image})), "FORBIDDEN");
    let head = server.head();
    let done = server.ok(Some(&server.admin), take_down, json!({"id": image}));
    assert_eq!(done["takeDownImage"]["image"]["takedown"]["legalReference"], "Case 12/2026");
    assert_eq!(server.head(), head + 1);
    assert_eq!(server.code(Some(&server.admin), take_down, json!({"id": image})), "CONFLICT");
    settle(&server);

    // Readers: 451 with the notice, today and as of the instant it was public.
    for path in &paths {
        for at in [None, Some(placed.as_str())] {
            let path = match at {
                Some(t) => format!(
                    "{path}?asOf={}",
                    form_urlencoded::byte_serialize(t.as_bytes()).collect::<String>()
                ),
                None => path.clone(),
            };
            let (status, _, body) = get(&server, &path, None);
            assert_eq!(status, 451, "{path}");
            let body = String::from_utf8_lossy(&body);
            assert!(body.contains("Case 12/2026"), "{path}: the notice names the order: {body}");
            assert!(!body.contains("nightjar"), "{path}: {body}");
        }
    }
    let (_, answer) =
        server.post(None, "query($id: ID!) { image(id: $id) { caption } }", json!({"id": image}));
    assert_eq!(answer["errors"][0]["extensions"]["code"], "UNAVAILABLE_FOR_LEGAL_REASONS", "{answer}");
    assert!(!answer.to_string().contains("nightjar"));
    let read = |token: Option<&str>| {
        let (_, body) = server.post(
            token,
            "query($a: ID!, $at: DateTime) { article(id: $a, asOf: $at) { images { caption } } images(query: \"nightjar\") { id } }",
            json!({"a": article, "at": placed}),
        );
        body
    };
    let reader = read(None);
    assert_eq!(reader["data"]["article"]["images"], json!([]), "{reader}");
    assert_eq!(reader["data"]["images"], json!([]), "{reader}");
    assert!(!reader.to_string().contains("nightjar"));
    // Staff still see it everywhere.
    let staff = read(Some(&server.editor));
    assert_eq!(staff["data"]["article"]["images"][0]["caption"], "The quenched nightjar lamp", "{staff}");
    assert_eq!(get(&server, &paths[0], Some(&server.editor)).0, 200);

    // Restored: readers get it again where it was public, but never the versions under the takedown.
    let restore =
        "mutation($id: ID!) { restoreImage(input: {id: $id, reason: \"order lifted\"}) { position } }";
    assert_eq!(server.code(Some(&server.editor), restore, json!({"id": image})), "FORBIDDEN");
    server.ok(Some(&server.admin), restore, json!({"id": image}));
    assert_eq!(server.code(Some(&server.admin), restore, json!({"id": image})), "CONFLICT");
    settle(&server);
    for path in &paths {
        assert_eq!(get(&server, path, None).0, 200, "restored: {path}");
    }
}
