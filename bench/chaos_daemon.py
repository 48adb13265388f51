"""Chaos for the daemon: ``rightsizer daemon`` SIGKILLed at random moments while it issues and delivers.

    .venv/bin/python bench/chaos_daemon.py [--kills 200] [--departments 24] [--out bench-out/chaos-daemon]

A simulated city (``--departments`` departments, 6 servers each) is run by the real daemon on a fast
schedule (inventory every 5 s, evaluation every 3 s, sweep and relay every second; leases of 10 s).
Half the departments get their notices by email from a real SMTP server (aiosmtpd on 127.0.0.1), the
other half and the centre's copy of every notice by a webhook on 127.0.0.1 that answers after 20 ms;
both record what they receive (Message-ID, Idempotency-Key). The daemon is started and killed with
SIGKILL after a random 0.3-3 s, ``--kills`` times; then started once more and left to finish, and
stopped with SIGTERM.

It reports: notices issued, numbers used twice, notices not delivered, messages queued and lost
(never received), duplicated (received twice) and the most copies of one message, periods that
completed twice, the final exit status, and how long the last daemon took to drain the outbox.
Target (issue 12): every notice delivered, no number twice, no message lost, none more than twice.
``tests/integration/test_daemon_chaos.py`` runs it with 50 kills.
"""

from __future__ import annotations

import argparse
import email
import json
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RIGHTSIZER = str(Path(sys.executable).parent / "rightsizer")
SCHEDULE = {"inventory": 5, "evaluate": 3, "sweep": 1, "deliver": 1}


class Receivers:
    """A real SMTP server and a webhook on 127.0.0.1, recording what each message carries as its key."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        from bench.chaos import Receiver
        from bench.procstat import free_port

        self.got: list[str] = []  # Message-IDs of the mail
        self.lock = threading.Lock()
        rec = self

        class Mail:
            async def handle_DATA(self, server, session, envelope):
                with rec.lock:
                    rec.got.append(email.message_from_bytes(envelope.content)["Message-ID"])
                return "250 OK"

        self.smtp_port = free_port()
        self.smtp = Controller(Mail(), hostname="127.0.0.1", port=self.smtp_port)
        self.smtp.start()

        self.webhook = Receiver(delay=0.02)  # bench/chaos.py's: records each Idempotency-Key
        self.hook_port = self.webhook.port

    def received(self) -> Counter:
        with self.lock, self.webhook.lock:
            return Counter(self.got + self.webhook.keys)

    def close(self) -> None:
        self.smtp.stop()
        self.webhook.server.shutdown()


def setup(out: Path, rx: Receivers, departments: int, store_url: str = "") -> Path:
    from rightsizer import demo
    from rightsizer.jobs.evaluate import window_end
    from rightsizer.settings import Settings

    s = Settings()
    depts = demo.write_city(out, departments * 6, 7, window_end(datetime.fromisoformat(WORKDAY), s),
                            departments=departments)
    routing = (f'[[notifiers]]\nname = "mail"\ntype = "email"\nhost = "127.0.0.1"\nport = {rx.smtp_port}\n'
               f'security = "none"\nsender = "rightsizer@example.gov.cn"\ntimeout_seconds = 10\n\n'
               f'[[notifiers]]\nname = "hook"\ntype = "webhook"\nurl = "http://127.0.0.1:{rx.hook_port}/dept"\n\n'
               f'[[notifiers]]\nname = "centre"\ntype = "webhook"\nurl = "http://127.0.0.1:{rx.hook_port}/centre"\n\n')
    for i, d in enumerate(depts):
        routing += (f'[departments."{d}"]\nchannels = ["mail"]\nemails = ["it@d{i}.example.gov.cn"]\n' if i % 2 == 0
                    else f'[departments."{d}"]\nchannels = ["hook"]\n')
    extra = '[notices]\ncc_channels = ["centre"]\nlease_seconds = 10\nbackoff_base_seconds = 1\n'
    return demo.daemon_config(out, routing, schedule=SCHEDULE, extra=extra, store_url=store_url)


# The daemons' clock: a Friday morning, a working day, whatever day the bench runs on (a sweep on a Saturday in
# Beijing rightly issues nothing); every daemon of a run shares it, so a restart goes on, never back in time.
WORKDAY = "2026-11-20T10:00:00+08:00"
_STARTED = time.time()


def daemon_now() -> str:
    return (datetime.fromisoformat(WORKDAY) + timedelta(seconds=time.time() - _STARTED)).isoformat()


def start(config: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen([RIGHTSIZER, "daemon", "--config", str(config), "--now", daemon_now()],
                            stdout=subprocess.DEVNULL, stderr=log.open("a"))


def state(db: Path | str) -> dict:
    """Notices, deliveries and job runs of the store (a SQLite file, or a URL)."""
    import sqlalchemy as sa

    from rightsizer.db import Store, jobruns
    from rightsizer.db.schema import deliveries, notices

    with Store(db if isinstance(db, str) else f"sqlite:///{db}").read() as conn:
        nts = conn.execute(sa.select(notices.c.number, notices.c.department, notices.c.status)).all()
        dels = conn.execute(sa.select(deliveries.c.channel, deliveries.c.status, deliveries.c.idempotency_key,
                                      deliveries.c.message_id, deliveries.c.attempts)).all()
        runs = jobruns.history(conn)
    return {"notices": nts, "deliveries": dels, "runs": runs}


def run(out: Path, kills: int, departments: int = 24, seed: int = 12, drain_seconds: float = 180) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    rx = Receivers()
    try:
        config = setup(out, rx, departments)
        log = out / "daemon.log"
        crashed = 0
        t0 = time.monotonic()
        for _ in range(kills):
            p = start(config, log)
            time.sleep(rng.uniform(0.3, 3.0))
            if p.poll() is not None:
                crashed += 1  # it exited on its own: a failure
            p.send_signal(signal.SIGKILL)
            p.wait()
        t_kills = time.monotonic() - t0
        ready = log.read_text(encoding="utf-8", errors="replace").count("INFO ready:") if log.exists() else 0
        p = start(config, log)
        t1 = time.monotonic()
        while time.monotonic() - t1 < 60 and p.poll() is None and \
                log.read_text(encoding="utf-8", errors="replace").count("INFO ready:") <= ready:
            time.sleep(0.05)  # the last daemon is up (its signal handlers too) before it may be stopped
        drained = None
        while time.monotonic() - t1 < drain_seconds:
            time.sleep(0.5)
            try:
                st = state(out / "rightsizer.db")
            except Exception:  # noqa: BLE001 - not created yet
                continue
            if st["notices"] and len(st["notices"]) >= departments and all(
                    d.status in ("sent", "dead") for d in st["deliveries"]):
                drained = time.monotonic() - t1
                break
        p.send_signal(signal.SIGTERM)
        exit_status = p.wait(120)
        st = state(out / "rightsizer.db")
        time.sleep(0.2)
        got = rx.received()
    finally:
        rx.close()
    ok_periods = Counter((r.job, r.period) for r in st["runs"] if r.outcome == "ok")
    text = log.read_text(encoding="utf-8", errors="replace")
    return {
        "kills": kills, "kill_phase_seconds": round(t_kills, 1), "crashed": crashed,
        **delivered(st, got, departments),
        "periods_completed_twice": sum(1 for n in ok_periods.values() if n > 1),
        "runs_cut_by_a_kill": dict(Counter(r.job for r in st["runs"] if r.outcome == "running")),
        "final_exit_status": exit_status,
        "drain_seconds": None if drained is None else round(drained, 1),
        "tracebacks_in_log": text.count("Traceback"),
    }


def delivered(st: dict, got: Counter, departments: int) -> dict:
    """What every department got, from the store (``state``) and the receivers' counts."""
    keys = [d.message_id if d.channel == "mail" else d.idempotency_key for d in st["deliveries"]]
    numbers = Counter(n.number for n in st["notices"])
    return {
        "departments": departments, "notices": len(st["notices"]),
        "departments_with_one_notice": sum(1 for n in Counter(x.department for x in st["notices"]).values() if n == 1),
        "numbers_used_twice": sum(1 for n in numbers.values() if n > 1),
        "notices_not_delivered": sum(1 for n in st["notices"] if n.status != "delivered"),
        "messages_queued": len(keys),
        "messages_dead": sum(1 for d in st["deliveries"] if d.status == "dead"),
        "lost": sum(1 for k in keys if got[k] == 0),
        "duplicated": sum(1 for k in keys if got[k] > 1),
        "max_copies": max((got[k] for k in keys), default=0),
        # every copy a receiver got is an attempt the store counted before it sent (never a send it forgot)
        "copies_beyond_attempts": sum(1 for k, d in zip(keys, st["deliveries"]) if got[k] > d.attempts),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kills", type=int, default=200)
    ap.add_argument("--departments", type=int, default=24)
    ap.add_argument("--seed", type=int, default=12)
    ap.add_argument("--out", default="bench-out/chaos-daemon")
    args = ap.parse_args()
    out = Path(args.out)
    if out.exists():
        import shutil

        shutil.rmtree(out)
    r = run(out, args.kills, args.departments, args.seed)
    print(json.dumps(r, indent=2))
    good = (r["lost"] == 0 and r["numbers_used_twice"] == 0 and r["notices_not_delivered"] == 0
            and r["max_copies"] <= 2 and r["final_exit_status"] == 0 and r["crashed"] == 0)
    print("verdict:", "PASS" if good else "FAIL")
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
