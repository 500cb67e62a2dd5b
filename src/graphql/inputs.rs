//! The input objects of the mutations: each with its fields, and the write options every
//! mutation takes (`expectedVersion`, `effectiveAt`, `idempotencyKey`).

use async_graphql::{ID, InputObject};

use super::scalars::Instant;

macro_rules! inputs {
    ($($(#[$doc:meta])* $name:ident { $($(#[$fdoc:meta])* $field:ident : $ty:ty),* $(,)? })*) => {$(
        $(#[$doc])*
        #[derive(InputObject)]
        pub struct $name {
            $($(#[$fdoc])* pub $field: $ty,)*
            /// The stream version you based this on (the `version` you read); a mismatch is a
            /// CONFLICT with the actual one in `extensions.actualVersion`. Omit to write on
            /// whatever the current version is.
            pub expected_version: Option<i32>,
            /// When the change took effect (imports of old content); default: now. BAD_INPUT if
            /// in the future (except in `publishArticle`, where a future instant schedules the
            /// publication), before the previous change to the same article or author, or
            /// outside the years 1 to 9999.
            pub effective_at: Option<Instant>,
            /// Makes retries safe: the same key and input answer the first write again (nothing
            /// new is written); the same key with other input is a CONFLICT. Not empty, at
            /// most 240 bytes (BAD_INPUT otherwise).
            pub idempotency_key: Option<String>,
        }
    )*};
}

inputs! {
    /// Register an author.
    RegisterAuthorInput {
        /// The name as printed in bylines: not blank, at most 256 bytes (trimmed).
        name: String,
        /// A short biography, at most 8 KiB.
        bio: Option<String>,
    }
    /// Rename an author from now on.
    RenameAuthorInput {
        /// The author's id.
        id: ID,
        /// The new name: not blank, at most 256 bytes (trimmed), different from the current one.
        name: String,
    }
    /// Draft a new article.
    DraftArticleInput {
        /// The URL name: lowercase letters, digits and single hyphens, at most 128 bytes; a
        /// CONFLICT if another article has it. Default: made from the headline, with a numeric
        /// suffix if taken.
        slug: Option<String>,
        /// The headline, plain text: not blank, at most 1 KiB.
        headline: String,
        /// A standfirst, plain text, at most 8 KiB.
        summary: Option<String>,
        /// The text, Markdown: not blank, at most 1 MiB.
        body: String,
        /// The desk or section (`politics`, `science`): not blank, at most 64 bytes.
        section: String,
        /// Free tags: at most 32, each not blank and at most 64 bytes. Default: none.
        tags: Option<Vec<String>>,
        /// A language tag (`en`), at most 35 bytes.
        language: Option<String>,
    }
    /// Change an article's text or classification: give at least one of headline, summary,
    /// body, section and tags, and at least one must differ from the current value.
    ReviseArticleInput {
        /// The article's id.
        id: ID,
        /// The new headline (not blank, at most 1 KiB); omit to keep it.
        headline: Option<String>,
        /// The new standfirst (at most 8 KiB); omit to keep it.
        summary: Option<String>,
        /// The new text, Markdown (not blank, at most 1 MiB); omit to keep it.
        body: Option<String>,
        /// The new section (not blank, at most 64 bytes); omit to keep it.
        section: Option<String>,
        /// The new tags, the whole list (at most 32); omit to keep them.
        tags: Option<Vec<String>>,
        /// Why: the editor's note, shown as the revision's `note` (at most 16 KiB).
        note: Option<String>,
    }
    /// Publish a draft.
    PublishArticleInput {
        /// The article's id.
        id: ID,
    }
    /// Call off a scheduled publication.
    UnscheduleArticleInput {
        /// The article's id.
        id: ID,
    }
    /// Retract a published article.
    RetractArticleInput {
        /// The article's id.
        id: ID,
        /// Why it is withdrawn, shown as `retractionReason`: not blank, at most 16 KiB.
        reason: String,
    }
    /// Take an article down: no reader sees any version of it, at any instant; staff still do.
    TakeDownArticleInput {
        /// The article's id.
        id: ID,
        /// Why (for staff, in the article's history): not blank, at most 16 KiB.
        reason: String,
        /// The order or demand it follows (a court order's number), shown to readers in the
        /// notice: at most 1 KiB.
        legal_reference: Option<String>,
    }
    /// Undo a takedown: readers see the article again, as before it.
    RestoreArticleInput {
        /// The article's id.
        id: ID,
        /// Why (for staff, in the article's history): at most 16 KiB.
        reason: Option<String>,
    }
    /// Append a correction to a published article.
    AppendCorrectionInput {
        /// The article's id.
        id: ID,
        /// The correction as printed: not blank, at most 16 KiB.
        text: String,
    }
    /// Credit an author on an article.
    AddBylineInput {
        /// The article's id.
        article_id: ID,
        /// The author to credit (registered, or NOT_FOUND).
        author_id: ID,
        /// Their role, free text (`reporter`, `photographer`), at most 64 bytes.
        role: Option<String>,
    }
    /// Remove an author's credit.
    RemoveBylineInput {
        /// The article's id.
        article_id: ID,
        /// The author whose credit is removed.
        author_id: ID,
    }
}
