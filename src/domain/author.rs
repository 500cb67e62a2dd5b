//! An author: fold and decide.

use super::commands::AuthorCommand;
use super::events::{AuthorErased, AuthorRegistered, AuthorRenamed, Event};
use super::ids::AuthorId;
use super::lifecycle::hold_after;
use super::{Meta, Rejection};

/// An author as of some point of their stream.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Author {
    /// Id.
    pub id: AuthorId,
    /// Name as printed in bylines at that point.
    pub name: String,
    /// Biography.
    pub bio: Option<String>,
    /// Stream version folded so far.
    pub version: u64,
    /// The reason of the legal hold in force, if any: the author cannot be erased meanwhile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_hold: Option<String>,
}

impl Author {
    /// Applies one event to the state (`None`: before registration). Events that do not
    /// concern authors, or arrive before registration, leave the state as it is.
    pub fn apply(state: Option<Author>, id: AuthorId, event: &Event, meta: Meta) -> Option<Author> {
        let mut author = match (state, event) {
            (None, Event::AuthorRegistered(AuthorRegistered { name, bio })) => {
                Author { id, name: name.clone(), bio: bio.clone(), version: 0, legal_hold: None }
            }
            (Some(_), Event::AuthorErased(_)) => return None,
            (Some(mut a), event @ (Event::LegalHoldPlaced(_) | Event::LegalHoldReleased(_))) => {
                a.legal_hold = hold_after(a.legal_hold.take(), event);
                a
            }
            (Some(mut a), Event::AuthorRenamed(AuthorRenamed { name })) => {
                a.name = name.clone();
                a
            }
            (state, _) => return state,
        };
        author.version = meta.version;
        Some(author)
    }

    /// Folds a whole stream.
    pub fn fold<'a>(id: AuthorId, events: impl IntoIterator<Item = (&'a Event, Meta)>) -> Option<Author> {
        events.into_iter().fold(None, |state, (event, meta)| Author::apply(state, id, event, meta))
    }
}

/// Decides the events for an author command.
pub fn decide(
    state: Option<&Author>,
    id: AuthorId,
    command: &AuthorCommand,
) -> Result<Vec<Event>, Rejection> {
    match (state, command) {
        (None, AuthorCommand::Register { name, bio }) => {
            Ok(vec![Event::AuthorRegistered(AuthorRegistered {
                name: name.trim().to_owned(),
                bio: bio.clone(),
            })])
        }
        (Some(_), AuthorCommand::Register { .. }) => {
            Err(Rejection::Conflict(format!("author {id} is already registered")))
        }
        (None, _) => Err(Rejection::NotFound { kind: "author", id: id.to_string() }),
        (Some(author), AuthorCommand::Rename { name }) => {
            let name = name.trim();
            if name == author.name {
                return Err(Rejection::invalid("name", format!("author {id} is already named {name:?}")));
            }
            Ok(vec![Event::AuthorRenamed(AuthorRenamed { name: name.to_owned() })])
        }
        (Some(author), AuthorCommand::Lifecycle(l)) => {
            l.decide(&format!("author {id}"), author.legal_hold.as_deref(), |reason| {
                Event::AuthorErased(AuthorErased { reason })
            })
        }
    }
}
