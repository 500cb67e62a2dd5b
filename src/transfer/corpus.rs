//! Reading the public corpora of `../shared/data` (blogs and PEPs turned into events) as
//! morgue's own import lines: titles become headlines, editors actors, commit subjects revision
//! notes, and each distinct byline name becomes one registered author.

use std::collections::{HashMap, HashSet};
use std::io::BufRead;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::domain::{ArticleId, AuthorId};
use crate::store::Store;

#[derive(Deserialize)]
struct SourceLine {
    stream: String,
    #[serde(rename = "type")]
    event_type: String,
    effective_at: String,
    payload: Value,
}

#[derive(Default)]
struct StreamState {
    version: u64,
    title: [u8; 32],
    body: [u8; 32],
    published: bool,
    bylines: HashSet<String>,
}

/// A deterministic ULID from a name, so re-imports map to the same ids.
fn ulid_of(namespace: &str, name: &str) -> ulid::Ulid {
    let hash = blake3::hash(format!("{namespace}\0{name}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&hash.as_bytes()[..16]);
    ulid::Ulid::from_bytes(bytes)
}

fn slug_of(stream: &str) -> String {
    let mut slug = String::new();
    for c in stream.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-');
    slug.chars().take(120).collect::<String>().trim_end_matches('-').to_owned()
}

fn text(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or_default().to_owned()
}

/// Converts corpus lines to import lines (JSON text), lazily; memory grows only with the number
/// of streams (a few bytes each) and of distinct author names. Authors already in `store` (from
/// another corpus naming the same person) are not registered again.
pub fn lines<'s>(
    input: impl BufRead + 's,
    store: &'s Store,
) -> impl Iterator<Item = std::io::Result<String>> + 's {
    let mut streams: HashMap<String, StreamState> = HashMap::new();
    let mut authors: HashSet<String> = HashSet::new();
    let mut source = input.lines();
    let mut queue: std::collections::VecDeque<String> = Default::default();
    std::iter::from_fn(move || {
        loop {
            if let Some(line) = queue.pop_front() {
                return Some(Ok(line));
            }
            let raw = match source.next()? {
                Ok(raw) => raw,
                Err(e) => return Some(Err(e)),
            };
            if raw.trim().is_empty() {
                continue;
            }
            let src: SourceLine = match serde_json::from_str(&raw) {
                Ok(s) => s,
                Err(e) => return Some(Err(std::io::Error::new(std::io::ErrorKind::InvalidData, e))),
            };
            let article = ArticleId(ulid_of("article", &src.stream));
            let p = &src.payload;
            let actor = text(p, "editor");
            let st = streams.entry(src.stream.clone()).or_default();
            let emit = |queue: &mut std::collections::VecDeque<String>,
                        stream: String,
                        version: u64,
                        t: &str,
                        payload: Value| {
                let mut line = json!({"stream": stream, "version": version, "type": t, "effective_at": src.effective_at, "payload": payload});
                if !actor.is_empty() {
                    line["actor"] = json!(actor);
                }
                queue.push_back(line.to_string());
            };
            let hash = |s: &str| *blake3::hash(s.as_bytes()).as_bytes();
            match src.event_type.as_str() {
                "ArticleDrafted" if st.version == 0 => {
                    let slug = slug_of(&src.stream);
                    let mut title = text(p, "title");
                    if title.trim().is_empty() {
                        title = slug.clone();
                    }
                    let mut body = text(p, "body");
                    if body.trim().is_empty() {
                        body = "(empty)".into();
                    }
                    let mut section = text(p, "section");
                    if section.trim().is_empty() {
                        section = src.stream.split(':').next().unwrap_or("archive").to_owned();
                    }
                    st.version = 1;
                    st.title = hash(&title);
                    st.body = hash(&body);
                    emit(
                        &mut queue,
                        article.stream(),
                        1,
                        "ArticleDrafted",
                        json!({"slug": slug, "headline": title, "body": body, "section": section, "tags": [], "language": "en"}),
                    );
                }
                "ArticleRevised" if st.version > 0 => {
                    let (title, body) = (text(p, "title"), text(p, "body"));
                    let mut payload = serde_json::Map::new();
                    if !title.trim().is_empty() && hash(&title) != st.title {
                        st.title = hash(&title);
                        payload.insert("headline".into(), json!(title));
                    }
                    if !body.trim().is_empty() && hash(&body) != st.body {
                        st.body = hash(&body);
                        payload.insert("body".into(), json!(body));
                    }
                    if payload.is_empty() {
                        continue;
                    }
                    let note: String = text(p, "note").chars().take(1000).collect();
                    if !note.is_empty() {
                        payload.insert("note".into(), json!(note));
                    }
                    st.version += 1;
                    emit(&mut queue, article.stream(), st.version, "ArticleRevised", Value::Object(payload));
                }
                "ArticlePublished" if st.version > 0 && !st.published => {
                    st.published = true;
                    st.version += 1;
                    emit(&mut queue, article.stream(), st.version, "ArticlePublished", json!({}));
                }
                "BylineAdded" if st.version > 0 => {
                    let name = text(p, "name");
                    if name.trim().is_empty() || st.bylines.contains(&name) {
                        continue;
                    }
                    let author = AuthorId(ulid_of("author", &name));
                    let known = || {
                        store.reader().and_then(|r| r.stream_head(&author.stream())).ok().flatten().is_some()
                    };
                    if authors.insert(name.clone()) && !known() {
                        emit(&mut queue, author.stream(), 1, "AuthorRegistered", json!({"name": name}));
                    }
                    st.bylines.insert(name);
                    st.version += 1;
                    emit(
                        &mut queue,
                        article.stream(),
                        st.version,
                        "BylineAdded",
                        json!({"author_id": author.to_string()}),
                    );
                }
                "BylineRemoved" if st.version > 0 => {
                    let name = text(p, "name");
                    if !st.bylines.remove(&name) {
                        continue;
                    }
                    st.version += 1;
                    let author = AuthorId(ulid_of("author", &name));
                    emit(
                        &mut queue,
                        article.stream(),
                        st.version,
                        "BylineRemoved",
                        json!({"author_id": author.to_string()}),
                    );
                }
                _ => continue,
            }
        }
    })
}
