//! The bounds on a GraphQL document, checked before async-graphql's own parser and validators
//! run over it, so that no document can overflow a stack or make them do unbounded work:
//! - the text's bracket nesting, before parsing (the parser recurses on it);
//! - fragment spreads nested in fragment spreads, and the size of the document with every
//!   fragment expanded (the validators expand fragments), with memoised counts;
//! - the depth of selections, not counting introspection (`__schema`, `__type`), so that
//!   GraphiQL's, Apollo's and graphql-codegen's standard introspection query is answered.
//!
//! Each refusal is LIMIT, with a message that names the limit.

use crate::Code;
use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::ValidationResult;
use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextValidation,
};
use async_graphql::parser::types::{ExecutableDocument, FragmentDefinition, Selection, SelectionSet};
use async_graphql::{Name, Positioned, ServerError, ServerResult, Variables};

use super::error;

/// Longest query text accepted, bytes (the HTTP body limit bounds it too).
pub const MAX_TEXT: usize = 2 << 20;
/// Deepest nesting of `{`, `[` and `(` in a query's text.
pub const MAX_NESTING: usize = 64;
/// Deepest selection, not counting introspection fields and what is under them.
pub const MAX_DEPTH: usize = 12;
/// Fragment spreads nested in one another.
pub const MAX_FRAGMENT_NESTING: usize = 32;
/// Selections in the document with every fragment spread expanded where it stands.
pub const MAX_EXPANDED: usize = 10_000;
/// Most complex query accepted: one per field, and a list field's selections counted once per
/// item of the page it asks for (see [`super::list_cost`]).
pub const MAX_COMPLEXITY: usize = 2000;

/// Checks a query's text before anything parses it.
pub fn check_text(query: &str) -> Result<(), String> {
    if query.len() > MAX_TEXT {
        return Err(format!("the query is {} bytes, limit is {MAX_TEXT}", query.len()));
    }
    let nesting = crate::archive::limits::nesting(query, b"{[(", b"}])");
    if nesting > MAX_NESTING {
        return Err(format!("the query nests brackets {nesting} deep, limit is {MAX_NESTING}"));
    }
    Ok(())
}

/// Depth (introspection aside) and expanded size of a selection set.
#[derive(Clone, Copy, Default)]
struct Shape {
    depth: usize,
    size: usize,
}

struct Walk<'a> {
    fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    done: HashMap<&'a str, Shape>,
    open: Vec<&'a str>,
}

impl<'a> Walk<'a> {
    fn selection_set(&mut self, set: &'a SelectionSet) -> Result<Shape, String> {
        let mut shape = Shape::default();
        for selection in &set.items {
            let inner = match &selection.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    if field.name.node.starts_with("__") {
                        // Introspection: bounded by the schema, and never deeper than the
                        // schema's own types; it does not count towards the depth.
                        Shape { depth: 0, size: 1 }
                    } else {
                        let below = self.selection_set(&field.selection_set.node)?;
                        Shape { depth: below.depth + 1, size: below.size.saturating_add(1) }
                    }
                }
                Selection::InlineFragment(inline) => self.selection_set(&inline.node.selection_set.node)?,
                Selection::FragmentSpread(spread) => {
                    self.fragment(spread.node.fragment_name.node.as_str())?
                }
            };
            shape.depth = shape.depth.max(inner.depth);
            shape.size = shape.size.saturating_add(inner.size);
            if shape.size > MAX_EXPANDED {
                return Err(format!(
                    "the query has more than {MAX_EXPANDED} selections with its fragments expanded"
                ));
            }
        }
        Ok(shape)
    }

    fn fragment(&mut self, name: &'a str) -> Result<Shape, String> {
        if let Some(shape) = self.done.get(name) {
            return Ok(*shape);
        }
        // A cycle, or a spread of a fragment that does not exist: validation names it.
        let Some((key, fragment)) = self.fragments.get_key_value(name) else { return Ok(Shape::default()) };
        if self.open.contains(&name) {
            return Ok(Shape::default());
        }
        if self.open.len() == MAX_FRAGMENT_NESTING {
            return Err(format!("fragment spreads nest more than {MAX_FRAGMENT_NESTING} deep"));
        }
        self.open.push(name);
        let shape = self.selection_set(&fragment.node.selection_set.node);
        self.open.pop();
        let shape = shape?;
        self.done.insert(key.as_str(), shape);
        Ok(shape)
    }
}

/// Checks a parsed document's depth, fragment nesting and expanded size.
pub fn check_document(document: &ExecutableDocument) -> Result<(), String> {
    let mut walk = Walk { fragments: &document.fragments, done: HashMap::new(), open: Vec::new() };
    let mut size = 0usize;
    for (_, operation) in document.operations.iter() {
        let shape = walk.selection_set(&operation.node.selection_set.node)?;
        if shape.depth > MAX_DEPTH {
            return Err(format!(
                "the query is nested {} deep, limit is {MAX_DEPTH} (introspection fields aside)",
                shape.depth
            ));
        }
        size = size.saturating_add(shape.size);
        if size > MAX_EXPANDED {
            return Err(format!(
                "the query has more than {MAX_EXPANDED} selections with its fragments expanded"
            ));
        }
    }
    // Fragments no operation spreads are still validated: bound them too.
    for name in document.fragments.keys() {
        walk.fragment(name.as_str())?;
    }
    Ok(())
}

fn limit(message: String) -> ServerError {
    error(Code::Limit, message).into_server_error(async_graphql::Pos::default())
}

/// The schema extension that applies these checks to every document, whatever the transport.
pub struct DocumentLimits;

impl ExtensionFactory for DocumentLimits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(DocumentLimitsExtension)
    }
}

struct DocumentLimitsExtension;

#[async_graphql::async_trait::async_trait]
impl Extension for DocumentLimitsExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        check_text(query).map_err(limit)?;
        let document = next.run(ctx, query, variables).await.map_err(|e| coded(e, Code::BadInput))?;
        check_document(&document).map_err(limit)?;
        Ok(document)
    }

    /// Validation errors are the caller's query (BAD_INPUT); a query over the complexity
    /// limit is LIMIT. Both get their code here, so no layer reads messages to find one.
    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next
            .run(ctx)
            .await
            .map_err(|errors| errors.into_iter().map(|e| coded(e, Code::BadInput)).collect::<Vec<_>>())?;
        if result.complexity > MAX_COMPLEXITY {
            return Err(vec![limit(format!(
                "the query's complexity is {}, limit is {MAX_COMPLEXITY} (a list field counts its page size times its selections)",
                result.complexity
            ))]);
        }
        Ok(result)
    }
}

/// An error with `code`, unless it has one already.
fn coded(mut error: ServerError, code: Code) -> ServerError {
    let extensions = error.extensions.get_or_insert_with(Default::default);
    if extensions.get("code").is_none() {
        extensions.set("code", code.as_str());
    }
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(query: &str) -> Result<(), String> {
        check_text(query)?;
        let document = async_graphql::parser::parse_query(query).map_err(|e| e.to_string())?;
        check_document(&document)
    }

    #[test]
    fn depth_counts_fields_but_not_introspection() {
        let deep = format!("{{ {}x{} }}", "a { ".repeat(12), " }".repeat(12));
        assert!(check(&deep).unwrap_err().contains("13 deep"));
        let shallow = format!("{{ {}x{} }}", "a { ".repeat(11), " }".repeat(11));
        assert!(check(&shallow).is_ok());
        let introspection = format!("{{ __schema {{ {}x{} }} }}", "a { ".repeat(30), " }".repeat(30));
        assert!(check(&introspection).is_ok());
    }

    #[test]
    fn fragment_bombs_and_chains_are_refused_without_expanding_them() {
        let mut bomb = String::from("query { ...F0 }\n");
        for i in 0..30 {
            bomb.push_str(&format!("fragment F{i} on Query {{ ...F{} ...F{} }}\n", i + 1, i + 1));
        }
        bomb.push_str("fragment F30 on Query { a b }\n");
        assert!(check(&bomb).unwrap_err().contains("selections"));
        let mut chain = String::from("query { ...F0 }\n");
        for i in 0..100 {
            chain.push_str(&format!("fragment F{i} on Query {{ ...F{} }}\n", i + 1));
        }
        assert!(check(&chain).unwrap_err().contains("fragment spreads nest"));
        let cycle = "query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }";
        assert!(check(cycle).is_ok(), "cycles are left to validation, which names them");
    }

    #[test]
    fn nesting_is_refused_before_parsing() {
        let text = format!("{{ a(x: {}1{}) }}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(check_text(&text).unwrap_err().contains("nests brackets"));
    }
}
