//! The command line: clap commands, turned into a validated configuration before anything runs.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::project::Which;
use crate::store::{self, Store, StoreOptions};

mod args;
mod backup;
mod bench;
mod compact;
pub mod exit;
mod export;
mod fixture_images;
mod generate;
mod http_args;
mod import;
mod keyring;
pub mod lock;
mod rebuild;
mod restore;
mod serve;
mod stats;
mod token;
mod verify;
mod writer_key;

pub use args::{ProjectorArg, ReplicationArgs, RoleArg, WRITER_KEY_FILE};
pub use bench::BenchCommand;
pub use export::ExportFormat;
pub use http_args::HttpArgs;
pub use import::{Format, open_input};
pub use token::TokenCommand;

/// morgue: a newsroom's archive. Every article, revision, correction and byline is kept
/// forever as an event in an append-only log; everything else is derived from it.
#[derive(Debug, Parser)]
#[command(name = "morgue", version, about, long_about = None, after_help = exit::HELP)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Commands,
}

/// Where the data lives and how the log is opened; shared by every command.
#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// The data directory (the log lives in its `log/` folder).
    #[arg(long, env = "MORGUE_DATA", default_value = "./morgue-data")]
    pub data: PathBuf,
    /// LMDB map size in bytes: the most the log can ever hold. Address space, not disk: the
    /// file grows only as it fills.
    #[arg(long, env = "MORGUE_MAP_SIZE", default_value_t = store::DEFAULT_MAP_SIZE)]
    pub map_size: usize,
    /// Events a projector applies per batch (larger: faster rebuilds; smaller: more frequent
    /// commits and progress).
    #[arg(long, env = "MORGUE_PROJECTOR_BATCH", default_value_t = crate::project::DEFAULT_BATCH)]
    pub projector_batch: usize,
}

impl DataArgs {
    /// The log's directory.
    pub fn log_dir(&self) -> PathBuf {
        self.data.join("log")
    }

    /// Opens the log.
    pub fn open_store(&self) -> anyhow::Result<Store> {
        Store::open(self.log_dir(), StoreOptions { map_size: self.map_size })
            .with_context(|| format!("opening the log in {}", self.log_dir().display()))
    }

    /// Opens the log for reading, beside a server that may be running on it.
    pub fn open_reader(&self) -> anyhow::Result<Store> {
        Store::open_reader(self.log_dir(), StoreOptions { map_size: self.map_size })
            .with_context(|| format!("opening the log in {}", self.log_dir().display()))
    }
}

/// The commands.
#[derive(Debug, Subcommand)]
// Parsed once per process: the size of the largest variant (serve's settings) costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum Commands {
    /// Serve the archive: GraphQL at /graphql, GraphiQL at /graphiql, health at /healthz and
    /// /readyz, metrics at /metrics. An empty archive is first filled with the fixtures
    /// and their images.
    /// Stops gracefully on Ctrl-C or SIGTERM (in-flight writes finish).
    Serve {
        #[command(flatten)]
        /// Data directory.
        data: DataArgs,
        /// Address to listen on.
        #[arg(long, env = "MORGUE_LISTEN", default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// Events loaded into an empty archive at start (JSON Lines); `none` to start empty.
        /// A replica (`--follow`) never loads them: its log comes from the stream.
        #[arg(long, env = "MORGUE_FIXTURES", default_value = "fixtures/archive.jsonl")]
        fixtures: PathBuf,
        /// Pictures uploaded and placed after the fixtures load (a JSON list of files beside
        /// it, with their captions, credits, alt texts and the articles they go in); `none`
        /// for none. Read only when the fixtures are loaded.
        #[arg(long, env = "MORGUE_FIXTURE_IMAGES", default_value = "fixtures/images/images.json")]
        fixture_images: PathBuf,
        #[command(flatten)]
        /// CORS, introspection and persisted queries.
        http: HttpArgs,
        #[command(flatten)]
        /// Publishing or following the log on NATS JetStream.
        replication: ReplicationArgs,
    },
    /// Print the GraphQL schema (SDL).
    Schema,
    /// Manage API tokens (editors and admins).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Print the public key a writer signs its published events with (creating the key,
    /// `writer.nkey` in the data directory, if it has none yet): give it to every replica as
    /// --writer-key.
    ///
    /// Example: `morgue writer-key --data ./morgue-data`
    WriterKey {
        #[command(flatten)]
        /// Data directory.
        data: DataArgs,
        /// The seed file, if not the data directory's `writer.nkey`.
        #[arg(long, env = "MORGUE_SIGNING_KEY", value_name = "FILE")]
        signing_key: Option<PathBuf>,
    },
    /// Walk the whole log and check positions, versions, instants, checksums and the hash
    /// chain. Exits 0 when intact; otherwise names the first bad position and exits 4. Safe
    /// beside a running server (it only reads).
    ///
    /// Example: `morgue verify --json`
    Verify {
        #[command(flatten)]
        /// Data directory.
        data: DataArgs,
        /// Print `{"ok": true, "events", "streams", "head", "chainHead"}` or `{"ok": false,
        /// "position", "reason", "intactEvents"}`.
        #[arg(long)]
        json: bool,
    },
    /// Rebuild derived data (views, search index, or both) from the log into a new
    /// generation, then switch to it atomically. Safe to interrupt: the old generation keeps
    /// serving until the switch. Takes the data directory's lock: stop the server first (or
    /// ask a running one with the `rebuildProjector` mutation).
    ///
    /// Example: `morgue rebuild --which search`
    Rebuild {
        #[command(flatten)]
        /// Data directory.
        data: DataArgs,
        /// Which projector; both when absent (views first: search is built from them).
        #[arg(long, value_enum)]
        which: Option<ProjectorArg>,
        /// Print the summary as JSON: `{"head", "rebuilt": [{"projector", "seconds", "dir"}]}`.
        #[arg(long)]
        json: bool,
    },
    /// Import JSON Lines into the log: a `morgue export` (restored verbatim, hash chain
    /// included) or authored events (checked like editors' commands and appended). Bad input
    /// names the line and the field; nothing of the batch holding it is appended. Re-running
    /// the same import appends nothing new.
    ///
    /// `--format ninjs` reads IPTC ninjs objects, one article version per line, in order, and
    /// writes each through the commands editors send: an author is matched by name (or
    /// registered), an article is drafted, credited and published at `firstCreated`, and later
    /// versions revise, credit, correct (the `correction` descriptions) or retract it
    /// (`pubStatus` `canceled`) at `contentCreated`. A `uri` of `urn:morgue:article:<id>`
    /// keeps its id. A line already imported is skipped.
    ///
    /// An export's image events need their bytes: they are read from `--blobs` (by default
    /// `<file>.blobs`, where `morgue export --out <file>` writes them), checked against their
    /// hashes and stored, synced, before the events that name them are appended.
    ///
    /// Example: `morgue import fixtures/archive.jsonl`; `morgue import --format ninjs items.jsonl`
    Import {
        #[command(flatten)]
        /// Data directory.
        data: DataArgs,
        /// The file (`-` for standard input; `.gz` files are decompressed).
        file: PathBuf,
        /// `morgue` (our own format), `corpus` (the blog/PEP histories in shared/data) or
        /// `ninjs` (IPTC ninjs objects, one per line).
        #[arg(long, value_enum, default_value_t = Format::Morgue)]
        format: Format,
        /// Lines per transaction.
        #[arg(long, default_value_t = crate::transfer::DEFAULT_BATCH)]
        batch: usize,
        /// The directory holding the images' bytes (default: `<file>.blobs`, when it exists).
        #[arg(long)]
        blobs: Option<PathBuf>,
        /// Print the summary as JSON: `{"file", "lines", "appended", "skipped", "seconds",
        /// "headBefore", "head"}`.
        #[arg(long)]
        json: bool,
    },
    /// Write the log (or the part after `--from`) as JSON Lines.
    ///
    /// `--format ninjs` writes IPTC ninjs 3.1 instead, and only what readers may see: every
    /// public version (published or retracted) of every article, one object per line,
    /// articles in id order and each one's versions oldest first (a version that changes
    /// nothing ninjs carries is left out); never a draft or a draft's versions, a taken-down
    /// article, actors or revision notes. Bylines carry the authors' present names.
    /// `morgue import --format ninjs` of it into an empty archive makes the same articles (the
    /// same versions with the same texts, sections, tags, statuses, bylines and valid times);
    /// only `version` and `versionCreated`, this log's own stream version and recording time,
    /// differ.
    ///
    /// The images' bytes go beside the JSON Lines: `--out archive.jsonl` writes them to
    /// `archive.jsonl.blobs/` (or to `--blobs DIR`), each checked against its hash, so that
    /// `morgue import archive.jsonl` restores them byte for byte.
    ///
    /// Example: `morgue export --out archive.jsonl`; `morgue export --format ninjs --out items.jsonl`
    Export {
        #[command(flatten)]
        /// Data directory.
        data: DataArgs,
        /// Only events after this position (the morgue format only).
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// Output file (standard output when absent).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Where the images' bytes go (default: `<out>.blobs`; needed with standard output
        /// when the archive holds images).
        #[arg(long)]
        blobs: Option<PathBuf>,
        /// `morgue` (the whole log, for operators) or `ninjs` (what readers may see).
        #[arg(long, value_enum, default_value_t = ExportFormat::Morgue)]
        format: ExportFormat,
        /// Print the summary as JSON: `{"out", "from", "through", "events"}` (ninjs: `{"out",
        /// "format", "articles", "objects"}`). Needs --out, so that standard output holds the
        /// summary alone.
        #[arg(long, requires = "out")]
        json: bool,
    },
    /// Make a consistent copy of a live archive's log (and tokens) in an empty directory. Views
    /// and search are not copied: `morgue restore` (or the first `serve`) derives them. Safe
    /// beside a running server (it only reads).
    ///
    /// Example: `morgue backup --out /backups/morgue-2026-11-22`
    Backup {
        #[command(flatten)]
        /// Data directory.
        data: DataArgs,
        /// The backup's data directory (must not hold a log yet).
        #[arg(long)]
        out: PathBuf,
        /// Print the summary as JSON: `{"out", "head", "copied"}`.
        #[arg(long)]
        json: bool,
    },
    /// Rewrite every file of the data directory from what is live: the log copied entry by
    /// entry into a fresh file, the views and the search index rebuilt from it. After an
    /// erasure, nothing of the erased content is left in any file's bytes (LMDB's freed
    /// pages, Tantivy's deleted documents). Takes the data directory's lock: stop the server
    /// first. Safe to interrupt: each part is switched atomically.
    ///
    /// Example: `morgue compact --data ./morgue-data`
    Compact {
        #[command(flatten)]
        /// Data directory.
        data: DataArgs,
        /// Print the summary as JSON: `{"head", "logBytesBefore", "logBytesAfter", "rebuilt"}`.
        #[arg(long)]
        json: bool,
    },
    /// Restore a backup (made by `morgue backup --out DIR`) into a data directory that holds
    /// no log yet: the log is copied and verified (a damaged copy is removed again and exits
    /// 4), `tokens.json` and `writer.nkey` are copied when the backup has them, and the views
    /// and search index are rebuilt from the restored log. A directory that already holds a
    /// log is refused with nothing changed (exit 6). Then `morgue serve` answers as the
    /// backed-up archive did at the backup's position.
    ///
    /// Example: `morgue restore --from /backups/morgue-2026-11-22 --data ./morgue-data`
    Restore {
        #[command(flatten)]
        /// Data directory to restore into.
        data: DataArgs,
        /// The backup's directory.
        #[arg(long, value_name = "DIR")]
        from: PathBuf,
        /// The streams erased since the backup was made, one per line: their keys are not
        /// restored. Give the `erased` file of a newer backup (every backup writes one).
        #[arg(long, value_name = "FILE")]
        erased: Option<PathBuf>,
        /// Print the summary as JSON: `{"from", "data", "head", "events", "streams",
        /// "chainHead", "copied", "rebuilt"}`.
        #[arg(long)]
        json: bool,
    },
    /// Write a generated archive (deterministic for a seed) as import lines: for benchmarks
    /// and load tests.
    ///
    /// Example: `morgue generate --articles 20000 --revisions 5 --out /tmp/big.jsonl`
    Generate {
        /// Articles.
        #[arg(long, default_value_t = 1000)]
        articles: u64,
        /// Revisions per article.
        #[arg(long, default_value_t = 3)]
        revisions: u32,
        /// Authors.
        #[arg(long, default_value_t = 200)]
        authors: u64,
        /// Seed.
        #[arg(long, default_value_t = 1851)]
        seed: u64,
        /// Shortest body, in words.
        #[arg(long, default_value_t = 300)]
        min_words: usize,
        /// Longest body, in words.
        #[arg(long, default_value_t = 3000)]
        max_words: usize,
        /// Output file (standard output when absent).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Print the log's head position and size. Safe beside a running server.
    ///
    /// Example: `morgue stats --json`
    Stats {
        #[command(flatten)]
        /// Data directory.
        data: DataArgs,
        /// Print `{"head", "logBytes"}`.
        #[arg(long)]
        json: bool,
    },
    /// Measure this machine: durable appends and the disk's own sync rate.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Print a shell completion script to standard output.
    ///
    /// Example: `morgue completions bash > /etc/bash_completion.d/morgue` (zsh: into a
    /// directory of `$fpath` as `_morgue`; fish: `~/.config/fish/completions/morgue.fish`)
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

impl Commands {
    /// The data directory this command writes to, and the name it gives the lock's holder;
    /// `None` for commands that only read (`verify`, `export`, `backup`, `stats`) or write
    /// only beside the log (`token`, `writer-key`).
    pub fn writes(&self) -> Option<(&Path, &'static str)> {
        match self {
            Commands::Serve { data, .. } => Some((&data.data, "serve")),
            Commands::Import { data, .. } => Some((&data.data, "import")),
            Commands::Rebuild { data, .. } => Some((&data.data, "rebuild")),
            Commands::Restore { data, .. } => Some((&data.data, "restore")),
            Commands::Compact { data, .. } => Some((&data.data, "compact")),
            Commands::Bench(bench) => bench.data().map(|data| (data.data.as_path(), "bench")),
            Commands::Schema
            | Commands::Token(_)
            | Commands::WriterKey { .. }
            | Commands::Verify { .. }
            | Commands::Export { .. }
            | Commands::Backup { .. }
            | Commands::Generate { .. }
            | Commands::Stats { .. }
            | Commands::Completions { .. } => None,
        }
    }
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    init_tracing();
    // Held until the command returns; the operating system releases it if the process dies.
    let _lock = match cli.command.writes() {
        Some((data, name)) => Some(lock::DataLock::take(data, name)?),
        None => None,
    };
    match cli.command {
        Commands::Serve { data, listen, fixtures, fixture_images, http, replication } => {
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(serve::serve(
                data,
                listen,
                (fixtures, fixture_images),
                http.options()?,
                replication,
            ))
        }
        Commands::Schema => {
            print!("{}", crate::graphql::sdl());
            Ok(ExitCode::SUCCESS)
        }
        Commands::Token(command) => token::run(command),
        Commands::Rebuild { data, which, json } => rebuild::rebuild(data, which, json),
        Commands::WriterKey { data, signing_key } => writer_key::writer_key(data, signing_key),
        Commands::Verify { data, json } => verify::verify(data, json),
        Commands::Import { data, file, format, batch, blobs, json } => {
            import::import(data, file, format, batch, blobs, json)
        }
        Commands::Export { data, from, out, blobs, format, json } => {
            export::export(data, from, export::Targets { out, blobs }, format, json)
        }
        Commands::Backup { data, out, json } => backup::backup(data, out, json),
        Commands::Restore { data, from, erased, json } => restore::restore(data, from, erased, json),
        Commands::Compact { data, json } => compact::compact(data, json),
        Commands::Generate { articles, revisions, authors, seed, min_words, max_words, out } => {
            generate::generate(articles, revisions, authors, seed, min_words, max_words, out)
        }
        Commands::Stats { data, json } => stats::stats(data, json),
        Commands::Bench(command) => bench::bench(command),
        Commands::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "morgue", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Prints `value` as one line of JSON on standard output (what `--json` promises).
fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, value)?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}

/// Logs go to standard error: text, or JSON lines with `MORGUE_LOG_FORMAT=json` (one object
/// per line, with the current span's fields, such as a request's `id`). `MORGUE_LOG` filters.
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("MORGUE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let json = std::env::var("MORGUE_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if json {
        builder.json().flatten_event(true).with_current_span(true).with_span_list(false).try_init()
    } else {
        builder.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).try_init()
    };
}

/// A future that resolves on Ctrl-C or SIGTERM. The handlers are installed when this is
/// called (inside a runtime), not when the future is first polled, so a signal that arrives
/// early is not lost to the default action.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    #[cfg(unix)]
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok();
    async move {
        #[cfg(unix)]
        {
            let term = async {
                match term.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            let interrupt = async {
                match interrupt.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = term => {}
                _ = interrupt => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// A progress bar on standard error that hides itself when that is not a terminal.
pub fn progress_bar(len: u64, message: &'static str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} {wide_bar} {pos}/{len} ({per_sec}, {eta} left)")
            .expect("the template is valid"),
    );
    bar.set_message(message);
    bar
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
