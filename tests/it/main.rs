//! morgue's integration tests: one binary, a module per area.

mod api;
mod archive;
mod bench;
mod binary;
mod browser;
mod crash;
mod determinism;
mod domain;
mod fixtures;
mod generated;
mod hostile;
mod layout;
mod leak;
mod project;
mod replicate;
mod schema;
mod server;
mod store;
mod subscription;
mod support;
mod time;
mod transfer;
mod web;
