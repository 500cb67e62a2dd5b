//! An article: fold and decide.

use chrono::{DateTime, Utc};

use super::author::Author;
use super::commands::{ArticleCommand, slugify};
use super::events::*;
use super::ids::{ArticleId, AuthorId};
use super::lifecycle::{Lifecycle, hold_after};
use super::{Meta, Rejection};

/// Where an article is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ArticleStatus {
    /// Written, not public.
    Draft,
    /// Public.
    Published,
    /// Withdrawn; kept, marked, never public again.
    Retracted,
}

/// An author's credit on an article.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Byline {
    /// The author.
    pub author_id: AuthorId,
    /// Their role.
    pub role: Option<String>,
}

/// A correction as appended.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Correction {
    /// The text.
    pub text: String,
    /// When it took effect.
    pub effective_at: DateTime<Utc>,
}

/// A takedown in force: readers see nothing of the article, at any instant.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Takedown {
    /// When it took effect.
    pub at: DateTime<Utc>,
    /// Why (for staff).
    pub reason: String,
    /// The order or demand it follows, shown to readers in the notice.
    pub legal_reference: Option<String>,
}

/// An article as of some point of its stream.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Article {
    /// Id.
    pub id: ArticleId,
    /// URL name.
    pub slug: String,
    /// Headline.
    pub headline: String,
    /// Summary.
    pub summary: Option<String>,
    /// Body.
    pub body: String,
    /// Section.
    pub section: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Language.
    pub language: Option<String>,
    /// Status.
    pub status: ArticleStatus,
    /// Credits, in the order they were added.
    pub bylines: Vec<Byline>,
    /// Corrections, oldest first.
    pub corrections: Vec<Correction>,
    /// When it was first published.
    pub first_published_at: Option<DateTime<Utc>>,
    /// When it was last published.
    pub published_at: Option<DateTime<Utc>>,
    /// Why it was retracted.
    pub retraction_reason: Option<String>,
    /// When it was drafted.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// Stream version folded so far.
    pub version: u64,
    /// The takedown in force, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub takedown: Option<Takedown>,
    /// A draft's scheduled publication: readers see it from then on, as published then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_at: Option<DateTime<Utc>>,
    /// The reason of the legal hold in force, if any: it cannot be erased meanwhile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_hold: Option<String>,
    /// Changes scheduled ahead and not yet in effect, in order of their instants.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<crate::domain::schedule::PendingChange>,
    /// Images placed in it, in the order they were placed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<crate::domain::image::Placement>,
}

impl Article {
    /// Applies one event (`None`: before the draft). Events that do not concern articles, or
    /// arrive before the draft, leave the state as it is.
    pub fn apply(state: Option<Article>, id: ArticleId, event: &Event, meta: Meta) -> Option<Article> {
        let mut a = match (state, event) {
            (None, Event::ArticleDrafted(d)) => Article {
                id,
                slug: d.slug.clone(),
                headline: d.headline.clone(),
                summary: d.summary.clone(),
                body: d.body.clone(),
                section: d.section.clone(),
                tags: d.tags.clone(),
                language: d.language.clone(),
                status: ArticleStatus::Draft,
                bylines: Vec::new(),
                corrections: Vec::new(),
                first_published_at: None,
                published_at: None,
                retraction_reason: None,
                created_at: meta.effective_at,
                updated_at: meta.effective_at,
                version: 0,
                takedown: None,
                scheduled_at: None,
                legal_hold: None,
                pending: Vec::new(),
                images: Vec::new(),
            },
            (None, _) | (Some(_), Event::ArticleErased(_)) => return None,
            (Some(a), event) => {
                // A scheduled publication that took effect before this event is a publication.
                let mut a = a.settled(meta.effective_at);
                match event {
                    Event::ArticleRevised(r) => {
                        if let Some(v) = &r.headline {
                            a.headline = v.clone();
                        }
                        if let Some(v) = &r.summary {
                            a.summary = Some(v.clone());
                        }
                        if let Some(v) = &r.body {
                            a.body = v.clone();
                        }
                        if let Some(v) = &r.section {
                            a.section = v.clone();
                        }
                        if let Some(v) = &r.tags {
                            a.tags = v.clone();
                        }
                    }
                    Event::ArticlePublished(_) => {
                        a.status = ArticleStatus::Published;
                        a.first_published_at.get_or_insert(meta.effective_at);
                        a.published_at = Some(meta.effective_at);
                        a.scheduled_at = None;
                    }
                    Event::ArticleScheduled(s) => a.scheduled_at = Some(s.at),
                    // Calls off the changes scheduled ahead if there are any, otherwise the
                    // scheduled publication.
                    Event::ArticleUnscheduled(_) if !a.pending.is_empty() => a.pending.clear(),
                    Event::ArticleUnscheduled(_) => a.scheduled_at = None,
                    Event::ChangeScheduled(c) => {
                        let at = a.pending.partition_point(|p| p.at <= c.at);
                        a.pending.insert(at, c.clone());
                    }
                    Event::ArticleRetracted(r) => {
                        a.status = ArticleStatus::Retracted;
                        a.retraction_reason = Some(r.reason.clone());
                    }
                    Event::CorrectionAppended(c) => a
                        .corrections
                        .push(Correction { text: c.text.clone(), effective_at: meta.effective_at }),
                    Event::BylineAdded(b) => {
                        if !a.bylines.iter().any(|x| x.author_id == b.author_id) {
                            a.bylines.push(Byline { author_id: b.author_id, role: b.role.clone() });
                        }
                    }
                    Event::BylineRemoved(b) => a.bylines.retain(|x| x.author_id != b.author_id),
                    Event::ArticleTakenDown(t) => {
                        a.takedown = Some(Takedown {
                            at: meta.effective_at,
                            reason: t.reason.clone(),
                            legal_reference: t.legal_reference.clone(),
                        })
                    }
                    Event::ArticleRestored(_) => a.takedown = None,
                    Event::ImagePlaced(_) | Event::ImageRemoved(_) => {
                        a.images = crate::domain::image::place(std::mem::take(&mut a.images), event)
                    }
                    Event::LegalHoldPlaced(_) | Event::LegalHoldReleased(_) => {
                        a.legal_hold = hold_after(a.legal_hold.take(), event)
                    }
                    _ => return Some(a),
                }
                a
            }
        };
        a.version = meta.version;
        a.updated_at = meta.effective_at;
        Some(a)
    }

    /// Folds a whole stream.
    pub fn fold<'a>(id: ArticleId, events: impl IntoIterator<Item = (&'a Event, Meta)>) -> Option<Article> {
        events.into_iter().fold(None, |state, (event, meta)| Article::apply(state, id, event, meta))
    }

    /// Whether readers may see it: published, and not taken down.
    pub fn is_public(&self) -> bool {
        self.status == ArticleStatus::Published && self.takedown.is_none()
    }

    /// From when readers see this version, if ever: when it was published, or when its
    /// scheduled publication takes effect (possibly later than now); never while taken down.
    pub fn public_from(&self) -> Option<DateTime<Utc>> {
        if self.takedown.is_some() {
            return None;
        }
        match self.status {
            ArticleStatus::Published => self.published_at,
            ArticleStatus::Draft => self.scheduled_at,
            ArticleStatus::Retracted => None,
        }
    }

    /// The article as it stands at `t`: a scheduled publication that has taken effect by then
    /// is a publication (at its scheduled instant).
    pub fn settled(mut self, t: DateTime<Utc>) -> Article {
        if let (ArticleStatus::Draft, Some(at)) = (self.status, self.scheduled_at)
            && at <= t
        {
            self.status = ArticleStatus::Published;
            self.first_published_at.get_or_insert(at);
            self.published_at = Some(at);
            self.scheduled_at = None;
        }
        // Changes scheduled ahead that have taken effect by `t`, in order.
        let due = self.pending.partition_point(|p| p.at <= t);
        for change in self.pending.drain(..due).collect::<Vec<_>>() {
            crate::domain::schedule::apply_text(
                &change,
                &mut self.headline,
                &mut self.summary,
                Some(&mut self.body),
                &mut self.corrections,
            );
            self.updated_at = self.updated_at.max(change.at);
        }
        self
    }

    /// When the next change scheduled ahead takes effect, if one is pending.
    pub fn next_change(&self) -> Option<DateTime<Utc>> {
        self.pending.first().map(|p| p.at)
    }
}

/// Decides the events for an article command.
///
/// `author` is the state of the author a byline command refers to (`None` when it does not
/// exist). For a draft without a slug, the slug is derived from the headline; making it unique
/// is the caller's job (the store enforces it).
pub fn decide(
    state: Option<&Article>,
    id: ArticleId,
    command: &ArticleCommand,
    author: Option<&Author>,
) -> Result<Vec<Event>, Rejection> {
    let conflict = |m: String| Err(Rejection::Conflict(m));
    let article = match (state, command) {
        (None, ArticleCommand::Draft { slug, headline, summary, body, section, tags, language }) => {
            return Ok(vec![Event::ArticleDrafted(ArticleDrafted {
                slug: slug.clone().unwrap_or_else(|| slugify(headline)),
                headline: headline.clone(),
                summary: summary.clone(),
                body: body.clone(),
                section: section.trim().to_owned(),
                tags: tags.iter().map(|t| t.trim().to_owned()).collect(),
                language: language.clone(),
            })]);
        }
        (Some(_), ArticleCommand::Draft { .. }) => return conflict(format!("article {id} already exists")),
        (None, _) => return Err(Rejection::NotFound { kind: "article", id: id.to_string() }),
        (Some(article), _) => article,
    };
    let retracted = article.status == ArticleStatus::Retracted;
    // A change scheduled ahead is ordered against nothing else: until it takes effect (or is
    // called off) the article takes no other command but an erasure.
    if let Some(at) = article.next_change()
        && !matches!(command, ArticleCommand::Unschedule | ArticleCommand::Lifecycle(Lifecycle::Erase { .. }))
    {
        return conflict(format!(
            "article {id} has a change scheduled for {at}: call it off with unscheduleArticle first, or wait \
             until it takes effect"
        ));
    }
    match command {
        ArticleCommand::Draft { .. } => unreachable!("handled above"),
        ArticleCommand::Revise { headline, summary, body, section, tags, note } => {
            if retracted {
                return conflict(format!("article {id} is retracted and can no longer be revised"));
            }
            let changed =
                |new: &Option<String>, old: &str| new.as_ref().filter(|n| n.as_str() != old).cloned();
            let revision = ArticleRevised {
                headline: changed(headline, &article.headline),
                summary: changed(summary, article.summary.as_deref().unwrap_or("")),
                body: changed(body, &article.body),
                section: changed(section, &article.section),
                tags: tags.as_ref().filter(|t| **t != article.tags).cloned(),
                note: note.clone(),
            };
            if revision.changed_fields().is_empty() {
                return Err(Rejection::invalid(
                    "input",
                    "the revision changes nothing: every given field equals the current text",
                ));
            }
            Ok(vec![Event::ArticleRevised(revision)])
        }
        ArticleCommand::Schedule { at } => match article.status {
            ArticleStatus::Draft => Ok(vec![Event::ArticleScheduled(ArticleScheduled { at: *at })]),
            ArticleStatus::Published => conflict(format!("article {id} is already published")),
            ArticleStatus::Retracted => {
                conflict(format!("article {id} is retracted and cannot be published"))
            }
        },
        ArticleCommand::Unschedule => match (article.status, article.scheduled_at) {
            // Calls off the changes scheduled ahead first, when there are any.
            _ if !article.pending.is_empty() => Ok(vec![Event::ArticleUnscheduled(ArticleUnscheduled {})]),
            (ArticleStatus::Draft, Some(_)) => Ok(vec![Event::ArticleUnscheduled(ArticleUnscheduled {})]),
            (ArticleStatus::Draft, None) => conflict(format!("article {id} has no scheduled publication")),
            _ => conflict(format!("article {id} is already published: its schedule has taken effect")),
        },
        ArticleCommand::Publish => match article.status {
            ArticleStatus::Draft => Ok(vec![Event::ArticlePublished(ArticlePublished {})]),
            ArticleStatus::Published => conflict(format!("article {id} is already published")),
            ArticleStatus::Retracted => {
                conflict(format!("article {id} is retracted and cannot be published"))
            }
        },
        ArticleCommand::Retract { reason } => match article.status {
            ArticleStatus::Published => {
                Ok(vec![Event::ArticleRetracted(ArticleRetracted { reason: reason.clone() })])
            }
            ArticleStatus::Draft => {
                conflict(format!("article {id} is a draft: only published articles are retracted"))
            }
            ArticleStatus::Retracted => conflict(format!("article {id} is already retracted")),
        },
        ArticleCommand::AppendCorrection { text } => match article.status {
            ArticleStatus::Published => {
                Ok(vec![Event::CorrectionAppended(CorrectionAppended { text: text.clone() })])
            }
            _ => conflict(format!(
                "article {id} is not published: corrections are appended to published articles"
            )),
        },
        ArticleCommand::AddByline { author_id, role } => {
            if retracted {
                return conflict(format!("article {id} is retracted; its bylines are final"));
            }
            if author.is_none_or(|a| a.id != *author_id) {
                return Err(Rejection::NotFound { kind: "author", id: author_id.to_string() });
            }
            if article.bylines.iter().any(|b| b.author_id == *author_id) {
                return conflict(format!("author {author_id} already has a byline on article {id}"));
            }
            Ok(vec![Event::BylineAdded(BylineAdded { author_id: *author_id, role: role.clone() })])
        }
        ArticleCommand::RemoveByline { author_id } => {
            if retracted {
                return conflict(format!("article {id} is retracted; its bylines are final"));
            }
            if !article.bylines.iter().any(|b| b.author_id == *author_id) {
                return Err(Rejection::NotFound {
                    kind: "byline",
                    id: format!("{author_id} on article {id}"),
                });
            }
            Ok(vec![Event::BylineRemoved(BylineRemoved { author_id: *author_id })])
        }
        ArticleCommand::PlaceImage(p) => {
            if retracted {
                return conflict(format!("article {id} is retracted; its images are final"));
            }
            let known = article.images.iter().any(|o| o.image_id == p.image_id);
            if !known && article.images.len() >= crate::domain::image::limits::PLACEMENTS {
                return Err(Rejection::invalid(
                    "imageId",
                    format!("article {id} already holds {} images", crate::domain::image::limits::PLACEMENTS),
                ));
            }
            if article.images.iter().any(|o| o == p) {
                return conflict(format!("image {} is already placed so in article {id}", p.image_id));
            }
            Ok(vec![Event::ImagePlaced(p.clone())])
        }
        ArticleCommand::RemoveImage { image_id } => {
            if retracted {
                return conflict(format!("article {id} is retracted; its images are final"));
            }
            if !article.images.iter().any(|o| o.image_id == *image_id) {
                return Err(Rejection::NotFound {
                    kind: "placement",
                    id: format!("{image_id} in article {id}"),
                });
            }
            Ok(vec![Event::ImageRemoved(crate::domain::image::ImageRemoved { image_id: *image_id })])
        }
        ArticleCommand::TakeDown { reason, legal_reference } => match &article.takedown {
            Some(t) => conflict(format!("article {id} is already taken down (since {})", t.at)),
            None => Ok(vec![Event::ArticleTakenDown(ArticleTakenDown {
                reason: reason.clone(),
                legal_reference: legal_reference.clone(),
            })]),
        },
        ArticleCommand::Restore { reason } => match &article.takedown {
            Some(_) => Ok(vec![Event::ArticleRestored(ArticleRestored { reason: reason.clone() })]),
            None => conflict(format!("article {id} is not taken down")),
        },
        ArticleCommand::Later { .. } if article.scheduled_at.is_some() => conflict(format!(
            "article {id} has a publication scheduled: schedule the change once it is published, or call the \
             publication off first"
        )),
        ArticleCommand::Later { at, change } => {
            // Decided on the article as it will stand then.
            let then = article.clone().settled(*at);
            let change = match decide(Some(&then), id, change, author)?.pop() {
                Some(Event::ArticleRevised(r)) => {
                    ChangeScheduled { at: *at, revision: Some(r), correction: None }
                }
                Some(Event::CorrectionAppended(c)) => {
                    ChangeScheduled { at: *at, revision: None, correction: Some(c.text) }
                }
                _ => {
                    return Err(Rejection::invalid(
                        "effectiveAt",
                        "only revisions and corrections can be scheduled",
                    ));
                }
            };
            Ok(vec![Event::ChangeScheduled(change)])
        }
        ArticleCommand::Lifecycle(l) => {
            l.decide(&format!("article {id}"), article.legal_hold.as_deref(), |reason| {
                Event::ArticleErased(ArticleErased { reason })
            })
        }
    }
}
