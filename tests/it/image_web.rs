//! Images on the web page: the lead image at the top of an article with `srcset`, caption and
//! credit, at the instant read; an image's page with its captions over time and the articles
//! that used it; and the reader rule on both (404 before it was public, 410 once retired).

use serde_json::json;

use crate::images::{
    curl_upload, drafted_article, fixture, get, later_than, now, place, published_article, settle,
};
use crate::server::Server;

fn page(server: &Server, path: &str) -> (u16, String) {
    let (status, _, body) = get(server, path, None);
    (status, String::from_utf8(body).expect("pages are UTF-8"))
}

/// The `srcset` of the first `<img>` after `marker` in `html`, as (url, width) pairs.
fn srcset(html: &str, marker: &str) -> Vec<(String, u32)> {
    let from = html.find(marker).unwrap_or_else(|| panic!("no {marker} in {html}"));
    let rest = &html[from..];
    let start = rest.find("srcset=\"").expect("an img with srcset") + "srcset=\"".len();
    let set = &rest[start..start + rest[start..].find('"').unwrap()];
    set.split(", ")
        .map(|item| {
            let (url, w) = item.rsplit_once(' ').expect("url and width");
            (url.replace("&amp;", "&"), w.trim_end_matches('w').parse().expect("a width"))
        })
        .collect()
}

#[test]
fn the_lead_image_tops_the_article_with_srcset_caption_and_credit_at_the_instant_read() {
    let server = Server::start();
    let up =
        curl_upload(&server, Some(&server.editor), &fixture("sea-wall.png"), "Waves over the quillwort wall");
    let image = up["data"]["uploadImage"]["image"]["id"].as_str().unwrap().to_owned();
    let article = published_article(&server, "The wall held.");
    settle(&server);
    let slug = server.ok(None, "query($id: ID!) { article(id: $id) { slug } }", json!({"id": article}))["article"]
        ["slug"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = later_than(&now());
    place(&server, &article, &image);
    settle(&server);

    let (status, html) = page(&server, &format!("/articles/{slug}"));
    assert_eq!(status, 200);
    assert!(html.contains("<figure class=\"lead\">"), "{html}");
    assert!(html.contains("Waves over the quillwort wall") && html.contains("Morgue staff"), "{html}");
    let lead = html.find("<figure class=\"lead\">").unwrap();
    assert!(lead < html.find("class=\"body\"").unwrap(), "the lead image sits above the text");
    let set = srcset(&html, "<figure class=\"lead\">");
    // The master is 640 pixels wide: 160, 320 and 640, and nothing wider.
    assert_eq!(set.iter().map(|(_, w)| *w).collect::<Vec<_>>(), [160, 320, 640], "{set:?}");
    for (url, width) in &set {
        let (status, _, bytes) = get(&server, url, None);
        assert_eq!(status, 200, "{url}");
        let decoded = image::load_from_memory(&bytes).expect("a picture");
        assert_eq!(decoded.width(), *width, "{url}");
    }

    // Before it was placed, the article had no image, and the image page was not public.
    let (_, then) = page(&server, &format!("/articles/{slug}?asOf={}", urlencode(&before)));
    assert!(!then.contains("<figure"), "{then}");
    assert_eq!(page(&server, &format!("/images/{image}?asOf={}", urlencode(&before))).0, 404);

    // The image page: captions over time, and the article that uses it.
    server.ok(
        Some(&server.editor),
        "mutation($id: ID!) { describeImage(input: {id: $id, caption: \"The wall at the spring tide\"}) { version } }",
        json!({"id": image}),
    );
    settle(&server);
    let (status, image_page) = page(&server, &format!("/images/{image}"));
    assert_eq!(status, 200);
    let old = image_page.find("Waves over the quillwort wall").expect("the first caption");
    let new = image_page.rfind("The wall at the spring tide").expect("the second caption");
    assert!(old < new, "oldest first");
    assert!(image_page.contains("Harbour"), "the article that uses it: {image_page}");
    let (_, now_article) = page(&server, &format!("/articles/{slug}"));
    assert!(now_article.contains("The wall at the spring tide"), "the article shows today's caption");

    // Retired: the image page is gone, and the article no longer shows it.
    server.ok(
        Some(&server.editor),
        "mutation($id: ID!) { retireImage(input: {id: $id}) { version } }",
        json!({"id": image}),
    );
    settle(&server);
    assert_eq!(page(&server, &format!("/images/{image}")).0, 410);
    assert!(!page(&server, &format!("/articles/{slug}")).1.contains("<figure"));
}

#[test]
fn an_image_only_in_a_draft_has_no_page_and_its_caption_never_shows() {
    let server = Server::start();
    let up = curl_upload(&server, Some(&server.editor), &fixture("lighthouse.png"), "The vexillary lamp");
    let image = up["data"]["uploadImage"]["image"]["id"].as_str().unwrap().to_owned();
    let draft = drafted_article(&server, "Unpublished", "Not yet.");
    place(&server, &draft, &image);
    settle(&server);
    let (status, body) = page(&server, &format!("/images/{image}"));
    assert_eq!(status, 404);
    assert!(!body.contains("vexillary"), "{body}");
    for path in ["/", "/?q=lamp", "/timeline"] {
        let (_, body) = page(&server, path);
        assert!(!body.contains("vexillary"), "{path}: {body}");
    }
}

fn urlencode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[test]
fn images_are_found_by_their_captions_credits_and_alt_texts_as_of_the_instant() {
    let server = Server::start();
    let up = curl_upload(
        &server,
        Some(&server.editor),
        &fixture("sea-wall.png"),
        "Spray over the quillwort walls",
    );
    let image = up["data"]["uploadImage"]["image"]["id"].as_str().unwrap().to_owned();
    server.ok(
        Some(&server.editor),
        "mutation($id: ID!) { describeImage(input: {id: $id, alt: \"Grey stones under ptarmigan clouds\"}) { version } }",
        json!({"id": image}),
    );
    let article = published_article(&server, "The wall held.");
    let before = later_than(&now());
    place(&server, &article, &image);
    let placed = later_than(&now());
    settle(&server);

    let find = |query: &str, at: Option<&str>| -> Vec<String> {
        let data = server.ok(
            None,
            "query($q: String!, $at: DateTime) { images(query: $q, asOf: $at) { id } }",
            json!({"q": query, "at": at}),
        );
        data["images"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_owned()).collect()
    };
    // By the caption (stemmed: "wall" finds "walls"), the credit and the alt text.
    for query in ["quillwort", "wall", "ptarmigan", "staff"] {
        assert_eq!(find(query, None), vec![image.clone()], "{query}");
    }
    assert!(find("held", None).is_empty(), "the article's body is not the image's");
    // Before the image was placed it was not public.
    assert!(find("quillwort", Some(&before)).is_empty());
    // A new caption: the old words find it as of then, not now.
    server.ok(
        Some(&server.editor),
        "mutation($id: ID!) { describeImage(input: {id: $id, caption: \"Foam on the breakwater\"}) { version } }",
        json!({"id": image}),
    );
    settle(&server);
    assert!(find("quillwort", None).is_empty());
    assert_eq!(find("breakwater", None), vec![image.clone()]);
    assert_eq!(find("quillwort", Some(&placed)), vec![image.clone()]);

    // An image placed only in a draft is never found by readers.
    let hidden =
        curl_upload(&server, Some(&server.editor), &fixture("lighthouse.png"), "The xylarium beacon");
    let hidden = hidden["data"]["uploadImage"]["image"]["id"].as_str().unwrap().to_owned();
    let draft = drafted_article(&server, "Later", "Not yet.");
    place(&server, &draft, &hidden);
    settle(&server);
    assert!(find("xylarium", None).is_empty());
}

#[test]
fn captions_from_before_an_image_was_public_never_reach_readers_in_its_history() {
    let server = Server::start();
    let up = curl_upload(&server, Some(&server.editor), &fixture("lighthouse.png"), "Suspect quagmirewort");
    let image = up["data"]["uploadImage"]["image"]["id"].as_str().unwrap().to_owned();
    server.ok(
        Some(&server.editor),
        "mutation($id: ID!) { describeImage(input: {id: $id, caption: \"The lamp room\"}) { version } }",
        json!({"id": image}),
    );
    let article = published_article(&server, "The keeper's log.");
    place(&server, &article, &image);
    settle(&server);
    let (status, body) = page(&server, &format!("/images/{image}"));
    assert_eq!(status, 200);
    assert!(body.contains("The lamp room") && !body.contains("quagmirewort"), "{body}");
    let history =
        server.ok(None, "query($id: ID!) { image(id: $id) { history { caption } } }", json!({"id": image}));
    assert_eq!(history["image"]["history"], json!([{"caption": "The lamp room"}]), "{history}");
    let staff = server.ok(
        Some(&server.editor),
        "query($id: ID!) { image(id: $id) { history { caption } } }",
        json!({"id": image}),
    );
    assert_eq!(staff["image"]["history"].as_array().unwrap().len(), 2, "staff see every version");
}
