"""The console under load: 10,000 servers, 20 concurrent users for a minute.

    .venv/bin/python bench/bench_web.py [--users 20] [--seconds 60] [--store bench-out/report/month/rightsizer.db]

The store is the month that ``bench/bench_report.py`` builds (10,000 servers, 31 daily
evaluations, 416 notices); run that first. ``rightsizer web`` runs as its own process (uvicorn,
one worker) with its clock at the month's last evening. First each page is timed alone
(server-side: sequential requests, the median of 20 after a warm-up), then ``--users`` threads,
each signed in as its own operator or department account, walk overview → department →
notice for ``--seconds``: requests, errors, p50 and p95.

Target (issue 14): p95 under 200 ms, no errors.
"""

from __future__ import annotations

import argparse
import http.client
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-password-1"


class Client:
    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, str, float]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        t = time.perf_counter()
        self.conn.request(method, path, body=body, headers=headers)
        r = self.conn.getresponse()
        text = r.read().decode("utf-8", "replace")
        took = time.perf_counter() - t
        for h in r.headers.get_all("set-cookie") or []:
            k, v = h.split(";", 1)[0].split("=", 1)
            self.cookies[k] = v
        return r.status, text, took

    def login(self, name: str) -> None:
        _, page, _ = self.request("GET", "/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        status, _, _ = self.request("POST", "/login", f"name={quote(name)}&password={PASSWORD}&csrf={csrf}&next=/")
        assert status == 303, status


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--store", default="bench-out/report/month/rightsizer.db")
    ap.add_argument("--think", type=float, nargs="*", default=[0.0, 1.0],
                    help="seconds each user waits between pages; one load phase per value")
    args = ap.parse_args()
    db = (ROOT / args.store).resolve()
    if not db.exists():
        raise SystemExit(f"{db} is missing: run bench/bench_report.py first")
    import sqlite3

    con = sqlite3.connect(db)
    depts = [r[0] for r in con.execute("select name from departments order by name")]
    notice = {d: n for d, n in con.execute("select department, max(id) from notices group by department")}
    from datetime import datetime, timezone
    from zoneinfo import ZoneInfo

    last_utc = con.execute("select max(at) from runs").fetchone()[0]  # fixed-width UTC text (the store's SQLite form)
    last = datetime.fromisoformat(last_utc).replace(tzinfo=timezone.utc).astimezone(ZoneInfo("Asia/Shanghai"))
    servers = con.execute("select count(*) from servers").fetchone()[0]
    rs = [sys.executable, "-m", "rightsizer.cli"]
    names = [("ops", "operator", None)] + [(f"d{i:02d}", "department", d) for i, d in enumerate(depts)]
    for name, role, dept in names:
        subprocess.run([*rs, "users", "add", name, "--role", role, "--db", str(db),
                        *(["--department", dept] if dept else [])], input=PASSWORD + "\n", text=True,
                       capture_output=True, cwd=ROOT)
    port = 18181
    now = last.replace(hour=18, minute=0, second=0, microsecond=0).isoformat()
    web = subprocess.Popen([*rs, "web", "--db", str(db), "--listen", f"127.0.0.1:{port}", "--now", now], cwd=ROOT,
                           stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                Client(port).request("GET", "/login")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        print(f"store: {servers} servers, {len(depts)} departments, {len(notice)} departments with notices; "
              f"console as of {now}")
        one = Client(port)
        one.login("ops")
        pages = {"overview": "/", "department page": "/departments/" + quote(depts[0]),
                 "notice page": f"/notices/{notice[depts[0]]}"}
        print("\n| page (alone, operator) | median ms | first (cold) ms |", flush=True)
        print("|---|---:|---:|")
        for label, path in pages.items():
            status, _, first = one.request("GET", path)
            assert status == 200, (path, status)
            times = [one.request("GET", path)[2] for _ in range(20)]
            print(f"| {label} | {statistics.median(times) * 1000:.0f} | {first * 1000:.0f} |")
        for think in args.think:
            load(port, names, depts, notice, args.users, args.seconds, think)
    finally:
        web.terminate()
        web.wait(10)
    return 0


def load(port, names, depts, notice, users: int, seconds: float, think: float) -> None:
    latencies: list[float] = []
    errors = [0]
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def user(k: int) -> None:
        name, role, dept = names[k % len(names)]
        c = Client(port)
        c.login(name)
        dept = dept or depts[k % len(depts)]
        walk = ["/", "/departments/" + quote(dept), f"/notices/{notice.get(dept, notice[depts[0]])}"]
        i = 0
        while time.monotonic() < stop:
            try:
                status, _, took = c.request("GET", walk[i % 3])
            except OSError:
                status, took = 0, 0.0
                c = Client(port)
                c.login(name)
            with lock:
                if status != 200:
                    errors[0] += 1
                    statuses[status] = statuses.get(status, 0) + 1
                else:
                    latencies.append(took)
            i += 1
            if think:
                time.sleep(think)

    threads = [threading.Thread(target=user, args=(k,)) for k in range(users)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    q = statistics.quantiles(latencies, n=100)
    print(f"{users} users for {seconds:g} s, {think:g} s between pages: {len(latencies)} requests "
          f"({len(latencies) / wall:.0f}/s), {errors[0]} errors {statuses or ''}, p50 {q[49] * 1000:.0f} ms, "
          f"p95 {q[94] * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms", flush=True)


if __name__ == "__main__":
    sys.exit(main())
