//! morgue's integration tests: one binary, a module per area.

mod archive;
mod crash;
mod domain;
mod project;
mod schema;
mod store;
mod support;
mod transfer;
