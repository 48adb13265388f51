"""Chaos: kill, stall and overlap the relay; run evaluate, sweep and deliver at once on one store.

    .venv/bin/python bench/chaos.py [--kills 200] [--deliveries 1600] [--out bench-out/chaos] [--code DIR]

``--code DIR`` runs the CLI from another checkout (e.g. a worktree of an older commit), for a
side-by-side comparison on the same scenes.

Everything runs here: the ``rightsizer`` CLI as real processes on one SQLite store (WAL),
and a webhook receiver on 127.0.0.1 that records every message it gets (by its
Idempotency-Key) and answers after 3 ms. Four scenes:

1. **SIGKILL**: ``rightsizer deliver`` is started and killed with SIGKILL after a random
   0.3-2.0 s, ``--kills`` times, each run at a ``--now`` past the previous run's lease,
   ``--deliveries`` due at the start of every round of 10 kills; then one clean run.
2. **overlap**: three relays at once, real clock, ``--deliveries`` due.
3. **stall**: a relay is stopped (SIGSTOP) mid-batch past its 10 s lease while another
   takes its rows over, then continued (SIGCONT): it must notice and stop.
4. **together**: ``evaluate`` (a new window each time), ``sweep`` and ``deliver`` started
   at the same moment, six times, on one store.

Per scene it prints: lost (queued, never received), duplicated (received more than
once), the most copies of one message, crashed (exit status other than 0 or SIGKILL),
and "database is locked" seen. Target (issue 9): 0 lost, 0 crashed, duplicates only for a
message whose sender was killed (or stalled) between sending and recording — at most one
extra copy per such event.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from collections import Counter
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.procstat import free_port  # noqa: E402

AT = datetime.fromisoformat("2026-11-20T00:00:00+08:00")
RIGHTSIZER = str(Path(sys.executable).parent / "rightsizer")


class Receiver:
    """A webhook endpoint on 127.0.0.1 that records each message's Idempotency-Key (and in ``spans``, when
    its request arrived and was answered, monotonic seconds)."""

    def __init__(self, delay: float = 0.003):
        self.keys: list[str] = []
        self.spans: list[tuple[str, float, float]] = []
        self.lock = threading.Lock()
        self.stall_next = 0.0  # the next request is answered this many seconds late (a hung server)
        self.stalling = threading.Event()
        rec = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                t0 = time.monotonic()
                with rec.lock:
                    stall, rec.stall_next = rec.stall_next, 0.0
                if stall:
                    rec.stalling.set()
                time.sleep(stall or delay)
                key = urllib.parse.unquote(self.headers["Idempotency-Key"])
                with rec.lock:
                    rec.keys.append(key)
                    rec.spans.append((key, t0, time.monotonic()))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *a):
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # a relay killed mid-request leaves a broken pipe: expected here

        self.port = free_port()
        self.server = Server(("127.0.0.1", self.port), H)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def take(self) -> list[str]:
        with self.lock:
            out, self.keys = self.keys, []
        return out


def write_city(out: Path, servers: int, hook: str, lease: int = 300,
               timeout: float = 10) -> tuple[Path, Path, Path, Path]:
    """Inventory and samples CSVs of a simulated city, and a configuration routing every department
    to the webhook (plus the centre's copy)."""
    from collectors.csv_import import write_inventory
    from collectors.simulate import simulate_city

    city = simulate_city(seed=3, servers=servers, at=AT, days=30, step=3600)
    inv, smp = out / "inv.csv", out / "samples.csv"
    write_inventory(inv, city.servers)
    g = city.grid
    with smp.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["server_id", "timestamp", "cpu_pct", "mem_pct", "disk_pct"])
        for i, s in enumerate(city.servers):
            for j in range(g.slots):
                vals = [g.cpu[i, j], g.mem[i, j], g.disk[i, j]]
                if all(v != v for v in vals):
                    continue
                w.writerow([s.server_id, g.start + j * g.step] + ["" if v != v else f"{v:.2f}" for v in vals])
    depts = sorted({s.department for s in city.servers})
    cfg = out / "rs.toml"
    lines = [f"[window]\nstep_seconds = 3600\n[notices]\ncc_channels = [\"centre\"]\noperator_channels = "
             f"[\"centre\"]\nlease_seconds = {lease}\n",
             f"[[notifiers]]\nname = \"dept\"\ntype = \"webhook\"\nurl = \"{hook}/dept\"\n",
             f"[[notifiers]]\nname = \"centre\"\ntype = \"webhook\"\nurl = \"{hook}/centre\"\n"
             f"timeout_seconds = {timeout}\n"]
    lines += [f"[departments.\"{d}\"]\nchannels = [\"dept\"]\n" for d in depts]
    cfg.write_text("".join(lines), encoding="utf-8")
    return inv, smp, cfg, out / "rs.db"


COMMAND = [RIGHTSIZER]


def cli(cfg: Path, db: Path, *args: str) -> list[str]:
    return [*COMMAND, *args[:1], "--config", str(cfg), "--db", str(db), *args[1:]]


def queue_alerts(db: Path, n: int, tag: str) -> set[str]:
    """``n`` due operator alerts (outbox rows like any other) straight into the store."""
    from rightsizer.db import Store
    from rightsizer.db import outbox

    store = Store.open(f"sqlite:///{db}")
    keys = set()
    with store.begin() as c:
        for i in range(n):
            key = f"alert:chaos-{tag}-{i}:centre"
            outbox.queue(c, None, "alert", "centre", key, f"chaos {tag} {i}", {"text": f"chaos {i}"}, AT)
            keys.add(key)
    store.engine.dispose()
    return keys


def all_keys(db: Path) -> dict[str, str]:
    import sqlite3

    con = sqlite3.connect(db)
    try:
        return dict(con.execute("select idempotency_key, status from deliveries"))
    finally:
        con.close()


def verdict(name: str, queued: set[str], received: list[str], crashed: int, locked: int, events: int,
            seconds: float) -> dict:
    count = Counter(received)
    dup = sum(c - 1 for c in count.values())
    row = {"scene": name, "queued": len(queued), "received": len(received), "lost": len(queued - set(count)),
           "duplicated": dup, "max_copies": max(count.values(), default=0), "crashed": crashed,
           "database_locked": locked, "kill_or_stall_events": events, "seconds": round(seconds, 1)}
    print(json.dumps(row, ensure_ascii=False))
    return row


def scene_kill(work: Path, rx: Receiver, kills: int, deliveries: int, rng: random.Random) -> dict:
    d = work / "kill"
    d.mkdir(parents=True, exist_ok=True)
    inv, smp, cfg, db = write_city(d, 300, f"http://127.0.0.1:{rx.port}")
    subprocess.run(cli(cfg, db, "evaluate", "--inventory", str(inv), "--samples", str(smp), "--at", AT.isoformat()),
                   check=True, capture_output=True)
    subprocess.run(cli(cfg, db, "sweep", "--now", AT.isoformat()), check=True, capture_output=True)
    rx.take()
    t0, crashed, locked, k = time.perf_counter(), 0, 0, 0
    queued = set(all_keys(db))
    now = AT
    while k < kills:
        queued |= queue_alerts(db, max(0, deliveries - sum(1 for s in all_keys(db).values() if s == "pending")),
                               f"k{k}")
        for _ in range(10):
            if k >= kills:
                break
            now += timedelta(seconds=301)  # past the killed run's lease
            p = subprocess.Popen(cli(cfg, db, "deliver", "--now", now.isoformat()), stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE, text=True)
            time.sleep(rng.uniform(0.3, 2.0))
            p.send_signal(signal.SIGKILL)
            _, err = p.communicate()
            k += 1
            crashed += p.returncode not in (0, -signal.SIGKILL)
            locked += "database is locked" in err
    for _ in range(10):  # the clean runs at the end
        now += timedelta(seconds=301)
        r = subprocess.run(cli(cfg, db, "deliver", "--now", now.isoformat()), capture_output=True, text=True)
        crashed += r.returncode != 0
        locked += "database is locked" in r.stderr
        if r.stdout.startswith("sent 0,"):
            break
    return verdict("SIGKILL deliver", queued, rx.take(), crashed, locked, kills, time.perf_counter() - t0)


def scene_overlap(work: Path, rx: Receiver, deliveries: int) -> dict:
    d = work / "overlap"
    d.mkdir(parents=True, exist_ok=True)
    _, _, cfg, db = write_city(d, 10, f"http://127.0.0.1:{rx.port}")
    queued = queue_alerts(db, deliveries, "overlap")
    rx.take()
    t0, crashed, locked = time.perf_counter(), 0, 0
    for _ in range(4):
        ps = [subprocess.Popen(cli(cfg, db, "deliver"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
              for _ in range(3)]
        for p in ps:
            out, err = p.communicate()
            crashed += p.returncode != 0
            locked += "database is locked" in err
        if all(s == "sent" for s in all_keys(db).values()):
            break
    return verdict("three relays at once", queued, rx.take(), crashed, locked, 0, time.perf_counter() - t0)


def scene_stall(work: Path, rx: Receiver, deliveries: int) -> dict:
    """Relay A's first send hangs (the server answers after 14 s) past its 10 s lease; B sends the rest,
    B2 takes A's claimed batch over after the lease; then A's answer comes and A must stop."""
    d = work / "stall"
    d.mkdir(parents=True, exist_ok=True)
    _, _, cfg, db = write_city(d, 10, f"http://127.0.0.1:{rx.port}", lease=10, timeout=30)
    queued = queue_alerts(db, deliveries, "stall")
    rx.take()
    t0, crashed, locked = time.perf_counter(), 0, 0
    rx.stall_next, started = 14.0, time.monotonic()
    rx.stalling.clear()
    a = subprocess.Popen(cli(cfg, db, "deliver"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    rx.stalling.wait(30)  # A is inside its first send, holding no lock
    b = subprocess.run(cli(cfg, db, "deliver"), capture_output=True, text=True)  # all but A's claimed batch
    time.sleep(max(0.0, started + 11.5 - time.monotonic()))  # A's lease has run out
    b2 = subprocess.run(cli(cfg, db, "deliver"), capture_output=True, text=True)  # takes A's batch over
    out, err = a.communicate()
    for r in (b, b2, a):
        crashed += r.returncode != 0
        locked += "database is locked" in r.stderr if hasattr(r, "stderr") and isinstance(r.stderr, str) else 0
    locked += "database is locked" in err
    print(f"  B: {b.stdout.strip()}\n  B2: {b2.stdout.strip()}\n  stalled A: {out.strip()} | {err.strip()}")
    while any(s == "pending" for s in all_keys(db).values()):
        r = subprocess.run(cli(cfg, db, "deliver"), capture_output=True, text=True)
        crashed += r.returncode != 0
    return verdict("stalled relay taken over", queued, rx.take(), crashed, locked, 1, time.perf_counter() - t0)


def scene_together(work: Path, rx: Receiver) -> dict:
    d = work / "together"
    d.mkdir(parents=True, exist_ok=True)
    inv, smp, cfg, db = write_city(d, 300, f"http://127.0.0.1:{rx.port}")
    subprocess.run(cli(cfg, db, "evaluate", "--inventory", str(inv), "--samples", str(smp), "--at",
                       (AT - timedelta(days=1)).isoformat()), check=True, capture_output=True)
    rx.take()
    t0, crashed, locked = time.perf_counter(), 0, 0
    for i in range(6):
        at = (AT + timedelta(hours=i)).isoformat()
        ps = [subprocess.Popen(cli(cfg, db, "evaluate", "--inventory", str(inv), "--samples", str(smp), "--at", at),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
              subprocess.Popen(cli(cfg, db, "sweep", "--now", at), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True),
              subprocess.Popen(cli(cfg, db, "deliver", "--now", at), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)]
        for p in ps:
            _, err = p.communicate()
            crashed += p.returncode != 0
            locked += "database is locked" in err
            if p.returncode:
                print(f"  exit {p.returncode}: {err.strip()[:300]}")
    end = (AT + timedelta(hours=7)).isoformat()
    subprocess.run(cli(cfg, db, "sweep", "--now", end), check=True, capture_output=True)
    for _ in range(10):
        r = subprocess.run(cli(cfg, db, "deliver", "--now", end), capture_output=True, text=True, check=True)
        if r.stdout.startswith("sent 0,"):
            break
    import sqlite3

    con = sqlite3.connect(db)
    numbers = [n for (n,) in con.execute("select number from notices")]
    con.close()
    assert len(numbers) == len(set(numbers)), "a notice number was used twice"
    print(f"  {len(numbers)} notices, numbers unique")
    return verdict("evaluate + sweep + deliver at once", set(all_keys(db)), rx.take(), crashed, locked, 0,
                   time.perf_counter() - t0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kills", type=int, default=200)
    ap.add_argument("--deliveries", type=int, default=1600)
    ap.add_argument("--out", default="bench-out/chaos")
    ap.add_argument("--seed", type=int, default=9)
    ap.add_argument("--code", help="run the CLI from this checkout instead (a comparison)")
    args = ap.parse_args()
    if args.code:  # its own packages first (PYTHONPATH or -m would lose to this checkout's editable install)
        code = str(Path(args.code).resolve())
        COMMAND[:] = [sys.executable, "-c", f"import sys; sys.path.insert(0, {code!r}); "
                      "from rightsizer.cli import main; sys.exit(main())"]
    work = Path(args.out).resolve()
    if work.exists():
        import shutil
        shutil.rmtree(work)
    work.mkdir(parents=True)
    rx = Receiver()
    rng = random.Random(args.seed)
    rows = [scene_kill(work, rx, args.kills, args.deliveries, rng), scene_overlap(work, rx, args.deliveries),
            scene_stall(work, rx, args.deliveries), scene_together(work, rx)]
    print("\n| scene | queued | received | lost | duplicated | max copies | crashed | \"database is locked\" "
          "| kills/stalls | s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['scene']} | {r['queued']:,} | {r['received']:,} | {r['lost']} | {r['duplicated']} | "
              f"{r['max_copies']} | {r['crashed']} | {r['database_locked']} | {r['kill_or_stall_events']} | "
              f"{r['seconds']} |")
    bad = [r for r in rows if r["lost"] or r["crashed"] or r["database_locked"]
           or r["duplicated"] > r["kill_or_stall_events"]]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
