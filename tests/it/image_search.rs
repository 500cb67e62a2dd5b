//! Articles found through their images' captions (issue 18, point 5): a search's `caption:`
//! clause finds the articles whose version at the instant places an image whose caption,
//! credit or alt text held the words then, or whose placement's own caption did. Captions that
//! were never public (an image placed only in a draft, a caption replaced before publication)
//! find nothing, at any instant; hostile clauses get coded errors.

use serde_json::{Value, json};

use crate::images::{
    curl_upload, drafted_article, fixture, later_than, now, place, published_article, settle,
};
use crate::server::Server;

const SEARCH: &str = "query($q: String!, $at: DateTime) { search(query: $q, asOf: $at) { totalCount hits { article { id } } } }";

/// The ids of the articles a reader's search finds at `at` (the present when `None`).
fn found(server: &Server, query: &str, at: Option<&str>) -> Vec<String> {
    settle(server);
    let data = server.ok(None, SEARCH, json!({"q": query, "at": at}));
    let hits = data["search"]["hits"].as_array().unwrap();
    assert_eq!(data["search"]["totalCount"].as_u64(), Some(hits.len() as u64), "{data}");
    hits.iter().map(|h| h["article"]["id"].as_str().unwrap().to_owned()).collect()
}

fn upload(server: &Server, name: &str, caption: &str) -> String {
    let up = curl_upload(server, Some(&server.editor), &fixture(name), caption);
    up["data"]["uploadImage"]["image"]["id"].as_str().unwrap_or_else(|| panic!("{up}")).to_owned()
}

fn describe(server: &Server, image: &str, caption: &str) {
    server.ok(
        Some(&server.editor),
        "mutation($id: ID!, $c: String!) { describeImage(input: {id: $id, caption: $c}) { version } }",
        json!({"id": image, "c": caption}),
    );
}

fn edit(server: &Server, mutation: &str, variables: Value) {
    server.ok(Some(&server.editor), mutation, variables);
}

#[test]
fn caption_clauses_find_articles_through_their_images_as_the_captions_stood() {
    let server = Server::start();
    let image = upload(&server, "lighthouse.png", "Zephyrine beacon at dusk");
    let article = published_article(&server, "The harbour board met on Tuesday.");
    let other = published_article(&server, "Nothing placed here.");
    let before_placing = later_than(&now());
    place(&server, &article, &image);
    let placed = later_than(&before_placing);
    describe(&server, &image, "Quillwort lamp, relit");
    let described = later_than(&placed);
    edit(
        &server,
        "mutation($a: ID!, $i: ID!) { removeImage(input: {articleId: $a, imageId: $i}) { position } }",
        json!({"a": article, "i": image}),
    );
    let removed = later_than(&described);

    let one = vec![article.clone()];
    assert_eq!(found(&server, "caption:zephyrine", Some(&before_placing)), Vec::<String>::new());
    assert_eq!(found(&server, "caption:zephyrine", Some(&placed)), one, "placed, with its first caption");
    assert_eq!(found(&server, "caption:\"zephyrine beacon\"", Some(&placed)), one);
    assert_eq!(found(&server, "caption:zephyrine", Some(&described)), Vec::<String>::new(), "re-captioned");
    assert_eq!(found(&server, "caption:quillwort", Some(&placed)), Vec::<String>::new(), "not yet");
    assert_eq!(found(&server, "caption:quillwort", Some(&described)), one);
    assert_eq!(found(&server, "caption:quillwort", Some(&removed)), Vec::<String>::new(), "removed");
    assert_eq!(found(&server, "caption:quillwort", None), Vec::<String>::new());
    // The clause joins the rest of the query like any other.
    assert_eq!(found(&server, "harbour caption:quillwort", Some(&described)), one);
    assert_eq!(found(&server, "harbour -caption:quillwort", Some(&described)), vec![other.clone()]);
    // Without the field, caption words are not the article's text.
    assert_eq!(found(&server, "quillwort", Some(&described)), Vec::<String>::new());

    // A placement's own caption is the article version's, and is found with it.
    edit(
        &server,
        "mutation($a: ID!, $i: ID!) { placeImage(input: {articleId: $a, imageId: $i, role: INLINE, caption: \"Marigold pier\"}) { position } }",
        json!({"a": other, "i": image}),
    );
    let placed_again = later_than(&removed);
    assert_eq!(found(&server, "caption:marigold", None), vec![other.clone()]);
    assert_eq!(found(&server, "caption:quillwort", None), vec![other.clone()], "and the image's own");
    // Retired, the image's caption finds nothing from then on; the past is unchanged.
    edit(&server, "mutation($id: ID!) { retireImage(input: {id: $id}) { version } }", json!({"id": image}));
    assert_eq!(found(&server, "caption:quillwort", None), Vec::<String>::new(), "retired");
    assert_eq!(found(&server, "caption:quillwort", Some(&placed_again)), vec![other]);
}

#[test]
fn a_caption_never_public_finds_nothing_at_any_instant() {
    let server = Server::start();
    let start = now();
    // Placed only in a draft: the caption's unique word never comes back to a reader.
    let secret = upload(&server, "lighthouse.png", "Velutinous draft caption");
    let draft = drafted_article(&server, "Draft", "Never published.");
    place(&server, &draft, &secret);
    // Placed in a draft and re-captioned before the draft is published.
    let image = upload(&server, "sea-wall.png", "Harrowgate embargoed caption");
    let article = drafted_article(&server, "Sea wall", "Published later.");
    place(&server, &article, &image);
    let draft_era = later_than(&start);
    describe(&server, &image, "Gloaming sea wall");
    edit(
        &server,
        "mutation($id: ID!) { publishArticle(input: {id: $id}) { position } }",
        json!({"id": article}),
    );
    let published = later_than(&draft_era);

    for at in [None, Some(start.as_str()), Some(draft_era.as_str()), Some(published.as_str())] {
        for word in ["velutinous", "harrowgate", "draft"] {
            assert_eq!(
                found(&server, &format!("caption:{word}"), at),
                Vec::<String>::new(),
                "{word} at {at:?}"
            );
        }
    }
    assert_eq!(found(&server, "caption:gloaming", None), vec![article.clone()]);
    assert_eq!(found(&server, "caption:gloaming", Some(&draft_era)), Vec::<String>::new());
    // Taken down, the image's caption finds nothing at any instant, the past included.
    let was_public = later_than(&published);
    server.ok(
        Some(&server.admin),
        "mutation($id: ID!) { takeDownImage(input: {id: $id, reason: \"court order\"}) { position } }",
        json!({"id": image}),
    );
    for at in [None, Some(was_public.as_str())] {
        assert_eq!(found(&server, "caption:gloaming", at), Vec::<String>::new(), "taken down, at {at:?}");
    }
    // Nor does an editor's search, though the editor may read the image: the index holds
    // only versions that were public.
    let staff = server.ok(Some(&server.editor), SEARCH, json!({"q": "caption:velutinous"}));
    assert_eq!(staff["search"]["totalCount"], 0, "{staff}");
}

#[test]
fn hostile_caption_clauses_get_coded_errors() {
    let server = Server::start();
    let code = |q: &str| server.code(None, SEARCH, json!({"q": q}));
    assert_eq!(code("caption:a caption:b caption:c caption:d caption:e"), "LIMIT");
    for bad in ["caption:", "caption: lighthouse", "caption:(a b)", "caption:\"open"] {
        assert_eq!(code(bad), "BAD_INPUT", "{bad}");
    }
    // Four clauses are allowed, quoted text is only text, and the node still answers.
    assert_eq!(found(&server, "caption:a caption:b caption:c caption:d", None), Vec::<String>::new());
    assert_eq!(found(&server, "\"caption:x\"", None), Vec::<String>::new());
}
