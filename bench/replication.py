#!/usr/bin/env python3
"""Measures replication on one machine: publish throughput and replica lag.

    cargo build --release && python3 bench/replication.py [--events 200000] [--rate 500]

1. Publish throughput: a writer whose log already holds --events generated events starts with
   --publish on an empty JetStream stream; we time until the stream holds the whole log.
2. Replica catch-up: a replica started empty follows that stream; we time until its log and
   projectors hold the head.
3. Lag under a steady write load: editors send --rate mutations/s to the writer for --seconds;
   every 100 ms we read the replica's replication lag and the writer's head, and report the
   lag in events and the time for a write to reach the replica's log.

Needs nats-server (apt-get install nats-server) and target/release/morgue. Nothing in the repo
is touched: everything runs in a temporary directory.
"""
import argparse, json, os, shutil, signal, socket, statistics, subprocess, sys, tempfile, threading, time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MORGUE = os.path.join(ROOT, "target", "release", "morgue")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(cmd, ready, env=None):
    """Starts a process; returns it and the first stderr line containing `ready`."""
    p = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    for line in p.stderr:
        if ready in line:
            threading.Thread(target=lambda: [None for _ in p.stderr], daemon=True).start()
            return p, line
    sys.exit(f"{cmd[0]} exited before it was ready")


def serve(data, *args):
    env = dict(os.environ, MORGUE_LOG="warn,morgue::cli=info")
    p, line = start([MORGUE, "serve", "--data", data, "--listen", "127.0.0.1:0", "--fixtures", "none", *args],
                    "GraphiQL: http://", env)
    return p, "http://" + line.split("GraphiQL: http://")[1].split("/")[0]


def gql(base, query, token=None, variables=None):
    req = urllib.request.Request(base + "/graphql", json.dumps({"query": query, "variables": variables or {}}).encode(),
                                 {"content-type": "application/json", **({"authorization": "Bearer " + token} if token else {})})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.load(r)


def status(base):
    s = gql(base, "{ status { head replication { position lag connected } projectors { checkpoint } } }")["data"]["status"]
    return int(s["head"]), s["replication"], min(int(p["checkpoint"]) for p in s["projectors"])


def wait(pred, what, timeout=600):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            sys.exit(f"timed out waiting for {what}")
        time.sleep(0.02)
    return time.monotonic()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=200_000, help="events in the writer's log before publishing")
    ap.add_argument("--rate", type=int, default=500, help="mutations per second during the steady load")
    ap.add_argument("--seconds", type=int, default=20, help="how long the steady load runs")
    a = ap.parse_args()
    if not os.path.exists(MORGUE):
        sys.exit("build first: cargo build --release")
    tmp = tempfile.mkdtemp(prefix="morgue-repl-")
    procs = []
    try:
        port = free_port()
        nats, _ = start(["nats-server", "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", os.path.join(tmp, "js")], "Server is ready")
        procs.append(nats)
        url = f"nats://127.0.0.1:{port}"
        writer_dir = os.path.join(tmp, "writer")
        corpus = os.path.join(tmp, "corpus.jsonl")
        # About 10 events per article with the generator's defaults and 6 revisions.
        subprocess.run([MORGUE, "generate", "--articles", str(max(1, a.events // 10)), "--revisions", "6",
                        "--min-words", "100", "--max-words", "800", "--out", corpus], check=True, stderr=subprocess.DEVNULL)
        subprocess.run([MORGUE, "import", "--data", writer_dir, corpus], check=True, stderr=subprocess.DEVNULL)
        token = subprocess.run([MORGUE, "token", "create", "--data", writer_dir, "--name", "load", "--role", "editor"],
                               check=True, capture_output=True, text=True).stdout.strip()
        # Replicas take only events signed by the writer's key.
        writer_key = subprocess.run([MORGUE, "writer-key", "--data", writer_dir], check=True, capture_output=True,
                                    text=True).stdout.strip()
        t0 = time.monotonic()
        writer, wbase = serve(writer_dir, "--publish", url)
        procs.append(writer)
        head = status(wbase)[0]
        t1 = wait(lambda: status(wbase)[1]["position"] == str(head), "the publisher")
        print(f"publish: {head} events from a standing start in {t1 - t0:.2f} s: {head / (t1 - t0):,.0f} events/s "
              f"(includes the writer's start-up)")
        t0 = time.monotonic()
        replica, rbase = serve(os.path.join(tmp, "replica"), "--follow", url, "--consumer", "bench",
                                "--writer-key", writer_key)
        procs.append(replica)
        t1 = wait(lambda: status(rbase)[0] == head, "the replica's log")
        t2 = wait(lambda: status(rbase)[2] == head, "the replica's projectors")
        print(f"replica catch-up: log {head / (t1 - t0):,.0f} events/s ({t1 - t0:.2f} s); "
              f"views and search at the head after {t2 - t0:.2f} s")

        # Steady load: one thread per 50 mutations/s, each paced.
        stop = threading.Event()
        acked = {}  # position -> time acknowledged
        lock = threading.Lock()
        def editor(rate):
            n = 0
            next_at = time.monotonic()
            while not stop.is_set():
                r = gql(wbase, "mutation($n: String!) { registerAuthor(input: {name: $n}) { position } }", token,
                        {"n": f"load {threading.get_ident()} {n}"})
                with lock:
                    acked[int(r["data"]["registerAuthor"]["position"])] = time.monotonic()
                n += 1
                next_at += 1.0 / rate
                time.sleep(max(0.0, next_at - time.monotonic()))
        threads = [threading.Thread(target=editor, args=(50,)) for _ in range(max(1, a.rate // 50))]
        for t in threads:
            t.start()
        lags, delays = [], []
        end = time.monotonic() + a.seconds
        while time.monotonic() < end:
            rhead, rep, _ = status(rbase)
            now = time.monotonic()
            lags.append(rep["lag"])
            with lock:
                # Every acknowledged write the replica's log now holds, first seen now.
                for p in [p for p in acked if p <= rhead]:
                    delays.append(now - acked.pop(p))
            time.sleep(0.1)
        stop.set()
        for t in threads:
            t.join()
        wrote = status(wbase)[0] - head
        delays.sort()
        q = lambda xs, f: xs[min(len(xs) - 1, int(f * len(xs)))] if xs else float("nan")
        print(f"steady load: {wrote / a.seconds:,.0f} writes/s for {a.seconds} s; replica lag (events) "
              f"p50 {q(sorted(lags), .5)} max {max(lags)}; write-to-replica-log delay p50 {q(delays, .5) * 1000:.0f} ms "
              f"p99 {q(delays, .99) * 1000:.0f} ms (sampled every 100 ms, so up to 100 ms high)")
    finally:
        for p in reversed(procs):
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
