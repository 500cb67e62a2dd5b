//! Beyond one machine: the log on NATS JetStream.
//!
//! The writer's [`publish`] task is an outbox: it copies the log, in position order, into a
//! JetStream stream whose sequence *is* the position (message id = position for
//! deduplication, expected last sequence = position - 1 for order), resuming from the stream's
//! last sequence after any crash or outage. Appends never wait for it.
//!
//! A replica's [`follow`] task reads the stream through a durable pull consumer and restores
//! each event verbatim into the replica's own log (same positions, same hash chain), where the
//! usual projectors pick it up. The replica's log is its checkpoint: the consumer is recreated
//! at the log's head + 1 whenever the task (re)connects.
//!
//! What a published message holds (subjects, headers, payload) is documented in
//! `docs/feed.md`: other services consume the same feed.

pub mod blobs;
mod follow;
pub mod keys;
mod publish;
pub mod trust;
pub mod wire;

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

pub use follow::follow;
pub use publish::publish;
pub use trust::{NatsAuth, SigningKey, WriterKey};
pub use wire::{
    H_CHECKSUM, H_EFFECTIVE_AT, H_POSITION, H_RECORDED_AT, H_STREAM, H_TYPE, H_VERSION, WireEvent, subject_of,
};

/// The stream's default name.
pub const DEFAULT_STREAM: &str = "MORGUE";

/// How a node takes part in replication.
#[derive(Clone, Debug)]
pub struct NatsConfig {
    /// Server URLs, comma-separated (`nats://a:4222,nats://b:4222`).
    pub url: String,
    /// The JetStream stream's name.
    pub stream: String,
    /// Copies of the stream JetStream keeps (the writer creates the stream with this many).
    pub replicas: usize,
    /// The replica's durable consumer name.
    pub consumer: String,
    /// Where the writer takes mutations (named in a replica's READ_ONLY refusals).
    pub writer_url: Option<String>,
    /// A replica whose lag exceeds this many events reports not ready on `/readyz`.
    pub ready_lag: u64,
    /// How to authenticate to NATS, and whether to require TLS.
    pub auth: NatsAuth,
    /// The writer: the key it signs every published event with.
    pub signing_key: Option<std::sync::Arc<SigningKey>>,
    /// A replica: the writer's public key, which every event it restores must be signed by.
    pub writer_key: Option<WriterKey>,
}

impl NatsConfig {
    /// The server addresses, for the client, without the credentials a URL may carry (the
    /// client does not read them there: see [`NatsConfig::url_credentials`]).
    pub fn servers(&self) -> Vec<String> {
        self.url
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| match (s.find("://"), s.rfind('@')) {
                (Some(scheme), Some(at)) if at > scheme => format!("{}{}", &s[..scheme + 3], &s[at + 1..]),
                _ => s.to_owned(),
            })
            .collect()
    }

    /// Credentials given in the URL (`nats://user:password@host` or `nats://token@host`), as
    /// (user or token, password).
    pub fn url_credentials(&self) -> Option<(String, Option<String>)> {
        self.url.split(',').map(str::trim).find_map(|s| {
            let rest = &s[s.find("://")? + 3..];
            let userinfo = &rest[..rest.find('@')?];
            Some(match userinfo.split_once(':') {
                Some((user, password)) => (user.to_owned(), Some(password.to_owned())),
                None => (userinfo.to_owned(), None),
            })
        })
    }

    /// `nats://host:port/STREAM`, for messages and status: never with the credentials a URL
    /// may carry.
    pub fn describe(&self) -> String {
        format!("{}/{}", redact(&self.url), self.stream)
    }
}

/// Which side of the feed a node is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Publishes its log.
    Publisher,
    /// Follows the stream into its own log; refuses writes.
    Follower,
}

/// The live state of a node's link to the stream, shared with status, `/readyz` and metrics.
#[derive(Debug)]
pub struct Link {
    /// Publisher or follower.
    pub role: Role,
    /// The configuration.
    pub config: NatsConfig,
    connected: AtomicBool,
    /// Publisher: the last position the stream acknowledged. Follower: the last applied.
    done: AtomicU64,
    /// Follower: the stream's last sequence as last seen (publisher: unused, the log's head is).
    remote: AtomicU64,
    /// Follower: has reached the stream's end at least once.
    caught_up: AtomicBool,
    error: Mutex<Option<String>>,
    /// Why the link stopped for good (a forged event, a log parted from the stream): set once,
    /// never retried; the node reports not ready, and a writer refuses writes.
    halted: Mutex<Option<String>>,
}

impl Link {
    /// A link not yet connected.
    pub fn new(role: Role, config: NatsConfig) -> Link {
        Link {
            role,
            config,
            connected: AtomicBool::new(false),
            done: AtomicU64::new(0),
            remote: AtomicU64::new(0),
            caught_up: AtomicBool::new(false),
            error: Mutex::new(None),
            halted: Mutex::new(None),
        }
    }

    /// Stops the link for good, with the reason shown in status and `/readyz` (and, on a
    /// writer, in every refused write).
    pub fn halt(&self, reason: String) {
        tracing::error!(target = %self.config.describe(), %reason, "replication halted");
        self.set_error(reason.clone());
        let mut halted = self.halted.lock().unwrap_or_else(|e| e.into_inner());
        halted.get_or_insert(reason);
    }

    /// Why the link halted, if it did.
    pub fn halted(&self) -> Option<String> {
        self.halted.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set_connected(&self, connected: bool) {
        self.connected.store(connected, Ordering::Release);
        if connected {
            *self.error.lock().unwrap_or_else(|e| e.into_inner()) = None;
        }
    }

    fn set_error(&self, error: String) {
        self.connected.store(false, Ordering::Release);
        *self.error.lock().unwrap_or_else(|e| e.into_inner()) = Some(error);
    }
}

impl crate::archive::Linked for Link {
    fn refuse_writes(&self) -> Option<crate::Error> {
        match self.role {
            Role::Follower => Some(crate::Error::ReadOnly {
                follows: self.config.describe(),
                writer: self.config.writer_url.clone(),
            }),
            Role::Publisher => self.halted().map(crate::Error::Fenced),
        }
    }

    fn report(&self, head: crate::Position) -> crate::archive::LinkReport {
        let done = self.done.load(Ordering::Acquire);
        let lag = match self.role {
            Role::Publisher => head.get().saturating_sub(done),
            Role::Follower => self.remote.load(Ordering::Acquire).saturating_sub(head.get()),
        };
        let caught_up = self.caught_up.load(Ordering::Acquire);
        let halted = self.halted();
        // A replica is ready once it has reached the stream's end and stays within reach of it;
        // any node whose link halted is not.
        let ready = halted.is_none()
            && match self.role {
                Role::Follower => caught_up && lag <= self.config.ready_lag,
                Role::Publisher => true,
            };
        crate::archive::LinkReport {
            replica: self.role == Role::Follower,
            target: self.config.describe(),
            connected: self.connected.load(Ordering::Acquire),
            position: done,
            lag,
            caught_up,
            error: self.error.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            halted,
            ready,
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs `session` again and again, with a growing pause (up to 5 s) after each failure, until
/// it returns `Ok` (the log closed); each failure is logged and shown in the link's status.
async fn keep_running<'a, F, Fut>(link: &'a Link, doing: &str, mut session: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), String>> + 'a,
{
    let mut delay = Duration::from_millis(100);
    while let Err(e) = session().await {
        if link.halted().is_some() {
            return;
        }
        tracing::warn!(error = %e, target = %link.config.describe(), "{doing} paused; retrying");
        link.set_error(e);
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

/// The stream's last sequence: the last position it holds.
async fn last_sequence(stream: &mut async_nats::jetstream::stream::Stream) -> Result<u64, String> {
    let name = stream.cached_info().config.name.clone();
    let info = stream.info().await.map_err(|e| format!("reading stream {name}: {e}"))?;
    Ok(info.state.last_sequence)
}

/// Does the stream's message at `sequence` carry the checksum of this log's event there? The
/// check that a stream and a log are the same history before one continues the other.
async fn same_event(
    store: &crate::store::Store,
    stream: &async_nats::jetstream::stream::Stream,
    sequence: u64,
) -> Result<bool, String> {
    let message =
        stream.get_raw_message(sequence).await.map_err(|e| format!("reading sequence {sequence}: {e}"))?;
    let theirs = message.headers.get(wire::H_CHECKSUM).map(|v| v.as_str().to_owned());
    let ours = store
        .reader()
        .and_then(|r| r.event(crate::Position(sequence)))
        .map(|e| wire::checksum_of(&e))
        .map_err(|e| format!("reading position {sequence}: {e}"))?;
    Ok(theirs.as_deref() == Some(ours.as_str()))
}

/// Connects to the servers with the client name given.
async fn connect(config: &NatsConfig, name: &str) -> Result<async_nats::jetstream::Context, String> {
    let servers = config.servers();
    let mut auth = config.auth.clone();
    match config.url_credentials() {
        Some((user, Some(password))) if auth.user.is_none() => {
            auth.user = Some(user);
            auth.password = Some(password);
        }
        Some((token, None)) if auth.token.is_none() => auth.token = Some(token),
        _ => {}
    }
    let client = auth
        .options(name)
        .await?
        .connection_timeout(Duration::from_secs(5))
        .connect(&servers[..])
        .await
        .map_err(|e| format!("connecting to {}: {}", redact(&config.url), redact(&e.to_string())))?;
    Ok(async_nats::jetstream::ContextBuilder::new()
        .timeout(Duration::from_secs(5))
        .ack_timeout(Duration::from_secs(5))
        .build(client))
}

/// A URL list (or any text holding URLs) with every `user:password@` part replaced by `***@`,
/// so no credential reaches status, `/readyz`, errors or logs.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(scheme) = rest.find("://") {
        let (head, tail) = rest.split_at(scheme + 3);
        out.push_str(head);
        let host_end = tail.find(|c: char| c == '/' || c == ',' || c.is_whitespace()).unwrap_or(tail.len());
        let authority = &tail[..host_end];
        match authority.rfind('@') {
            Some(at) => {
                out.push_str("***");
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[host_end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod redact_tests {
    #[test]
    fn credentials_never_show() {
        assert_eq!(
            super::redact("nats://alice:s3cret@a:4222, tls://tok@b:4222/MORGUE"),
            "nats://***@a:4222, tls://***@b:4222/MORGUE"
        );
        assert_eq!(super::redact("nats://a:4222"), "nats://a:4222");
    }
}
