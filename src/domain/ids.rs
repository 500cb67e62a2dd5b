//! Identifiers of authors and articles, and the streams they name.
//!
//! Ids are ULIDs: time-sortable, so streams created later sort later.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use ulid::Ulid;

macro_rules! id_type {
    ($name:ident, $prefix:literal, $what:literal) => {
        #[doc = concat!("The id of ", $what, ": a ULID; its stream is `", $prefix, "-<id>`.")]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Ulid);

        impl $name {
            /// The prefix of this kind's stream ids.
            pub const STREAM_PREFIX: &'static str = concat!($prefix, "-");

            /// A fresh id.
            pub fn generate() -> Self {
                $name(Ulid::new())
            }

            /// The id of the stream that holds this entity's events.
            pub fn stream(&self) -> String {
                format!("{}{}", Self::STREAM_PREFIX, self.0)
            }

            /// The id named by a stream id of this kind.
            pub fn from_stream(stream: &str) -> Option<Self> {
                stream.strip_prefix(Self::STREAM_PREFIX)?.parse().ok()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = ulid::DecodeError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ulid::from_string(s.trim()).map($name)
            }
        }
    };
}

id_type!(ArticleId, "article", "an article");
id_type!(AuthorId, "author", "an author");
id_type!(ImageId, "image", "an image");

/// What a stream id names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamKind {
    /// `article-<id>`.
    Article(ArticleId),
    /// `author-<id>`.
    Author(AuthorId),
    /// `image-<id>`.
    Image(ImageId),
}

impl StreamKind {
    /// Parses a stream id; `None` for streams morgue does not define.
    pub fn parse(stream: &str) -> Option<StreamKind> {
        ArticleId::from_stream(stream)
            .map(StreamKind::Article)
            .or_else(|| AuthorId::from_stream(stream).map(StreamKind::Author))
            .or_else(|| ImageId::from_stream(stream).map(StreamKind::Image))
    }

    /// The stream id.
    pub fn stream(&self) -> String {
        match self {
            StreamKind::Article(id) => id.stream(),
            StreamKind::Author(id) => id.stream(),
            StreamKind::Image(id) => id.stream(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_round_trip_and_do_not_mix() {
        let a = ArticleId::generate();
        assert_eq!(ArticleId::from_stream(&a.stream()), Some(a));
        assert_eq!(AuthorId::from_stream(&a.stream()), None);
        assert_eq!(StreamKind::parse(&a.stream()), Some(StreamKind::Article(a)));
        assert_eq!(StreamKind::parse("article-nope"), None);
    }
}
