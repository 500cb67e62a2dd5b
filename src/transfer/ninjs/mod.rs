//! IPTC ninjs 3 ("News in JSON", the news industry's JSON for news items): one version of an
//! article as a ninjs object, and a ninjs object read back as the article it describes. Pure:
//! it knows the domain's article and nothing of the log, the views or who reads. Which
//! versions a reader gets, and how an imported one is written, is the archive's business.
//!
//! The mapping. ninjs 3 spells its fields in camelCase (`versionCreated`, `pubStatus`: ninjs
//! 1's `versioncreated`, `pubstatus`), and its schema admits no other field.
//!
//! | ninjs | from |
//! |---|---|
//! | `uri` | `urn:morgue:article:<id>`: the same for every version, on every node |
//! | `type`, `representationType` | `text`, `full` |
//! | `version` | the stream version, as a string |
//! | `firstCreated` | valid time: when the article was first published (a draft: when drafted) |
//! | `contentCreated` | valid time: when this version took effect |
//! | `versionCreated` | transaction time: when this version was recorded in the log |
//! | `pubStatus` | `usable` (published), `withheld` (a draft: staff only), `canceled` (retracted) |
//! | `language`, `slugline` | the article's language (when it has one) and its slug |
//! | `headlines` | the headline, `role: main` |
//! | `descriptions` | the summary (`role: summary`); each correction, oldest first (`role: correction`; its date is the `contentCreated` of the first version that lists it); the retraction notice (`role: retraction`) |
//! | `bodies` | the body's Markdown source, exactly as stored (`role: main`, `contentType: text/markdown`) |
//! | `by` | the bylines' names, joined by `, ` |
//! | `people` | one per byline, in order: `name`, `uri` (`urn:morgue:author:<id>`), and `rel`, the byline's role when it has one |
//! | `subjects` | the section (`rel: section`), then each tag (`rel: tag`) |
//! | `standard` | ninjs 3.1 and its schema's URI |
//!
//! Read back ([`parse`]), a line needs `uri`, a headline, a body, a section and one instant.
//! Any other `uri` than morgue's names an article by a hash of it, so importing the same item
//! again finds the same article. Without `people`, `by` names one byline. `firstCreated` falls
//! back to `contentCreated`, and that to `versionCreated`. `pubStatus` defaults to `usable`.
//! Fields morgue has no place for are ignored.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::domain::{Article, ArticleStatus, AuthorId};

mod read;

pub use read::{Incoming, IncomingByline, article_id, parse};

/// The media type of a ninjs object (`Accept`, `Content-Type`).
pub const MEDIA_TYPE: &str = "application/ninjs+json";
/// The prefix of an article's `uri`.
pub const ARTICLE_URN: &str = "urn:morgue:article:";
/// The prefix of an author's `uri` in `people`.
pub const AUTHOR_URN: &str = "urn:morgue:author:";
/// The schema the objects are written for.
pub const SCHEMA_URI: &str = "https://www.iptc.org/std/ninjs/ninjs-schema_3.1.json";
/// Entries read from one array of a line (descriptions, people, subjects, ...).
pub const MAX_ENTRIES: usize = 256;
/// Bytes of a `uri` or a `version` read.
pub const MAX_URI: usize = 2048;

/// One article version as a ninjs 3.1 object (fields in the schema's order).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)] // each field is the ninjs field of its name; the module's table maps them
pub struct Ninjs {
    pub uri: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub representation_type: &'static str,
    pub version: String,
    pub first_created: String,
    pub version_created: String,
    pub content_created: String,
    pub pub_status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    pub slugline: String,
    pub headlines: Vec<Text>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub descriptions: Vec<Text>,
    pub bodies: Vec<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub people: Vec<Person>,
    pub subjects: Vec<Subject>,
    pub standard: Standard,
}

/// A headline, description or body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Text {
    /// What it is (`main`, `summary`, `correction`, `retraction`).
    pub role: &'static str,
    /// Its media type, when it has markup.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<&'static str>,
    /// The text.
    pub value: String,
}

/// A byline's author.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Person {
    /// The name, as the reading shows it.
    pub name: String,
    /// The byline's role (`reporter`, `photographer`), when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rel: Option<String>,
    /// `urn:morgue:author:<id>`.
    pub uri: String,
}

/// The section or a tag.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Subject {
    /// The section's or the tag's name.
    pub name: String,
    /// `section` or `tag`.
    pub rel: &'static str,
}

/// The standard an object conforms to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Standard {
    /// `ninjs`.
    pub name: &'static str,
    /// `3.1`.
    pub version: &'static str,
    /// [`SCHEMA_URI`].
    pub schema: &'static str,
}

impl Ninjs {
    /// Whether two objects say the same of their article, apart from which version of it and
    /// when (`version`, `versionCreated`, `contentCreated`).
    pub fn same_content(&self, other: &Ninjs) -> bool {
        let strip = |n: &Ninjs| Ninjs {
            version: String::new(),
            version_created: String::new(),
            content_created: String::new(),
            ..n.clone()
        };
        strip(self) == strip(other)
    }
}

/// An instant as ninjs writes it: RFC 3339 in UTC, fractions only when there are any.
pub fn instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// The ninjs object of an article as of one of its versions. `name_of` gives a byline's name
/// as the reading shows it (a byline whose author it does not know is left out, as on the
/// page); `recorded_at` is when the version was recorded.
pub fn of(
    article: &Article,
    name_of: impl Fn(AuthorId) -> Option<String>,
    recorded_at: DateTime<Utc>,
) -> Ninjs {
    let text = |role, value: &str| Text { role, content_type: None, value: value.to_owned() };
    let mut descriptions = Vec::new();
    if let Some(summary) = article.summary.as_deref().filter(|s| !s.is_empty()) {
        descriptions.push(text("summary", summary));
    }
    descriptions.extend(article.corrections.iter().map(|c| text("correction", &c.text)));
    if let Some(reason) =
        article.retraction_reason.as_deref().filter(|_| article.status == ArticleStatus::Retracted)
    {
        descriptions.push(text("retraction", reason));
    }
    let people: Vec<Person> = article
        .bylines
        .iter()
        .filter_map(|b| {
            let name = name_of(b.author_id)?;
            Some(Person { name, rel: b.role.clone(), uri: format!("{AUTHOR_URN}{}", b.author_id) })
        })
        .collect();
    let by =
        (!people.is_empty()).then(|| people.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", "));
    let mut subjects = vec![Subject { name: article.section.clone(), rel: "section" }];
    subjects.extend(article.tags.iter().map(|t| Subject { name: t.clone(), rel: "tag" }));
    Ninjs {
        uri: format!("{ARTICLE_URN}{}", article.id),
        kind: "text",
        representation_type: "full",
        version: article.version.to_string(),
        first_created: instant(article.first_published_at.unwrap_or(article.created_at)),
        version_created: instant(recorded_at),
        content_created: instant(article.updated_at),
        pub_status: match article.status {
            ArticleStatus::Draft => "withheld",
            ArticleStatus::Published => "usable",
            ArticleStatus::Retracted => "canceled",
        },
        language: article.language.clone(),
        slugline: article.slug.clone(),
        headlines: vec![text("main", &article.headline)],
        descriptions,
        bodies: vec![Text { role: "main", content_type: Some("text/markdown"), value: article.body.clone() }],
        by,
        people,
        subjects,
        standard: Standard { name: "ninjs", version: "3.1", schema: SCHEMA_URI },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ArticleId;
    use crate::transfer::FieldError;

    /// A retracted article with a summary, a byline, tags and a correction, folded from its
    /// events as the log would.
    fn article() -> Article {
        use crate::domain::events::*;
        let t = |s: &str| s.parse::<DateTime<Utc>>().expect("an instant");
        let id: ArticleId = "01H0000000000000000000B001".parse().expect("an id");
        let author: AuthorId = "01H0000000000000000000A001".parse().expect("an id");
        let events = [
            (
                Event::ArticleDrafted(ArticleDrafted {
                    slug: "sea-wall-holds".into(),
                    headline: "Sea wall holds".into(),
                    summary: Some("The tide came and went.".into()),
                    body: "The *new* wall held.".into(),
                    section: "city".into(),
                    tags: vec!["harbour".into(), "weather".into()],
                    language: Some("en".into()),
                }),
                "1901-01-01T00:00:00Z",
            ),
            (
                Event::BylineAdded(BylineAdded { author_id: author, role: Some("reporter".into()) }),
                "1901-01-01T00:00:00Z",
            ),
            (Event::ArticlePublished(ArticlePublished {}), "1901-01-02T00:00:00Z"),
            (
                Event::CorrectionAppended(CorrectionAppended { text: "It was Tuesday.".into() }),
                "1901-01-03T00:00:00Z",
            ),
            (
                Event::ArticleRetracted(ArticleRetracted { reason: "The wall fell.".into() }),
                "1901-01-04T00:00:00.5Z",
            ),
        ];
        let mut state = None;
        for (i, (event, at)) in events.iter().enumerate() {
            state = Article::apply(
                state,
                id,
                event,
                crate::domain::Meta { version: i as u64 + 1, effective_at: t(at) },
            );
        }
        state.expect("drafted")
    }

    #[test]
    fn an_article_reads_back_as_what_it_wrote() -> Result<(), FieldError> {
        let a = article();
        let ninjs = of(&a, |_| Some("Ida Quill".into()), a.updated_at);
        assert_eq!(ninjs.pub_status, "canceled");
        assert_eq!(ninjs.content_created, "1901-01-04T00:00:00.500Z");
        // Recorded later, it says the same; under another name, it does not.
        let later = a.updated_at + chrono::Duration::days(1);
        assert!(ninjs.same_content(&of(&a, |_| Some("Ida Quill".into()), later)));
        assert!(!ninjs.same_content(&of(&a, |_| Some("Ida Penrose".into()), later)));
        let text = serde_json::to_string(&ninjs).expect("serializes");
        let back = parse(&text)?;
        assert_eq!(back.id, a.id);
        assert_eq!(
            (back.headline.as_str(), back.body.as_str(), back.section.as_str()),
            ("Sea wall holds", a.body.as_str(), "city")
        );
        assert_eq!(back.tags, a.tags);
        assert_eq!(back.corrections, ["It was Tuesday."]);
        assert_eq!(back.retraction.as_deref(), Some("The wall fell."));
        assert_eq!(back.bylines[0].role.as_deref(), Some("reporter"));
        assert_eq!(back.bylines[0].author, Some(a.bylines[0].author_id));
        assert_eq!(
            (back.first_created, back.content_created),
            (a.first_published_at.expect("set"), a.updated_at)
        );
        assert_eq!(back.status, ArticleStatus::Retracted);
        // Reformatting the same object does not change its identity.
        let pretty = serde_json::to_string_pretty(&ninjs).expect("serializes");
        assert_eq!(parse(&pretty)?.key(), back.key());
        Ok(())
    }

    #[test]
    fn a_draft_is_withheld_and_dated_by_its_draft() {
        let mut a = article();
        a.status = ArticleStatus::Draft;
        a.first_published_at = None;
        let ninjs = of(&a, |_| None, a.updated_at);
        assert_eq!((ninjs.pub_status, ninjs.first_created.as_str()), ("withheld", "1901-01-01T00:00:00Z"));
        assert!(ninjs.people.is_empty() && ninjs.by.is_none());
        assert!(!ninjs.descriptions.iter().any(|d| d.role == "retraction"));
    }
}
