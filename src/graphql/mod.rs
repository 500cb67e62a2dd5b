//! The GraphQL schema and its resolvers. Resolvers are thin: they turn arguments into archive
//! calls and archive answers into GraphQL objects. This module never touches LMDB, Tantivy or
//! HTTP; the HTTP layer hands it a [`Viewer`] per request.

mod erasure;
mod image_mutation;
mod images;
mod inputs;
mod lifecycle;
pub mod limits;
mod mutation;
mod node;
mod query;
pub mod scalars;
mod subscription;
mod types;

use async_graphql::{ErrorExtensions, Schema};

use crate::Code;
use crate::archive::Archive;
pub use mutation::MutationRoot;
pub use query::{Bases, BasesHandle, QueryRoot};
pub use subscription::SubscriptionRoot;

/// The served schema type.
pub type MorgueSchema = Schema<QueryRoot, Mutation, SubscriptionRoot>;

/// Writes. Every mutation needs `Authorization: Bearer <token>` with an editor or admin token
/// (UNAUTHENTICATED without one; `rebuildProjector`, takedowns, erasures and legal holds need
/// an admin token); the token's name is recorded as the actor. Errors carry
/// `extensions.code`. The answer is read from the views at the position written, waiting up
/// to 5 s for them (STALE if they lag further; the write is kept, so read it later with
/// `minPosition`). A read replica refuses every mutation with READ_ONLY (whatever the token);
/// `extensions.writer` names the writer when configured.
#[derive(async_graphql::MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct Mutation(MutationRoot, erasure::ErasureMutation, image_mutation::ImageMutation);

pub use limits::{MAX_COMPLEXITY, MAX_DEPTH};
/// Most directives on one field.
pub const MAX_DIRECTIVES: usize = 8;
/// Most items a page may ask for.
pub const MAX_PAGE: i32 = 100;

/// Who is asking: anonymous readers, or a token's holder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Viewer {
    /// No token: published content only, no writes.
    Anonymous,
    /// A token holder, named (the actor of what they write).
    Staff {
        /// The token's name.
        name: String,
        /// `editor` or `admin`.
        role: Role,
    },
}

/// A token's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// All mutations; sees drafts.
    Editor,
    /// Editor plus operations.
    Admin,
}

impl Viewer {
    /// Whether the viewer is staff: sees drafts, the raw log and who wrote what.
    pub fn is_staff(&self) -> bool {
        matches!(self, Viewer::Staff { .. })
    }
}

/// Builds the schema over an archive.
pub fn schema(archive: Archive) -> MorgueSchema {
    schema_with(archive, true)
}

/// The schema over an archive, answering introspection (`__schema`, `__type`) or not: a
/// public node may keep its schema to itself (`serve --introspection off`).
pub fn schema_with(archive: Archive, introspection: bool) -> MorgueSchema {
    let builder = Schema::build(QueryRoot::default(), Mutation::default(), SubscriptionRoot)
        .data(archive)
        .extension(limits::DocumentLimits)
        .limit_directives(MAX_DIRECTIVES);
    if introspection { builder.finish() } else { builder.disable_introspection().finish() }
}

/// The SDL of the served schema (what `schema/morgue.graphql` holds).
pub fn sdl() -> String {
    Schema::build(QueryRoot::default(), Mutation::default(), SubscriptionRoot).finish().sdl()
}

/// A GraphQL error with a machine-readable `extensions.code`.
pub fn error(code: Code, message: impl Into<String>) -> async_graphql::Error {
    async_graphql::Error::new(message.into()).extend_with(|_, e| e.set("code", code.as_str()))
}

/// Maps the crate's error to a GraphQL error; internal ones are logged and not described.
pub fn to_gql(e: crate::Error) -> async_graphql::Error {
    let code = e.code();
    if code == Code::Internal {
        tracing::error!(error = %e, "internal error");
        return error(code, "internal error; it has been logged");
    }
    let actual = e.actual_version();
    let writer = match &e {
        crate::Error::ReadOnly { writer, follows } => Some((writer.clone(), follows.clone())),
        _ => None,
    };
    async_graphql::Error::new(e.to_string()).extend_with(|_, ext| {
        ext.set("code", code.as_str());
        if let Some(v) = actual {
            ext.set("actualVersion", v);
        }
        if let Some((writer, follows)) = &writer {
            if let Some(w) = writer {
                ext.set("writer", w.as_str());
            }
            ext.set("follows", follows.as_str());
        }
    })
}

/// The complexity of a list field: its selections once per item of the page it asks for (the
/// page size clamped to what [`page_size`] accepts), plus one for the field.
pub(crate) fn list_cost(first: Option<i32>, default: i32, child_complexity: usize) -> usize {
    let items = first.unwrap_or(default).clamp(1, MAX_PAGE) as usize;
    items.saturating_mul(child_complexity).saturating_add(1)
}

pub(crate) fn page_size(first: Option<i32>, default: i32) -> async_graphql::Result<usize> {
    let first = first.unwrap_or(default);
    if !(0..=MAX_PAGE).contains(&first) {
        return Err(error(Code::BadInput, format!("first is {first}; it must be between 0 and {MAX_PAGE}")));
    }
    Ok(first as usize)
}

/// The highest `minPosition` a request names, in literals or variables: the position its
/// snapshot waits for before pinning (see [`crate::archive::ReadSnapshot`]). A document that
/// does not parse names none; execution reports why.
pub fn highest_min_position(request: &async_graphql::Request) -> Option<crate::Position> {
    use async_graphql::Value;
    use async_graphql::parser::types::{Selection, SelectionSet};
    fn position(value: &Value) -> Option<u64> {
        match value {
            Value::String(s) => s.parse().ok(),
            Value::Number(n) => n.as_u64(),
            _ => None,
        }
    }
    fn walk(set: &SelectionSet, variables: &async_graphql::Variables, highest: &mut Option<u64>) {
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    for (name, value) in &field.node.arguments {
                        if name.node.as_str() != "minPosition" {
                            continue;
                        }
                        let found = value
                            .node
                            .clone()
                            .into_const_with(|name| variables.get(&name).cloned().ok_or(()))
                            .ok()
                            .as_ref()
                            .and_then(position);
                        *highest = (*highest).max(found);
                    }
                    walk(&field.node.selection_set.node, variables, highest);
                }
                Selection::InlineFragment(f) => walk(&f.node.selection_set.node, variables, highest),
                Selection::FragmentSpread(_) => {}
            }
        }
    }
    let document = async_graphql::parser::parse_query(&request.query).ok()?;
    let mut highest = None;
    for (_, operation) in document.operations.iter() {
        walk(&operation.node.selection_set.node, &request.variables, &mut highest);
    }
    for fragment in document.fragments.values() {
        walk(&fragment.node.selection_set.node, &request.variables, &mut highest);
    }
    highest.map(crate::Position)
}
