//! Apollo's automatic persisted queries: a client sends only a query's SHA-256
//! (`extensions.persistedQuery.sha256Hash`); a node that does not know it answers
//! `PersistedQueryNotFound` (code `PERSISTED_QUERY_NOT_FOUND`), and the client sends the query
//! with its hash once, which registers it. Over GET and POST alike.
//!
//! The cache is per node, in memory, and bounded in entries and in bytes; the least recently
//! used query goes first. A registering request's hash is checked against its text, so no
//! client can make a hash name another query.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

/// Queries a node keeps by default.
pub const DEFAULT_ENTRIES: usize = 1000;
/// Bytes of query text a node keeps at most, whatever the number of entries.
pub const MAX_BYTES: usize = 32 << 20;
/// The message Apollo's clients look for.
pub const NOT_FOUND: &str = "PersistedQueryNotFound";
/// The code Apollo's clients look for.
pub const NOT_FOUND_CODE: &str = "PERSISTED_QUERY_NOT_FOUND";

/// Why a persisted-query request cannot be run.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The hash is not known here (yet): send the query with it.
    NotFound,
    /// The request is malformed (BAD_INPUT): the message says how.
    Bad(String),
}

struct Entry {
    query: Arc<str>,
    used: u64,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<[u8; 32], Entry>,
    by_use: BTreeMap<u64, [u8; 32]>,
    tick: u64,
    bytes: usize,
}

/// The persisted queries a node knows, by SHA-256.
pub struct Cache {
    capacity: usize,
    inner: Mutex<Inner>,
}

impl Cache {
    /// A cache of at most `capacity` queries (0: persisted queries are refused as not found,
    /// so clients fall back to sending the text).
    pub fn new(capacity: usize) -> Cache {
        Cache { capacity, inner: Mutex::default() }
    }

    /// Queries held now.
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).entries.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The query a request runs: its own text when it has no `persistedQuery` extension;
    /// otherwise the text its hash names, registering the text when the request carries it.
    pub fn resolve(
        &self,
        query: Option<String>,
        extensions: Option<&serde_json::Value>,
    ) -> Result<Option<String>, Refusal> {
        let Some(persisted) = extensions.and_then(|e| e.get("persistedQuery")) else { return Ok(query) };
        let hash = parse(persisted)?;
        match query {
            Some(text) => {
                if Sha256::digest(text.as_bytes()).as_slice() != hash {
                    return Err(Refusal::Bad("provided sha does not match query".into()));
                }
                self.insert(hash, &text);
                Ok(Some(text))
            }
            None => self.get(&hash).map(|q| Some(q.to_string())).ok_or(Refusal::NotFound),
        }
    }

    fn get(&self, hash: &[u8; 32]) -> Option<Arc<str>> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.tick += 1;
        let tick = inner.tick;
        let entry = inner.entries.get_mut(hash)?;
        let (old, query) = (entry.used, entry.query.clone());
        entry.used = tick;
        inner.by_use.remove(&old);
        inner.by_use.insert(tick, *hash);
        Some(query)
    }

    fn insert(&self, hash: [u8; 32], text: &str) {
        if self.capacity == 0 || text.len() > MAX_BYTES / 4 {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if inner.entries.contains_key(&hash) {
            return;
        }
        while inner.entries.len() >= self.capacity || inner.bytes + text.len() > MAX_BYTES {
            let Some((_, oldest)) = inner.by_use.pop_first() else { break };
            if let Some(gone) = inner.entries.remove(&oldest) {
                inner.bytes -= gone.query.len();
            }
        }
        inner.tick += 1;
        let tick = inner.tick;
        inner.bytes += text.len();
        inner.by_use.insert(tick, hash);
        inner.entries.insert(hash, Entry { query: Arc::from(text), used: tick });
    }
}

/// The hash a `persistedQuery` extension names: version 1, 64 hexadecimal digits.
fn parse(persisted: &serde_json::Value) -> Result<[u8; 32], Refusal> {
    let bad = |m: &str| Refusal::Bad(m.to_owned());
    let object = persisted.as_object().ok_or_else(|| bad("`persistedQuery` must be an object"))?;
    if object.get("version").and_then(|v| v.as_i64()) != Some(1) {
        return Err(bad("Unsupported persisted query version: only version 1 is supported"));
    }
    let hex = object
        .get("sha256Hash")
        .and_then(|h| h.as_str())
        .ok_or_else(|| bad("`persistedQuery.sha256Hash` must be a string"))?;
    let digits = hex.as_bytes();
    if digits.len() != 64 {
        return Err(bad("`persistedQuery.sha256Hash` must be 64 hexadecimal digits"));
    }
    let mut hash = [0u8; 32];
    for (i, pair) in digits.chunks(2).enumerate() {
        let text = std::str::from_utf8(pair).map_err(|_| bad("`sha256Hash` is not hexadecimal"))?;
        hash[i] = u8::from_str_radix(text, 16).map_err(|_| bad("`sha256Hash` is not hexadecimal"))?;
    }
    Ok(hash)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn hash_of(q: &str) -> String {
        Sha256::digest(q.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
    }

    fn ext(q: &str) -> serde_json::Value {
        json!({"persistedQuery": {"version": 1, "sha256Hash": hash_of(q)}})
    }

    #[test]
    fn unknown_then_registered_then_found() {
        let cache = Cache::new(10);
        let q = "{ a }";
        assert_eq!(cache.resolve(None, Some(&ext(q))), Err(Refusal::NotFound));
        assert_eq!(cache.resolve(Some(q.into()), Some(&ext(q))), Ok(Some(q.into())));
        assert_eq!(cache.resolve(None, Some(&ext(q))), Ok(Some(q.into())));
    }

    #[test]
    fn a_hash_cannot_name_another_query() {
        let cache = Cache::new(10);
        let r = cache.resolve(Some("{ b }".into()), Some(&ext("{ a }")));
        assert!(matches!(r, Err(Refusal::Bad(_))));
        assert_eq!(cache.resolve(None, Some(&ext("{ a }"))), Err(Refusal::NotFound));
    }

    #[test]
    fn the_least_recently_used_goes_first() {
        let cache = Cache::new(2);
        for q in ["{ a }", "{ b }"] {
            cache.resolve(Some(q.into()), Some(&ext(q))).unwrap();
        }
        cache.resolve(None, Some(&ext("{ a }"))).unwrap();
        cache.resolve(Some("{ c }".into()), Some(&ext("{ c }"))).unwrap();
        assert_eq!(cache.len(), 2);
        assert!(cache.resolve(None, Some(&ext("{ a }"))).is_ok());
        assert_eq!(cache.resolve(None, Some(&ext("{ b }"))), Err(Refusal::NotFound));
    }

    #[test]
    fn malformed_extensions_are_bad_input() {
        let cache = Cache::new(2);
        for e in [
            json!({"persistedQuery": 1}),
            json!({"persistedQuery": {"version": 2, "sha256Hash": hash_of("{ a }")}}),
            json!({"persistedQuery": {"version": 1, "sha256Hash": "zz"}}),
            json!({"persistedQuery": {"version": 1, "sha256Hash": "é".repeat(32)}}),
        ] {
            assert!(matches!(cache.resolve(None, Some(&e)), Err(Refusal::Bad(_))), "{e}");
        }
    }
}

#[cfg(test)]
mod hostile {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any `persistedQuery` value, with or without a text, is run, refused as unknown, or
        /// refused as bad input: never a panic, and never a text its hash does not name.
        #[test]
        fn any_extension_is_answered(version in any::<i64>(), hash in ".{0,80}", text in proptest::option::of(".{0,40}")) {
            let cache = Cache::new(4);
            let ext = serde_json::json!({"persistedQuery": {"version": version, "sha256Hash": hash}});
            match cache.resolve(text.clone(), Some(&ext)) {
                Ok(Some(q)) => {
                    let digest: String = Sha256::digest(q.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
                    prop_assert_eq!(Some(q), text);
                    prop_assert_eq!(digest, hash.to_ascii_lowercase());
                }
                Ok(None) => prop_assert!(false, "a persisted request always names a query or is refused"),
                Err(Refusal::NotFound) => prop_assert!(text.is_none()),
                Err(Refusal::Bad(_)) => {}
            }
        }
    }
}
