//! Opening a log: who owns it, and its recovery after a crash.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;

use heed::EnvOpenOptions;
use tokio::sync::watch;

use super::durable::{self, Durability};
use super::seal::StreamKey;
use super::{
    Env, Error, Inner, Result, STORE_FORMAT, Store, StoreOptions, Tables, checkpoint, tables, wal, writer,
};

/// How long [`Store::open`] waits for another process to let go of the log.
const OWNER_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Creates the tables (and a new log's format and salt) and, after a crash, applies the
/// write-ahead log's records since `last` again. Returns the tables and, when LMDB still
/// stands at `last` with nothing to apply, its transaction and generation.
fn prepare(
    env: &Env,
    path: &Path,
    last: Option<&checkpoint::Checkpoint>,
) -> Result<(Tables, Option<(u64, u64)>)> {
    let mut wtxn = env.write_txn()?;
    let tables = Tables::create(env, &mut wtxn)?;
    match tables.meta.get(&wtxn, "format")? {
        Some(bytes) => {
            let found = bytes.try_into().map(u64::from_be_bytes).unwrap_or(0);
            if found != STORE_FORMAT {
                return Err(Error::Format { found });
            }
        }
        None => tables.meta.put(&mut wtxn, "format", &STORE_FORMAT.to_be_bytes())?,
    }
    if tables.meta.get(&wtxn, "salt")?.is_none() {
        let salt = StreamKey::generate()?;
        tables.meta.put(&mut wtxn, "salt", &salt.0)?;
    }
    let mut current = None;
    if let Some(last) = last {
        let records = wal::replay(path, last.generation)?;
        if records.is_empty() {
            current = Some((last.txnid, last.generation));
        } else {
            tracing::info!(records = records.len(), "write-ahead log applied again");
        }
        for (i, payload) in records.iter().enumerate() {
            wal::apply(&tables, &mut wtxn, payload, i as u64)?;
        }
    }
    wtxn.commit()?;
    Ok((tables, current))
}

impl Store {
    /// Opens (or creates) the log in directory `path`, as its owner: the only process that
    /// writes it (see [`durable`]). Waits a few seconds for another process to let go of it,
    /// then fails with [`Error::Owned`].
    pub fn open(path: impl AsRef<Path>, options: StoreOptions) -> Result<Store> {
        Store::open_with(path, options, Durability::default())
    }

    /// [`Store::open`], checkpointing as `durability` says.
    ///
    /// After a crash, LMDB is first rolled back to the last checkpoint and the write-ahead
    /// log's records since are applied again (see [`checkpoint`] and [`wal`]).
    pub fn open_with(path: impl AsRef<Path>, options: StoreOptions, durability: Durability) -> Result<Store> {
        let path = path.as_ref().to_path_buf();
        std::fs::create_dir_all(&path)?;
        let owner = durable::own(&path, OWNER_WAIT)?.ok_or_else(|| Error::Owned { dir: path.clone() })?;
        Store::start(path, options, Some((owner, durability)))
    }

    /// Opens the log in directory `path` for reading, beside its owner if it has one (a
    /// backup or a check of a served archive). With no owner, it first recovers the log from a
    /// crash, as an owner would. Every write is refused with [`Error::ReadOnly`].
    pub fn open_reader(path: impl AsRef<Path>, options: StoreOptions) -> Result<Store> {
        let path = path.as_ref().to_path_buf();
        std::fs::create_dir_all(&path)?;
        if let Some(owner) = durable::own(&path, std::time::Duration::ZERO)? {
            // Recover, then let go: the log is settled and checkpointed when the owner goes.
            drop(Store::start(path.clone(), options.clone(), Some((owner, Durability::default())))?);
        }
        Store::start(path, options, None)
    }

    fn start(
        path: PathBuf,
        options: StoreOptions,
        owner: Option<(std::fs::File, Durability)>,
    ) -> Result<Store> {
        let last = match owner {
            Some(_) => checkpoint::read(&path)?,
            None => None,
        };
        if let Some(last) = &last
            && checkpoint::roll_back(&path, last)?
        {
            tracing::info!(txn = last.txnid, "log rolled back to its last checkpoint after a crash");
        }
        // SAFETY: LMDB requires that the same environment is not opened twice in one process
        // and that its files are not modified by other means while open; heed refuses a second
        // open of the same path, and morgue owns its data directory.
        let env = unsafe {
            EnvOpenOptions::new()
                .read_txn_without_tls()
                .map_size(options.map_size)
                .max_dbs(tables::TABLE_COUNT)
                .max_readers(1022)
                .open(&path)?
        };
        let (tables, current) = prepare(&env, &path, last.as_ref())?;
        if owner.is_some() {
            // From here on LMDB commits without syncing: the write-ahead log and the
            // checkpoints keep every acknowledged commit (the writer checkpoints first).
            // SAFETY: only the store's own writer thread commits to this environment.
            unsafe { env.set_flags(heed::EnvFlags::NO_SYNC, heed::FlagSetMode::Enable)? };
        }
        let tail = {
            let rtxn = env.read_txn()?;
            writer::Tail::load(&tables, &rtxn)?
        };
        let (head, _) = watch::channel(tail.head());
        let (jobs, receiver) = mpsc::channel();
        let (owner, durability) = match owner {
            Some((file, durability)) => (Some(file), durability),
            None => (None, Durability::default()),
        };
        let wal = match owner {
            Some(_) => Some(wal::Wal::open(&path, 0)?),
            None => None,
        };
        let setup = writer::Setup {
            env: env.clone(),
            tables,
            tail,
            head: head.clone(),
            map_size: options.map_size,
            dir: path.clone(),
            wal,
            owner,
            durability,
            current,
        };
        let thread = writer::spawn(setup, receiver)?;
        Ok(Store {
            inner: Arc::new(Inner {
                env,
                tables,
                path,
                map_size: options.map_size,
                jobs: Some(jobs),
                thread: Some(thread),
                head,
            }),
        })
    }
}
