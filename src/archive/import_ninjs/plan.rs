//! What a line asks for: the commands that bring an article from its state to the line, the
//! authors its bylines name, and a new article's slug.

use chrono::{DateTime, Utc};

use super::{DEFAULT_RETRACTION, Importer};
use crate::archive::ImportError;
use crate::domain::commands::{check_slug, limits, slugify};
use crate::domain::events::Event;
use crate::domain::{Article, ArticleCommand, ArticleStatus, Author, AuthorCommand, AuthorId, Command, Meta};
use crate::store;
use crate::transfer::ninjs::{Incoming, IncomingByline};

/// One command of a line, where its instant came from, and the field blamed if it is refused.
pub(super) struct Step {
    pub(super) command: ArticleCommand,
    pub(super) at: DateTime<Utc>,
    pub(super) at_field: &'static str,
    pub(super) field: String,
}

impl Importer<'_> {
    /// The commands that bring the article from `state` to what the line says.
    pub(super) fn steps(
        &mut self,
        number: u64,
        line: &Incoming,
        state: Option<&Article>,
        registrations: &mut Vec<(AuthorId, Event, DateTime<Utc>)>,
    ) -> Result<Vec<Step>, ImportError> {
        let (first, content) =
            ((line.first_created, line.first_field), (line.content_created, line.content_field));
        let step = |command, (at, at_field): (DateTime<Utc>, &'static str), field: &str| Step {
            command,
            at,
            at_field,
            field: field.to_owned(),
        };
        let goes_public = line.status != ArticleStatus::Draft;
        // Before publication, changes take effect when the article does; after, when the version does.
        let before = if state.is_none_or(|a| a.status == ArticleStatus::Draft) && goes_public {
            first
        } else {
            content
        };
        let mut steps = Vec::new();
        let (bylines_now, corrections_now): (Vec<_>, Vec<&str>) = match state {
            None => {
                let slug = self.slug_for(line).map_err(|e| self.error(number, "slugline", e.to_string()))?;
                let draft = ArticleCommand::Draft {
                    slug: Some(slug),
                    headline: line.headline.clone(),
                    summary: line.summary.clone(),
                    body: line.body.clone(),
                    section: line.section.clone(),
                    tags: line.tags.clone(),
                    language: line.language.clone(),
                };
                steps.push(step(draft, first, "uri"));
                (Vec::new(), Vec::new())
            }
            Some(a) => {
                if line.status == ArticleStatus::Draft && a.status != ArticleStatus::Draft {
                    return Err(self.error(
                        number,
                        "pubStatus",
                        "is \"withheld\", but the article is already public; it never returns to draft",
                    ));
                }
                if line.status == ArticleStatus::Published && a.status == ArticleStatus::Retracted {
                    return Err(self.error(
                        number,
                        "pubStatus",
                        "is \"usable\", but the article is retracted, which is final",
                    ));
                }
                let changed = |new: &str, old: &str| (new != old).then(|| new.to_owned());
                let revise = ArticleCommand::Revise {
                    headline: changed(&line.headline, &a.headline),
                    summary: changed(
                        line.summary.as_deref().unwrap_or(""),
                        a.summary.as_deref().unwrap_or(""),
                    ),
                    body: changed(&line.body, &a.body),
                    section: changed(&line.section, &a.section),
                    tags: (line.tags != a.tags).then(|| line.tags.clone()),
                    note: None,
                };
                if let ArticleCommand::Revise { headline, summary, body, section, tags, .. } = &revise {
                    let field = [
                        (headline.is_some(), "headlines"),
                        (summary.is_some(), "descriptions"),
                        (body.is_some(), "bodies"),
                        (section.is_some() || tags.is_some(), "subjects"),
                    ]
                    .into_iter()
                    .find_map(|(c, f)| c.then_some(f));
                    if let Some(field) = field {
                        steps.push(step(revise.clone(), before, field));
                    }
                }
                let bylines = a.bylines.iter().map(|b| (b.author_id, b.role.clone())).collect();
                (bylines, a.corrections.iter().map(|c| c.text.as_str()).collect())
            }
        };

        // Bylines: remove those the line drops, then add what it adds; a change of order or
        // role takes the bylines from there off and on again.
        let mut wanted: Vec<(AuthorId, Option<String>, &str)> = Vec::new();
        for b in &line.bylines {
            let id = self.author_for(number, b, before.0, registrations)?;
            if !wanted.iter().any(|(w, _, _)| *w == id) {
                wanted.push((id, b.role.clone(), b.field.as_str()));
            }
        }
        let keeps =
            |(id, role): &(AuthorId, Option<String>)| wanted.iter().any(|(w, r, _)| w == id && r == role);
        let mut kept: Vec<(AuthorId, Option<String>)> = Vec::new();
        for b in &bylines_now {
            if keeps(b) {
                kept.push(b.clone());
            } else {
                steps.push(step(ArticleCommand::RemoveByline { author_id: b.0 }, before, "people"));
            }
        }
        let prefix = kept.iter().zip(&wanted).take_while(|(k, (w, r, _))| k.0 == *w && k.1 == *r).count();
        for k in &kept[prefix..] {
            steps.push(step(ArticleCommand::RemoveByline { author_id: k.0 }, before, "people"));
        }
        for (id, role, field) in &wanted[prefix..] {
            steps.push(step(ArticleCommand::AddByline { author_id: *id, role: role.clone() }, before, field));
        }

        if goes_public && state.is_none_or(|a| a.status == ArticleStatus::Draft) {
            steps.push(step(ArticleCommand::Publish, first, "pubStatus"));
        }
        if let Some(i) =
            corrections_now.iter().zip(&line.corrections).position(|(old, new)| *old != new.as_str())
        {
            return Err(self.error(
                number,
                "descriptions",
                format!("correction {} differs from the archive's: corrections are never changed", i + 1),
            ));
        }
        if line.corrections.len() < corrections_now.len() {
            return Err(self.error(
                number,
                "descriptions",
                format!(
                    "lists {} corrections, but the article has {}: corrections are never withdrawn",
                    line.corrections.len(),
                    corrections_now.len()
                ),
            ));
        }
        for text in &line.corrections[corrections_now.len()..] {
            steps.push(step(
                ArticleCommand::AppendCorrection { text: text.clone() },
                content,
                "descriptions",
            ));
        }
        if line.status == ArticleStatus::Retracted
            && state.is_none_or(|a| a.status != ArticleStatus::Retracted)
        {
            let reason = line.retraction.clone().unwrap_or_else(|| DEFAULT_RETRACTION.to_owned());
            steps.push(step(ArticleCommand::Retract { reason }, content, "descriptions"));
        }
        Ok(steps)
    }

    /// The author a byline names: the one of that present name; else the one its morgue `uri`
    /// names, registered if new; else one registered under the name (its id a hash of it).
    fn author_for(
        &mut self,
        number: u64,
        b: &IncomingByline,
        at: DateTime<Utc>,
        registrations: &mut Vec<(AuthorId, Event, DateTime<Utc>)>,
    ) -> Result<AuthorId, ImportError> {
        let name = b.name.trim();
        if let Some(id) = self.by_name.get(name) {
            return Ok(*id);
        }
        let field = format!("{}.name", b.field);
        let by_hash = {
            let hash = blake3::hash(format!("ninjs author\0{name}").as_bytes());
            let mut bytes = [0u8; 16];
            bytes.copy_from_slice(&hash.as_bytes()[..16]);
            AuthorId(ulid::Ulid::from_bytes(bytes))
        };
        let mut id = by_hash;
        if let Some(named) = b.author {
            let exists = self.author(named).map_err(|e| self.error(number, &field, e.to_string()))?.is_some();
            if !exists {
                id = named;
            }
        }
        if self.author(id).map_err(|e| self.error(number, &field, e.to_string()))?.is_some() {
            return Ok(id);
        }
        let command = AuthorCommand::Register { name: name.to_owned(), bio: None };
        Command::Author(id, command.clone())
            .validate()
            .and_then(|()| crate::domain::author::decide(None, id, &command))
            .map_err(|r| self.error(number, &field, r.to_string()))
            .and_then(|events| {
                let event =
                    events.into_iter().next().ok_or_else(|| self.error(number, &field, "no event"))?;
                let author = Author::apply(None, id, &event, Meta { version: 1, effective_at: at });
                self.authors.insert(id, author);
                self.by_name.insert(name.to_owned(), id);
                registrations.push((id, event, at));
                Ok(id)
            })
    }

    /// A slug for a new article: its `slugline` if that is a slug, else one made of it (or of
    /// the headline), with a numeric suffix when another article holds it.
    fn slug_for(&self, line: &Incoming) -> store::Result<String> {
        let base = match line.slugline.as_deref() {
            Some(s) if check_slug(s).is_ok() => s.to_owned(),
            Some(s) => slugify(s),
            None => slugify(&line.headline),
        };
        let reader = self.store.reader()?;
        let stream = line.id.stream();
        let mut candidate = base.clone();
        for n in 2u64.. {
            let held = reader.claim_holder("slug", &candidate)?.is_some_and(|h| h != stream)
                || self.slugs.get(&candidate).is_some_and(|a| *a != line.id);
            if !held {
                break;
            }
            let suffix = format!("-{n}");
            let room = limits::SLUG.saturating_sub(suffix.len()).min(base.len());
            candidate = format!("{}{suffix}", base[..room].trim_end_matches('-'));
        }
        Ok(candidate)
    }
}
