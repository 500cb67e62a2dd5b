//! Where an article stands in its life, as the schema shows it: its status (with SCHEDULED)
//! and a takedown in force.

use async_graphql::{Enum, SimpleObject};

use crate::domain::ArticleStatus as DomainStatus;

/// Where an article is in its life.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(name = "ArticleStatus")]
pub enum ArticleStatusGql {
    /// Written, not public.
    Draft,
    /// Public.
    Published,
    /// Withdrawn; kept and marked.
    Retracted,
    /// A draft whose publication is scheduled (`scheduledAt`); only staff see it before then.
    Scheduled,
}

impl From<DomainStatus> for ArticleStatusGql {
    fn from(s: DomainStatus) -> Self {
        match s {
            DomainStatus::Draft => ArticleStatusGql::Draft,
            DomainStatus::Published => ArticleStatusGql::Published,
            DomainStatus::Retracted => ArticleStatusGql::Retracted,
        }
    }
}

/// A takedown: readers see nothing of the article, at any instant, while it is in force.
#[derive(SimpleObject)]
#[graphql(name = "Takedown")]
pub struct TakedownObj {
    /// When it took effect.
    pub(super) at: chrono::DateTime<chrono::Utc>,
    /// Why.
    pub(super) reason: String,
    /// The order or demand it follows, when given.
    pub(super) legal_reference: Option<String>,
}

/// A change to an article's text scheduled ahead, not yet in effect (staff only).
#[derive(SimpleObject)]
#[graphql(name = "ScheduledChange")]
pub struct ScheduledChangeObj {
    /// When readers see it.
    pub(super) at: chrono::DateTime<chrono::Utc>,
    /// The new headline, if the change sets one.
    pub(super) headline: Option<String>,
    /// The new summary, if the change sets one.
    pub(super) summary: Option<String>,
    /// The new body, if the change sets one.
    pub(super) body: Option<String>,
    /// The correction the change appends, if it is one.
    pub(super) correction: Option<String>,
}

impl From<&crate::domain::schedule::PendingChange> for ScheduledChangeObj {
    fn from(p: &crate::domain::schedule::PendingChange) -> Self {
        let r = p.revision.as_ref();
        ScheduledChangeObj {
            at: p.at,
            headline: r.and_then(|r| r.headline.clone()),
            summary: r.and_then(|r| r.summary.clone()),
            body: r.and_then(|r| r.body.clone()),
            correction: p.correction.clone(),
        }
    }
}
