//! Crash safety: a process appending in a loop is killed with SIGKILL at varied moments; every
//! append it acknowledged must be in the log afterwards, and the log must verify.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use morgue::Position;
use morgue::store::{self, Store, StoreOptions};

pub fn seed() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1
}

#[test]
fn acknowledged_appends_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = seed();
    eprintln!("crash test seed {rng}");
    let mut acked: Vec<u64> = Vec::new();
    for round in 0..5 {
        // xorshift: a different number of acknowledgements before each kill.
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let kill_after = 1 + (rng % 400) as usize;
        let mut child = Command::new(env!("CARGO_BIN_EXE_morgue"))
            .args([
                "bench",
                "append",
                "--writers",
                "4",
                "--seconds",
                "0",
                "--print-acks",
                "--map-size",
                "1073741824",
            ])
            .arg("--data")
            .arg(dir.path())
            .env("MORGUE_LOG", "error")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn morgue");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut seen = 0;
        while seen < kill_after {
            let line = lines.next().expect("child stopped before being killed").unwrap();
            acked.push(line.strip_prefix("ack ").unwrap().parse().unwrap());
            seen += 1;
        }
        child.kill().expect("SIGKILL");
        // Whatever it printed before dying was acknowledged too.
        for line in lines {
            match line {
                Ok(line) => match line.strip_prefix("ack ").and_then(|p| p.parse().ok()) {
                    Some(p) => acked.push(p),
                    None => break, // a line cut by the kill
                },
                Err(_) => break,
            }
        }
        child.wait().unwrap();

        let store = Store::open(dir.path().join("log"), StoreOptions { map_size: 1 << 30 }).unwrap();
        let report = store::verify(&store.reader().unwrap(), |_| {}).unwrap();
        assert!(report.is_ok(), "round {round}: {report:?}");
        let reader = store.reader().unwrap();
        for &p in &acked {
            assert!(p <= report.head.get(), "round {round}: acknowledged {p} but head is {}", report.head);
            reader
                .event(Position(p))
                .unwrap_or_else(|e| panic!("round {round}: acknowledged {p} is gone: {e}"));
        }
    }
    assert!(acked.len() >= 5);
}
