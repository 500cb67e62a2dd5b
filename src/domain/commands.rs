//! What editors ask for, and the limits every field must respect.

use serde::Serialize;

use super::Rejection;
use super::ids::{ArticleId, AuthorId};

/// Size limits, in bytes unless said otherwise.
pub mod limits {
    /// An article body.
    pub const BODY: usize = 1 << 20;
    /// A headline.
    pub const HEADLINE: usize = 1024;
    /// A summary.
    pub const SUMMARY: usize = 8 * 1024;
    /// A slug.
    pub const SLUG: usize = 128;
    /// A section name.
    pub const SECTION: usize = 64;
    /// One tag.
    pub const TAG: usize = 64;
    /// Tags on one article (a count).
    pub const TAGS: usize = 32;
    /// A language tag.
    pub const LANGUAGE: usize = 35;
    /// An author's name.
    pub const NAME: usize = 256;
    /// An author's biography.
    pub const BIO: usize = 8 * 1024;
    /// A retraction reason, a correction, a revision note.
    pub const NOTE: usize = 16 * 1024;
    /// A byline role.
    pub const ROLE: usize = 64;
    /// A takedown's legal reference (a court order's number, a case id).
    pub const REFERENCE: usize = 1024;
}

/// A command on an article.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum ArticleCommand {
    /// Start a new article as a draft.
    Draft {
        /// URL name; derived from the headline when absent.
        slug: Option<String>,
        /// Headline.
        headline: String,
        /// Summary.
        summary: Option<String>,
        /// Body.
        body: String,
        /// Section.
        section: String,
        /// Tags.
        tags: Vec<String>,
        /// Language.
        language: Option<String>,
    },
    /// Change some fields.
    Revise {
        /// New headline.
        headline: Option<String>,
        /// New summary.
        summary: Option<String>,
        /// New body.
        body: Option<String>,
        /// New section.
        section: Option<String>,
        /// New tags.
        tags: Option<Vec<String>>,
        /// Why.
        note: Option<String>,
    },
    /// Make it public.
    Publish,
    /// Make it public at a later instant (recorded now, in effect then); again to reschedule.
    Schedule {
        /// When readers see it.
        at: chrono::DateTime<chrono::Utc>,
    },
    /// Call off a scheduled publication before it takes effect.
    Unschedule,
    /// Withdraw it.
    Retract {
        /// Why.
        reason: String,
    },
    /// Append a correction.
    AppendCorrection {
        /// The correction.
        text: String,
    },
    /// Credit an author.
    AddByline {
        /// The author.
        author_id: AuthorId,
        /// Their role.
        role: Option<String>,
    },
    /// Remove an author's credit.
    RemoveByline {
        /// The author.
        author_id: AuthorId,
    },
    /// Hide it from readers at every instant (a court order, a legal demand); staff still
    /// read it.
    TakeDown {
        /// Why.
        reason: String,
        /// The order or demand it follows, when there is one.
        legal_reference: Option<String>,
    },
    /// Undo a takedown: readers see it again as before.
    Restore {
        /// Why.
        reason: Option<String>,
    },
    /// Erase it, or place or release a legal hold.
    Lifecycle(super::Lifecycle),
    /// Place an image in it, or change how it is placed.
    PlaceImage(super::image::Placement),
    /// Take an image out of it.
    RemoveImage {
        /// The image.
        image_id: super::ImageId,
    },
    /// A revision of its text, or a correction, recorded now and taking effect at `at`.
    Later {
        /// When readers see it.
        at: chrono::DateTime<chrono::Utc>,
        /// The change: `Revise` (text only) or `AppendCorrection`.
        change: Box<ArticleCommand>,
    },
}

/// A command on an author.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum AuthorCommand {
    /// Register a new author.
    Register {
        /// Name as printed.
        name: String,
        /// Biography.
        bio: Option<String>,
    },
    /// Change the name from now on.
    Rename {
        /// The new name.
        name: String,
    },
    /// Erase the author, or place or release a legal hold.
    Lifecycle(super::Lifecycle),
}

/// A command and the entity it addresses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Command {
    /// On article `id` (for `Draft`, the id the new article will have).
    Article(ArticleId, ArticleCommand),
    /// On author `id` (for `Register`, the id the new author will have).
    Author(AuthorId, AuthorCommand),
    /// On image `id` (for `Upload`, the id the new image will have).
    Image(super::ImageId, super::ImageCommand),
}

impl Command {
    /// The stream the command writes to.
    pub fn stream(&self) -> String {
        match self {
            Command::Article(id, _) => id.stream(),
            Command::Author(id, _) => id.stream(),
            Command::Image(id, _) => id.stream(),
        }
    }

    /// Whether the command creates its entity.
    pub fn creates(&self) -> bool {
        matches!(
            self,
            Command::Article(_, ArticleCommand::Draft { .. })
                | Command::Author(_, AuthorCommand::Register { .. })
                | Command::Image(_, super::ImageCommand::Upload(_))
        )
    }

    /// The author the command refers to besides its target (a byline's author).
    pub fn referenced_author(&self) -> Option<AuthorId> {
        match self {
            Command::Article(_, ArticleCommand::AddByline { author_id, .. }) => Some(*author_id),
            _ => None,
        }
    }

    /// The image the command refers to besides its target (a placement's image).
    pub fn referenced_image(&self) -> Option<super::ImageId> {
        match self {
            Command::Article(_, ArticleCommand::PlaceImage(p)) => Some(p.image_id),
            _ => None,
        }
    }

    /// Checks every field's shape and size; state is checked later by `decide`.
    pub fn validate(&self) -> Result<(), Rejection> {
        match self {
            Command::Image(_, c) => c.validate(),
            Command::Article(_, c) => match c {
                ArticleCommand::Draft { slug, headline, summary, body, section, tags, language } => {
                    if let Some(slug) = slug {
                        check_slug(slug)?;
                    }
                    required("headline", headline, limits::HEADLINE)?;
                    optional("summary", summary.as_deref(), limits::SUMMARY)?;
                    required("body", body, limits::BODY)?;
                    required("section", section, limits::SECTION)?;
                    check_tags(tags)?;
                    if let Some(language) = language {
                        required("language", language, limits::LANGUAGE)?;
                    }
                    Ok(())
                }
                ArticleCommand::Revise { headline, summary, body, section, tags, note } => {
                    if headline.is_none()
                        && summary.is_none()
                        && body.is_none()
                        && section.is_none()
                        && tags.is_none()
                    {
                        return Err(Rejection::invalid(
                            "input",
                            "a revision must change at least one of headline, summary, body, section, tags",
                        ));
                    }
                    if let Some(h) = headline {
                        required("headline", h, limits::HEADLINE)?;
                    }
                    optional("summary", summary.as_deref(), limits::SUMMARY)?;
                    if let Some(b) = body {
                        required("body", b, limits::BODY)?;
                    }
                    if let Some(s) = section {
                        required("section", s, limits::SECTION)?;
                    }
                    if let Some(tags) = tags {
                        check_tags(tags)?;
                    }
                    optional("note", note.as_deref(), limits::NOTE)
                }
                ArticleCommand::Publish | ArticleCommand::Unschedule => Ok(()),
                ArticleCommand::Schedule { at } => {
                    if crate::store::limits::instant_in_range(*at) {
                        Ok(())
                    } else {
                        Err(Rejection::invalid("effectiveAt", "outside the years 1 to 9999"))
                    }
                }
                ArticleCommand::Retract { reason } => required("reason", reason, limits::NOTE),
                ArticleCommand::AppendCorrection { text } => required("text", text, limits::NOTE),
                ArticleCommand::AddByline { role, .. } => optional("role", role.as_deref(), limits::ROLE),
                ArticleCommand::RemoveByline { .. } | ArticleCommand::RemoveImage { .. } => Ok(()),
                ArticleCommand::PlaceImage(p) => super::image::validate_placement(p),
                ArticleCommand::TakeDown { reason, legal_reference } => {
                    required("reason", reason, limits::NOTE)?;
                    optional("legalReference", legal_reference.as_deref(), limits::REFERENCE)
                }
                ArticleCommand::Restore { reason } => optional("reason", reason.as_deref(), limits::NOTE),
                ArticleCommand::Lifecycle(l) => l.validate(),
                ArticleCommand::Later { at, change } => {
                    if !crate::store::limits::instant_in_range(*at) {
                        return Err(Rejection::invalid("effectiveAt", "outside the years 1 to 9999"));
                    }
                    match &**change {
                        ArticleCommand::Revise { section: Some(_), .. }
                        | ArticleCommand::Revise { tags: Some(_), .. } => Err(Rejection::invalid(
                            "effectiveAt",
                            "only text can be scheduled ahead (headline, summary, body): change section and \
                             tags now",
                        )),
                        ArticleCommand::Revise { .. } | ArticleCommand::AppendCorrection { .. } => {
                            Command::Article(super::ArticleId(ulid::Ulid::nil()), (**change).clone())
                                .validate()
                        }
                        _ => Err(Rejection::invalid(
                            "effectiveAt",
                            "only revisions and corrections can be scheduled",
                        )),
                    }
                }
            },
            Command::Author(_, c) => match c {
                AuthorCommand::Register { name, bio } => {
                    required("name", name, limits::NAME)?;
                    optional("bio", bio.as_deref(), limits::BIO)
                }
                AuthorCommand::Rename { name } => required("name", name, limits::NAME),
                AuthorCommand::Lifecycle(l) => l.validate(),
            },
        }
    }
}

fn size(field: &str, value: &str, limit: usize) -> Result<(), Rejection> {
    if value.len() > limit {
        return Err(Rejection::TooLarge { field: field.to_owned(), size: value.len(), limit });
    }
    Ok(())
}

fn required(field: &str, value: &str, limit: usize) -> Result<(), Rejection> {
    if value.trim().is_empty() {
        return Err(Rejection::invalid(field, "must not be empty"));
    }
    size(field, value, limit)
}

fn optional(field: &str, value: Option<&str>, limit: usize) -> Result<(), Rejection> {
    value.map_or(Ok(()), |v| size(field, v, limit))
}

fn check_tags(tags: &[String]) -> Result<(), Rejection> {
    if tags.len() > limits::TAGS {
        return Err(Rejection::invalid(
            "tags",
            format!("{} tags given, limit is {}", tags.len(), limits::TAGS),
        ));
    }
    tags.iter().try_for_each(|t| required("tags", t, limits::TAG))
}

/// Checks a slug: lowercase ASCII letters, digits and single hyphens, at most 128 bytes.
pub fn check_slug(slug: &str) -> Result<(), Rejection> {
    size("slug", slug, limits::SLUG)?;
    let ok = !slug.is_empty()
        && slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-')
        && !slug.contains("--");
    if ok {
        Ok(())
    } else {
        Err(Rejection::invalid(
            "slug",
            format!("{slug:?} is not a slug: use lowercase letters, digits and single hyphens"),
        ))
    }
}

/// A slug made from a headline: lowercase ASCII words joined by hyphens ("article" if none).
pub fn slugify(headline: &str) -> String {
    let mut slug = String::new();
    for word in headline.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()) {
        if slug.len() + word.len() + 1 > 80 {
            break;
        }
        if !slug.is_empty() {
            slug.push('-');
        }
        slug.push_str(&word.to_ascii_lowercase());
    }
    if slug.is_empty() { "article".to_owned() } else { slug }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn slugify_always_makes_a_valid_slug(headline in "\\PC{0,200}") {
            prop_assert!(check_slug(&slugify(&headline)).is_ok());
        }
    }

    #[test]
    fn oversized_body_names_field_and_limit() {
        let cmd = Command::Article(
            ArticleId::generate(),
            ArticleCommand::Draft {
                slug: None,
                headline: "h".into(),
                summary: None,
                body: "x".repeat(limits::BODY + 1),
                section: "news".into(),
                tags: vec![],
                language: None,
            },
        );
        let err = cmd.validate().expect_err("too large");
        assert_eq!(
            err,
            Rejection::TooLarge { field: "body".into(), size: limits::BODY + 1, limit: limits::BODY }
        );
        assert!(err.to_string().contains("1048576"), "{err}");
    }
}
