//! Authored events: events written elsewhere (the fixtures, another system's export) that are
//! appended as if an editor had sent the commands that make them. Pure: the command an event
//! stands for, and whether deciding that command on the current state makes exactly it.

use super::events::Event;
use super::{
    Article, ArticleCommand, ArticleId, Author, AuthorCommand, AuthorId, Command, Rejection, StreamKind,
};

/// Why an authored event cannot be appended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthoredFault {
    /// The event does not belong to the stream it is written to (its `type` is at fault).
    WrongStream(String),
    /// The command it stands for is malformed (a field is at fault).
    Invalid(Rejection),
    /// The domain would refuse the command on the stream's state (its `type` is at fault).
    Refused(Rejection),
    /// The domain would write another event: this one repeats current values (its `payload`
    /// is at fault).
    Differs,
}

impl std::fmt::Display for AuthoredFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuthoredFault::WrongStream(m) => f.write_str(m),
            AuthoredFault::Invalid(r) | AuthoredFault::Refused(r) => write!(f, "{r}"),
            AuthoredFault::Differs => f.write_str("the event repeats the article's current values"),
        }
    }
}

/// The command an event stands for, on the stream it is written to.
pub fn command_of(kind: StreamKind, event: &Event) -> Result<Command, AuthoredFault> {
    let wrong =
        |what: &str| AuthoredFault::WrongStream(format!("{} is not an {what} event", event.event_type()));
    match kind {
        StreamKind::Article(id) => {
            Ok(Command::Article(id, article_command(event).ok_or_else(|| wrong("article"))?))
        }
        StreamKind::Author(id) => {
            Ok(Command::Author(id, author_command(event).ok_or_else(|| wrong("author"))?))
        }
        // An image's bytes travel beside the log, so its events alone cannot make it.
        StreamKind::Image(_) => Err(AuthoredFault::WrongStream(format!(
            "{} is an image event: images are uploaded (uploadImage), not imported",
            event.event_type()
        ))),
    }
}

fn article_command(event: &Event) -> Option<ArticleCommand> {
    Some(match event.clone() {
        Event::ArticleDrafted(d) => ArticleCommand::Draft {
            slug: Some(d.slug),
            headline: d.headline,
            summary: d.summary,
            body: d.body,
            section: d.section,
            tags: d.tags,
            language: d.language,
        },
        Event::ArticleRevised(r) => ArticleCommand::Revise {
            headline: r.headline,
            summary: r.summary,
            body: r.body,
            section: r.section,
            tags: r.tags,
            note: r.note,
        },
        Event::ArticlePublished(_) => ArticleCommand::Publish,
        Event::ArticleRetracted(r) => ArticleCommand::Retract { reason: r.reason },
        Event::CorrectionAppended(c) => ArticleCommand::AppendCorrection { text: c.text },
        Event::BylineAdded(b) => ArticleCommand::AddByline { author_id: b.author_id, role: b.role },
        Event::BylineRemoved(b) => ArticleCommand::RemoveByline { author_id: b.author_id },
        Event::ArticleTakenDown(t) => {
            ArticleCommand::TakeDown { reason: t.reason, legal_reference: t.legal_reference }
        }
        Event::ArticleRestored(r) => ArticleCommand::Restore { reason: r.reason },
        Event::ArticleScheduled(s) => ArticleCommand::Schedule { at: s.at },
        Event::ArticleUnscheduled(_) => ArticleCommand::Unschedule,
        _ => return None,
    })
}

fn author_command(event: &Event) -> Option<AuthorCommand> {
    Some(match event.clone() {
        Event::AuthorRegistered(r) => AuthorCommand::Register { name: r.name, bio: r.bio },
        Event::AuthorRenamed(r) => AuthorCommand::Rename { name: r.name },
        _ => return None,
    })
}

/// Would the domain write `event` for `command` on an article's current state (and, for a
/// byline, its author's)? Checks the command's fields first.
pub fn check_article(
    current: Option<&Article>,
    id: ArticleId,
    command: &ArticleCommand,
    author: Option<&Author>,
    event: &Event,
) -> Result<(), AuthoredFault> {
    Command::Article(id, command.clone()).validate().map_err(AuthoredFault::Invalid)?;
    let decided = super::article::decide(current, id, command, author).map_err(AuthoredFault::Refused)?;
    if decided.first() != Some(event) {
        return Err(AuthoredFault::Differs);
    }
    Ok(())
}

/// Would the domain accept `command` on an author's current state? Checks its fields first.
pub fn check_author(
    current: Option<&Author>,
    id: AuthorId,
    command: &AuthorCommand,
) -> Result<(), AuthoredFault> {
    Command::Author(id, command.clone()).validate().map_err(AuthoredFault::Invalid)?;
    super::author::decide(current, id, command).map_err(AuthoredFault::Refused)?;
    Ok(())
}
