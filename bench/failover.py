"""Failover: two ``rightsizer daemon`` processes on one PostgreSQL, issuing and delivering; the leader is
SIGKILLed, or its leader connection is cut, and the standby takes over.

    .venv/bin/python bench/failover.py [--rounds 4] [--departments 16] [--out bench-out/failover]

A temporary PostgreSQL cluster (Debian's postgresql, ``tests/pgserver.py``) holds the store; the city and
the receivers are ``bench/chaos_daemon.py``'s (a real SMTP server, aiosmtpd, and a webhook on 127.0.0.1).
Two daemons start with the same configuration: one takes the leader lock, the other waits. Each round lets
the leader work for a random 0.5-3 s, then either SIGKILLs it or terminates its leader connection in
PostgreSQL (``pg_terminate_backend``: the process lives on, with its pooled connections, and must notice
and stop — meanwhile the fencing epoch keeps it from writing). The round measures how long until the
standby says it leads; the fallen daemon is started again as the new standby, as systemd would.
At the end both are left to drain the outbox and stopped with SIGTERM.

It reports each takeover's seconds, notices issued, numbers used twice, notices not delivered, messages
lost, duplicated and the most copies of one message, and the fenced writes the old leaders attempted.
Target (issue 15): takeover within 30 s; every notice delivered, no number twice, nothing more than twice.
``tests/integration/test_failover.py`` runs two rounds (one of each).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from bench import chaos_daemon  # noqa: E402

LEADS = re.compile(r"leader: holding the leader lock, epoch (\d+)")


class Daemon:
    def __init__(self, name: str, config: Path, out: Path):
        self.name, self.log = name, out / f"daemon-{name}.log"
        self.proc = chaos_daemon.start(config, self.log)

    def epochs(self) -> list[int]:
        text = self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
        return [int(m) for m in LEADS.findall(text)]


def _wait_leader(daemons: list[Daemon], known: set[int], seconds: float) -> tuple[Daemon, int] | None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for d in daemons:
            if d.proc.poll() is None:
                new = [e for e in d.epochs() if e not in known]
                if new:
                    return d, max(new)
        time.sleep(0.05)
    return None


def run(out: Path, rounds: int, departments: int = 16, seed: int = 15, drain_seconds: float = 180) -> dict:
    import pgserver

    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    cluster = pgserver.start()
    rx = chaos_daemon.Receivers()
    takeovers, modes, exits = [], [], []
    try:
        url = cluster.fresh()
        config = chaos_daemon.setup(out, rx, departments, store_url=url)
        names = iter("abcdefghijklmnopqrstuvwxyz")
        daemons = [Daemon(next(names), config, out), Daemon(next(names), config, out)]
        first = _wait_leader(daemons, set(), 60)
        if first is None:
            raise RuntimeError("no daemon took the lead in 60 s")
        leader, epoch = first
        known = {epoch}
        for i in range(rounds):
            time.sleep(rng.uniform(0.5, 3.0))
            mode = "kill" if i % 2 == 0 else "cut"
            t0 = time.monotonic()
            if mode == "kill":
                leader.proc.send_signal(signal.SIGKILL)
            else:
                cluster.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE application_name = 'rightsizer-leader' AND state IS NOT NULL "
                            f"AND pid <> pg_backend_pid()", database=url.rsplit("/", 1)[1])
            standby = [d for d in daemons if d is not leader and d.proc.poll() is None]
            got = _wait_leader(standby, known, 60)
            if got is None:
                raise RuntimeError(f"round {i + 1} ({mode}): no standby took over in 60 s")
            took = time.monotonic() - t0
            takeovers.append(round(took, 2))
            modes.append(mode)
            new_leader, epoch = got
            known.add(epoch)
            try:
                exits.append(leader.proc.wait(60))  # a cut leader notices and stops with 1
            except subprocess.TimeoutExpired:
                leader.proc.kill()
                exits.append("did not stop")
            fresh = Daemon(next(names), config, out)  # systemd starts the fallen one again: a standby
            end = time.monotonic() + 60
            while "standby:" not in (fresh.log.read_text(encoding="utf-8", errors="replace")
                                     if fresh.log.exists() else "") and time.monotonic() < end:
                time.sleep(0.05)
            daemons = [new_leader, fresh]
            leader = new_leader
        t1 = time.monotonic()
        drained = None
        while time.monotonic() - t1 < drain_seconds:
            time.sleep(0.5)
            st = chaos_daemon.state(url)
            if len(st["notices"]) >= departments and all(d.status in ("sent", "dead") for d in st["deliveries"]):
                drained = time.monotonic() - t1
                break
        final = []
        for d in daemons:
            d.proc.send_signal(signal.SIGTERM)
        for d in daemons:
            final.append(d.proc.wait(120))
        st = chaos_daemon.state(url)
        time.sleep(0.2)
        got = rx.received()
    finally:
        rx.close()
        cluster.stop()
    logs = "".join(p.read_text(encoding="utf-8", errors="replace") for p in sorted(out.glob("daemon-*.log")))
    return {
        "rounds": rounds, "modes": modes, "takeover_seconds": takeovers,
        "max_takeover_seconds": max(takeovers, default=None),
        "fallen_leader_exit_status": exits, "final_exit_status": final,
        **chaos_daemon.delivered(st, got, departments),
        "fenced_writes": logs.count("no longer the leader"),
        "drain_seconds": None if drained is None else round(drained, 1),
        "tracebacks_in_log": logs.count("Traceback"),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--departments", type=int, default=16)
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--out", default="bench-out/failover")
    args = ap.parse_args()
    out = Path(args.out)
    if out.exists():
        import shutil

        shutil.rmtree(out)
    r = run(out, args.rounds, args.departments, args.seed)
    print(json.dumps(r, indent=2))
    good = (r["lost"] == 0 and r["numbers_used_twice"] == 0 and r["notices_not_delivered"] == 0
            and r["max_copies"] <= 2 and r["max_takeover_seconds"] <= 30 and set(r["final_exit_status"]) == {0})
    print("verdict:", "PASS" if good else "FAIL")
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
