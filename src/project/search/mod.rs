//! The search index (Tantivy): one document per published version of an article, indexed once,
//! with the window of time in which it was the article's text kept beside it (see `window`), so
//! that "search as of a date" is a test on candidates. The checkpoint travels in each commit's
//! payload: index and checkpoint cannot disagree after a crash.
//!
//! A document for version `v` holds the state after event `v`; its window opens at event `v`
//! (effective instant and log position) and ends at the article's next change. No document is
//! ever deleted, so the term statistics behind every score depend only on the log.

use std::path::Path;
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};

use chrono::{DateTime, Datelike, Utc};
use tantivy::schema::{
    FAST, Facet, FacetOptions, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing,
    TextOptions,
};
use tantivy::tokenizer::{LowerCaser, RawTokenizer, TextAnalyzer};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, TantivyDocument, Term};

mod collect;
pub mod query;
mod read;
mod stats;
mod visible;
mod window;

use window::Closed;

use super::views::Views;
use super::{At, Error, Result};
use crate::Position;
use crate::domain::{Article, ArticleId, AuthorId, StreamKind};
use crate::store::RecordedEvent;

/// What built a search generation (schema and analyzers).
pub const SEARCH_VERSION: &str = "search/5 (en_stem, keyword, published in microseconds, windows beside with their ends, text in the views, placements)";

/// The indexing threads' memory, all together: a segment is written out when it fills. Used
/// only while documents arrive faster than commits (a rebuild, a replica catching up): 256 MiB
/// rather than 64 made a rebuild of 700,000 versions 1.36x faster here, with fewer segments
/// to merge.
pub const INDEXING_MEMORY: usize = 256 << 20;

/// The index's fields.
#[derive(Clone, Copy)]
struct Fields {
    article: Field,
    version: Field,
    headline: Field,
    summary: Field,
    body: Field,
    author: Field,
    author_id: Field,
    section: Field,
    tag: Field,
    /// The placements' own captions and credits (the images' own are joined at query time).
    caption: Field,
    /// The ids of the images the version places.
    image: Field,
    published: Field,
    facets: Field,
    eff_from: Field,
    pos_from: Field,
    closes: Field,
    closes_at: Field,
    public: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer("en_stem")
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    // Text is indexed, not stored: snippets are made from the views, which hold every version.
    let keyword = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default().set_tokenizer("keyword").set_index_option(IndexRecordOption::Basic),
    );
    let fields = Fields {
        article: b.add_text_field("article", STRING | STORED),
        version: b.add_u64_field("version", STORED),
        headline: b.add_text_field("headline", text.clone()),
        summary: b.add_text_field("summary", text.clone()),
        body: b.add_text_field("body", text.clone()),
        author: b.add_text_field("author", text.clone()),
        caption: b.add_text_field("caption", text),
        image: b.add_text_field("image", STRING),
        author_id: b.add_text_field("author_id", STRING),
        section: b.add_text_field("section", keyword.clone()),
        tag: b.add_text_field("tag", keyword),
        // Microseconds since 1970 as a plain i64, not a Tantivy date: its nanosecond dates end
        // in 1677 and 2262, and the archive reads the years 1 to 9999.
        published: b.add_i64_field("published", INDEXED | FAST | STORED),
        facets: b.add_facet_field("facets", FacetOptions::default()),
        // Where the version's window opens, the version whose window this document ends (0 for
        // none) and the instant it ends it at, and whether it is a version's text (1; 2 when
        // it opens at a later instant, a scheduled publication; 3 when it is the text of a
        // change scheduled ahead, which ends the version before at that instant too) or only
        // the mark that the article stopped being public (0).
        eff_from: b.add_i64_field("eff_from", FAST),
        pos_from: b.add_u64_field("pos_from", FAST),
        closes: b.add_u64_field("closes", FAST),
        closes_at: b.add_i64_field("closes_at", FAST),
        public: b.add_u64_field("public", INDEXED | FAST),
    };
    (b.build(), fields)
}

/// How to order hits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Sort {
    /// BM25, headline boosted.
    #[default]
    Relevance,
    /// Newest publication first.
    Date,
}

/// A search.
#[derive(Clone, Debug, Default)]
pub struct SearchRequest {
    /// The reader's query (words, "phrases", AND/OR/-word, `headline:`, `author:`, `section:`).
    pub query: String,
    /// Only this section.
    pub section: Option<String>,
    /// Only articles with this author's byline.
    pub author_id: Option<AuthorId>,
    /// Only articles with this tag.
    pub tag: Option<String>,
    /// Published at or after.
    pub published_from: Option<DateTime<Utc>>,
    /// Published before.
    pub published_to: Option<DateTime<Utc>>,
    /// Hits per page.
    pub first: usize,
    /// Hits to skip.
    pub offset: usize,
    /// Order.
    pub sort: Sort,
    /// When to search at.
    pub at: At,
    /// Skip the facet counts (the caller does not show them): less work on broad queries.
    pub skip_facets: bool,
    /// Skip the snippets (the caller does not show them).
    pub skip_snippets: bool,
    /// Skip counting every match (the caller shows neither a total nor a next page): the top
    /// hits alone let pruning skip most of a broad query's matches.
    pub skip_total: bool,
    /// Versions the read must not see at any instant (their articles are taken down), by
    /// position: left out of hits, counts, facets and instants alike.
    pub hidden: Hidden,
}

/// Positions of versions no read sees, whatever its instant.
#[derive(Clone, Debug, Default)]
pub struct Hidden(pub std::sync::Arc<std::collections::HashSet<u64>>);

/// A matched fragment of a field, matched words in `<mark>`, the rest HTML-escaped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snippet {
    /// `headline`, `summary` or `body`.
    pub field: &'static str,
    /// The fragment.
    pub html: String,
}

/// One hit.
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    /// The article.
    pub article: ArticleId,
    /// The version the hit's text is from.
    pub version: u64,
    /// BM25 score (0 when sorted by date).
    pub score: f32,
    /// Highlighted fragments.
    pub snippets: Vec<Snippet>,
}

/// The answer to a search.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SearchResults {
    /// Matching articles in all (`None` when the request skipped counting).
    pub total: Option<u64>,
    /// This page.
    pub hits: Vec<Hit>,
    /// Counts by section, publication year and author id, over all matches.
    pub sections: Vec<(String, u64)>,
    /// See `sections`.
    pub years: Vec<(String, u64)>,
    /// See `sections`.
    pub authors: Vec<(String, u64)>,
}

struct Writer {
    writer: IndexWriter,
    /// The last position applied (committed or not).
    applied: Position,
    /// Windows ended by what was applied and not yet committed: (version's position, (end's
    /// effective instant in µs, end's position)).
    ended: Vec<(u64, (i64, u64, bool))>,
    /// Each article's last version as applied, so that the next one need not read the version
    /// before it from the views (a read that decodes the whole text). Emptied when it grows
    /// past [`LAST_KEPT`]; what it lacks is read from the views.
    last: std::collections::HashMap<ArticleId, Before>,
}

/// The most articles [`Writer::last`] keeps (about 40 bytes each).
const LAST_KEPT: usize = 1 << 20;

/// What the search index needs of the version before an event: where it opened, whether it was
/// public, and the instant of a change it had scheduled ahead.
#[derive(Clone, Copy)]
struct Before {
    position: Position,
    public: bool,
    next_change: Option<DateTime<Utc>>,
}

impl Before {
    fn of(snap: &super::views::Snapshot<Article>) -> Before {
        Before {
            position: snap.position,
            public: snap.state.public_from().is_some(),
            next_change: snap.state.next_change(),
        }
    }
}

/// What reads see: the last commit's searcher, its checkpoint, and the windows it ended.
struct Served {
    searcher: Searcher,
    /// Where each segment's documents open their windows, in the searcher's order.
    openings: Vec<Arc<window::Openings>>,
    checkpoint: Position,
    closed: Closed,
    /// The documents a read of the present sees: made by the first phrase search after a
    /// commit, not by the commit (most commits are followed by no phrase).
    present: std::sync::OnceLock<visible::Visible>,
}

/// One generation of the search index.
pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    fields: Fields,
    writer: Mutex<Writer>,
    served: RwLock<Served>,
}

impl SearchIndex {
    /// Opens (or creates) a search generation in `dir`.
    pub fn open(dir: &Path) -> Result<SearchIndex> {
        std::fs::create_dir_all(dir)?;
        let (schema, fields) = schema();
        let directory =
            tantivy::directory::MmapDirectory::open(dir).map_err(|e| Error::Io(std::io::Error::other(e)))?;
        let index = match Index::open_or_create(directory.clone(), schema.clone()) {
            Ok(index) => index,
            // An index an older morgue built with another schema: it is derived from the log,
            // so start it again from position 0 rather than refuse to open.
            Err(tantivy::TantivyError::SchemaError(reason)) => {
                tracing::warn!(%reason, dir = %dir.display(), "search index schema changed; rebuilding it from the log");
                drop(directory);
                std::fs::remove_dir_all(dir)?;
                std::fs::create_dir_all(dir)?;
                let directory = tantivy::directory::MmapDirectory::open(dir)
                    .map_err(|e| Error::Io(std::io::Error::other(e)))?;
                Index::create(directory, schema, tantivy::IndexSettings::default())?
            }
            Err(e) => return Err(e.into()),
        };
        index
            .tokenizers()
            .register("keyword", TextAnalyzer::builder(RawTokenizer::default()).filter(LowerCaser).build());
        let checkpoint = match index.load_metas()?.payload {
            Some(payload) => payload
                .split_whitespace()
                .find_map(|w| w.strip_prefix("checkpoint="))
                .and_then(|n| n.parse().ok())
                .map(Position)
                .ok_or_else(|| Error::Corrupt(format!("search commit payload {payload:?}")))?,
            None => Position::ZERO,
        };
        // One indexing thread per core (up to 4) while the projector thread makes documents:
        // measured 1.5x faster rebuilds with 2 threads than 1 on 2 cores (more threads than
        // cores was slower).
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
        let writer = index.writer_with_num_threads(threads, INDEXING_MEMORY)?;
        let reader: IndexReader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        let searcher = reader.searcher();
        let closed = window::closed_in(&searcher)?;
        let openings = window::openings(&searcher, &[])?;
        Ok(SearchIndex {
            index,
            reader,
            fields,
            writer: Mutex::new(Writer {
                writer,
                applied: checkpoint,
                ended: Vec::new(),
                last: Default::default(),
            }),
            served: RwLock::new(Served {
                searcher,
                openings,
                checkpoint,
                closed,
                present: Default::default(),
            }),
        })
    }

    fn served(&self) -> RwLockReadGuard<'_, Served> {
        self.served.read().expect("lock poisoned")
    }

    /// The last position committed (durable and searchable).
    pub fn checkpoint(&self) -> Position {
        self.served().checkpoint
    }

    /// The last position applied, committed or not.
    pub fn applied(&self) -> Position {
        self.writer.lock().expect("lock poisoned").applied
    }

    /// Adds the documents for a batch of consecutive events. `views` must already include them:
    /// documents are made from the views' per-version states.
    pub fn apply(&self, events: &[RecordedEvent], views: &Views) -> Result<()> {
        let mut w = self.writer.lock().expect("lock poisoned");
        let Some(first) = events.first() else { return Ok(()) };
        if first.position != w.applied.next() {
            return Err(Error::Gap { checkpoint: w.applied, next: first.position });
        }
        let reader = views.read()?;
        for event in events {
            w.applied = event.position;
            let Some(StreamKind::Article(id)) = StreamKind::parse(&event.stream) else { continue };
            if crate::domain::events::is_erasure(&event.event_type) {
                // Every document of an erased article goes; a merge or `morgue compact` drops
                // their bytes from the segments.
                w.writer.delete_term(Term::from_field_text(self.fields.article, &id.to_string()));
                w.last.remove(&id);
                continue;
            }
            let Some(now) = reader.article(id, At { as_of: None, basis: Some(event.position) })? else {
                continue;
            };
            if now.position != event.position {
                // The event did not change the article (the fold ignored it).
                continue;
            }
            let before = match w.last.get(&id) {
                Some(before) => Some(*before),
                None => reader
                    .article(id, At { as_of: None, basis: Some(Position(event.position.get() - 1)) })?
                    .map(|b| Before::of(&b)),
            };
            if w.last.len() >= LAST_KEPT {
                w.last.clear();
            }
            w.last.insert(id, Before::of(&now));
            // A change scheduled ahead: the version in effect ends at the change's instant, and
            // the text the change makes opens then. Calling it off ends that text before it
            // opened, and the text in effect goes on from the same instant.
            use crate::domain::events::Ahead;
            let role = Ahead::of(&event.event_type);
            let ahead = match role {
                Some(Ahead::Schedules) => now.state.next_change(),
                Some(Ahead::CallsOff) => before.and_then(|b| b.next_change),
                None => None,
            };
            let now = match (ahead, role) {
                (Some(at), Some(Ahead::Schedules)) => {
                    super::views::Snapshot { state: now.state.clone().settled(at), ..now }
                }
                _ => now,
            };
            // This event ends the previous version's window, if that version was public.
            let closes = before.filter(|b| b.public).map_or(0, |b| b.position.get());
            // It ends when this event took effect, or at the instant of a change scheduled ahead.
            let ends = ahead.unwrap_or(event.effective_at).timestamp_micros();
            if closes != 0 {
                w.ended.push((closes, (ends, event.position.get(), ahead.is_some())));
            }
            if now.state.public_from().is_some() {
                let mut doc = self.document(&reader, &now, closes, ahead)?;
                doc.add_i64(self.fields.closes_at, ends);
                w.writer.add_document(doc)?;
            } else if closes != 0 {
                // No text: only the mark that ends the window, so a restart finds it.
                let mut doc = TantivyDocument::new();
                doc.add_text(self.fields.article, id.to_string());
                doc.add_u64(self.fields.version, now.version);
                doc.add_i64(self.fields.eff_from, now.effective_at.timestamp_micros());
                doc.add_u64(self.fields.pos_from, now.position.get());
                doc.add_u64(self.fields.closes, closes);
                doc.add_i64(self.fields.closes_at, ends);
                doc.add_u64(self.fields.public, 0);
                w.writer.add_document(doc)?;
            }
        }
        Ok(())
    }

    fn document(
        &self,
        views: &super::views::ViewReader<'_>,
        snap: &super::views::Snapshot<Article>,
        closes: u64,
        ahead: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<TantivyDocument> {
        let f = &self.fields;
        let a = &snap.state;
        let mut doc = TantivyDocument::new();
        doc.add_text(f.article, a.id.to_string());
        doc.add_u64(f.version, snap.version);
        doc.add_text(f.headline, &a.headline);
        if let Some(summary) = &a.summary {
            doc.add_text(f.summary, summary);
        }
        doc.add_text(f.body, &a.body);
        doc.add_text(f.section, &a.section);
        doc.add_facet(f.facets, Facet::from_path(["section", a.section.as_str()]));
        for tag in &a.tags {
            doc.add_text(f.tag, tag);
        }
        // Where the version places images: their ids (a `caption:` clause joins them to the
        // images' captions as they stand at the search's instant), and the placements' own
        // captions and credits, which belong to this version.
        for placement in &a.images {
            doc.add_text(f.image, placement.image_id.to_string());
            for text in [&placement.caption, &placement.credit].into_iter().flatten() {
                doc.add_text(f.caption, text);
            }
        }
        // Byline names as they stood when this version was written.
        let at = At { as_of: None, basis: Some(snap.position) };
        for byline in &a.bylines {
            doc.add_text(f.author_id, byline.author_id.to_string());
            doc.add_facet(f.facets, Facet::from_path(["author", byline.author_id.to_string().as_str()]));
            if let Some(author) = views.author(byline.author_id, at)? {
                doc.add_text(f.author, &author.state.name);
            }
        }
        // A scheduled publication opens its window at its instant, not when it was recorded.
        let public_from = a.public_from();
        if let Some(published) = public_from {
            doc.add_i64(f.published, published.timestamp_micros());
            doc.add_facet(f.facets, Facet::from_path(["year", published.year().to_string().as_str()]));
        }
        let (opens, scheduled) = opening(snap, ahead);
        doc.add_i64(f.eff_from, opens.timestamp_micros());
        doc.add_u64(f.pos_from, snap.position.get());
        doc.add_u64(f.closes, closes);
        doc.add_u64(
            f.public,
            if ahead.is_some() {
                3
            } else if scheduled {
                2
            } else {
                1
            },
        );
        Ok(doc)
    }

    /// Commits what was applied, with the checkpoint in the commit payload, and makes it
    /// searchable. Returns the new checkpoint.
    pub fn commit(&self) -> Result<Position> {
        let mut w = self.writer.lock().expect("lock poisoned");
        let applied = w.applied;
        if applied == self.checkpoint() {
            return Ok(applied);
        }
        let mut prepared = w.writer.prepare_commit()?;
        prepared.set_payload(&format!(
            "checkpoint={} built_by={}",
            applied.get(),
            SEARCH_VERSION.replace(' ', "_")
        ));
        prepared.commit()?;
        self.reader.reload()?;
        let searcher = self.reader.searcher();
        let openings = window::openings(&searcher, &self.served().openings)?;
        let mut served = self.served.write().expect("lock poisoned");
        served.closed.extend(w.ended.drain(..));
        served.searcher = searcher;
        served.openings = openings;
        served.present = Default::default();
        served.checkpoint = applied;
        Ok(applied)
    }
}

/// Where a public version's document opens, and whether that lies ahead of its recording: a
/// scheduled publication at its instant, the text a change scheduled ahead makes at the
/// change's instant, any other version when it took effect.
fn opening(
    snap: &super::views::Snapshot<Article>,
    ahead: Option<chrono::DateTime<chrono::Utc>>,
) -> (chrono::DateTime<chrono::Utc>, bool) {
    let a = &snap.state;
    let opens = a.public_from().map_or(snap.effective_at, |p| p.max(snap.effective_at));
    let opens = ahead.map_or(opens, |at| at.max(opens));
    (opens, a.status == crate::domain::ArticleStatus::Draft || ahead.is_some())
}
