//! Sealing: each stream's payloads are encrypted with a key of that stream's own, so that
//! destroying the key erases the stream's content everywhere the log was copied (crypto-
//! shredding).
//!
//! Keys live in the `keys` table, outside the hash chain: the chain covers the sealed bytes,
//! so a log whose keys are gone still verifies. The cipher is ChaCha20-Poly1305 (`ring`). A
//! key seals one stream only, and the nonce is the event's position, which the log never
//! repeats, so no nonce is stored and a record's sealed bytes are a function of its key,
//! position, stream and payload alone (an export re-sealed on import gives the same chain).

use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};

use crate::Position;

/// Bytes of a stream key.
pub const KEY_LEN: usize = 32;

/// Bytes the seal adds to a payload (the authentication tag).
pub const TAG_LEN: usize = 16;

/// A stream's key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct StreamKey(pub [u8; KEY_LEN]);

impl std::fmt::Debug for StreamKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never printed, so never logged.
        f.write_str("StreamKey(..)")
    }
}

/// Why sealed bytes could not be opened.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the sealed payload does not open with its stream's key (damaged, or sealed elsewhere)")]
pub struct OpenError;

impl StreamKey {
    /// A fresh random key.
    pub fn generate() -> std::io::Result<StreamKey> {
        let mut key = [0; KEY_LEN];
        getrandom::fill(&mut key).map_err(std::io::Error::other)?;
        Ok(StreamKey(key))
    }

    /// A key from stored bytes; `None` unless exactly [`KEY_LEN`] of them.
    pub fn from_slice(bytes: &[u8]) -> Option<StreamKey> {
        bytes.try_into().ok().map(StreamKey)
    }

    fn aead(&self) -> LessSafeKey {
        LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, &self.0).expect("a 32-byte key fits"))
    }

    /// Seals the payload of the event at `position` in `stream`.
    pub fn seal(&self, position: Position, stream: &str, payload: &[u8]) -> Vec<u8> {
        let mut out = payload.to_vec();
        self.aead()
            .seal_in_place_append_tag(nonce(position), Aad::from(stream.as_bytes()), &mut out)
            .expect("a payload under the store's limit seals");
        out
    }

    /// Opens what [`StreamKey::seal`] made for the same position and stream.
    pub fn open(&self, position: Position, stream: &str, sealed: &[u8]) -> Result<Vec<u8>, OpenError> {
        let mut buffer = sealed.to_vec();
        let plain = self
            .aead()
            .open_in_place(nonce(position), Aad::from(stream.as_bytes()), &mut buffer)
            .map_err(|_| OpenError)?;
        let len = plain.len();
        buffer.truncate(len);
        Ok(buffer)
    }
}

fn nonce(position: Position) -> Nonce {
    let mut n = [0; 12];
    n[4..].copy_from_slice(&position.0.to_be_bytes());
    Nonce::assume_unique_for_key(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn sealed_payloads_open_only_where_they_were_sealed(
            payload in proptest::collection::vec(any::<u8>(), 0..400),
            position in 1u64..u64::MAX,
            flip in any::<prop::sample::Index>(),
        ) {
            let key = StreamKey::generate().expect("random");
            let sealed = key.seal(Position(position), "article-1", &payload);
            prop_assert_eq!(sealed.len(), payload.len() + TAG_LEN);
            prop_assert_eq!(key.open(Position(position), "article-1", &sealed), Ok(payload.clone()));
            prop_assert_eq!(key.open(Position(position ^ 1), "article-1", &sealed), Err(OpenError));
            prop_assert_eq!(key.open(Position(position), "article-2", &sealed), Err(OpenError));
            let other = StreamKey::generate().expect("random");
            prop_assert_eq!(other.open(Position(position), "article-1", &sealed), Err(OpenError));
            let mut damaged = sealed.clone();
            let at = flip.index(damaged.len());
            damaged[at] ^= 1;
            prop_assert_eq!(key.open(Position(position), "article-1", &damaged), Err(OpenError));
        }
    }

    #[test]
    fn sealing_hides_the_text_and_is_deterministic() {
        let key = StreamKey::generate().expect("random");
        let text = b"{\"body\":\"zanzibarquokka\"}";
        let a = key.seal(Position(9), "article-x", text);
        assert_eq!(a, key.seal(Position(9), "article-x", text));
        assert!(!a.windows(8).any(|w| w == b"zanzibar"));
        assert!(format!("{key:?}").contains(".."), "keys never print");
    }
}
