//! The settings `serve` shares with the other commands: projectors and roles as flags, and
//! replication over NATS JetStream.

use std::path::PathBuf;

use anyhow::Context;

use super::*;

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
