//! `morgue bench`: the hot paths measured against the disk.

use std::path::PathBuf;
use std::process::ExitCode;

use super::*;

/// Measurements.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Durable appends of one small event per transaction from N concurrent writers.
    ///
    /// Example: `morgue bench append --writers 32 --seconds 5 --data /tmp/bench`
    Append {
        #[command(flatten)]
        /// Data directory (use a scratch one: the bench writes real events).
        data: DataArgs,
        /// Concurrent writers, each on its own stream.
        #[arg(long, default_value_t = 1)]
        writers: usize,
        /// How long to run; 0 runs until killed.
        #[arg(long, default_value_t = 5)]
        seconds: u64,
        /// Print `ack <position>` for every acknowledged append (used by the crash test).
        #[arg(long)]
        print_acks: bool,
    },
    /// Publish-to-searchable delay: publish articles one by one and time until each is
    /// searchable. Writes real articles: use a scratch data directory.
    Searchable {
        #[command(flatten)]
        /// Data directory.
        data: DataArgs,
        /// Articles to publish.
        #[arg(long, default_value_t = 200)]
        count: usize,
    },
    /// Point-in-time reads: `article(asOf)` on a 1-revision and an N-revision article, and
    /// search with and without `asOf`, in process. Writes real articles: use a scratch dir.
    TimeTravel {
        #[command(flatten)]
        /// Data directory.
        data: DataArgs,
        /// Revisions of the long article.
        #[arg(long, default_value_t = 10_000)]
        revisions: usize,
        /// Reads per measurement.
        #[arg(long, default_value_t = 20_000)]
        reads: usize,
    },
    /// The disk's own rate of small durable writes (write + fdatasync), the limit line.
    Sync {
        /// Directory on the disk to measure.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// How long to run.
        #[arg(long, default_value_t = 5)]
        seconds: u64,
    },
}

impl BenchCommand {
    /// The data directory the bench writes real events to, if it has one.
    pub fn data(&self) -> Option<&DataArgs> {
        match self {
            BenchCommand::Append { data, .. }
            | BenchCommand::Searchable { data, .. }
            | BenchCommand::TimeTravel { data, .. } => Some(data),
            BenchCommand::Sync { .. } => None,
        }
    }
}

/// `morgue bench`.
pub(super) fn bench(command: BenchCommand) -> anyhow::Result<ExitCode> {
    match command {
        BenchCommand::Append { data, writers, seconds, print_acks } => {
            let store = data.open_store()?;
            let duration = (seconds > 0).then(|| Duration::from_secs(seconds));
            let rate = crate::tools::bench::append(&store, writers, duration, print_acks)?;
            eprintln!("durable append, {writers} writer(s): {rate}");
            Ok(ExitCode::SUCCESS)
        }
        BenchCommand::Searchable { data, count } => {
            let archive = crate::archive::Archive::open(&data.data, data.map_size)?;
            let rate = crate::tools::bench::searchable(&archive, count)?;
            eprintln!(
                "publish-to-searchable delay over {count} articles: p50 {:.1} ms, p99 {:.1} ms",
                rate.p50.as_secs_f64() * 1e3,
                rate.p99.as_secs_f64() * 1e3
            );
            archive.close();
            Ok(ExitCode::SUCCESS)
        }
        BenchCommand::TimeTravel { data, revisions, reads } => {
            let archive = crate::archive::Archive::open(&data.data, data.map_size)?;
            let r = crate::tools::bench::time_travel(&archive, revisions, reads)?;
            let us = |d: Duration| d.as_secs_f64() * 1e6;
            let long = format!("article(asOf), {revisions} revisions:");
            for (label, t) in [
                ("article(asOf), 1 revision:", &r.short),
                (long.as_str(), &r.long),
                ("search now:", &r.search_now),
                ("search asOf a past instant:", &r.search_past),
            ] {
                eprintln!("{label:<33}p50 {:.1} µs, p99 {:.1} µs", us(t.p50), us(t.p99));
            }
            archive.close();
            Ok(ExitCode::SUCCESS)
        }
        BenchCommand::Sync { dir, seconds } => {
            let rate = crate::tools::bench::sync(&dir, Duration::from_secs(seconds))?;
            eprintln!("disk sync (64-byte write + fdatasync): {rate}");
            Ok(ExitCode::SUCCESS)
        }
    }
}
