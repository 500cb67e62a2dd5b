//! `bench/compare`'s engine: morgue side by side with PostgreSQL and SQLite on one generated
//! corpus, in one run, on one machine, against the disk's own sync rate. Prints one table
//! (Markdown) with morgue / peer for every row.
//!
//! Run it through `bench/compare` (which installs PostgreSQL and wrk when missing and builds
//! in release). `--smoke` runs a tiny size that only checks the harness works.

mod corpus;
mod peers;
mod sealing;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use morgue::tools::bench::Rate;
use peers::Peer;

struct Args {
    articles: u64,
    revisions: u32,
    words: (usize, usize),
    seconds: f64,
    rounds: usize,
    reads: usize,
    http_seconds: u32,
    work: PathBuf,
    out: Option<PathBuf>,
    postgres: bool,
    /// Only morgue's search mix, on the corpus and store a previous run left in `work`.
    search_only: bool,
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args {
        articles: 100_000,
        revisions: 6,
        words: (200, 1400),
        seconds: 5.0,
        rounds: 5,
        reads: 20_000,
        http_seconds: 10,
        work: PathBuf::from("target/compare"),
        out: None,
        postgres: true,
        search_only: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or_else(|| anyhow::anyhow!("{arg} needs a value"));
        match arg.as_str() {
            "--articles" => a.articles = value()?.parse()?,
            "--revisions" => a.revisions = value()?.parse()?,
            "--seconds" => a.seconds = value()?.parse()?,
            "--rounds" => a.rounds = value()?.parse()?,
            "--work" => a.work = value()?.into(),
            "--out" => a.out = Some(value()?.into()),
            "--no-postgres" => a.postgres = false,
            "--search-only" => a.search_only = true,
            "--smoke" => {
                a.articles = 100;
                a.revisions = 2;
                a.words = (20, 80);
                a.seconds = 0.3;
                a.rounds = 2;
                a.reads = 200;
                a.http_seconds = 1;
            }
            "--help" | "-h" => {
                println!(
                    "compare [--articles N (100000)] [--revisions R (6)] [--seconds S (5, per append run)]\n\
                     \x20       [--rounds N (5, passes over the 12-query search mix)]\n\
                     \x20       [--work DIR (target/compare)] [--out FILE.md] [--no-postgres] [--smoke]\n\
                     \x20       [--search-only (the search mix, query by query, on WORK/corpus.jsonl and\n\
                     \x20        WORK/morgue left by an earlier run or by morgue generate and import)]"
                );
                std::process::exit(0);
            }
            other => anyhow::bail!("unknown argument {other} (see --help)"),
        }
    }
    Ok(a)
}

/// One row of the table.
struct Row {
    what: String,
    unit: &'static str,
    higher_is_better: bool,
    morgue: Option<f64>,
    postgres: Option<f64>,
    sqlite: Option<f64>,
    /// The target for morgue, and whether it was met.
    target: Option<(String, bool)>,
}

fn row(what: impl Into<String>, unit: &'static str, higher_is_better: bool) -> Row {
    Row {
        what: what.into(),
        unit,
        higher_is_better,
        morgue: None,
        postgres: None,
        sqlite: None,
        target: None,
    }
}

fn fmt(v: Option<f64>, unit: &str) -> String {
    match v {
        None => "n/a".into(),
        Some(v) if unit == "ms" || unit == "µs" || unit == "%" => format!("{v:.2} {unit}"),
        Some(v) if unit == "MiB" => format!("{v:.0} {unit}"),
        Some(v) => format!("{} {unit}", thousands(v)),
    }
}

fn thousands(v: f64) -> String {
    let n = v.round() as i64;
    let s = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

fn ratio(m: Option<f64>, p: Option<f64>) -> String {
    match (m, p) {
        (Some(m), Some(p)) if p > 0.0 => format!("{:.2}", m / p),
        _ => "".into(),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn per_second(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}

fn log(msg: impl AsRef<str>) {
    eprintln!("[{}] {}", chrono::Utc::now().format("%H:%M:%S"), msg.as_ref());
}

/// The release (or debug) `morgue` binary beside this program.
fn morgue_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("MORGUE_BIN") {
        return p.into();
    }
    let exe = std::env::current_exe().expect("current exe");
    exe.parent().and_then(Path::parent).map(|d| d.join("morgue")).expect("target dir")
}

/// A command's wall time and peak memory.
struct Measured {
    time: Duration,
    /// Peak resident set (VmHWM): the heap and the pages of mapped files it touched.
    peak: u64,
    /// Peak of the anonymous part alone (RssAnon, sampled every 20 ms): the heap, which the
    /// kernel cannot drop, unlike the pages of the LMDB files mapped into the process.
    peak_anon: u64,
}

/// Runs a command to its end, sampling its peak resident memory.
fn run_measured(cmd: &mut Command) -> anyhow::Result<Measured> {
    let t = Instant::now();
    let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn()?;
    let (mut peak, mut peak_anon) = (0, 0);
    loop {
        peak = peak.max(status_bytes(child.id(), "VmHWM:").unwrap_or(0));
        peak_anon = peak_anon.max(status_bytes(child.id(), "RssAnon:").unwrap_or(0));
        if let Some(status) = child.try_wait()? {
            anyhow::ensure!(status.success(), "{cmd:?} failed: {status}");
            return Ok(Measured { time: t.elapsed(), peak, peak_anon });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A figure of a process's `/proc/<pid>/status` (`VmHWM:`, `RssAnon:`), in bytes.
fn status_bytes(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
}

fn dir_size(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else { return 0 };
    entries
        .filter_map(Result::ok)
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            // LMDB files are sparse up to the map size: count blocks actually used.
            Ok(m) => {
                use std::os::unix::fs::MetadataExt;
                (m.blocks() * 512).min(m.len())
            }
            Err(_) => 0,
        })
        .sum()
}

fn main() -> anyhow::Result<()> {
    let a = args()?;
    let started = Instant::now();
    if a.search_only {
        return search_only(&a);
    }
    let _ = std::fs::remove_dir_all(&a.work);
    std::fs::create_dir_all(&a.work)?;
    let work = std::fs::canonicalize(&a.work)?;
    let morgue = morgue_bin();
    anyhow::ensure!(morgue.exists(), "{} not found: build it first", morgue.display());

    // The corpus.
    let corpus_path = work.join("corpus.jsonl");
    let spec = morgue::tools::generate::Spec {
        articles: a.articles,
        revisions: a.revisions,
        authors: (a.articles / 50).max(20),
        seed: 1851,
        words: a.words,
    };
    let mut out = std::io::BufWriter::new(std::fs::File::create(&corpus_path)?);
    let lines = morgue::tools::generate::generate(&spec, &mut out)?;
    out.flush()?;
    drop(out);
    let corpus = corpus::Corpus::load(&corpus_path)?;
    let events = corpus.events.len() as u64;
    let bytes = std::fs::metadata(&corpus_path)?.len();
    log(format!(
        "corpus: {} articles, {lines} events, {} published versions, {:.0} MiB",
        corpus.articles.len(),
        corpus.documents,
        bytes as f64 / (1 << 20) as f64
    ));
    let queries = corpus.queries();
    let as_of = "1950-06-01T00:00:00Z";

    let mut rows = Vec::new();

    // The disk's limit.
    let sync = morgue::tools::bench::sync(&work, Duration::from_secs_f64(a.seconds.max(0.2)))?;
    let mut r = row("disk: write + fdatasync of a small record (the limit line)", "ops/s", true);
    r.morgue = Some(sync.per_second());
    rows.push(r);
    log(format!("disk sync: {:.0} ops/s", sync.per_second()));
    let sequential = sequential_write(&work, if a.articles < 1000 { 8 } else { 512 })?;
    let mut r = row("disk: sequential write of 1 MiB blocks + fdatasync (the bandwidth line)", "MiB/s", true);
    r.morgue = Some(sequential);
    rows.push(r);
    log(format!("disk sequential: {sequential:.0} MiB/s"));

    // morgue: appends.
    let mut appends = Vec::new();
    for writers in [1usize, 32] {
        let dir = work.join(format!("morgue-append-{writers}"));
        let store =
            morgue::store::Store::open(dir.join("log"), morgue::store::StoreOptions { map_size: 1 << 34 })?;
        let rate =
            morgue::tools::bench::append(&store, writers, Some(Duration::from_secs_f64(a.seconds)), false)?;
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
        log(format!("morgue append x{writers}: {rate}"));
        appends.push(rate);
    }

    // morgue: import, rebuilds, size (as subprocesses, to see their peak memory).
    let data = work.join("morgue");
    let import =
        run_measured(Command::new(&morgue).arg("import").arg("--data").arg(&data).arg(&corpus_path))?;
    let import_time = import.time;
    log(format!("morgue import: {:.0} events/s", per_second(events, import_time)));
    let views_time =
        run_measured(Command::new(&morgue).args(["rebuild", "--which", "views", "--data"]).arg(&data))?.time;
    log(format!("morgue views rebuild: {:.0} events/s", per_second(events, views_time)));
    let search_time =
        run_measured(Command::new(&morgue).args(["rebuild", "--which", "search", "--data"]).arg(&data))?.time;
    log(format!("morgue search build: {:.0} documents/s", per_second(corpus.documents, search_time)));
    let morgue_size = dir_size(&data);
    let (small_events, small_time) =
        small_import(&morgue, &work, if a.articles < 1000 { 2_000 } else { 200_000 })?;
    log(format!("morgue import of small events: {:.0} events/s", per_second(small_events, small_time)));
    let (seal_time, open_time) = sealing::measure(&corpus)?;
    log(format!(
        "sealing: {:.2} µs/event; opening {:.2} µs/event",
        us(seal_time) / events as f64,
        us(open_time) / events as f64
    ));
    let bare = bare_tantivy(&corpus, &work.join("bare-tantivy"))?;
    log(format!("bare Tantivy: {:.0} documents/s", per_second(corpus.documents, bare)));

    // morgue: reads in process.
    let archive = morgue::archive::Archive::open(&data, 1 << 36)?;
    archive.projections().expect("projectors").catch_up(Duration::from_secs(3600))?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build()?;
    let m_search_now = morgue_search(&archive, &rt, &queries, a.rounds, None)?;
    let m_search_past = morgue_search(&archive, &rt, &queries, a.rounds, Some(as_of.parse()?))?;
    log(format!("morgue search: now {m_search_now}; asOf {m_search_past}"));
    let tt = morgue::tools::bench::time_travel(&archive, 10_000, a.reads)?;
    log(format!(
        "morgue article: 1 rev now {} asOf {}; 10k now {} asOf {}",
        tt.short_now, tt.short, tt.long_now, tt.long
    ));
    // Publish to searchable: articles published one by one on this store, each timed from
    // the write's acknowledgement until the search index holds it.
    let searchable = morgue::tools::bench::searchable(&archive, if a.articles < 1000 { 20 } else { 200 })?;
    log(format!("morgue publish to searchable: {searchable}"));
    archive.close();
    drop(archive);

    // morgue: GraphQL over HTTP, with wrk on the same machine.
    let http = http_rows(&morgue, &data, &corpus, a.http_seconds)?;

    // Disk: each system's data goes once it has been measured.
    let _ = std::fs::remove_dir_all(&data);

    // The peers.
    let mut peers: Vec<Box<dyn Peer>> = Vec::new();
    if a.postgres {
        match peers::postgres_bin() {
            Some(_) => peers.push(Box::new(peers::Postgres::start(&work, free_port())?)),
            None => log("PostgreSQL is not installed: its column stays empty (bench/compare installs it)"),
        }
    }
    peers.push(Box::new(peers::Sqlite::open(&work)?));
    let mut results = Vec::new();
    for mut peer in peers.drain(..) {
        results.push((peer.name(), measure_peer(peer.as_mut(), &corpus, &queries, as_of, &a)?));
    }

    // The table.
    let mut put = |what: &str,
                   unit: &'static str,
                   higher: bool,
                   m: f64,
                   pick: &dyn Fn(&PeerResults) -> f64,
                   target: Option<(String, bool)>| {
        let mut r = row(what, unit, higher);
        r.morgue = Some(m);
        for (name, res) in &results {
            // NaN: the peer has no such measurement.
            let v = Some(pick(res)).filter(|v| !v.is_nan());
            if *name == "PostgreSQL" {
                r.postgres = v;
            } else {
                r.sqlite = v;
            }
        }
        r.target = target;
        rows.push(r);
    };
    let pg = results.iter().find(|(n, _)| *n == "PostgreSQL").map(|(_, r)| r);
    let (a1, a32) = (&appends[0], &appends[1]);
    put(
        "durable append, 1 writer, one event per transaction",
        "events/s",
        true,
        a1.per_second(),
        &|r| r.append1.per_second(),
        Some((
            format!(
                ">= SQLite and >= 90% of the disk's sync rate ({:.0}%)",
                100.0 * a1.per_second() / sync.per_second()
            ),
            a1.per_second() >= 0.9 * sync.per_second()
                && results
                    .iter()
                    .filter(|(n, _)| *n == "SQLite")
                    .all(|(_, r)| a1.per_second() >= r.append1.per_second()),
        )),
    );
    put("durable append, 1 writer: p99", "ms", false, ms(a1.p99), &|r| ms(r.append1.p99), None);
    put(
        "durable append, 32 writers (group commit)",
        "events/s",
        true,
        a32.per_second(),
        &|r| r.append32.per_second(),
        Some((
            ">= 40,000/s and >= 2x PostgreSQL".into(),
            a32.per_second() >= 40_000.0
                && pg.is_none_or(|p| a32.per_second() >= 2.0 * p.append32.per_second()),
        )),
    );
    put("durable append, 32 writers: p99", "ms", false, ms(a32.p99), &|r| ms(r.append32.p99), None);
    let import_rate = per_second(events, import_time);
    put(
        "batched import of the corpus (body-heavy)",
        "events/s",
        true,
        import_rate,
        &|r| per_second(events, r.import),
        None,
    );
    let import_mib = bytes as f64 / (1 << 20) as f64 / import_time.as_secs_f64();
    put(
        "import: corpus bytes per second",
        "MiB/s",
        true,
        import_mib,
        &|r| bytes as f64 / (1 << 20) as f64 / r.import.as_secs_f64(),
        Some((
            format!(">= 60% of the disk's sequential bandwidth ({:.0}%)", 100.0 * import_mib / sequential),
            import_mib >= 0.6 * sequential,
        )),
    );
    let small_rate = per_second(small_events, small_time);
    put(
        &format!("batched import of {small_events} small events (author renames)"),
        "events/s",
        true,
        small_rate,
        &|_| f64::NAN,
        Some((">= 250,000/s".into(), small_rate >= 250_000.0)),
    );
    let views_rate = per_second(events, views_time);
    put(
        "rebuild of the views from the log",
        "events/s",
        true,
        views_rate,
        &|r| per_second(events, r.views),
        Some((">= 300,000/s".into(), views_rate >= 300_000.0)),
    );
    let search_rate = per_second(corpus.documents, search_time);
    put(
        "build of the search index",
        "documents/s",
        true,
        search_rate,
        &|r| per_second(corpus.documents, r.search_build),
        Some((
            format!(
                ">= 5,000/s, >= 70% of bare Tantivy ({:.0}%) and >= SQLite FTS5",
                100.0 * search_rate / per_second(corpus.documents, bare)
            ),
            search_rate >= 5000.0
                && search_rate >= 0.7 * per_second(corpus.documents, bare)
                && results
                    .iter()
                    .filter(|(n, _)| *n == "SQLite")
                    .all(|(_, r)| search_rate >= per_second(corpus.documents, r.search_build)),
        )),
    );
    put(
        "bare Tantivy indexer, same documents (headline + body, en_stem)",
        "documents/s",
        true,
        per_second(corpus.documents, bare),
        &|_| f64::NAN,
        None,
    );
    put(
        "search, ranked top 10, present: p50",
        "ms",
        false,
        ms(m_search_now.p50),
        &|r| ms(r.search_now.p50),
        Some((
            "< 1 ms and 3x faster than each peer".into(),
            ms(m_search_now.p50) < 1.0
                && results.iter().all(|(_, r)| r.search_now.p50 >= m_search_now.p50 * 3),
        )),
    );
    put(
        "search, ranked top 10, present: p99",
        "ms",
        false,
        ms(m_search_now.p99),
        &|r| ms(r.search_now.p99),
        Some((
            "< 15 ms and 3x faster than each peer".into(),
            ms(m_search_now.p99) < 15.0
                && results.iter().all(|(_, r)| r.search_now.p99 >= m_search_now.p99 * 3),
        )),
    );
    put(
        "search asOf 1950: p50",
        "ms",
        false,
        ms(m_search_past.p50),
        &|r| ms(r.search_past.p50),
        Some((
            "within 1.5x of present".into(),
            m_search_past.p50.as_secs_f64() <= 1.5 * m_search_now.p50.as_secs_f64(),
        )),
    );
    put(
        "search asOf 1950: p99",
        "ms",
        false,
        ms(m_search_past.p99),
        &|r| ms(r.search_past.p99),
        Some((
            "within 1.5x of present".into(),
            m_search_past.p99.as_secs_f64() <= 1.5 * m_search_now.p99.as_secs_f64(),
        )),
    );
    put(
        "publish to searchable (acknowledged write until found): p99",
        "ms",
        false,
        ms(searchable.p99),
        &|_| f64::NAN,
        Some(("< 1 s".into(), searchable.p99 < Duration::from_secs(1))),
    );
    put(
        "article(id) now, 1 revision: p99",
        "µs",
        false,
        us(tt.short_now.p99),
        &|r| us(r.article[0].p99),
        None,
    );
    put(
        "article(id) now, 10,000 revisions: p99",
        "µs",
        false,
        us(tt.long_now.p99),
        &|r| us(r.article[1].p99),
        None,
    );
    put(
        "article(id, asOf), 1 revision: p99",
        "µs",
        false,
        us(tt.short.p99),
        &|r| us(r.article[2].p99),
        Some(("< 20 µs".into(), us(tt.short.p99) < 20.0)),
    );
    put(
        "article(id, asOf), 10,000 revisions: p99",
        "µs",
        false,
        us(tt.long.p99),
        &|r| us(r.article[3].p99),
        Some((
            "< 20 µs, within 1.5x of 1 revision".into(),
            us(tt.long.p99) < 20.0 && tt.long.p99.as_secs_f64() <= 1.5 * tt.short.p99.as_secs_f64(),
        )),
    );
    let per_million = |size: u64| size as f64 / (1 << 20) as f64 * 1e6 / events as f64;
    put(
        "store size per 1,000,000 events (log + views + index)",
        "MiB",
        false,
        per_million(morgue_size),
        &|r| per_million(r.size),
        Some((
            "no larger than PostgreSQL's".into(),
            pg.is_none_or(|p| per_million(morgue_size) <= per_million(p.size)),
        )),
    );
    for h in &http {
        let mut r = row(h.0.clone(), h.1, h.2);
        r.morgue = Some(h.3);
        r.target = h.4.clone();
        rows.push(r);
    }
    // What sealing costs (issue 17): each event is sealed once when appended or imported, and
    // opened once per read of the log (a views rebuild reads each once).
    let mut r = row("sealing: seal one event's payload (ChaCha20-Poly1305)", "µs", false);
    r.morgue = Some(us(seal_time) / events as f64);
    rows.push(r);
    let mut r = row("sealing: open one event's payload", "µs", false);
    r.morgue = Some(us(open_time) / events as f64);
    rows.push(r);
    let mut r = row("sealing: share of the import's time spent sealing", "%", false);
    r.morgue = Some(100.0 * seal_time.as_secs_f64() / import_time.as_secs_f64().max(1e-9));
    rows.push(r);
    let mut r = row("sealing: share of the views rebuild's time spent opening", "%", false);
    r.morgue = Some(100.0 * open_time.as_secs_f64() / views_time.as_secs_f64().max(1e-9));
    rows.push(r);
    let mut r = row("sealing: share of a durable append (1 writer) spent sealing", "%", false);
    r.morgue = Some(100.0 * (us(seal_time) / events as f64) / (1e6 / a1.per_second()));
    rows.push(r);
    let mut r = row("peak memory: import (resident, mapped LMDB pages included)", "MiB", false);
    r.morgue = Some(import.peak as f64 / (1 << 20) as f64);
    rows.push(r);
    let peak_anon = import.peak_anon as f64 / (1 << 20) as f64;
    let mut r = row("peak memory: import (anonymous: the heap alone)", "MiB", false);
    r.morgue = Some(peak_anon);
    r.target = Some(("< 1 GiB".into(), peak_anon < 1024.0));
    rows.push(r);

    rows.extend(real_corpus_rows(&morgue, &work, a.rounds)?);

    let table = render(&rows);
    println!("{table}");
    let machine = machine();
    let header = format!(
        "Run {} on {machine}; corpus {} articles, {events} events, {} published versions, {:.0} MiB of JSON; \
         append runs {} s each; took {:.0} s.\n",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        corpus.articles.len(),
        corpus.documents,
        bytes as f64 / (1 << 20) as f64,
        a.seconds,
        started.elapsed().as_secs_f64()
    );
    println!("{header}");
    if let Some(out) = &a.out {
        std::fs::write(out, format!("{header}\n{table}\n"))?;
    }
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}

/// The real blogs and PEPs in `../shared/data` (when present): imported with morgue's corpus
/// adapter, rebuilt and searched with the same query mix drawn from their own text. morgue
/// only: the peers load generated lines, not this format.
fn real_corpus_rows(morgue: &Path, work: &Path, rounds: usize) -> anyhow::Result<Vec<Row>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|f| {
        f.to_string_lossy().ends_with(".events.jsonl.gz") && !f.to_string_lossy().contains("sample")
    });
    files.sort();
    if files.is_empty() {
        log(format!("no real corpus in {}: its rows are left out", dir.display()));
        return Ok(Vec::new());
    }
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap_or_default().to_string_lossy().replace(".events.jsonl.gz", ""))
        .collect();
    log(format!("real corpus: {}", names.join(", ")));
    let data = work.join("real");
    let mut import_time = Duration::ZERO;
    for f in &files {
        import_time += run_measured(
            Command::new(morgue).args(["import", "--format", "corpus", "--data"]).arg(&data).arg(f),
        )?
        .time;
    }
    let export = work.join("real.jsonl");
    run_measured(Command::new(morgue).args(["export", "--data"]).arg(&data).arg("--out").arg(&export))?;
    let corpus = corpus::Corpus::load(&export)?;
    let events = corpus.events.len() as u64;
    let views =
        run_measured(Command::new(morgue).args(["rebuild", "--which", "views", "--data"]).arg(&data))?.time;
    let search =
        run_measured(Command::new(morgue).args(["rebuild", "--which", "search", "--data"]).arg(&data))?.time;
    let archive = morgue::archive::Archive::open(&data, 1 << 34)?;
    archive.projections().expect("projectors").catch_up(Duration::from_secs(600))?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build()?;
    let rate = morgue_search(&archive, &rt, &corpus.queries(), rounds, None)?;
    archive.close();
    let label = format!("real corpus ({}; {events} events)", names.join(" + "));
    let mut out = Vec::new();
    for (what, unit, higher, v) in [
        ("import (corpus adapter)", "events/s", true, per_second(events, import_time)),
        ("rebuild of the views", "events/s", true, per_second(events, views)),
        ("build of the search index", "documents/s", true, per_second(corpus.documents, search)),
        ("search, ranked top 10: p50", "ms", false, ms(rate.p50)),
        ("search, ranked top 10: p99", "ms", false, ms(rate.p99)),
    ] {
        let mut r = row(format!("{label}: {what}"), unit, higher);
        r.morgue = Some(v);
        out.push(r);
    }
    log(format!("{label}: import {:.0}/s, search {rate}", per_second(events, import_time)));
    Ok(out)
}

/// morgue's latency on the query mix, in process: the ranked top 10 without facets, snippets
/// or a total count (the same answer the peers' `LIMIT 10` gives), now or as of an instant.
fn morgue_search(
    archive: &morgue::archive::Archive,
    rt: &tokio::runtime::Runtime,
    queries: &[corpus::Query],
    rounds: usize,
    as_of: Option<chrono::DateTime<chrono::Utc>>,
) -> anyhow::Result<Rate> {
    let mut latencies = Vec::new();
    let mut by_query = vec![Vec::new(); queries.len()];
    let began = Instant::now();
    for _ in 0..rounds {
        for (i, q) in queries.iter().enumerate() {
            let t = Instant::now();
            let reading =
                rt.block_on(archive.reading(morgue::archive::ReadRequest { as_of, ..Default::default() }))?;
            let request = morgue::project::search::SearchRequest {
                query: q.morgue(),
                section: q.section.clone(),
                first: 10,
                skip_facets: true,
                skip_snippets: true,
                skip_total: true,
                ..Default::default()
            };
            std::hint::black_box(archive.search(&reading, request)?);
            latencies.push(t.elapsed());
            by_query[i].push(t.elapsed());
        }
    }
    // Which queries make the tail: each one's median and slowest pass.
    let when = as_of.map_or("now".to_owned(), |t| format!("asOf {}", t.date_naive()));
    for (q, mut times) in queries.iter().zip(by_query) {
        times.sort();
        let (median, slowest) = (times[times.len() / 2], times[times.len() - 1]);
        log(format!(
            "  search {when}: {:?} {:?}: median {:.2} ms, slowest {:.2} ms",
            q.kind,
            q.morgue(),
            ms(median),
            ms(slowest)
        ));
    }
    Ok(Rate::from_latencies(latencies, began.elapsed()))
}

/// `--search-only`: morgue's search mix, query by query, on the corpus and store already in
/// `work` (from an earlier run, or from `morgue generate` and `morgue import`).
fn search_only(a: &Args) -> anyhow::Result<()> {
    let corpus = corpus::Corpus::load(&a.work.join("corpus.jsonl"))?;
    let queries = corpus.queries();
    let archive = morgue::archive::Archive::open(&a.work.join("morgue"), 1 << 36)?;
    archive.projections().expect("projectors").catch_up(Duration::from_secs(3600))?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build()?;
    let now = morgue_search(&archive, &rt, &queries, a.rounds, None)?;
    let past = morgue_search(&archive, &rt, &queries, a.rounds, Some("1950-06-01T00:00:00Z".parse()?))?;
    log(format!("morgue search: now {now}; asOf {past}"));
    archive.close();
    Ok(())
}

/// The disk's sequential write bandwidth: `mib` blocks of 1 MiB written, then one fdatasync.
fn sequential_write(dir: &Path, mib: usize) -> anyhow::Result<f64> {
    let path = dir.join("sequential.bin");
    let block = vec![0x5au8; 1 << 20];
    let t = Instant::now();
    {
        let mut f = std::fs::File::create(&path)?;
        for _ in 0..mib {
            f.write_all(&block)?;
        }
        f.sync_data()?;
    }
    let elapsed = t.elapsed();
    std::fs::remove_file(&path)?;
    Ok(mib as f64 / elapsed.as_secs_f64())
}

/// Imports `n` small events (a thousand authors, then renames) into a fresh store with
/// `morgue import`; returns the events and the wall time.
fn small_import(morgue: &Path, work: &Path, n: u64) -> anyhow::Result<(u64, Duration)> {
    let authors = 1000.min(n / 2).max(1);
    let path = work.join("small.jsonl");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
    let start = chrono::DateTime::parse_from_rfc3339("1900-01-01T00:00:00Z")?.to_utc();
    let ids: Vec<String> = (0..authors).map(|_| morgue::domain::AuthorId::generate().stream()).collect();
    let mut written = 0u64;
    let mut version = vec![0u64; authors as usize];
    'all: for round in 0.. {
        for (i, stream) in ids.iter().enumerate() {
            if written == n {
                break 'all;
            }
            version[i] += 1;
            let (kind, at) = if version[i] == 1 {
                ("AuthorRegistered", start)
            } else {
                ("AuthorRenamed", start + chrono::Duration::minutes(round))
            };
            let line = serde_json::json!({"stream": stream, "version": version[i], "type": kind, "effective_at": at,
                "payload": {"name": format!("Correspondent {i} ({round})")}});
            writeln!(out, "{line}")?;
            written += 1;
        }
    }
    out.flush()?;
    drop(out);
    let data = work.join("morgue-small");
    let t = run_measured(Command::new(morgue).arg("import").arg("--data").arg(&data).arg(&path))?.time;
    let _ = std::fs::remove_dir_all(&data);
    let _ = std::fs::remove_file(&path);
    Ok((written, t))
}

/// A bare Tantivy indexer on the same published versions (headline and body, English
/// stemming, positions, the same threads and memory as morgue's): the reference for the
/// search build. Returns the wall time, commit included.
fn bare_tantivy(corpus: &corpus::Corpus, dir: &Path) -> anyhow::Result<Duration> {
    use tantivy::schema::{IndexRecordOption, Schema, TextFieldIndexing, TextOptions};
    std::fs::create_dir_all(dir)?;
    let text = TextOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("en_stem")
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        )
        .set_stored();
    let mut b = Schema::builder();
    let headline = b.add_text_field("headline", text.clone());
    let body = b.add_text_field("body", text);
    let index = tantivy::Index::create_in_dir(dir, b.build())?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    let mut writer: tantivy::IndexWriter =
        index.writer_with_num_threads(threads, morgue::project::search::INDEXING_MEMORY)?;
    // Each published version's headline and body, as the events leave them.
    let mut current: std::collections::HashMap<&str, (String, String, bool)> =
        std::collections::HashMap::new();
    let t = Instant::now();
    for e in &corpus.events {
        if !e.stream.starts_with("article-") {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(&e.payload)?;
        let entry = current.entry(e.stream.as_str()).or_default();
        if let Some(h) = v["headline"].as_str() {
            entry.0 = h.to_owned();
        }
        if let Some(t) = v["body"].as_str() {
            entry.1 = t.to_owned();
        }
        entry.2 |= e.event_type == "ArticlePublished";
        if entry.2 {
            let mut doc = tantivy::TantivyDocument::new();
            doc.add_text(headline, &entry.0);
            doc.add_text(body, &entry.1);
            writer.add_document(doc)?;
        }
    }
    writer.commit()?;
    let elapsed = t.elapsed();
    drop(writer);
    let _ = std::fs::remove_dir_all(dir);
    Ok(elapsed)
}

/// What one peer measured.
struct PeerResults {
    append1: Rate,
    append32: Rate,
    import: Duration,
    views: Duration,
    search_build: Duration,
    search_now: Rate,
    search_past: Rate,
    /// now 1 rev, now 10k, asOf 1 rev, asOf 10k.
    article: [Rate; 4],
    size: u64,
}

fn measure_peer(
    peer: &mut dyn Peer,
    corpus: &corpus::Corpus,
    queries: &[corpus::Query],
    as_of: &str,
    a: &Args,
) -> anyhow::Result<PeerResults> {
    let name = peer.name();
    let append1 = peer.append(1, a.seconds)?;
    log(format!("{name} append x1: {append1}"));
    let append32 = peer.append(32, a.seconds)?;
    log(format!("{name} append x32: {append32}"));
    let import = peer.import(corpus)?;
    log(format!("{name} import: {:.0} events/s", per_second(corpus.events.len() as u64, import)));
    let views = peer.rebuild_views()?;
    log(format!("{name} views: {:.0} events/s", per_second(corpus.events.len() as u64, views)));
    let search_build = peer.build_search()?;
    log(format!("{name} search build: {:.0} documents/s", per_second(corpus.documents, search_build)));
    let size = peer.size()?;
    let mut search = |past: Option<&str>| -> anyhow::Result<Rate> {
        let mut latencies = Vec::new();
        let began = Instant::now();
        for _ in 0..a.rounds {
            for q in queries {
                let t = Instant::now();
                std::hint::black_box(peer.search(q, past)?);
                latencies.push(t.elapsed());
            }
        }
        Ok(Rate::from_latencies(latencies, began.elapsed()))
    };
    let search_now = search(None)?;
    let search_past = search(Some(as_of))?;
    log(format!("{name} search: now {search_now}; asOf {search_past}"));
    peer.add_history("bench-short", 1)?;
    peer.add_history("bench-long", 10_000)?;
    let mut seed = 0x5eedu64;
    let mut instant = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (chrono::DateTime::parse_from_rfc3339("1851-01-01T00:00:00Z").expect("instant").to_utc()
            + chrono::Duration::days((seed % (175 * 365)) as i64))
        .to_rfc3339()
    };
    let mut article = |id: &str, past: bool| -> anyhow::Result<Rate> {
        let mut latencies = Vec::new();
        let began = Instant::now();
        for _ in 0..a.reads {
            let at = past.then(&mut instant);
            let t = Instant::now();
            std::hint::black_box(peer.article(id, at.as_deref())?);
            latencies.push(t.elapsed());
        }
        Ok(Rate::from_latencies(latencies, began.elapsed()))
    };
    let article = [
        article("bench-short", false)?,
        article("bench-long", false)?,
        article("bench-short", true)?,
        article("bench-long", true)?,
    ];
    log(format!(
        "{name} article: 1 rev now {} asOf {}; 10k now {} asOf {}",
        article[0], article[2], article[1], article[3]
    ));
    Ok(PeerResults { append1, append32, import, views, search_build, search_now, search_past, article, size })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(54329)
}

type HttpRow = (String, &'static str, bool, f64, Option<(String, bool)>);

/// `article(id)` and `search` over HTTP with wrk (2 threads, 32 connections), and the
/// server's peak memory.
fn http_rows(
    morgue: &Path,
    data: &Path,
    corpus: &corpus::Corpus,
    seconds: u32,
) -> anyhow::Result<Vec<HttpRow>> {
    if Command::new("wrk").arg("--version").output().is_err() {
        log("wrk is not installed: no HTTP rows (bench/compare installs it)");
        return Ok(Vec::new());
    }
    let port = free_port();
    struct Stop(std::process::Child);
    impl Drop for Stop {
        fn drop(&mut self) {
            let _ = Command::new("kill").arg("-TERM").arg(self.0.id().to_string()).status();
            let _ = self.0.wait();
        }
    }
    let server = Stop(
        Command::new(morgue)
            .args(["serve", "--fixtures", "none", "--listen", &format!("127.0.0.1:{port}"), "--data"])
            .arg(data)
            .env("MORGUE_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?,
    );
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(600);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        anyhow::ensure!(Instant::now() < deadline, "morgue serve did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let id = corpus.articles[corpus.articles.len() / 2].trim_start_matches("article-").to_owned();
    let word = corpus.words[200.min(corpus.words.len() - 1)].clone();
    let mut out = Vec::new();
    for (what, query) in [
        (
            "GraphQL over HTTP: article(id)",
            format!("{{ article(id: \"{id}\") {{ headline body version }} }}"),
        ),
        (
            "GraphQL over HTTP: search",
            format!(
                "{{ search(query: \"{word}\", first: 10) {{ totalCount hits {{ article {{ slug headline }} }} }} }}"
            ),
        ),
    ] {
        // The request body in a file the script reads: no quoting through Lua.
        let body = std::env::temp_dir().join(format!("morgue-wrk-{port}.json"));
        std::fs::write(&body, serde_json::json!({ "query": query }).to_string())?;
        let script = std::env::temp_dir().join(format!("morgue-wrk-{port}.lua"));
        std::fs::write(
            &script,
            format!(
                "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\n\
                 local f = io.open(\"{}\")\nwrk.body = f:read(\"*a\")\nf:close()\n",
                body.display()
            ),
        )?;
        let output = Command::new("wrk")
            .args(["-t2", "-c32", &format!("-d{seconds}s"), "--latency", "-s"])
            .arg(&script)
            .arg(format!("{base}/graphql"))
            .output()?;
        let text = String::from_utf8_lossy(&output.stdout);
        let rps = text
            .lines()
            .find_map(|l| l.strip_prefix("Requests/sec:"))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .ok_or_else(|| anyhow::anyhow!("wrk said:\n{text}"))?;
        let p99 = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("99%"))
            .map(|v| wrk_ms(v.trim()))
            .unwrap_or(f64::NAN);
        let non2xx = text.contains("Non-2xx");
        anyhow::ensure!(!non2xx, "wrk saw errors:\n{text}");
        log(format!("{what}: {rps:.0} requests/s, p99 {p99:.2} ms"));
        let target = (what.ends_with("article(id)"))
            .then(|| (">= 20,000/s, p99 < 5 ms".to_owned(), rps >= 20_000.0 && p99 < 5.0));
        out.push((format!("{what} (wrk, 32 connections)"), "requests/s", true, rps, target.clone()));
        out.push((format!("{what}: p99"), "ms", false, p99, None));
        let _ = std::fs::remove_file(&script);
        let _ = std::fs::remove_file(&body);
    }
    let peak = status_bytes(server.0.id(), "VmHWM:").unwrap_or(0);
    out.push((
        "peak memory: serve (after the HTTP runs)".into(),
        "MiB",
        false,
        peak as f64 / (1 << 20) as f64,
        None,
    ));
    drop(server);
    Ok(out)
}

/// wrk's latency ("1.23ms", "870.00us", "1.02s") in milliseconds.
fn wrk_ms(v: &str) -> f64 {
    let num = |s: &str| s.parse::<f64>().unwrap_or(f64::NAN);
    if let Some(x) = v.strip_suffix("us") {
        num(x) / 1e3
    } else if let Some(x) = v.strip_suffix("ms") {
        num(x)
    } else if let Some(x) = v.strip_suffix('s') {
        num(x) * 1e3
    } else {
        f64::NAN
    }
}

fn render(rows: &[Row]) -> String {
    let mut t = String::from(
        "| row | morgue | PostgreSQL | morgue / PostgreSQL | SQLite | morgue / SQLite | better | target (morgue) |\n\
         |---|---:|---:|---:|---:|---:|---|---|\n",
    );
    for r in rows {
        let target = match &r.target {
            None => String::new(),
            Some((t, true)) => format!("met: {t}"),
            Some((t, false)) => format!("**missed**: {t}"),
        };
        t.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.what,
            fmt(r.morgue, r.unit),
            fmt(r.postgres, r.unit),
            ratio(r.morgue, r.postgres),
            fmt(r.sqlite, r.unit),
            ratio(r.morgue, r.sqlite),
            if r.higher_is_better { "higher" } else { "lower" },
            target
        ));
    }
    t
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines().next().and_then(|l| l.split_whitespace().nth(1)).and_then(|k| k.parse::<u64>().ok())
        })
        .map(|k| format!("{:.0} GiB", k as f64 / (1 << 20) as f64))
        .unwrap_or_default();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_default();
    format!("{cores} cores ({cpu}), {mem} memory")
}
