//! The domain: decisions read like the spec (given events, when a command, then events or a
//! rejection), and property tests of the fold.

use chrono::{DateTime, TimeZone, Utc};
use morgue::domain::events::*;
use morgue::domain::{
    Article, ArticleCommand, ArticleId, ArticleStatus, Author, AuthorCommand, AuthorId, Command, Meta,
    Rejection, article, author,
};
use proptest::prelude::*;

fn at(year: i32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(year, 1, 1, 0, 0, 0).unwrap()
}

/// given(events).when(command) for articles.
struct Given {
    id: ArticleId,
    state: Option<Article>,
    author: Option<Author>,
}

fn given(events: &[Event]) -> Given {
    let id = ArticleId::generate();
    let state = Article::fold(
        id,
        events
            .iter()
            .enumerate()
            .map(|(i, e)| (e, Meta { version: i as u64 + 1, effective_at: at(1900 + i as i32) })),
    );
    Given { id, state, author: None }
}

impl Given {
    fn with_author(mut self, author: AuthorId) -> Given {
        self.author = Some(Author { id: author, name: "N".into(), bio: None, version: 1, legal_hold: None });
        self
    }

    fn when(&self, command: ArticleCommand) -> Result<Vec<Event>, Rejection> {
        article::decide(self.state.as_ref(), self.id, &command, self.author.as_ref())
    }
}

fn drafted() -> Event {
    Event::ArticleDrafted(ArticleDrafted {
        slug: "s".into(),
        headline: "Tide tables revised".into(),
        summary: None,
        body: "The harbour master printed new tables.".into(),
        section: "city".into(),
        tags: vec![],
        language: Some("en".into()),
    })
}

fn published() -> Event {
    Event::ArticlePublished(ArticlePublished {})
}

fn retracted() -> Event {
    Event::ArticleRetracted(ArticleRetracted { reason: "wrong tides".into() })
}

fn revise(body: &str) -> ArticleCommand {
    ArticleCommand::Revise {
        headline: None,
        summary: None,
        body: Some(body.into()),
        section: None,
        tags: None,
        note: None,
    }
}

#[test]
fn a_missing_article_cannot_be_revised() {
    assert!(matches!(given(&[]).when(revise("x")), Err(Rejection::NotFound { kind: "article", .. })));
}

#[test]
fn a_retracted_article_cannot_be_published_or_revised() {
    let g = given(&[drafted(), published(), retracted()]);
    assert!(matches!(g.when(ArticleCommand::Publish), Err(Rejection::Conflict(_))));
    assert!(matches!(g.when(revise("new")), Err(Rejection::Conflict(_))));
}

#[test]
fn publishing_a_draft_publishes_it_once() {
    assert_eq!(given(&[drafted()]).when(ArticleCommand::Publish), Ok(vec![published()]));
    assert!(matches!(
        given(&[drafted(), published()]).when(ArticleCommand::Publish),
        Err(Rejection::Conflict(_))
    ));
}

#[test]
fn a_revision_records_only_what_changed() {
    let g = given(&[drafted()]);
    let cmd = ArticleCommand::Revise {
        headline: Some("Tide tables revised".into()),
        summary: None,
        body: Some("New text.".into()),
        section: None,
        tags: None,
        note: Some("typo".into()),
    };
    let expected =
        ArticleRevised { body: Some("New text.".into()), note: Some("typo".into()), ..Default::default() };
    assert_eq!(g.when(cmd), Ok(vec![Event::ArticleRevised(expected)]));
    assert!(matches!(
        g.when(revise("The harbour master printed new tables.")),
        Err(Rejection::Invalid { .. })
    ));
}

#[test]
fn a_byline_needs_a_registered_author_and_is_added_once() {
    let author = AuthorId::generate();
    let add = ArticleCommand::AddByline { author_id: author, role: None };
    assert!(matches!(given(&[drafted()]).when(add.clone()), Err(Rejection::NotFound { kind: "author", .. })));
    let added = Event::BylineAdded(BylineAdded { author_id: author, role: None });
    assert_eq!(given(&[drafted()]).with_author(author).when(add.clone()), Ok(vec![added.clone()]));
    assert!(matches!(given(&[drafted(), added]).with_author(author).when(add), Err(Rejection::Conflict(_))));
}

#[test]
fn corrections_go_on_published_articles_only() {
    let cmd = ArticleCommand::AppendCorrection { text: "The tide turned at six, not seven.".into() };
    assert!(matches!(given(&[drafted()]).when(cmd.clone()), Err(Rejection::Conflict(_))));
    assert!(given(&[drafted(), published()]).when(cmd).is_ok());
}

#[test]
fn authors_register_once_and_rename() {
    let id = AuthorId::generate();
    let register = AuthorCommand::Register { name: " Ada ".into(), bio: None };
    let events = author::decide(None, id, &register).unwrap();
    assert_eq!(events, vec![Event::AuthorRegistered(AuthorRegistered { name: "Ada".into(), bio: None })]);
    let state = Author::fold(id, events.iter().map(|e| (e, Meta { version: 1, effective_at: at(1900) })));
    assert!(matches!(author::decide(state.as_ref(), id, &register), Err(Rejection::Conflict(_))));
    assert!(matches!(
        author::decide(state.as_ref(), id, &AuthorCommand::Rename { name: "Ada".into() }),
        Err(Rejection::Invalid { .. })
    ));
    assert!(author::decide(None, id, &AuthorCommand::Rename { name: "B".into() }).is_err());
}

fn command() -> impl Strategy<Value = ArticleCommand> {
    let text = "[a-z ]{1,12}";
    prop_oneof![
        (text, text).prop_map(|(h, b)| ArticleCommand::Draft {
            slug: None,
            headline: h,
            summary: None,
            body: b,
            section: "news".into(),
            tags: vec![],
            language: None
        }),
        (proptest::option::of(text), proptest::option::of(text)).prop_map(|(h, b)| ArticleCommand::Revise {
            headline: h,
            summary: None,
            body: b,
            section: None,
            tags: None,
            note: None
        }),
        Just(ArticleCommand::Publish),
        text.prop_map(|reason| ArticleCommand::Retract { reason }),
        text.prop_map(|text| ArticleCommand::AppendCorrection { text }),
        (0usize..3).prop_map(|a| ArticleCommand::AddByline { author_id: AUTHORS.with(|x| x[a]), role: None }),
        (0usize..3).prop_map(|a| ArticleCommand::RemoveByline { author_id: AUTHORS.with(|x| x[a]) }),
    ]
}

thread_local! {
    static AUTHORS: [AuthorId; 3] = [AuthorId::generate(), AuthorId::generate(), AuthorId::generate()];
}

proptest! {
    /// Whatever commands arrive, accepted events fold to a state that keeps the invariants,
    /// folding the whole stream equals applying event by event, and every event survives its
    /// payload encoding.
    #[test]
    fn the_fold_keeps_the_invariants(commands in proptest::collection::vec(command(), 1..40)) {
        let id = ArticleId::generate();
        let mut state: Option<Article> = None;
        let mut log: Vec<(Event, Meta)> = Vec::new();
        let mut was_retracted = false;
        for (i, cmd) in commands.iter().enumerate() {
            if Command::Article(id, cmd.clone()).validate().is_err() {
                continue;
            }
            let author = match cmd {
                ArticleCommand::AddByline { author_id, .. } => Some(Author { id: *author_id, name: "n".into(), bio: None, version: 1, legal_hold: None }),
                _ => None,
            };
            let Ok(events) = article::decide(state.as_ref(), id, cmd, author.as_ref()) else { continue };
            for event in events {
                let decoded = Event::decode(event.event_type(), event.schema_version(), &event.to_payload()).unwrap();
                prop_assert_eq!(&decoded, &event);
                let meta = Meta { version: log.len() as u64 + 1, effective_at: at(1851 + i as i32) };
                state = Article::apply(state, id, &event, meta);
                log.push((event, meta));
            }
            let a = state.as_ref().expect("an accepted command leaves an article");
            prop_assert_eq!(a.version, log.len() as u64);
            prop_assert!(!a.headline.trim().is_empty());
            let mut authors: Vec<_> = a.bylines.iter().map(|b| b.author_id).collect();
            authors.sort();
            authors.dedup();
            prop_assert_eq!(authors.len(), a.bylines.len());
            if was_retracted {
                prop_assert_eq!(a.status, ArticleStatus::Retracted);
            }
            was_retracted = a.status == ArticleStatus::Retracted;
            prop_assert_eq!(a.first_published_at.is_some(), a.status != ArticleStatus::Draft);
        }
        let folded = Article::fold(id, log.iter().map(|(e, m)| (e, *m)));
        prop_assert_eq!(folded, state);
    }
}
