//! Crashes below the process: the machine loses everything that was not synced.
//!
//! A log is written by several appenders while the test watches every sync the writer makes
//! (the write-ahead log, LMDB's file, the checkpoint) and keeps what each sync made durable. At
//! generated moments it builds what a disk could hold after a power cut: the durable images,
//! plus a random part of what was written since (512-byte sectors of the write-ahead log and
//! of LMDB's file, and the checkpoint's rename or not), then opens it. Every time, each
//! acknowledged event must be there, every event there must be the one the live log holds at
//! its position (nothing torn, nothing invented), and `verify` must pass. A run makes 1,000
//! cuts, or `MORGUE_POWER_CUTS` of them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use morgue::Position;
use morgue::domain::events::{AuthorRegistered, AuthorRenamed, Event};
use morgue::store::{self, AppendRequest, Durability, ExpectedVersion, Store, StoreOptions, Synced};

use crate::support::proposed;

const SECTOR: usize = 512;
const OPTIONS: StoreOptions = StoreOptions { map_size: 1 << 30 };

/// What the disk holds for sure: each file as of its last sync.
#[derive(Default)]
struct Durable {
    files: BTreeMap<&'static str, Vec<u8>>,
    syncs: BTreeMap<&'static str, usize>,
}

fn name(synced: Synced) -> &'static str {
    match synced {
        Synced::Wal => "wal",
        Synced::Data => "data.mdb",
        Synced::Checkpoint => "checkpoint",
    }
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// `durable`, with each sector that differs in `now` taken from `now` at random (and the
/// file's new length, with zeros where neither has bytes).
fn torn(durable: &[u8], now: &[u8], rng: &mut Rng, percent: u64) -> Vec<u8> {
    // The file's growth reached the disk, or not.
    let len = if rng.chance(50) { durable.len().max(now.len()) } else { durable.len() };
    let mut out = durable.to_vec();
    out.resize(len, 0);
    for start in (0..out.len()).step_by(SECTOR) {
        let end = (start + SECTOR).min(out.len());
        let fresh = now.get(start..end.min(now.len())).unwrap_or(&[]);
        if !fresh.is_empty() && fresh != &out[start..start + fresh.len()] && rng.chance(percent) {
            out[start..start + fresh.len()].copy_from_slice(fresh);
        }
    }
    out
}

/// Writes, into `crash`, what the disk could hold if the power went now.
fn power_cut(live: &Path, durable: &Durable, crash: &Path, rng: &mut Rng) {
    std::fs::create_dir_all(crash).unwrap();
    let percent = [0, 10, 50, 90, 100][(rng.next() % 5) as usize];
    for file in ["data.mdb", "wal"] {
        let now = std::fs::read(live.join(file)).unwrap_or_default();
        let image = torn(&durable.files[file], &now, rng, percent);
        std::fs::write(crash.join(file), image).unwrap();
    }
    // The checkpoint is replaced by a rename: the old one or the new one, never a mix.
    let checkpoint = match std::fs::read(live.join("checkpoint")) {
        Ok(now) if rng.chance(50) => now,
        _ => durable.files["checkpoint"].clone(),
    };
    std::fs::write(crash.join("checkpoint"), checkpoint).unwrap();
}

fn event(i: u64) -> Event {
    if i == 0 {
        Event::AuthorRegistered(AuthorRegistered { name: "crash".into(), bio: Some("x".repeat(100)) })
    } else {
        Event::AuthorRenamed(AuthorRenamed {
            name: format!("name {i} {}", "y".repeat((i % 7 * 60) as usize)),
        })
    }
}

#[test]
fn acknowledged_appends_survive_any_power_cut() {
    let dir = tempfile::tempdir().unwrap();
    let live: PathBuf = dir.path().join("log");
    let mut rng = Rng(crate::crash::seed());
    // 1,000 in every `cargo test`; MORGUE_POWER_CUTS=5000 (say) for a longer run.
    let cuts_wanted: usize =
        std::env::var("MORGUE_POWER_CUTS").ok().and_then(|n| n.parse().ok()).unwrap_or(1000);
    eprintln!("power-cut test seed {}, {cuts_wanted} cuts", rng.0);

    let durable = Arc::new(Mutex::new(Durable::default()));
    let observer: store::SyncObserver = {
        let (durable, live) = (durable.clone(), live.clone());
        Arc::new(move |synced| {
            let mut durable = durable.lock().unwrap();
            let file = name(synced);
            durable.files.insert(file, std::fs::read(live.join(file)).unwrap());
            *durable.syncs.entry(file).or_default() += 1;
        })
    };
    let durability = Durability {
        checkpoint_bytes: 256 << 10,
        checkpoint_every: Duration::from_millis(200),
        observer: Some(observer),
    };
    let store = Store::open_with(&live, OPTIONS, durability).unwrap();
    // The log is opened by a synced commit, then checkpointed: all three files are durable.
    // The write-ahead log was only filled with zeros so far.
    durable.lock().unwrap().files.entry("wal").or_insert_with(|| std::fs::read(live.join("wal")).unwrap());

    let acked: Arc<Mutex<Vec<Position>>> = Arc::default();
    let done = Arc::new(AtomicBool::new(false));
    let appenders: Vec<_> = (0..4)
        .map(|w| {
            let (store, acked, done) = (store.clone(), acked.clone(), done.clone());
            std::thread::spawn(move || {
                let stream = format!("author-01J0000000000000000000C{w:03}");
                let mut version = 0;
                while !done.load(Ordering::Relaxed) && version < 1500 {
                    // Some appends carry several events, so records vary in size.
                    let n = 1 + version % 3;
                    let events = (version..version + n).map(|i| proposed(&event(i))).collect();
                    let expected = if version == 0 {
                        ExpectedVersion::NoStream
                    } else {
                        ExpectedVersion::Exact(version)
                    };
                    let a = store.append(AppendRequest::new(&stream, expected, events)).unwrap();
                    version = a.version;
                    let mut acked = acked.lock().unwrap();
                    acked.extend((a.first_position.get()..=a.last_position.get()).map(Position));
                }
            })
        })
        .collect();

    let crashes = dir.path().join("crashes");
    let mut beyond: Vec<(Position, store::Hash)> = Vec::new();
    let mut cuts = 0;
    while cuts < cuts_wanted {
        let (crash, acked_now) = {
            // Holding the images still: the writer waits at its next sync, as a disk would
            // be cut between two of them.
            let durable = durable.lock().unwrap();
            let acked_now = acked.lock().unwrap().clone();
            let crash = crashes.join(cuts.to_string());
            power_cut(&live, &durable, &crash, &mut rng);
            (crash, acked_now)
        };
        let recovered = Store::open(&crash, OPTIONS).unwrap_or_else(|e| panic!("cut {cuts}: {e}"));
        let events = recovered.read_all(Position::ZERO, usize::MAX).unwrap();
        let head = recovered.head();
        for position in &acked_now {
            assert!(*position <= head, "cut {cuts}: acknowledged {position} lost (head {head})");
        }
        assert_eq!(events.len() as u64, head.get(), "cut {cuts}: a gap below the head");
        for recorded in &events {
            match store.reader().unwrap().event(recorded.position) {
                Ok(truth) => {
                    assert_eq!(truth.checksum, recorded.checksum, "cut {cuts}: {}", recorded.position)
                }
                // Synced but not yet committed in the live log: checked at the end.
                Err(_) => beyond.push((recorded.position, recorded.checksum)),
            }
        }
        let report = store::verify(&recovered.reader().unwrap(), |_| {}).unwrap();
        assert!(report.is_ok(), "cut {cuts}: {report:?}");
        drop(recovered);
        std::fs::remove_dir_all(&crash).unwrap();
        cuts += 1;
    }
    done.store(true, Ordering::Relaxed);
    for appender in appenders {
        appender.join().unwrap();
    }
    for (position, checksum) in beyond {
        assert_eq!(
            store.reader().unwrap().event(position).unwrap().checksum,
            checksum,
            "{position} was not the event written there"
        );
    }
    let durable = durable.lock().unwrap();
    // The cuts fell across many syncs of each kind, checkpoints included.
    assert!(durable.syncs.get("wal").copied().unwrap_or(0) > 100, "{:?}", durable.syncs);
    assert!(durable.syncs.get("checkpoint").copied().unwrap_or(0) > 3, "{:?}", durable.syncs);
    assert!(acked.lock().unwrap().len() > 500, "the appenders made progress");
}

mod hostile_files {
    //! The write-ahead log and the checkpoint are files a node reads when it starts: whatever
    //! bytes they hold, opening the log never panics. It opens (with the records up to the
    //! first damaged one), or refuses with a coded store error.

    use proptest::prelude::*;

    use super::*;

    /// A log with a checkpoint and write-ahead records after it, closed without a last
    /// checkpoint (as a crash leaves it): the files, by name.
    fn crashed_log() -> BTreeMap<&'static str, Vec<u8>> {
        static FILES: std::sync::OnceLock<BTreeMap<&'static str, Vec<u8>>> = std::sync::OnceLock::new();
        FILES.get_or_init(write_crashed_log).clone()
    }

    fn write_crashed_log() -> BTreeMap<&'static str, Vec<u8>> {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join("log");
        let durable = Arc::new(Mutex::new(Durable::default()));
        let observer: store::SyncObserver = {
            let (durable, live) = (durable.clone(), live.clone());
            Arc::new(move |synced| {
                let file = name(synced);
                durable.lock().unwrap().files.insert(file, std::fs::read(live.join(file)).unwrap());
            })
        };
        let durability = Durability {
            checkpoint_bytes: u64::MAX,
            checkpoint_every: Duration::MAX,
            observer: Some(observer),
        };
        let store = Store::open_with(&live, OPTIONS, durability).unwrap();
        for i in 0..8 {
            let expected = if i == 0 { ExpectedVersion::NoStream } else { ExpectedVersion::Exact(i) };
            store
                .append(AppendRequest::new(
                    "author-01J0000000000000000000H001",
                    expected,
                    vec![proposed(&event(i))],
                ))
                .unwrap();
        }
        // What the disk held after the last append: the checkpoint of the opening, the log as
        // it was then, and the write-ahead records since.
        let mut files = durable.lock().unwrap().files.clone();
        files.insert("wal", std::fs::read(live.join("wal")).unwrap());
        drop(store);
        files
    }

    fn open_damaged(files: &BTreeMap<&'static str, Vec<u8>>) -> Result<u64, store::Error> {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        std::fs::create_dir_all(&log).unwrap();
        for (file, bytes) in files {
            std::fs::write(log.join(file), bytes).unwrap();
        }
        let store = Store::open(&log, OPTIONS)?;
        let report = store::verify(&store.reader()?, |_| {})?;
        assert!(report.is_ok(), "{report:?}");
        Ok(store.head().get())
    }

    #[test]
    fn the_undamaged_files_give_back_every_record() {
        assert_eq!(open_damaged(&crashed_log()).unwrap(), 8);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        #[test]
        fn damaged_write_ahead_records_are_cut_off_never_misread(
            flips in proptest::collection::vec((0usize..4096, any::<u8>()), 1..8),
        ) {
            let mut files = crashed_log();
            let wal = files.get_mut("wal").unwrap();
            let records_end = wal.iter().rposition(|b| *b != 0).unwrap();
            let first = flips.iter().map(|(at, _)| *at).min().unwrap();
            for (at, byte) in flips {
                wal[at] ^= byte | 1;
            }
            // A flipped byte fails its record's checksum: replay stops there, and the log opens
            // with the records before it, whole and verified.
            let head = open_damaged(&files).unwrap();
            if first <= records_end {
                prop_assert!(head < 8, "a damaged record was applied (flip at {first})");
            } else {
                prop_assert_eq!(head, 8);
            }
        }

        #[test]
        fn a_damaged_checkpoint_is_refused_with_a_coded_error(at in 0usize..204, byte in 1u8..=255) {
            let mut files = crashed_log();
            let checkpoint = files.get_mut("checkpoint").unwrap();
            checkpoint[at] ^= byte;
            match open_damaged(&files) {
                Err(store::Error::Corrupt { reason, .. }) => prop_assert!(reason.contains("checkpoint"), "{reason}"),
                other => prop_assert!(false, "{other:?}"),
            }
        }

        #[test]
        fn any_bytes_as_the_write_ahead_log_never_kill_the_node(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let mut files = crashed_log();
            files.insert("wal", bytes);
            prop_assert!(open_damaged(&files).unwrap() <= 8);
        }
    }
}

/// A commit too large for one write-ahead record is made durable by a checkpoint before it is
/// acknowledged: a power cut right after finds it in LMDB's synced file alone.
#[test]
fn a_commit_too_large_for_one_record_is_checkpointed_before_its_answer() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("log");
    let durable = Arc::new(Mutex::new(Durable::default()));
    let observer: store::SyncObserver = {
        let (durable, live) = (durable.clone(), live.clone());
        Arc::new(move |synced| {
            let mut durable = durable.lock().unwrap();
            let file = name(synced);
            durable.files.insert(file, std::fs::read(live.join(file)).unwrap());
            *durable.syncs.entry(file).or_default() += 1;
        })
    };
    let durability =
        Durability { checkpoint_bytes: u64::MAX, checkpoint_every: Duration::MAX, observer: Some(observer) };
    let store = Store::open_with(&live, OPTIONS, durability).unwrap();
    durable.lock().unwrap().files.insert("wal", std::fs::read(live.join("wal")).unwrap());
    let big = |i: usize| store::ProposedEvent {
        event_type: "AuthorRenamed".into(),
        schema_version: 1,
        payload: serde_json::to_vec(&serde_json::json!({ "name": "z".repeat(12 << 20), "i": i })).unwrap(),
        effective_at: None,
    };
    let checkpoints = durable.lock().unwrap().syncs.get("checkpoint").copied();
    let requests = (0..3)
        .map(|i| {
            AppendRequest::new(
                format!("author-01J0000000000000000000B00{i}"),
                ExpectedVersion::NoStream,
                vec![big(i)],
            )
        })
        .collect();
    let appended = store.append_all(requests).unwrap();
    let durable = durable.lock().unwrap();
    assert_eq!(durable.syncs.get("checkpoint").copied(), checkpoints.map(|n| n + 1), "{:?}", durable.syncs);
    assert_eq!(durable.syncs.get("wal"), None, "no write-ahead record for it");
    let crash = dir.path().join("crash");
    power_cut(&live, &durable, &crash, &mut Rng(7));
    let recovered = Store::open(&crash, OPTIONS).unwrap();
    assert_eq!(recovered.head(), appended[2].last_position);
    assert!(store::verify(&recovered.reader().unwrap(), |_| {}).unwrap().is_ok());
}
