//! morgue: a newsroom's archive that keeps every article, revision, correction and byline
//! forever, as events, and answers questions about any moment of its past.
//!
//! # Data flow
//!
//! ```text
//! command ──validate──▶ domain::decide(state, command) ──events──▶ store::Store::append
//!                                                                   (one writer, group commit,
//!                                                                    hash-chained LMDB log)
//! ```
//!
//! The log ([`store`]) is the source of truth; [`domain`] alone knows what its events mean;
//! [`archive::Archive`] is the one handle callers use. [`Position`] is the one clock.
//!
//! ```
//! use morgue::archive::{Archive, Entity, WriteOptions};
//! use morgue::domain::{AuthorCommand, AuthorId, Command};
//! use morgue::store::{Store, StoreOptions};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let store = Store::open(dir.path(), StoreOptions { map_size: 1 << 30 })?;
//! let archive = Archive::new(store.clone());
//! let runtime = tokio::runtime::Builder::new_current_thread().build()?;
//! let command = Command::Author(
//!     AuthorId::generate(),
//!     AuthorCommand::Register { name: "Ada Byron".into(), bio: None },
//! );
//! let written = runtime.block_on(archive.execute(Some("desk"), command, WriteOptions::default()))?;
//! assert_eq!(written.position, morgue::Position(1));
//! assert!(matches!(written.entity, Entity::Author(a) if a.name == "Ada Byron"));
//! assert!(morgue::store::verify(&store.reader()?, |_| {})?.is_ok());
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod archive;
pub mod auth;
pub mod cli;
pub mod domain;
pub mod error;
pub mod graphql;
pub mod http;
mod position;
pub mod project;
pub mod replicate;
pub mod store;
pub mod tools;
pub mod transfer;

pub use error::{Code, Error, Result};
pub use position::Position;
