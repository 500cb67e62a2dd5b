//! IPTC ninjs for readers: an article version as the web answers it, and the export of every
//! version readers may see. The format itself is [`crate::transfer::ninjs`]; what a reader may
//! see is decided here by the one rule, [`Archive::may_see`]. The import is [`super::import_ninjs`].

use std::collections::HashMap;
use std::io::Write;

use super::{Archive, Reading, Snapshot};
use crate::Result;
use crate::domain::{Article, ArticleId, Author, AuthorId};
use crate::project::At;
use crate::store::{self, Store};

pub use crate::transfer::ninjs::{MEDIA_TYPE, Ninjs};

impl Archive {
    /// The ninjs object of the article version a reading shows: its bylines named as of the
    /// reading, as the page names them. The caller found `snap` through the reading (so
    /// through [`Archive::may_see`]).
    pub fn ninjs(&self, reading: &Reading, snap: &Snapshot<Article>) -> Result<Ninjs> {
        let mut names = HashMap::new();
        for b in &snap.state.bylines {
            if let Some(author) = self.author(reading, b.author_id)? {
                names.insert(b.author_id, author.state.name);
            }
        }
        Ok(crate::transfer::ninjs::of(&snap.state, |id| names.get(&id).cloned(), snap.recorded_at))
    }
}

/// Writes every version of every article that readers may see, as ninjs JSON Lines: articles
/// in id order, each one's versions oldest first. A version is written when the one rule lets
/// a reader see it, and its article as it stands now (a draft's versions never are), unless it
/// says nothing new (a version that changes nothing ninjs carries). Bylines carry the
/// authors' present names, as a reading of the present shows them. Reads the log alone, so it
/// runs beside a server. `progress(articles)` is called per article. Returns how many objects
/// were written.
pub fn export_ninjs(store: &Store, out: &mut impl Write, mut progress: impl FnMut(u64)) -> Result<u64> {
    let reader = store.reader()?;
    let reading = Reading { at: At::default(), basis: reader.head()?, staff: false };
    let mut names: HashMap<AuthorId, String> = HashMap::new();
    for stream in reader.streams(AuthorId::STREAM_PREFIX)? {
        let Some(id) = AuthorId::from_stream(&stream) else { continue };
        if let Some(author) = fold_author(&reader, id)? {
            names.insert(id, author.name);
        }
    }
    let io = |e: std::io::Error| crate::Error::Store(store::Error::Io(e));
    let (mut written, mut articles) = (0, 0);
    for stream in reader.streams(ArticleId::STREAM_PREFIX)? {
        let Some(id) = ArticleId::from_stream(&stream) else { continue };
        articles += 1;
        progress(articles);
        let (_, present) = fold_article(&reader, id)?;
        if !present.is_some_and(|a| Archive::may_see(&reading, &a)) {
            continue;
        }
        let mut versions: Vec<Snapshot<Article>> = Vec::new();
        let mut state: Option<Article> = None;
        for position in reader.stream_positions(&stream, 1)? {
            let event = reader.event(position?)?;
            let (decoded, meta) = super::decode(&event)?;
            state = Article::apply(state, id, &decoded, meta);
            if let Some(article) = state.as_ref().filter(|a| a.version == event.version) {
                versions.push(Snapshot {
                    state: article.clone(),
                    version: event.version,
                    position: event.position,
                    effective_at: event.effective_at,
                    recorded_at: event.recorded_at,
                });
            }
        }
        // The one rule over the whole history (a schedule called off before its instant was
        // never public), each version as it stands now.
        let seen = Archive::seen_versions(&reading, &versions);
        let now = chrono::Utc::now();
        let mut last: Option<Ninjs> = None;
        for (snap, seen) in versions.into_iter().zip(seen) {
            if !seen {
                continue;
            }
            let article = snap.state.settled(now);
            let ninjs = crate::transfer::ninjs::of(&article, |a| names.get(&a).cloned(), snap.recorded_at);
            if last.as_ref().is_some_and(|l| l.same_content(&ninjs)) {
                continue;
            }
            serde_json::to_writer(&mut *out, &ninjs).map_err(|e| io(e.into()))?;
            out.write_all(b"\n").map_err(io)?;
            written += 1;
            last = Some(ninjs);
        }
    }
    out.flush().map_err(io)?;
    Ok(written)
}

/// An author's present state, folded from the log.
pub(super) fn fold_author(reader: &store::LogReader<'_>, id: AuthorId) -> Result<Option<Author>> {
    let mut state = None;
    for position in reader.stream_positions(&id.stream(), 1)? {
        let (event, meta) = super::decode(&reader.event(position?)?)?;
        state = Author::apply(state, id, &event, meta);
    }
    Ok(state)
}

/// A stream's version and present state, folded from the log.
pub(super) fn fold_article(reader: &store::LogReader<'_>, id: ArticleId) -> Result<(u64, Option<Article>)> {
    let (mut version, mut state) = (0, None);
    for position in reader.stream_positions(&id.stream(), 1)? {
        let (event, meta) = super::decode(&reader.event(position?)?)?;
        version = meta.version;
        state = Article::apply(state, id, &event, meta);
    }
    Ok((version, state))
}
