//! A deterministic generator of archives for benchmarks and load: English-like text (a
//! pseudo-word vocabulary sampled by a Zipf law), authors, sections, bylines, revisions and
//! publication dates spread over 1851–2026, written as morgue's import lines.

use std::io::Write;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::json;

use crate::domain::{ArticleId, AuthorId};

/// What to generate.
#[derive(Clone, Debug)]
pub struct Spec {
    /// Articles.
    pub articles: u64,
    /// Revisions per article.
    pub revisions: u32,
    /// Authors (at least 1).
    pub authors: u64,
    /// Seed: the same seed gives the same file.
    pub seed: u64,
    /// Shortest and longest body, in words.
    pub words: (usize, usize),
}

/// A small, fast, seedable generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Pseudo-words ranked by frequency, and their cumulative Zipf weights.
struct Vocabulary {
    words: Vec<String>,
    cumulative: Vec<f64>,
}

impl Vocabulary {
    fn new(rng: &mut Rng, size: usize) -> Vocabulary {
        const ONSETS: [&str; 20] = [
            "b", "c", "d", "f", "g", "h", "l", "m", "n", "p", "r", "s", "t", "v", "w", "st", "tr", "br",
            "sh", "ch",
        ];
        const VOWELS: [&str; 8] = ["a", "e", "i", "o", "u", "ea", "ai", "ou"];
        const CODAS: [&str; 10] = ["", "n", "r", "s", "t", "l", "nd", "rt", "ck", "ng"];
        let mut seen = std::collections::HashSet::new();
        let mut words = Vec::with_capacity(size);
        while words.len() < size {
            // Frequent words are short, as in English.
            let syllables = 1 + (words.len() > 200) as u64 + (words.len() > 3000) as u64 + rng.below(2);
            let mut w = String::new();
            for _ in 0..syllables {
                w.push_str(ONSETS[rng.below(20) as usize]);
                w.push_str(VOWELS[rng.below(8) as usize]);
                w.push_str(CODAS[rng.below(10) as usize]);
            }
            if seen.insert(w.clone()) {
                words.push(w);
            }
        }
        let mut total = 0.0;
        let cumulative = (1..=size)
            .map(|rank| {
                total += 1.0 / (rank as f64).powf(1.07);
                total
            })
            .collect();
        Vocabulary { words, cumulative }
    }

    fn word(&self, rng: &mut Rng) -> &str {
        let target = rng.unit() * self.cumulative.last().copied().unwrap_or(1.0);
        let i = self.cumulative.partition_point(|c| *c < target).min(self.words.len() - 1);
        &self.words[i]
    }

    fn sentence(&self, rng: &mut Rng, words: usize) -> String {
        let mut s = String::new();
        for i in 0..words {
            if i > 0 {
                s.push(' ');
            }
            let w = self.word(rng);
            if i == 0 {
                let mut c = w.chars();
                if let Some(first) = c.next() {
                    s.extend(first.to_uppercase());
                    s.push_str(c.as_str());
                }
            } else {
                s.push_str(w);
            }
        }
        s
    }

    fn body(&self, rng: &mut Rng, words: usize) -> String {
        let mut out = String::with_capacity(words * 7);
        let mut written = 0;
        while written < words {
            let n = (8 + rng.below(18) as usize).min(words - written);
            out.push_str(&self.sentence(rng, n));
            out.push('.');
            written += n;
            out.push_str(if rng.below(6) == 0 { "\n\n" } else { " " });
        }
        out.trim_end().to_owned()
    }
}

fn id_from(seed: u64, kind: &str, n: u64) -> ulid::Ulid {
    let hash = blake3::hash(format!("{seed}/{kind}/{n}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&hash.as_bytes()[..16]);
    ulid::Ulid::from_bytes(bytes)
}

/// Writes the archive; returns how many events (lines) were written.
pub fn generate(spec: &Spec, out: &mut impl Write) -> std::io::Result<u64> {
    let mut rng = Rng(spec.seed);
    let vocab = Vocabulary::new(&mut rng, 20_000);
    let sections = ["city", "politics", "science", "sport", "culture", "business", "world", "weather"];
    let start: DateTime<Utc> = Utc.with_ymd_and_hms(1851, 1, 1, 0, 0, 0).single().expect("a valid date");
    let span_days = 175 * 365;
    let mut lines = 0u64;
    let mut line = |out: &mut dyn Write, v: serde_json::Value| -> std::io::Result<()> {
        serde_json::to_writer(&mut *out, &v)?;
        out.write_all(b"\n")?;
        lines += 1;
        Ok(())
    };
    let authors: Vec<AuthorId> =
        (0..spec.authors.max(1)).map(|n| AuthorId(id_from(spec.seed, "author", n))).collect();
    for (n, author) in authors.iter().enumerate() {
        let name = format!("{} {}", vocab.sentence(&mut rng, 1), vocab.sentence(&mut rng, 1));
        line(
            out,
            json!({"stream": author.stream(), "version": 1, "type": "AuthorRegistered",
            "effective_at": start + Duration::minutes(n as i64), "actor": "generator", "payload": {"name": name}}),
        )?;
    }
    for n in 0..spec.articles {
        let id = ArticleId(id_from(spec.seed, "article", n));
        let stream = id.stream();
        let mut at =
            start + Duration::days(rng.below(span_days) as i64) + Duration::minutes(rng.below(1440) as i64);
        let (lo, hi) = spec.words;
        let length = lo + ((rng.unit() * rng.unit()) * (hi.saturating_sub(lo)) as f64) as usize;
        let mut body = vocab.body(&mut rng, length.max(1));
        let n_words = 6 + rng.below(5) as usize;
        let headline = vocab.sentence(&mut rng, n_words);
        let mut version = 1;
        let section = sections[rng.below(sections.len() as u64) as usize];
        line(
            out,
            json!({"stream": stream, "version": version, "type": "ArticleDrafted", "effective_at": at, "actor": "generator",
            "payload": {"slug": format!("a{n}-{}", headline.to_lowercase().split(' ').take(4).collect::<Vec<_>>().join("-")),
                "headline": headline, "body": body, "section": section, "tags": [vocab.word(&mut rng)], "language": "en"}}),
        )?;
        let bylines = 1 + rng.below(2);
        let mut credited = Vec::new();
        for _ in 0..bylines {
            let author = authors[rng.below(authors.len() as u64) as usize];
            if credited.contains(&author) {
                continue;
            }
            credited.push(author);
            version += 1;
            line(
                out,
                json!({"stream": stream, "version": version, "type": "BylineAdded", "effective_at": at, "actor": "generator",
                "payload": {"author_id": author.to_string(), "role": "reporter"}}),
            )?;
        }
        at += Duration::hours(1 + rng.below(48) as i64);
        version += 1;
        line(
            out,
            json!({"stream": stream, "version": version, "type": "ArticlePublished", "effective_at": at, "actor": "generator", "payload": {}}),
        )?;
        for r in 0..spec.revisions {
            at += Duration::hours(1 + rng.below(24 * 30) as i64);
            // Rewrite a sentence-sized span somewhere in the body.
            let words: Vec<&str> = body.split(' ').collect();
            let from = rng.below(words.len() as u64) as usize;
            let to = (from + 5 + rng.below(20) as usize).min(words.len());
            let n_words = 5 + rng.below(20) as usize;
            let replacement = vocab.sentence(&mut rng, n_words).to_lowercase();
            let new_body =
                [words[..from].join(" "), replacement, words[to..].join(" ")].join(" ").trim().to_owned();
            if new_body == body {
                continue;
            }
            body = new_body;
            version += 1;
            line(
                out,
                json!({"stream": stream, "version": version, "type": "ArticleRevised", "effective_at": at, "actor": "generator",
                "payload": {"body": body, "note": format!("revision {}", r + 1)}}),
            )?;
        }
    }
    out.flush()?;
    Ok(lines)
}
