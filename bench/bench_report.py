"""The monthly report for a city of 10,000 servers with a month of daily evaluations.

    .venv/bin/python bench/bench_report.py [--servers 10000] [--out bench-out/report]

First (once; kept in ``--out`` for reruns) the month is lived day by day the way the demo
does it (``rightsizer.demo.month_report``): 31 daily evaluations of hourly samples, sweeps
and deliveries, idle servers given back on the 20th. Then, each in its own process so its
peak RSS is its own, side by side:

* the floor — reading every row the report reads from the store (``jobs.reports.history_rows``), nothing else;
* ``rightsizer report monthly`` in each format (xlsx, csv, html, json).

Target (issue 13): under 10 s and 1 GiB on this machine.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AT = "2026-11-20T00:00:00+08:00"

FLOOR = """
import sys, time
t = time.perf_counter()
from rightsizer.db import Store
from rightsizer.jobs.reports import history_rows
rows = history_rows(Store.open(sys.argv[1]))
print(sum(len(r[1]) if isinstance(r, tuple) else len(r) for r in rows.values()), time.perf_counter() - t)
"""


def timed(argv: list[str]) -> tuple[float, float, str]:
    """(wall seconds, peak RSS MiB, stdout) of one child process (its own rusage, from wait4)."""
    import os
    import tempfile

    with tempfile.TemporaryFile() as fh:
        t = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=fh, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            raise SystemExit(f"{argv} exited {proc.returncode}")
        fh.seek(0)
        return wall, usage.ru_maxrss / 1024, fh.read().decode()


def build(out: Path, servers: int) -> Path:
    from rightsizer import demo
    from rightsizer.calendar import WorkCalendar
    from rightsizer.settings import load_settings

    db = out / "month" / "rightsizer.db"
    if db.exists():
        return db
    settings = load_settings(None)
    t = time.perf_counter()
    demo.month_report(out / "month", servers, 20261120, datetime.fromisoformat(AT), settings, WorkCalendar(), out)
    print(f"built the month in {time.perf_counter() - t:.0f} s", flush=True)
    return db


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--servers", type=int, default=10000)
    ap.add_argument("--out", default="bench-out/report")
    args = ap.parse_args()
    out = (ROOT / args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    db = build(out, args.servers)
    url = f"sqlite:///{db}"
    import sqlite3

    con = sqlite3.connect(db)
    counts = {t: con.execute(f"select count(*) from {t}").fetchone()[0]
              for t in ("servers", "runs", "findings", "finding_values", "notices", "notice_items")}
    print("store:", json.dumps(counts))
    results = []
    wall, rss, text = timed([sys.executable, "-c", FLOOR, url])
    results.append(("floor: read every row the report reads", wall, rss, f"{text.split()[0]} rows"))
    for fmt in ("json", "csv", "html", "xlsx"):
        target = out / f"report.{fmt}"
        wall, rss, _ = timed([sys.executable, "-m", "rightsizer.cli", "report", "monthly", "--db", str(db),
                              "--month", "2026-10", "--now", AT, "--format", fmt, "--out", str(target)])
        results.append((f"rightsizer report monthly --format {fmt}", wall, rss,
                        f"{target.stat().st_size / 1024:.0f} KiB"))
    print()
    print(f"| {'what':45} | wall s | peak RSS MiB | output |")
    print(f"|{'-' * 47}|-------:|-------------:|-------:|")
    for name, wall, rss, note in results:
        print(f"| {name:45} | {wall:6.2f} | {rss:12.0f} | {note} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
