//! Sealing: each stream's payloads are encrypted with a key of that stream's own, so that
//! destroying the key erases the stream's content everywhere the log was copied (crypto-
//! shredding).
//!
//! Keys live in the `keys` table, outside the hash chain: the chain covers the sealed bytes,
//! so a log whose keys are gone still verifies. The cipher is ChaCha20-Poly1305 (`ring`). A
//! key seals one stream only. The nonce is synthetic (as in SIV): the first 12 bytes of a
//! BLAKE3 hash keyed with the stream's key over the position and the payload, stored before
//! the ciphertext. So a record's sealed bytes are a function of its key, position, stream and
//! payload alone (an export re-sealed on import gives the same chain), and two different
//! payloads never share a nonce, even where two histories of one log (a restored backup and
//! the log it was taken from) give the same position to different events.

use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};

use crate::Position;

/// Bytes of a stream key.
pub const KEY_LEN: usize = 32;

/// Bytes of the nonce stored before the ciphertext.
pub const NONCE_LEN: usize = 12;

/// Bytes the seal adds to a payload: the nonce and the authentication tag.
pub const SEAL_OVERHEAD: usize = NONCE_LEN + 16;

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

    /// Seals the payload of the event at `position` in `stream`: nonce, then ciphertext and
    /// tag.
    pub fn seal(&self, position: Position, stream: &str, payload: &[u8]) -> Vec<u8> {
        let mut hasher = blake3::Hasher::new_keyed(&self.0);
        hasher.update(&position.0.to_be_bytes()).update(payload);
        let mut nonce = [0; NONCE_LEN];
        nonce.copy_from_slice(&hasher.finalize().as_bytes()[..NONCE_LEN]);
        let mut body = Vec::with_capacity(payload.len() + SEAL_OVERHEAD - NONCE_LEN);
        body.extend_from_slice(payload);
        self.aead()
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad(position, stream).as_slice()),
                &mut body,
            )
            .expect("a payload under the store's limit seals");
        let mut out = Vec::with_capacity(NONCE_LEN + body.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&body);
        out
    }

    /// Opens what [`StreamKey::seal`] made for the same position and stream.
    pub fn open(&self, position: Position, stream: &str, sealed: &[u8]) -> Result<Vec<u8>, OpenError> {
        if sealed.len() < SEAL_OVERHEAD {
            return Err(OpenError);
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| OpenError)?;
        let mut buffer = body.to_vec();
        let plain = self
            .aead()
            .open_in_place(nonce, Aad::from(aad(position, stream).as_slice()), &mut buffer)
            .map_err(|_| OpenError)?;
        let len = plain.len();
        buffer.truncate(len);
        Ok(buffer)
    }
}

/// The associated data: the position (8 bytes, big-endian) and the stream id, so sealed bytes
/// open nowhere but where they were sealed.
fn aad(position: Position, stream: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + stream.len());
    out.extend_from_slice(&position.0.to_be_bytes());
    out.extend_from_slice(stream.as_bytes());
    out
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
            prop_assert_eq!(sealed.len(), payload.len() + SEAL_OVERHEAD);
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
    fn different_payloads_at_one_position_never_share_a_nonce() {
        let key = StreamKey::generate().expect("random");
        let a = key.seal(Position(5), "article-x", b"{\"body\":\"one\"}");
        let b = key.seal(Position(5), "article-x", b"{\"body\":\"two\"}");
        assert_ne!(a[..NONCE_LEN], b[..NONCE_LEN]);
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
