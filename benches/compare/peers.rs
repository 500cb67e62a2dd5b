//! The peers: an events table in PostgreSQL with its full-text search, and SQLite with FTS5,
//! set up as their careful users would.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use morgue::tools::bench::Rate;

use crate::corpus::{Corpus, Query, QueryKind};

/// What every peer answers; each method is one row of the table.
pub trait Peer {
    /// Its name in the table.
    fn name(&self) -> &'static str;
    /// Durable single-event transactions from `writers` threads, each on its own stream, with
    /// the stream's next version checked against a unique (stream, version) key.
    fn append(&mut self, writers: usize, seconds: f64) -> anyhow::Result<Rate>;
    /// The corpus into the events table in big transactions; returns the wall time.
    fn import(&mut self, corpus: &Corpus) -> anyhow::Result<Duration>;
    /// The point-in-time revisions table from the events table, in SQL.
    fn rebuild_views(&mut self) -> anyhow::Result<Duration>;
    /// The full-text index over the revisions.
    fn build_search(&mut self) -> anyhow::Result<Duration>;
    /// One ranked top-10 query, present (`as_of` None) or as of an instant; returns hits.
    fn search(&mut self, query: &Query, as_of: Option<&str>) -> anyhow::Result<usize>;
    /// An article's headline and body, now or as of an instant.
    fn article(&mut self, article: &str, as_of: Option<&str>) -> anyhow::Result<bool>;
    /// Inserts a long history (`revisions` versions) for one article into the revisions table.
    fn add_history(&mut self, article: &str, revisions: usize) -> anyhow::Result<()>;
    /// Bytes on disk.
    fn size(&mut self) -> anyhow::Result<u64>;
}

/// The revisions table from the events table: one row per published version of an article,
/// valid from its event's effective instant until the next version's (the same documents
/// morgue's search index holds). The body is the last one an event carried.
const REVISIONS_PG: &str = "
CREATE TABLE revisions AS
WITH a AS (
  SELECT position, stream, version, type, effective_at,
         max(CASE WHEN payload ? 'body' THEN position END) OVER w AS body_at,
         bool_or(type = 'ArticlePublished') OVER w AS published
  FROM events WHERE stream LIKE 'article-%'
  WINDOW w AS (PARTITION BY stream ORDER BY version)
), v AS (
  SELECT a.*, coalesce(lead(effective_at) OVER (PARTITION BY stream ORDER BY version), 'infinity') AS valid_to
  FROM a WHERE published
)
SELECT v.stream AS article, v.version, v.position, v.effective_at AS valid_from, v.valid_to,
       d.payload->>'headline' AS headline, d.payload->>'section' AS section, b.payload->>'body' AS body
FROM v JOIN events d ON d.stream = v.stream AND d.version = 1 JOIN events b ON b.position = v.body_at;
CREATE INDEX revisions_article ON revisions (article, valid_from);
ANALYZE revisions;";

const REVISIONS_SQLITE: &str = "
CREATE TABLE revisions AS
WITH a AS (
  SELECT position, stream, version, type, effective_at,
         max(CASE WHEN json_extract(payload, '$.body') IS NOT NULL THEN position END) OVER w AS body_at,
         max(type = 'ArticlePublished') OVER w AS published
  FROM events WHERE stream LIKE 'article-%'
  WINDOW w AS (PARTITION BY stream ORDER BY version)
), v AS (
  SELECT a.*, coalesce(lead(effective_at) OVER (PARTITION BY stream ORDER BY version), '9999-12-31') AS valid_to
  FROM a WHERE published
)
SELECT v.stream AS article, v.version, v.position, v.effective_at AS valid_from, v.valid_to,
       json_extract(d.payload, '$.headline') AS headline, json_extract(d.payload, '$.section') AS section,
       json_extract(b.payload, '$.body') AS body
FROM v JOIN events d ON d.stream = v.stream AND d.version = 1 JOIN events b ON b.position = v.body_at;
CREATE INDEX revisions_article ON revisions (article, valid_from);
ANALYZE;";

fn timed<T>(f: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<(T, Duration)> {
    let t = Instant::now();
    let out = f()?;
    Ok((out, t.elapsed()))
}

/// Runs `per_op` in `writers` threads for `seconds`; each thread gets its index.
fn concurrent<S>(
    writers: usize,
    seconds: f64,
    setup: impl Fn(usize) -> anyhow::Result<S> + Sync,
    per_op: impl Fn(&mut S, usize, u64) -> anyhow::Result<()> + Sync,
) -> anyhow::Result<Rate> {
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let began = Instant::now();
    let all: Vec<anyhow::Result<Vec<Duration>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..writers)
            .map(|w| {
                let (setup, per_op) = (&setup, &per_op);
                scope.spawn(move || -> anyhow::Result<Vec<Duration>> {
                    let mut state = setup(w)?;
                    let mut latencies = Vec::new();
                    let mut n = 0;
                    while Instant::now() < deadline {
                        n += 1;
                        let t = Instant::now();
                        per_op(&mut state, w, n)?;
                        latencies.push(t.elapsed());
                    }
                    Ok(latencies)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("a writer thread panicked")).collect()
    });
    let elapsed = began.elapsed();
    let mut latencies = Vec::new();
    for l in all {
        latencies.extend(l?);
    }
    Ok(Rate::from_latencies(latencies, elapsed))
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

/// A PostgreSQL server of our own on a temporary directory, stopped on drop.
pub struct Postgres {
    server: Child,
    dir: PathBuf,
    socket: PathBuf,
    port: u16,
    client: postgres::Client,
}

/// The directory of PostgreSQL's server programs (Debian puts them beside its version).
pub fn postgres_bin() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("postgres").exists() && p.join("initdb").exists())
        .collect();
    found.sort();
    found.pop()
}

/// Runs a server program as the `postgres` user when we are root (it refuses to run as root).
fn as_postgres(program: &Path) -> Command {
    let root = std::env::var("USER").map(|u| u == "root").unwrap_or(false)
        || Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0")).unwrap_or(false);
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

impl Postgres {
    /// initdb and start a server with durable settings (fsync, synchronous_commit, full page
    /// writes on) and memory for its work.
    pub fn start(work: &Path, port: u16) -> anyhow::Result<Postgres> {
        let bin = postgres_bin().ok_or_else(|| anyhow::anyhow!("PostgreSQL server not found"))?;
        let dir = work.join("pg");
        let socket = work.join("pg-socket");
        std::fs::create_dir_all(&dir)?;
        std::fs::create_dir_all(&socket)?;
        let _ = Command::new("chown").args(["-R", "postgres:postgres"]).arg(&dir).arg(&socket).status();
        let _ = Command::new("chmod").arg("a+rx").arg(work).status();
        let init = as_postgres(&bin.join("initdb"))
            .args(["-A", "trust", "-U", "bench", "-E", "UTF8", "--locale=C.UTF-8", "-D"])
            .arg(&dir)
            .output()?;
        anyhow::ensure!(init.status.success(), "initdb: {}", String::from_utf8_lossy(&init.stderr));
        let server = as_postgres(&bin.join("postgres"))
            .arg("-D")
            .arg(&dir)
            .args(["-p", &port.to_string(), "-k"])
            .arg(&socket)
            .args([
                "-c",
                "listen_addresses=",
                "-c",
                "fsync=on",
                "-c",
                "synchronous_commit=on",
                "-c",
                "full_page_writes=on",
                "-c",
                "shared_buffers=2GB",
                "-c",
                "work_mem=64MB",
                "-c",
                "maintenance_work_mem=2GB",
                "-c",
                "max_wal_size=16GB",
                "-c",
                "checkpoint_timeout=30min",
                "-c",
                "wal_buffers=64MB",
                "-c",
                "max_connections=100",
                "-c",
                "max_parallel_maintenance_workers=2",
                "-c",
                "default_text_search_config=pg_catalog.english",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()?;
        let conninfo = format!("host={} port={port} user=bench dbname=postgres", socket.display());
        let deadline = Instant::now() + Duration::from_secs(60);
        let client = loop {
            match postgres::Client::connect(&conninfo, postgres::NoTls) {
                Ok(c) => break c,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => anyhow::bail!("PostgreSQL did not start: {e}"),
            }
        };
        let mut pg = Postgres { server, dir, socket, port, client };
        pg.client.batch_execute(
            "CREATE TABLE events (
               position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
               stream text NOT NULL,
               version integer NOT NULL,
               type text NOT NULL,
               recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
               effective_at timestamptz NOT NULL,
               payload jsonb NOT NULL,
               UNIQUE (stream, version))",
        )?;
        Ok(pg)
    }

    fn conninfo(&self) -> String {
        format!("host={} port={} user=bench dbname=postgres", self.socket.display(), self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // Fast shutdown, sent to the postmaster itself (runuser does not pass signals on).
        let pid = std::fs::read_to_string(self.dir.join("postmaster.pid"))
            .ok()
            .and_then(|s| s.lines().next().map(str::to_owned))
            .unwrap_or_else(|| self.server.id().to_string());
        let _ = Command::new("kill").arg("-INT").arg(pid).status();
        let _ = self.server.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Peer for Postgres {
    fn name(&self) -> &'static str {
        "PostgreSQL"
    }

    fn append(&mut self, writers: usize, seconds: f64) -> anyhow::Result<Rate> {
        let conninfo = self.conninfo();
        concurrent(
            writers,
            seconds,
            |_| {
                let mut c = postgres::Client::connect(&conninfo, postgres::NoTls)?;
                let stmt = c.prepare(
                    "INSERT INTO events (stream, version, type, effective_at, payload)
                     SELECT $1, coalesce(max(version), 0) + 1, 'AuthorRenamed', now(), $2::text::jsonb
                     FROM events WHERE stream = $1",
                )?;
                Ok((c, stmt))
            },
            |(c, stmt), w, n| {
                let stream = format!("bench-{writers}-{w}");
                c.execute(&*stmt, &[&stream, &format!("{{\"name\": \"Writer {w} {n}\"}}")])?;
                Ok(())
            },
        )
    }

    fn import(&mut self, corpus: &Corpus) -> anyhow::Result<Duration> {
        timed(|| {
            use std::io::Write;
            let mut tx = self.client.transaction()?;
            let mut w =
                tx.copy_in("COPY events (stream, version, type, effective_at, payload) FROM STDIN")?;
            for e in &corpus.events {
                writeln!(
                    w,
                    "{}\t{}\t{}\t{}\t{}",
                    e.stream,
                    e.version,
                    e.event_type,
                    e.effective_at,
                    copy_text(&e.payload)
                )?;
            }
            w.finish()?;
            tx.commit()?;
            self.client.batch_execute("ANALYZE events")?;
            Ok(())
        })
        .map(|(_, d)| d)
    }

    fn rebuild_views(&mut self) -> anyhow::Result<Duration> {
        timed(|| Ok(self.client.batch_execute(REVISIONS_PG)?)).map(|(_, d)| d)
    }

    fn build_search(&mut self) -> anyhow::Result<Duration> {
        timed(|| {
            Ok(self.client.batch_execute(
                "ALTER TABLE revisions ADD COLUMN tsv tsvector GENERATED ALWAYS AS
                   (setweight(to_tsvector('english', coalesce(headline, '')), 'A') ||
                    setweight(to_tsvector('english', coalesce(body, '')), 'B')) STORED;
                 CREATE INDEX revisions_tsv ON revisions USING gin (tsv);
                 CREATE INDEX revisions_valid ON revisions USING gist (tstzrange(valid_from, valid_to));
                 ANALYZE revisions;",
            )?)
        })
        .map(|(_, d)| d)
    }

    fn search(&mut self, query: &Query, as_of: Option<&str>) -> anyhow::Result<usize> {
        let text = match query.kind {
            QueryKind::Term | QueryKind::Filtered => query.words[0].clone(),
            QueryKind::Phrase => format!("\"{}\"", query.words.join(" ")),
            QueryKind::Boolean => format!("{} {} -{}", query.words[0], query.words[1], query.words[2]),
        };
        let section = query.section.clone().unwrap_or_default();
        let window = match as_of {
            None => "valid_to = 'infinity'".to_owned(),
            Some(t) => format!("tstzrange(valid_from, valid_to) @> '{t}'::timestamptz"),
        };
        let sql = format!(
            "SELECT article, headline FROM revisions, websearch_to_tsquery('english', $1) q
             WHERE tsv @@ q AND {window} AND ($2 = '' OR section = $2)
             ORDER BY ts_rank_cd(tsv, q) DESC LIMIT 10"
        );
        Ok(self.client.query(&sql, &[&text, &section])?.len())
    }

    fn article(&mut self, article: &str, as_of: Option<&str>) -> anyhow::Result<bool> {
        let rows = match as_of {
            None => self.client.query(
                "SELECT headline, body FROM revisions WHERE article = $1 ORDER BY valid_from DESC LIMIT 1",
                &[&article],
            )?,
            Some(t) => self.client.query(
                "SELECT headline, body FROM revisions WHERE article = $1 AND valid_from <= $2::text::timestamptz
                 ORDER BY valid_from DESC LIMIT 1",
                &[&article, &t],
            )?,
        };
        Ok(!rows.is_empty())
    }

    fn add_history(&mut self, article: &str, revisions: usize) -> anyhow::Result<()> {
        self.client.execute(
            "INSERT INTO revisions (article, version, position, valid_from, valid_to, headline, section, body)
             SELECT $1, g, 0, timestamptz '1851-01-01' + (g * interval '6 days'),
                    CASE WHEN g = $2 THEN 'infinity' ELSE timestamptz '1851-01-01' + ((g + 1) * interval '6 days') END,
                    'The harbour at high tide', 'bench', 'The tide came in over the harbour wall, revision ' || g
             FROM generate_series(1, $2) g",
            &[&article, &(revisions as i32)],
        )?;
        self.client.batch_execute("ANALYZE revisions")?;
        Ok(())
    }

    fn size(&mut self) -> anyhow::Result<u64> {
        let row = self.client.query_one("SELECT pg_database_size(current_database())", &[])?;
        Ok(row.get::<_, i64>(0) as u64)
    }
}

/// A value in COPY's text format.
fn copy_text(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\t', "\\t").replace('\n', "\\n").replace('\r', "\\r")
}

// ---------------------------------------------------------------------------------------------
// SQLite

/// SQLite in WAL mode with `synchronous=FULL` (every commit synced), FTS5 for search.
pub struct Sqlite {
    path: PathBuf,
    conn: rusqlite::Connection,
}

impl Sqlite {
    /// A fresh database.
    pub fn open(work: &Path) -> anyhow::Result<Sqlite> {
        let path = work.join("sqlite.db");
        let conn = Self::connection(&path)?;
        conn.execute_batch(
            "CREATE TABLE events (
               position INTEGER PRIMARY KEY,
               stream TEXT NOT NULL,
               version INTEGER NOT NULL,
               type TEXT NOT NULL,
               recorded_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now')),
               effective_at TEXT NOT NULL,
               payload TEXT NOT NULL,
               UNIQUE (stream, version))",
        )?;
        Ok(Sqlite { path, conn })
    }

    fn connection(path: &Path) -> anyhow::Result<rusqlite::Connection> {
        let conn = rusqlite::Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "cache_size", -1_000_000)?; // 1 GB
        conn.pragma_update(None, "mmap_size", 1i64 << 34)?;
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        conn.busy_timeout(Duration::from_secs(60))?;
        Ok(conn)
    }
}

impl Peer for Sqlite {
    fn name(&self) -> &'static str {
        "SQLite"
    }

    fn append(&mut self, writers: usize, seconds: f64) -> anyhow::Result<Rate> {
        let path = self.path.clone();
        concurrent(
            writers,
            seconds,
            |_| Self::connection(&path),
            |c, w, n| {
                // BEGIN IMMEDIATE takes the write lock up front: no deadlock-prone upgrade.
                let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                tx.prepare_cached(
                    "INSERT INTO events (stream, version, type, effective_at, payload)
                     SELECT ?1, coalesce(max(version), 0) + 1, 'AuthorRenamed', strftime('%Y-%m-%dT%H:%M:%f', 'now'), ?2
                     FROM events WHERE stream = ?1",
                )?
                .execute(rusqlite::params![format!("bench-{writers}-{w}"), format!("{{\"name\": \"Writer {w} {n}\"}}")])?;
                tx.commit()?;
                Ok(())
            },
        )
    }

    fn import(&mut self, corpus: &Corpus) -> anyhow::Result<Duration> {
        timed(|| {
            for chunk in corpus.events.chunks(5000) {
                let tx = self.conn.transaction()?;
                {
                    let mut insert = tx.prepare_cached(
                        "INSERT INTO events (stream, version, type, effective_at, payload) VALUES (?1, ?2, ?3, ?4, ?5)",
                    )?;
                    for e in chunk {
                        insert.execute(rusqlite::params![e.stream, e.version, e.event_type, e.effective_at, e.payload])?;
                    }
                }
                tx.commit()?;
            }
            Ok(())
        })
        .map(|(_, d)| d)
    }

    fn rebuild_views(&mut self) -> anyhow::Result<Duration> {
        timed(|| Ok(self.conn.execute_batch(REVISIONS_SQLITE)?)).map(|(_, d)| d)
    }

    fn build_search(&mut self) -> anyhow::Result<Duration> {
        timed(|| {
            Ok(self.conn.execute_batch(
                "CREATE VIRTUAL TABLE revisions_fts USING fts5(
                   headline, body, content='revisions', tokenize='porter unicode61');
                 INSERT INTO revisions_fts (revisions_fts) VALUES ('rebuild');
                 CREATE INDEX revisions_current ON revisions (valid_to);",
            )?)
        })
        .map(|(_, d)| d)
    }

    fn search(&mut self, query: &Query, as_of: Option<&str>) -> anyhow::Result<usize> {
        let text = match query.kind {
            QueryKind::Term | QueryKind::Filtered => query.words[0].clone(),
            QueryKind::Phrase => format!("\"{}\"", query.words.join(" ")),
            QueryKind::Boolean => format!("{} AND {} NOT {}", query.words[0], query.words[1], query.words[2]),
        };
        let section = query.section.clone().unwrap_or_default();
        let (window, instant) = match as_of {
            None => ("r.valid_to = '9999-12-31'", String::new()),
            Some(t) => ("r.valid_from <= ?3 AND r.valid_to > ?3", sqlite_instant(t)),
        };
        let sql = format!(
            "SELECT r.article, r.headline FROM revisions_fts f JOIN revisions r ON r.rowid = f.rowid
             WHERE revisions_fts MATCH ?1 AND {window} AND (?2 = '' OR r.section = ?2)
             ORDER BY bm25(revisions_fts, 2.0, 1.0) LIMIT 10"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = if as_of.is_some() {
            stmt.query_map(rusqlite::params![text, section, instant], |_| Ok(()))?.count()
        } else {
            stmt.query_map(rusqlite::params![text, section], |_| Ok(()))?.count()
        };
        Ok(rows)
    }

    fn article(&mut self, article: &str, as_of: Option<&str>) -> anyhow::Result<bool> {
        let found = match as_of {
            None => self
                .conn
                .prepare_cached(
                    "SELECT headline, body FROM revisions WHERE article = ?1 ORDER BY valid_from DESC LIMIT 1",
                )?
                .exists([article])?,
            Some(t) => self
                .conn
                .prepare_cached(
                    "SELECT headline, body FROM revisions WHERE article = ?1 AND valid_from <= ?2
                     ORDER BY valid_from DESC LIMIT 1",
                )?
                .exists([article, &sqlite_instant(t)])?,
        };
        Ok(found)
    }

    fn add_history(&mut self, article: &str, revisions: usize) -> anyhow::Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut insert = tx.prepare(
                "INSERT INTO revisions (article, version, position, valid_from, valid_to, headline, section, body)
                 VALUES (?1, ?2, 0, ?3, ?4, 'The harbour at high tide', 'bench', ?5)",
            )?;
            let start = chrono::DateTime::parse_from_rfc3339("1851-01-01T00:00:00Z")?.to_utc();
            for g in 1..=revisions as i64 {
                let from = start + chrono::Duration::days(6 * g);
                let to = if g == revisions as i64 {
                    "9999-12-31".to_owned()
                } else {
                    sqlite_instant(&(start + chrono::Duration::days(6 * (g + 1))).to_rfc3339())
                };
                insert.execute(rusqlite::params![
                    article,
                    g,
                    sqlite_instant(&from.to_rfc3339()),
                    to,
                    format!("The tide came in over the harbour wall, revision {g}")
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn size(&mut self) -> anyhow::Result<u64> {
        self.conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
        let mut total = 0;
        for suffix in ["", "-wal", "-shm"] {
            total +=
                std::fs::metadata(format!("{}{suffix}", self.path.display())).map(|m| m.len()).unwrap_or(0);
        }
        Ok(total)
    }
}

/// Instants as SQLite compares them: RFC 3339 text in UTC, which sorts as time does.
fn sqlite_instant(t: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(t)
        .map(|d| d.to_utc().format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
        .unwrap_or_else(|_| t.to_owned())
}
