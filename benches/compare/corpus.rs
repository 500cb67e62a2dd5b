//! The generated corpus, as every system loads it, and the fixed query mix drawn from it.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

/// One authored event line.
pub struct CorpusEvent {
    pub stream: String,
    pub version: i64,
    pub event_type: String,
    /// RFC 3339, UTC, microseconds: sorts as time does, for SQLite too.
    pub effective_at: String,
    /// The payload's JSON text.
    pub payload: String,
}

/// The corpus and what the measurements need from it.
pub struct Corpus {
    pub events: Vec<CorpusEvent>,
    /// Article stream names (`article-<id>`).
    pub articles: Vec<String>,
    /// Published versions: the documents a search index holds.
    pub documents: u64,
    /// Words by frequency, most frequent first (from the bodies).
    pub words: Vec<String>,
    /// Sections present.
    pub sections: Vec<String>,
    /// Adjacent word pairs seen in bodies, for phrase queries.
    pub phrases: Vec<(String, String)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueryKind {
    /// One word.
    Term,
    /// Two adjacent words in quotes.
    Phrase,
    /// a AND b NOT c.
    Boolean,
    /// One word, one section.
    Filtered,
}

#[derive(Clone, Debug)]
pub struct Query {
    pub kind: QueryKind,
    pub words: Vec<String>,
    pub section: Option<String>,
}

impl Query {
    /// The query in morgue's syntax (Tantivy's parser: AND, NOT as `-`, "phrases").
    pub fn morgue(&self) -> String {
        match self.kind {
            QueryKind::Term | QueryKind::Filtered => self.words[0].clone(),
            QueryKind::Phrase => format!("\"{}\"", self.words.join(" ")),
            QueryKind::Boolean => format!("+{} +{} -{}", self.words[0], self.words[1], self.words[2]),
        }
    }
}

#[derive(serde::Deserialize)]
struct Line {
    stream: String,
    version: i64,
    #[serde(rename = "type")]
    event_type: String,
    effective_at: chrono::DateTime<chrono::Utc>,
    payload: Box<serde_json::value::RawValue>,
}

impl Corpus {
    /// Reads a generated corpus (morgue's import lines).
    pub fn load(path: &Path) -> anyhow::Result<Corpus> {
        let file = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(path)?);
        let mut events = Vec::new();
        let mut articles = Vec::new();
        let mut documents = 0;
        let mut published: HashMap<String, bool> = HashMap::new();
        let mut counts: HashMap<String, u64> = HashMap::new();
        let mut pairs: HashMap<(String, String), u64> = HashMap::new();
        let mut sections = std::collections::BTreeSet::new();
        for line in file.lines() {
            let line: Line = serde_json::from_str(&line?)?;
            let payload = line.payload.get().to_owned();
            if line.stream.starts_with("article-") {
                if line.version == 1 {
                    articles.push(line.stream.clone());
                }
                let is_published = published.entry(line.stream.clone()).or_default();
                *is_published |= line.event_type == "ArticlePublished";
                if *is_published {
                    documents += 1;
                }
                // Vocabulary from the first few thousand bodies is plenty.
                if articles.len() <= 2000 && line.version == 1 {
                    let value: serde_json::Value = serde_json::from_str(&payload)?;
                    if let Some(s) = value["section"].as_str() {
                        sections.insert(s.to_owned());
                    }
                    if let Some(body) = value["body"].as_str() {
                        let words: Vec<String> = body
                            .split(|c: char| !c.is_alphanumeric())
                            .filter(|w| w.len() > 2)
                            .map(str::to_lowercase)
                            .collect();
                        for w in &words {
                            *counts.entry(w.clone()).or_default() += 1;
                        }
                        for p in words.windows(2).step_by(7) {
                            *pairs.entry((p[0].clone(), p[1].clone())).or_default() += 1;
                        }
                    }
                }
            }
            events.push(CorpusEvent {
                stream: line.stream,
                version: line.version,
                event_type: line.event_type,
                effective_at: line.effective_at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
                payload,
            });
        }
        let mut words: Vec<(String, u64)> = counts.into_iter().collect();
        words.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut phrases: Vec<((String, String), u64)> = pairs.into_iter().filter(|p| p.1 >= 2).collect();
        phrases.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        Ok(Corpus {
            events,
            articles,
            documents,
            words: words.into_iter().map(|w| w.0).collect(),
            sections: sections.into_iter().collect(),
            phrases: phrases.into_iter().map(|p| p.0).collect(),
        })
    }

    /// The fixed mix: for each kind, queries over words of high, middle and low frequency.
    pub fn queries(&self) -> Vec<Query> {
        let w = |rank: usize| self.words[rank.min(self.words.len() - 1)].clone();
        let mut out = Vec::new();
        for (i, rank) in [20usize, 200, 2000].into_iter().enumerate() {
            out.push(Query { kind: QueryKind::Term, words: vec![w(rank)], section: None });
            if let Some((a, b)) = self.phrases.get(i * 10) {
                out.push(Query { kind: QueryKind::Phrase, words: vec![a.clone(), b.clone()], section: None });
            }
            out.push(Query {
                kind: QueryKind::Boolean,
                words: vec![w(rank), w(rank + 7), w(rank + 31)],
                section: None,
            });
            out.push(Query {
                kind: QueryKind::Filtered,
                words: vec![w(rank + 3)],
                section: self.sections.get(i % self.sections.len().max(1)).cloned(),
            });
        }
        out
    }
}
