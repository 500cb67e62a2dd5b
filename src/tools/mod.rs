//! The operator's tools: benchmarks of the hot paths against the disk ([`bench`]) and
//! deterministic generated archives to load ([`generate`]). They use the archive as any
//! caller does; nothing in the serving path uses them.

pub mod bench;
pub mod generate;
pub mod pictures;
