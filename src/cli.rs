//! The command line: clap commands, turned into a validated configuration before anything runs.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::project::Which;
use crate::store::{self, Store, StoreOptions};

/// morgue: a newsroom's archive. Every article, revision, correction and byline is kept
/// forever as an event in an append-only log; everything else is derived from it.
#[derive(Debug, Parser)]
#[command(name = "morgue", version, about, long_about = None)]
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
}

/// A projector, as `--which` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ProjectorArg {
    /// The views that answer reads.
    Views,
    /// The full-text index.
    Search,
}

impl From<ProjectorArg> for Which {
    fn from(p: ProjectorArg) -> Which {
        match p {
            ProjectorArg::Views => Which::Views,
            ProjectorArg::Search => Which::Search,
        }
    }
}

/// A token's role, as `--role` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum RoleArg {
    /// All mutations; sees drafts.
    Editor,
    /// Editor plus operations.
    Admin,
}

impl From<RoleArg> for crate::graphql::Role {
    fn from(r: RoleArg) -> crate::graphql::Role {
        match r {
            RoleArg::Editor => crate::graphql::Role::Editor,
            RoleArg::Admin => crate::graphql::Role::Admin,
        }
    }
}

/// The writer's signing key's file in its data directory.
pub const WRITER_KEY_FILE: &str = "writer.nkey";

/// Running more than one node: the writer publishes its log to NATS JetStream; read replicas
/// follow it.
#[derive(Debug, Clone, Args)]
pub struct ReplicationArgs {
    /// Publish every event of the log, in position order, to NATS JetStream at this URL
    /// (comma-separate several servers of a cluster). Appends never wait for NATS; the
    /// publisher resumes from the stream's last sequence after any outage.
    ///
    /// Example: `morgue serve --publish nats://127.0.0.1:4222`
    #[arg(long, env = "MORGUE_PUBLISH", value_name = "URL", conflicts_with = "follow")]
    pub publish: Option<String>,
    /// Be a read replica: copy the writer's published log from NATS JetStream into this data
    /// directory (verbatim: same positions, same hash chain) and serve reads from it. Every
    /// mutation is refused with READ_ONLY.
    ///
    /// Example: `morgue serve --follow nats://127.0.0.1:4222 --data ./replica-1 --listen 127.0.0.1:8081`
    #[arg(long, env = "MORGUE_FOLLOW", value_name = "URL")]
    pub follow: Option<String>,
    /// The JetStream stream's name.
    #[arg(long, env = "MORGUE_STREAM", default_value = crate::replicate::DEFAULT_STREAM)]
    pub stream: String,
    /// Copies of the stream JetStream keeps, when the writer creates it (3 on a 3-node
    /// cluster survives the loss of one node).
    #[arg(long, env = "MORGUE_STREAM_REPLICAS", default_value_t = 1)]
    pub stream_replicas: usize,
    /// A replica's durable consumer name (default: `replica-<hostname>`); each replica needs
    /// its own.
    #[arg(long, env = "MORGUE_CONSUMER")]
    pub consumer: Option<String>,
    /// The writer's address, named to clients whose mutations a replica refuses.
    #[arg(long, env = "MORGUE_WRITER_URL", value_name = "URL")]
    pub writer_url: Option<String>,
    /// A replica further behind the stream than this many events reports not ready.
    #[arg(long, env = "MORGUE_READY_LAG", default_value_t = 1000)]
    pub ready_lag: u64,
    /// NATS user name (with --nats-password). The stream carries drafts: protect it.
    #[arg(long, env = "MORGUE_NATS_USER", requires = "nats_password")]
    pub nats_user: Option<String>,
    /// NATS password (with --nats-user). Never shown in status, errors or logs.
    #[arg(long, env = "MORGUE_NATS_PASSWORD", requires = "nats_user", hide_env_values = true)]
    pub nats_password: Option<String>,
    /// NATS token.
    #[arg(long, env = "MORGUE_NATS_TOKEN", hide_env_values = true)]
    pub nats_token: Option<String>,
    /// A NATS `.creds` file (a user JWT and its nkey seed).
    #[arg(long, env = "MORGUE_NATS_CREDS", value_name = "FILE")]
    pub nats_creds: Option<PathBuf>,
    /// A NATS nkey seed (`SU...`) to authenticate with.
    #[arg(long, env = "MORGUE_NATS_NKEY", value_name = "SEED", hide_env_values = true)]
    pub nats_nkey: Option<String>,
    /// A CA certificate (PEM) the NATS servers' certificates must chain to; requires TLS.
    #[arg(long, env = "MORGUE_NATS_CA", value_name = "FILE")]
    pub nats_ca: Option<PathBuf>,
    /// A client certificate (PEM) for NATS mutual TLS, with --nats-key.
    #[arg(long, env = "MORGUE_NATS_CERT", value_name = "FILE", requires = "nats_key")]
    pub nats_cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    #[arg(long, env = "MORGUE_NATS_KEY", value_name = "FILE", requires = "nats_cert")]
    pub nats_key: Option<PathBuf>,
    /// Require TLS to the NATS servers (implied by --nats-ca and --nats-cert).
    #[arg(long, env = "MORGUE_NATS_TLS")]
    pub nats_tls: bool,
    /// The writer: the nkey seed file it signs every published event with (created on first
    /// use, mode 0600). Default: `writer.nkey` in the data directory. `morgue writer-key`
    /// prints its public key, which every replica is given.
    #[arg(long, env = "MORGUE_SIGNING_KEY", value_name = "FILE")]
    pub signing_key: Option<PathBuf>,
    /// A replica: the writer's public key (`U...`, from `morgue writer-key` on the writer).
    /// Every event the replica restores must be signed by it; an event that is not stops the
    /// replica, with the reason in status and /readyz. Required with --follow.
    #[arg(long, env = "MORGUE_WRITER_KEY", value_name = "PUBLIC_KEY")]
    pub writer_key: Option<String>,
}

impl ReplicationArgs {
    /// The link this node makes, if any; `data` holds the writer's default signing key.
    pub fn link(&self, data: &Path) -> anyhow::Result<Option<crate::replicate::Link>> {
        use crate::replicate::{Link, NatsAuth, NatsConfig, Role, SigningKey, WriterKey};
        let (role, url) = match (&self.publish, &self.follow) {
            (Some(url), _) => (Role::Publisher, url),
            (None, Some(url)) => (Role::Follower, url),
            (None, None) => return Ok(None),
        };
        let (signing_key, writer_key) = match role {
            Role::Publisher => {
                let path = self.signing_key.clone().unwrap_or_else(|| data.join(WRITER_KEY_FILE));
                let key = SigningKey::load_or_create(&path)
                    .with_context(|| format!("the signing key {}", path.display()))?;
                tracing::info!(public_key = %key.public_key(), "publishing signed events; give replicas this key (MORGUE_WRITER_KEY)");
                (Some(std::sync::Arc::new(key)), None)
            }
            Role::Follower => {
                let text = self.writer_key.as_deref().context(
                    "a replica needs the writer's public key: --writer-key (MORGUE_WRITER_KEY), \
                     printed by `morgue writer-key` on the writer",
                )?;
                (None, Some(WriterKey::parse(text).map_err(anyhow::Error::msg)?))
            }
        };
        let auth = NatsAuth {
            user: self.nats_user.clone(),
            password: self.nats_password.clone(),
            token: self.nats_token.clone(),
            creds: self.nats_creds.clone(),
            nkey: self.nats_nkey.clone(),
            ca: self.nats_ca.clone(),
            cert: self.nats_cert.clone(),
            key: self.nats_key.clone(),
            tls: self.nats_tls,
        };
        let consumer = self.consumer.clone().unwrap_or_else(|| {
            let host = std::env::var("HOSTNAME")
                .ok()
                .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
                .unwrap_or_else(|| "replica".into());
            let host: String = host
                .trim()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
                .collect();
            format!("replica-{host}")
        });
        Ok(Some(Link::new(
            role,
            NatsConfig {
                url: url.clone(),
                stream: self.stream.clone(),
                replicas: self.stream_replicas,
                consumer,
                writer_url: self.writer_url.clone(),
                ready_lag: self.ready_lag,
                auth,
                signing_key,
                writer_key,
            },
        )))
    }
}

/// The commands.
#[derive(Debug, Subcommand)]
// Parsed once per process: the size of the largest variant (serve's settings) costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum Commands {
    /// Serve the archive: GraphQL at /graphql, GraphiQL at /graphiql, health at /healthz and
    /// /readyz, metrics at /metrics. An empty archive is first filled with the fixtures.
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
    /// chain. Exits 0 when intact; otherwise names the first bad position and exits 1.
    Verify {
        #[command(flatten)]
        /// Data directory.
        data: DataArgs,
    },
    /// Rebuild derived data (views, search index, or both) from the log into a new
    /// generation, then switch to it atomically. Safe to interrupt: the old generation keeps
    /// serving until the switch.
    Rebuild {
        #[command(flatten)]
        /// Data directory.
        data: DataArgs,
        /// Which projector; both when absent (views first: search is built from them).
        #[arg(long, value_enum)]
        which: Option<ProjectorArg>,
    },
    /// Import JSON Lines into the log: a `morgue export` (restored verbatim, hash chain
    /// included) or authored events (checked like editors' commands and appended). Bad input
    /// names the line and the field; nothing of the batch holding it is appended. Re-running
    /// the same import appends nothing new.
    ///
    /// Example: `morgue import fixtures/archive.jsonl`
    Import {
        #[command(flatten)]
        /// Data directory.
        data: DataArgs,
        /// The file (`-` for standard input; `.gz` files are decompressed).
        file: PathBuf,
        /// `morgue` (our own format) or `corpus` (the blog/PEP histories in shared/data).
        #[arg(long, value_enum, default_value_t = Format::Morgue)]
        format: Format,
        /// Lines per transaction.
        #[arg(long, default_value_t = crate::transfer::DEFAULT_BATCH)]
        batch: usize,
    },
    /// Write the log (or the part after `--from`) as JSON Lines.
    ///
    /// Example: `morgue export --out archive.jsonl`
    Export {
        #[command(flatten)]
        /// Data directory.
        data: DataArgs,
        /// Only events after this position.
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// Output file (standard output when absent).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Make a consistent copy of a live archive's log (and tokens) in an empty directory. Views
    /// and search are not copied: `morgue rebuild` (or the first `serve`) derives them.
    ///
    /// Example: `morgue backup --out /backups/morgue-2026-11-22`
    Backup {
        #[command(flatten)]
        /// Data directory.
        data: DataArgs,
        /// The backup's data directory (must not hold a log yet).
        #[arg(long)]
        out: PathBuf,
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
    /// Print the log's head position and size.
    Stats {
        #[command(flatten)]
        /// Data directory.
        data: DataArgs,
    },
    /// Measure this machine: durable appends and the disk's own sync rate.
    #[command(subcommand)]
    Bench(BenchCommand),
}

/// Token commands.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token; its secret is printed once (only a hash is kept).
    ///
    /// Example: `morgue token create --role editor --name night-desk`
    Create {
        #[command(flatten)]
        /// Data directory.
        data: DataArgs,
        /// The holder's name: the actor of every event the token writes.
        #[arg(long)]
        name: String,
        /// `editor` (all mutations, sees drafts) or `admin` (editor plus operations).
        #[arg(long, value_enum, default_value_t = RoleArg::Editor)]
        role: RoleArg,
    },
    /// List tokens (names, roles, dates; never secrets).
    List {
        #[command(flatten)]
        /// Data directory.
        data: DataArgs,
    },
    /// Revoke every token of a name.
    Revoke {
        #[command(flatten)]
        /// Data directory.
        data: DataArgs,
        /// The name.
        #[arg(long)]
        name: String,
    },
}

impl TokenCommand {
    fn data(&self) -> &DataArgs {
        match self {
            TokenCommand::Create { data, .. }
            | TokenCommand::List { data }
            | TokenCommand::Revoke { data, .. } => data,
        }
    }
}

async fn serve(
    data: DataArgs,
    listen: std::net::SocketAddr,
    fixtures: PathBuf,
    replication: ReplicationArgs,
) -> anyhow::Result<ExitCode> {
    let mut archive = crate::archive::Archive::open(&data.data, data.map_size)
        .with_context(|| format!("opening the archive in {}", data.data.display()))?;
    let link = replication.link(&data.data)?.map(std::sync::Arc::new);
    let replica = link.as_ref().is_some_and(|l| l.role == crate::replicate::Role::Follower);
    if let Some(link) = &link {
        archive = archive.with_link(link.clone());
    }
    let fixtures = if replica { PathBuf::from("none") } else { fixtures };
    if let Some(p) = archive.projections() {
        p.set_batch(data.projector_batch);
    }
    // Handle Ctrl-C and SIGTERM from here on: a stop asked during start-up is honoured.
    let shutdown = shutdown_signal();
    if archive.store().head() == crate::Position::ZERO && fixtures.as_os_str() != "none" {
        if fixtures.exists() {
            tracing::info!(file = %fixtures.display(), "the archive is empty: loading the fixtures");
            let store = archive.store().clone();
            let file = fixtures.clone();
            let report = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
                let input = open_input(&file)?;
                Ok(crate::transfer::import(
                    &store,
                    std::io::BufRead::lines(input),
                    crate::transfer::DEFAULT_BATCH,
                    |_| {},
                )?)
            })
            .await??;
            tracing::info!(events = report.appended, "fixtures loaded; indexing them before listening");
            if let Some(p) = archive.projections() {
                p.wait_for(archive.store().head(), Duration::from_secs(600)).await?;
            }
        } else {
            tracing::warn!(file = %fixtures.display(), "the archive is empty and there are no fixtures to load");
        }
    }
    let tokens = crate::auth::Tokens::load(&data.data)?;
    let listener =
        tokio::net::TcpListener::bind(listen).await.with_context(|| format!("listening on {listen}"))?;
    let address = listener.local_addr()?;
    tracing::info!(head = %archive.store().head(), data = %data.data.display(), "archive open");
    tracing::info!("GraphiQL: http://{address}/graphiql  (GraphQL: http://{address}/graphql)");
    // Start linking once the fixtures are in: the publisher then sends them in big batches.
    let linked = link.map(|link| {
        let store = archive.store().clone();
        match link.role {
            crate::replicate::Role::Publisher => tokio::spawn(crate::replicate::publish(store, link)),
            crate::replicate::Role::Follower => tokio::spawn(crate::replicate::follow(store, link)),
        }
    });
    let state = crate::http::AppState::new(archive.clone(), tokens);
    crate::http::serve(listener, state, shutdown).await?;
    if let Some(task) = linked {
        task.abort();
    }
    tracing::info!("stopping: projectors commit what they applied");
    tokio::task::spawn_blocking(move || archive.close()).await?;
    Ok(ExitCode::SUCCESS)
}

/// Import formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// morgue's JSON Lines (what `morgue export` writes, and the fixtures).
    Morgue,
    /// The event histories in `shared/data` (`stream`, `seq`, `type`, `payload` with names).
    Corpus,
}

/// Opens an input file, `-` for standard input, decompressing `.gz`.
pub fn open_input(path: &std::path::Path) -> anyhow::Result<Box<dyn std::io::BufRead>> {
    use std::io::BufReader;
    let raw: Box<dyn std::io::Read> = if path.as_os_str() == "-" {
        Box::new(std::io::stdin())
    } else {
        Box::new(std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?)
    };
    let gz = path.extension().is_some_and(|e| e == "gz");
    Ok(if gz {
        Box::new(BufReader::with_capacity(1 << 20, flate2::read::MultiGzDecoder::new(raw)))
    } else {
        Box::new(BufReader::with_capacity(1 << 20, raw))
    })
}

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

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    init_tracing();
    match cli.command {
        Commands::Serve { data, listen, fixtures, replication } => {
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(serve(data, listen, fixtures, replication))
        }
        Commands::Schema => {
            print!("{}", crate::graphql::sdl());
            Ok(ExitCode::SUCCESS)
        }
        Commands::Token(command) => {
            let tokens = crate::auth::Tokens::load(&command.data().data)?;
            match command {
                TokenCommand::Create { name, role, .. } => {
                    let role = crate::graphql::Role::from(role);
                    let secret = tokens.create(&name, role)?;
                    eprintln!("created a {role:?} token named {name:?}; it is shown once, keep it:");
                    println!("{secret}");
                }
                TokenCommand::List { .. } => {
                    for t in tokens.list() {
                        let state = t.revoked_at.map_or("live".to_owned(), |at| format!("revoked {at}"));
                        println!("{}\t{:?}\tcreated {}\t{state}", t.name, t.role, t.created_at);
                    }
                }
                TokenCommand::Revoke { name, .. } => {
                    let n = tokens.revoke(&name)?;
                    println!("revoked {n} token(s) named {name:?}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Commands::Rebuild { data, which } => {
            let store = data.open_store()?;
            let projections = crate::project::Projections::open(store.clone(), &data.data, data.map_size)?;
            projections.set_batch(data.projector_batch);
            // The views first: the search index is built from them.
            let order: Vec<Which> = match which.map(Which::from) {
                Some(w) => vec![w],
                None => vec![Which::Views, Which::Search],
            };
            for which in order {
                if which == Which::Search {
                    projections.apply_views_to_head()?;
                }
                let bar =
                    progress_bar(store.head().get(), if which == Which::Views { "views" } else { "search" });
                let started = std::time::Instant::now();
                let dir = projections.rebuild(which, |p, head| {
                    bar.set_length(head.get());
                    bar.set_position(p.get());
                })?;
                bar.finish_and_clear();
                let secs = started.elapsed().as_secs_f64();
                println!(
                    "rebuilt {which:?} in {secs:.2}s ({:.0} events/s) into {}",
                    store.head().get() as f64 / secs.max(1e-9),
                    dir.display()
                );
            }
            projections.stop();
            Ok(ExitCode::SUCCESS)
        }
        Commands::WriterKey { data, signing_key } => {
            let path = signing_key.unwrap_or_else(|| data.data.join(WRITER_KEY_FILE));
            let key = crate::replicate::SigningKey::load_or_create(&path)
                .with_context(|| format!("the signing key {}", path.display()))?;
            println!("{}", key.public_key());
            Ok(ExitCode::SUCCESS)
        }
        Commands::Verify { data } => {
            let store = data.open_store()?;
            let head = store.head();
            let bar = progress_bar(head.get(), "verifying");
            let report = store::verify(&store.reader()?, |p| bar.set_position(p.get()))?;
            bar.finish_and_clear();
            match &report.problem {
                None => {
                    println!(
                        "ok: {} events in {} streams, head {}, chain head {}",
                        report.events,
                        report.streams,
                        report.head,
                        hex(&report.head_hash)
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Some(problem) => {
                    println!(
                        "BAD at position {}: {} ({} events before it are intact)",
                        problem.position, problem.reason, report.events
                    );
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Commands::Import { data, file, format, batch } => {
            let store = data.open_store()?;
            let input = open_input(&file)?;
            let lines: Box<dyn Iterator<Item = std::io::Result<String>>> = match format {
                Format::Morgue => Box::new(std::io::BufRead::lines(input)),
                Format::Corpus => Box::new(crate::transfer::corpus::lines(input, &store)),
            };
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "importing {spinner} {pos} lines ({per_sec}) {elapsed}",
                )
                .expect("the template is valid"),
            );
            let started = std::time::Instant::now();
            let head = store.head();
            let report = crate::transfer::import(&store, lines, batch, |n| bar.set_position(n))
                .with_context(|| format!("importing {}", file.display()))?;
            bar.finish_and_clear();
            let secs = started.elapsed().as_secs_f64();
            println!(
                "imported {} events ({} already present) from {} lines in {secs:.2}s ({:.0} events/s); head {} -> {}",
                report.appended,
                report.skipped,
                report.lines,
                report.appended as f64 / secs.max(1e-9),
                head,
                store.head()
            );
            Ok(ExitCode::SUCCESS)
        }
        Commands::Export { data, from, out } => {
            let store = data.open_store()?;
            let bar = progress_bar(store.head().get(), "exporting");
            let count = match out {
                Some(path) => {
                    let file = std::fs::File::create(&path)
                        .with_context(|| format!("creating {}", path.display()))?;
                    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
                    crate::transfer::export(&store, crate::Position(from), &mut w, |p| {
                        bar.set_position(p.get())
                    })?
                }
                None => {
                    let mut w = std::io::BufWriter::new(std::io::stdout().lock());
                    crate::transfer::export(&store, crate::Position(from), &mut w, |p| {
                        bar.set_position(p.get())
                    })?
                }
            };
            bar.finish_and_clear();
            eprintln!("exported {count} events");
            Ok(ExitCode::SUCCESS)
        }
        Commands::Backup { data, out } => {
            let store = data.open_store()?;
            let head = store
                .backup(&out.join("log"))
                .with_context(|| format!("backing up into {}", out.display()))?;
            // The tokens, and the writer's signing key: a writer restored from the backup
            // signs as before, so its replicas keep trusting it.
            for file in ["tokens.json", WRITER_KEY_FILE] {
                let from = data.data.join(file);
                if from.exists() {
                    std::fs::copy(&from, out.join(file))?;
                }
            }
            println!("backed up the log up to position {head} into {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
        Commands::Generate { articles, revisions, authors, seed, min_words, max_words, out } => {
            let spec = crate::generate::Spec {
                articles,
                revisions,
                authors,
                seed,
                words: (min_words, max_words.max(min_words)),
            };
            let lines = match out {
                Some(path) => {
                    let file = std::fs::File::create(&path)
                        .with_context(|| format!("creating {}", path.display()))?;
                    crate::generate::generate(&spec, &mut std::io::BufWriter::with_capacity(1 << 20, file))?
                }
                None => {
                    crate::generate::generate(&spec, &mut std::io::BufWriter::new(std::io::stdout().lock()))?
                }
            };
            eprintln!("generated {lines} events");
            Ok(ExitCode::SUCCESS)
        }
        Commands::Stats { data } => {
            let store = data.open_store()?;
            let size = store.env().real_disk_size()?;
            println!("head position: {}", store.head());
            println!("log size on disk: {size} bytes");
            Ok(ExitCode::SUCCESS)
        }
        Commands::Bench(BenchCommand::Append { data, writers, seconds, print_acks }) => {
            let store = data.open_store()?;
            let duration = (seconds > 0).then(|| Duration::from_secs(seconds));
            let rate = crate::bench::append(&store, writers, duration, print_acks)?;
            eprintln!("durable append, {writers} writer(s): {rate}");
            Ok(ExitCode::SUCCESS)
        }
        Commands::Bench(BenchCommand::Searchable { data, count }) => {
            let archive = crate::archive::Archive::open(&data.data, data.map_size)?;
            let rate = crate::bench::searchable(&archive, count)?;
            eprintln!(
                "publish-to-searchable delay over {count} articles: p50 {:.1} ms, p99 {:.1} ms",
                rate.p50.as_secs_f64() * 1e3,
                rate.p99.as_secs_f64() * 1e3
            );
            archive.close();
            Ok(ExitCode::SUCCESS)
        }
        Commands::Bench(BenchCommand::TimeTravel { data, revisions, reads }) => {
            let archive = crate::archive::Archive::open(&data.data, data.map_size)?;
            let r = crate::bench::time_travel(&archive, revisions, reads)?;
            let us = |d: Duration| d.as_secs_f64() * 1e6;
            eprintln!(
                "article(asOf), 1 revision:       p50 {:.1} µs, p99 {:.1} µs",
                us(r.short.p50),
                us(r.short.p99)
            );
            eprintln!(
                "article(asOf), {revisions} revisions: p50 {:.1} µs, p99 {:.1} µs",
                us(r.long.p50),
                us(r.long.p99)
            );
            eprintln!(
                "search now:                      p50 {:.1} µs, p99 {:.1} µs",
                us(r.search_now.p50),
                us(r.search_now.p99)
            );
            eprintln!(
                "search asOf a past instant:      p50 {:.1} µs, p99 {:.1} µs",
                us(r.search_past.p50),
                us(r.search_past.p99)
            );
            archive.close();
            Ok(ExitCode::SUCCESS)
        }
        Commands::Bench(BenchCommand::Sync { dir, seconds }) => {
            let rate = crate::bench::sync(&dir, Duration::from_secs(seconds))?;
            eprintln!("disk sync (64-byte write + fdatasync): {rate}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("MORGUE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .try_init();
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
