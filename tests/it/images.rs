//! Images end to end: uploads with curl exactly as the GraphQL multipart request spec shows,
//! identical bytes stored once, hostile files refused with nothing stored, captions and
//! placements at instants before, between and after changes, renditions of the sizes asked,
//! and the reader rule (an image only ever placed in a draft is never served to a reader).

use std::process::Command;

use serde_json::{Value, json};

use crate::server::Server;

const UPLOAD: &str = "mutation($file: Upload!, $caption: String) { uploadImage(input: {file: $file, caption: $caption, credit: \"Morgue staff\"}) { image { id caption width height mediaType contentHash } version position existing } }";

/// Uploads `path` with curl, as the spec's example: `operations`, `map`, then the file.
pub(crate) fn curl_upload(
    server: &Server,
    token: Option<&str>,
    path: &std::path::Path,
    caption: &str,
) -> Value {
    let caption = Some(caption).filter(|c| !c.is_empty());
    let operations = json!({"query": UPLOAD, "variables": {"file": null, "caption": caption}}).to_string();
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", &format!("{}/graphql", server.base)]);
    if let Some(t) = token {
        cmd.args(["-H", &format!("authorization: Bearer {t}")]);
    }
    cmd.args(["-F", &format!("operations={operations}"), "-F", r#"map={"0":["variables.file"]}"#]);
    cmd.args(["-F", &format!("0=@{}", path.display())]);
    let out = cmd.output().expect("curl runs");
    assert!(out.status.success(), "curl failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

fn blob_count(server: &Server) -> usize {
    server.archive.blobs().ids().map(|ids| ids.len()).unwrap_or(0)
}

/// Waits (with a deadline) until the views and the search index hold every write, so that a
/// read's snapshot includes them.
pub(crate) fn settle(server: &Server) {
    server.archive.projections().unwrap().catch_up(std::time::Duration::from_secs(30)).unwrap();
}

pub(crate) fn get(
    server: &Server,
    path: &str,
    token: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    settle(server);
    server.rt.block_on(async {
        let mut req = server.http.get(format!("{}{path}", server.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.unwrap();
        let (status, headers) = (resp.status().as_u16(), resp.headers().clone());
        (status, headers, resp.bytes().await.unwrap().to_vec())
    })
}

pub(crate) fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/images").join(name)
}

/// An article drafted by the editor (never published): its id.
pub(crate) fn drafted_article(server: &Server, headline: &str, body: &str) -> String {
    let data = server.ok(
        Some(&server.editor),
        "mutation($h: String!, $b: String!) { draftArticle(input: {headline: $h, body: $b, section: \"city\"}) { article { id } } }",
        json!({"h": headline, "b": body}),
    );
    data["draftArticle"]["article"]["id"].as_str().unwrap().to_owned()
}

/// An article drafted and published by the editor, headlined "Harbour": its id.
pub(crate) fn published_article(server: &Server, body: &str) -> String {
    let id = drafted_article(server, "Harbour", body);
    server.ok(
        Some(&server.editor),
        "mutation($id: ID!) { publishArticle(input: {id: $id}) { position } }",
        json!({"id": id}),
    );
    id
}

pub(crate) fn place(server: &Server, article: &str, image: &str) -> Value {
    server.ok(
        Some(&server.editor),
        "mutation($a: ID!, $i: ID!) { placeImage(input: {articleId: $a, imageId: $i, role: LEAD}) { article { images { role caption credit image { id } } } position } }",
        json!({"a": article, "i": image}),
    )
}

#[test]
fn curl_uploads_as_the_spec_shows_and_identical_bytes_are_stored_once() {
    let server = Server::start();
    let path = fixture("sea-wall.png");
    let first = curl_upload(&server, Some(&server.editor), &path, "The sea wall at high tide");
    assert!(first.get("errors").is_none(), "{first}");
    let image = &first["data"]["uploadImage"];
    assert_eq!(image["existing"], false);
    assert_eq!((image["image"]["width"].as_i64(), image["image"]["height"].as_i64()), (Some(640), Some(400)));
    assert_eq!(image["image"]["mediaType"], "image/png");
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(image["image"]["contentHash"], blake3::hash(&bytes).to_hex().as_str());
    let head = server.head();
    assert_eq!(blob_count(&server), 1);

    let again = curl_upload(&server, Some(&server.editor), &path, "another caption");
    assert!(again.get("errors").is_none(), "{again}");
    assert_eq!(again["data"]["uploadImage"]["image"]["id"], image["image"]["id"], "the same image answers");
    assert_eq!(again["data"]["uploadImage"]["existing"], true);
    assert_eq!(again["data"]["uploadImage"]["image"]["caption"], "The sea wall at high tide");
    assert_eq!(server.head(), head, "nothing was appended");
    assert_eq!(blob_count(&server), 1, "the bytes are stored once");

    // Readers may not upload.
    let anonymous = curl_upload(&server, None, &fixture("lighthouse.png"), "x");
    assert_eq!(anonymous["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{anonymous}");
    assert_eq!(blob_count(&server), 1);
}

#[test]
fn bad_files_get_bad_input_and_store_nothing() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let picture = morgue::tools::pictures::sea_wall();
    let jpeg = morgue::tools::pictures::jpeg(&picture);
    let png = morgue::tools::pictures::png(&picture);

    let truncated = dir.path().join("truncated.jpg");
    std::fs::write(&truncated, &jpeg[..jpeg.len() / 2]).unwrap();

    // A PNG whose header claims 100,000 × 100,000 pixels.
    let bomb = morgue::tools::pictures::png_claiming(&png, 100_000, 100_000);
    let bomb_path = dir.path().join("bomb.png");
    std::fs::write(&bomb_path, &bomb).unwrap();

    let misnamed = dir.path().join("photo.jpg");
    std::fs::write(&misnamed, &png).unwrap();

    let text = dir.path().join("notes.png");
    std::fs::write(&text, b"not a picture at all").unwrap();

    let head = server.head();
    for path in [&truncated, &bomb_path, &misnamed, &text] {
        let answer = curl_upload(&server, Some(&server.editor), path, "bad");
        assert_eq!(answer["errors"][0]["extensions"]["code"], "BAD_INPUT", "{}: {answer}", path.display());
        assert!(answer["data"].is_null() || answer["data"]["uploadImage"].is_null(), "{answer}");
    }
    assert_eq!(server.head(), head, "the log is untouched");
    assert_eq!(blob_count(&server), 0, "no bytes were stored");
}

pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Polls until the clock has moved past every instant already used (no sleeping).
pub(crate) fn later_than(instant: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let t = now();
        if t.as_str() > instant {
            return t;
        }
        assert!(std::time::Instant::now() < deadline, "the clock did not move");
    }
}

#[test]
fn captions_and_placements_answer_at_instants_before_between_and_after() {
    let server = Server::start();
    let up = curl_upload(&server, Some(&server.editor), &fixture("lighthouse.png"), "The old light");
    let image = up["data"]["uploadImage"]["image"]["id"].as_str().unwrap().to_owned();
    let article = published_article(&server, "The lighthouse was relit.");
    let before_placing = later_than(&now());
    place(&server, &article, &image);
    let placed = later_than(&before_placing);
    server.ok(
        Some(&server.editor),
        "mutation($id: ID!) { describeImage(input: {id: $id, caption: \"The light, relit\"}) { version } }",
        json!({"id": image}),
    );
    let described = later_than(&placed);
    let removed_data = server.ok(
        Some(&server.editor),
        "mutation($a: ID!, $i: ID!) { removeImage(input: {articleId: $a, imageId: $i}) { article { images { caption } } } }",
        json!({"a": article, "i": image}),
    );
    assert_eq!(removed_data["removeImage"]["article"]["images"], json!([]));
    let after = later_than(&described);

    let read = |as_of: &str| {
        server.ok(
            None,
            "query($id: ID!, $at: DateTime) { article(id: $id, asOf: $at) { images { role caption credit image { id caption } } } }",
            json!({"id": article, "at": as_of}),
        )["article"]["images"]
            .clone()
    };
    settle(&server);
    assert_eq!(read(&before_placing), json!([]), "not placed yet");
    let then = read(&placed);
    assert_eq!(then[0]["caption"], "The old light", "{then}");
    assert_eq!(then[0]["role"], "LEAD");
    assert_eq!(then[0]["credit"], "Morgue staff");
    assert_eq!(read(&described)[0]["caption"], "The light, relit");
    assert_eq!(read(&after), json!([]), "removed");

    settle(&server);
    // The image's own history: captions over time, and where it was used, at each instant.
    let history = server.ok(
        None,
        "query($id: ID!, $at: DateTime) { image(id: $id, asOf: $at) { history { caption version } usages { id } } }",
        json!({"id": image, "at": described}),
    );
    let captions: Vec<&str> = history["image"]["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["caption"].as_str().unwrap())
        .collect();
    assert_eq!(captions, ["The old light", "The light, relit"]);
    assert_eq!(history["image"]["usages"][0]["id"], article.as_str());
    // After the removal no published article places it: readers no longer get it.
    let now_image = server.ok(None, "query($id: ID!) { image(id: $id) { id } }", json!({"id": image}));
    assert!(now_image["image"].is_null(), "{now_image}");
    // A placement's own caption wins over the image's.
    server.ok(
        Some(&server.editor),
        "mutation($a: ID!, $i: ID!) { placeImage(input: {articleId: $a, imageId: $i, role: INLINE, caption: \"Here only\"}) { position } }",
        json!({"a": article, "i": image}),
    );
    settle(&server);
    let own = read(&later_than(&after));
    assert_eq!(
        (own[0]["caption"].as_str(), own[0]["image"]["caption"].as_str()),
        (Some("Here only"), Some("The light, relit"))
    );
}

#[test]
fn renditions_are_the_sizes_asked_and_never_wider_than_the_master() {
    let server = Server::start();
    let path = fixture("sea-wall.png");
    let up = curl_upload(&server, Some(&server.editor), &path, "Sea wall");
    let image = up["data"]["uploadImage"]["image"]["id"].as_str().unwrap().to_owned();
    let article = published_article(&server, "The wall held.");
    place(&server, &article, &image);

    let (status, headers, original) = get(&server, &format!("/images/{image}/original"), None);
    assert_eq!(status, 200);
    assert_eq!(original, std::fs::read(&path).unwrap(), "the original, byte for byte");
    assert_eq!(headers["content-type"], "image/png");
    assert!(headers["cache-control"].to_str().unwrap().contains("immutable"));

    for (width, ext, want) in [(320, "jpg", (320, 200)), (160, "webp", (160, 100)), (1280, "jpg", (640, 400))]
    {
        let (status, headers, bytes) = get(&server, &format!("/images/{image}/full/{width}.{ext}"), None);
        assert_eq!(status, 200, "{width}.{ext}");
        let decoded = image::load_from_memory(&bytes).expect("a rendition decodes");
        assert_eq!((decoded.width(), decoded.height()), want, "{width}.{ext}");
        let etag = headers["etag"].to_str().unwrap().to_owned();
        let again = server.rt.block_on(async {
            server
                .http
                .get(format!("{}/images/{image}/full/{width}.{ext}", server.base))
                .header("if-none-match", &etag)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
        assert_eq!(again, 304);
    }
    server.ok(
        Some(&server.editor),
        "mutation($id: ID!) { cropImage(input: {id: $id, crops: [{name: \"square\", x: 100, y: 0, width: 400, height: 400, focalX: 300, focalY: 200}]}) { version } }",
        json!({"id": image}),
    );
    let (status, _, bytes) = get(&server, &format!("/images/{image}/square/320.jpg"), None);
    assert_eq!(status, 200);
    let decoded = image::load_from_memory(&bytes).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (320, 320));
    for bad in ["full/333.jpg", "full/320.gif", "nocrop/320.jpg", "full/320"] {
        assert_eq!(get(&server, &format!("/images/{image}/{bad}"), None).0, 404, "{bad}");
    }
    // A crop outside the image is refused.
    let code = server.code(
        Some(&server.editor),
        "mutation($id: ID!) { cropImage(input: {id: $id, crops: [{name: \"wide\", x: 600, y: 0, width: 100, height: 10, focalX: 601, focalY: 1}]}) { version } }",
        json!({"id": image}),
    );
    assert_eq!(code, "BAD_INPUT");
}

#[test]
fn a_reader_cannot_fetch_an_image_only_ever_placed_in_a_draft() {
    let server = Server::start();
    let up = curl_upload(&server, Some(&server.editor), &fixture("lighthouse.png"), "zanzibarquokka at dusk");
    let image = up["data"]["uploadImage"]["image"]["id"].as_str().unwrap().to_owned();
    let draft = drafted_article(&server, "Unpublished", "Not yet.");
    place(&server, &draft, &image);

    let paths = [
        format!("/images/{image}/original"),
        format!("/images/{image}/full/320.jpg"),
        format!("/images/{image}/full/320.webp"),
    ];
    for path in &paths {
        let (status, _, body) = get(&server, path, None);
        assert_eq!(status, 404, "{path}");
        assert!(!String::from_utf8_lossy(&body).contains("zanzibarquokka"));
        assert_eq!(get(&server, path, Some(&server.editor)).0, 200, "staff see it: {path}");
    }
    settle(&server);
    let read = server.ok(None, "query($id: ID!) { image(id: $id) { caption } }", json!({"id": image}));
    assert!(read["image"].is_null(), "{read}");
    let (_, body) = server.post(None, "{ search(query: \"zanzibarquokka\") { totalCount } }", json!({}));
    assert!(!body.to_string().contains("zanzibarquokka at dusk"), "{body}");

    // Published, the image is public from then on; retired, it is gone.
    server.ok(
        Some(&server.editor),
        "mutation($id: ID!) { publishArticle(input: {id: $id}) { position } }",
        json!({"id": draft}),
    );
    assert_eq!(get(&server, &paths[0], None).0, 200);
    server.ok(
        Some(&server.editor),
        "mutation($id: ID!) { retireImage(input: {id: $id}) { version } }",
        json!({"id": image}),
    );
    for path in &paths {
        assert_eq!(get(&server, path, None).0, 410, "{path}");
    }
    // A retired image cannot be placed again.
    let other = published_article(&server, "Another story.");
    let code = server.code(
        Some(&server.editor),
        "mutation($a: ID!, $i: ID!) { placeImage(input: {articleId: $a, imageId: $i, role: LEAD}) { position } }",
        json!({"a": other, "i": image}),
    );
    assert_eq!(code, "CONFLICT");
}

#[test]
fn the_file_s_own_iptc_and_exif_facts_are_read_iptc_first() {
    use morgue::domain::image::EmbeddedFacts;
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let picture = morgue::tools::pictures::sea_wall();
    let exif = EmbeddedFacts {
        creator: Some("Ada Exifson".into()),
        copyright: Some("(c) 1998 Harbour Camera Club".into()),
        taken_at: Some("1998:07:04 18:30:00".into()),
        caption: Some("exif words".into()),
        credit: None,
    };
    let iptc = EmbeddedFacts {
        creator: Some("Bea Iptcley".into()),
        credit: Some("Harbour Desk".into()),
        taken_at: Some("19980704".into()),
        caption: Some("Breakers on the old wall".into()),
        copyright: None,
    };
    let both = dir.path().join("both.jpg");
    std::fs::write(&both, morgue::tools::pictures::jpeg_with_facts(&picture, &exif, &iptc)).unwrap();
    let exif_only = dir.path().join("exif.jpg");
    std::fs::write(
        &exif_only,
        morgue::tools::pictures::jpeg_with_facts(&picture, &exif, &EmbeddedFacts::default()),
    )
    .unwrap();
    let read = |path: &std::path::Path| {
        let up = curl_upload(&server, Some(&server.editor), path, "");
        let id =
            up["data"]["uploadImage"]["image"]["id"].as_str().unwrap_or_else(|| panic!("{up}")).to_owned();
        settle(&server);
        server.ok(
            Some(&server.editor),
            "query($id: ID!) { image(id: $id) { caption credit rights embedded { creator credit copyright takenAt caption } } }",
            json!({"id": id}),
        )["image"]
            .clone()
    };
    let image = read(&both);
    assert_eq!(
        image["embedded"],
        json!({"creator": "Bea Iptcley", "credit": "Harbour Desk", "copyright": "(c) 1998 Harbour Camera Club",
               "takenAt": "1998-07-04", "caption": "Breakers on the old wall"}),
        "IPTC first, EXIF where IPTC is silent"
    );
    // The file's caption and copyright stand until an editor gives them; the uploader's credit wins.
    assert_eq!(image["caption"], "Breakers on the old wall");
    assert_eq!(image["rights"], "(c) 1998 Harbour Camera Club");
    assert_eq!(image["credit"], "Morgue staff");
    let image = read(&exif_only);
    assert_eq!(
        image["embedded"],
        json!({"creator": "Ada Exifson", "credit": null, "copyright": "(c) 1998 Harbour Camera Club",
               "takenAt": "1998-07-04T18:30:00", "caption": "exif words"})
    );
}
