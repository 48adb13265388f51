"""``rightsizer demo``: simulate a city's cloud and run the whole job on it.

simulation -> local sample store (numpy on disk) -> summaries -> findings ->
SQLite store, then a per-department table and the total monthly waste, then one notice
per department delivered to a console notifier. It calls the same jobs as the CLI.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

from collectors.simulate import DEMO_FLAVORS, simulate_city

from . import tables
from .calendar import WorkCalendar
from .db import Store
from .jobs import evaluate, notices, relay, views
from .lifecycle import Viewer
from .samplestore import SampleStore
from .settings import DepartmentContacts, load_settings

DEMO = Viewer("demo", "operator")


def run(out: Path, servers: int, seed: int, at_text: str, config: str | None) -> int:
    t0 = time.perf_counter()
    settings = load_settings(config)
    if not settings.sizing.flavors:
        settings = settings.model_copy(update={"sizing": settings.sizing.model_copy(update={"flavors": DEMO_FLAVORS})})
    at = datetime.fromisoformat(at_text)
    cal = WorkCalendar(settings.calendar.overrides)
    city = simulate_city(seed, servers, at, days=settings.window.days, step=settings.window.step_seconds,
                         tz=settings.tz, calendar=cal)
    samples = SampleStore(out / "samples")
    samples.write(city.grid, "simulated")
    t_sim = time.perf_counter()
    ids = [s.server_id for s in city.servers]
    grid = samples.read(ids, city.grid.start, city.grid.step, city.grid.slots)
    store = Store.open(f"sqlite:///{(out / 'rightsizer.db').resolve()}")
    digest = hashlib.sha256(f"simulate:{seed}:{servers}".encode()).hexdigest()
    # the CLI's and the daemon's orchestration: the store's resize history, the judgement's run key
    ev = evaluate.evaluate(store, settings, cal, at, evaluate.Sources(
        servers=city.servers, grid=grid, given=(f"simulate:seed={seed}", digest))).evaluation
    t_eval = time.perf_counter()

    per_dept = Counter(s.department for s in city.servers)
    print(f"rightsizer demo: {servers} simulated servers in {len(per_dept)} departments, "
          f"{settings.window.days} days of {settings.window.step_seconds // 60}-minute samples, window ending {at}")
    print()
    print(tables.department_table(ev.findings, dict(per_dept)))
    print()
    kinds = Counter(f.kind.value for f in ev.findings)
    print("findings: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
    print(f"total monthly waste: {tables.money(tables.monthly_waste(ev.findings))} CNY "
          f"(每月财政资金浪费 {tables.money(tables.monthly_waste(ev.findings))} 元)")
    t_n0 = time.perf_counter()
    first_text, n_notices, sent = _notices(store, settings, cal, at, out, sorted(per_dept))
    t_notices = time.perf_counter()
    print()
    if n_notices:
        print(f"notices: {n_notices} rectification notices (整改通知) issued, {sent} delivered to the console "
              f"notifier, all written to {out / 'notices.txt'}; the first in full:")
        print()
        print(first_text.text)
        if first_text.pdf:
            print(f"the first notice as a PDF (红头文件): {out / first_text.pdf.name}")
    else:
        print(f"notices: 0 rectification notices (整改通知) issued: the findings are already on the open notices "
              f"in {out / 'notices.txt'} (no new notice, no new message)")
    print(f"store: {out / 'rightsizer.db'}  samples: {out / 'samples'}")
    print(f"time: simulate {t_sim - t0:.1f}s, summarise+evaluate+store {t_eval - t_sim:.1f}s, "
          f"notices {t_notices - t_n0:.1f}s")
    print()
    month_report(out / "month", servers, seed, at, settings, cal, out)
    return 0


def month_report(work: Path, servers: int, seed: int, at: datetime, settings, cal: WorkCalendar,
                 out: Path) -> Path:
    """The month before ``at`` lived day by day in its own store (``work``): every morning an evaluation
    (hourly samples), a sweep (notices on working days) and the relay to a console file; on the 20th the
    idle servers of three departments are given back (verified: realised savings). Then the monthly report
    into ``out`` (xlsx, csv, html) and its per-department summary. Returns the xlsx."""
    import shutil
    from datetime import timedelta

    from notifiers.config import ConsoleSettings
    from notifiers.console import ConsoleNotifier

    from .jobs import reports
    from .reports import Month, writers

    t0 = time.perf_counter()
    month = Month.of(at.astimezone(settings.tz).date()).shift(-1)
    first = datetime(month.year, month.month, 1, 9, tzinfo=settings.tz)
    end = first + timedelta(days=month.days)
    hourly = settings.model_copy(update={"window": settings.window.model_copy(update={"step_seconds": 3600})})
    city = simulate_city(seed, servers, end, days=hourly.window.days + month.days + 1, step=3600, tz=settings.tz,
                         calendar=cal)
    depts = sorted({s.department for s in city.servers})
    routed = hourly.model_copy(update={
        "notifiers": [{"name": "console", "type": "console"}],
        "departments": {d: DepartmentContacts(channels=["console"]) for d in depts}})
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    store = Store.open(f"sqlite:///{(work / 'rightsizer.db').resolve()}")
    released: set[str] = set()
    with (work / "notices.txt").open("w", encoding="utf-8") as fh:
        console = ConsoleNotifier(ConsoleSettings(name="console"), fh)
        for i in range(month.days):
            day = first + timedelta(days=i)
            if i == 19:  # the 20th: three departments give back their idle servers
                with store.read() as conn:
                    from .db import runs as db_runs

                    idle = {f.server_id for f in db_runs.open_findings(conn) if f.kind == "release"
                            and f.department in depts[:3]}
                released |= idle
            inventory = [s for s in city.servers if s.server_id not in released and s.delivered_at <= day]
            digest = hashlib.sha256(f"simulate:{seed}:{servers}:{len(inventory)}".encode()).hexdigest()
            evaluate.evaluate(store, hourly, cal, day, evaluate.Sources(
                servers=inventory, grid=city.grid, given=(f"simulate:seed={seed}", digest)))
            notices.sweep(store, routed, cal, day)  # new notices on working days only
            relay.deliver(store, routed, cal, lambda: day, notifiers={"console": console})
    t_days = time.perf_counter()
    report = reports.monthly(store, settings, month, end)
    written = []
    for fmt in ("xlsx", "csv", "html"):
        path = out / f"{month}-云资源浪费报告.{fmt}"
        path.write_bytes(writers.monthly(report, fmt))
        written.append(path)
    t_report = time.perf_counter()
    print(f"the month before: {month.label()} lived day by day ({month.days} daily evaluations of {servers} servers, "
          f"hourly samples; notices and deliveries each morning; {len(released)} idle servers given back on the 20th)"
          f" in {work}; the monthly report (月度资源浪费报告) for finance:")
    print()
    print(reports.summary_text(report))
    print()
    print("written: " + ", ".join(str(p) for p in written))
    print(f"time: {month.days} days {t_days - t0:.1f}s, report {t_report - t_days:.1f}s")
    return written[0]


def _notices(store: Store, settings, cal: WorkCalendar, at: datetime, out: Path, departments: list[str]):
    """Issue one notice per department and deliver them to a console notifier writing to a file."""
    from notifiers.config import ConsoleSettings
    from notifiers.console import ConsoleNotifier

    if not settings.notifiers:  # the demo's own routing: every department to the console
        settings = settings.model_copy(update={
            "notifiers": [{"name": "console", "type": "console"}],
            "departments": {d: DepartmentContacts(channels=["console"]) for d in departments}})
    issued = notices.issue(store, settings, at)
    with (out / "notices.txt").open("a", encoding="utf-8") as fh:  # a rerun adds, never erases
        console = ConsoleNotifier(ConsoleSettings(name="console"), fh)
        report = relay.deliver(store, settings, cal, lambda: at, notifiers={"console": console})
    first = views.notice(store, DEMO, issued[0].notice_id) if issued else None
    if first is not None and first.pdf:
        (out / first.pdf.name).write_bytes(first.pdf.content)
    return first, len(issued), report.sent


# -- make demo-daemon: the daemon on a simulated city, on a fast schedule ---------------------------

FAST_SCHEDULE = {"inventory": 20, "evaluate": 15, "sweep": 5, "deliver": 2}


def write_city(out: Path, servers: int, seed: int, at: datetime, departments: int = 40, days: int = 30,
               calendar: WorkCalendar | None = None) -> list[str]:
    """A simulated city as a daemon reads it: ``servers.csv`` and the local sample store ``samples/`` with
    ``days`` of samples up to ``at`` (office hours from ``calendar``); its departments."""
    from collectors.csv_import import write_inventory

    settings = load_settings(None)
    city = simulate_city(seed, servers, at, days=days, step=settings.window.step_seconds,
                         tz=settings.tz, calendar=calendar or WorkCalendar(), departments=departments)
    out.mkdir(parents=True, exist_ok=True)
    SampleStore(out / "samples").write(city.grid, "simulated")
    write_inventory(out / "servers.csv", city.servers)
    return sorted({s.department for s in city.servers})


def daemon_config(out: Path, routing: str, schedule: dict[str, int] = FAST_SCHEDULE, listen: str = "127.0.0.1:0",
                  extra: str = "", store_url: str = "") -> Path:
    """A configuration for :func:`write_city`'s files: every job every few seconds; ``routing`` holds the
    [[notifiers]] and [departments.…] blocks."""
    jobs = "\n".join(f"[schedule.{job}]\nevery_seconds = {n}\nmisfire_grace_seconds = 30\n"
                     for job, n in schedule.items())
    flavors = ",\n  ".join(f'{{ name = "{f.name}", vcpus = {f.vcpus}, ram_gib = {f.ram_gib:g} }}' for f in DEMO_FLAVORS)
    path = out / "rightsizer.toml"
    path.write_text(f"""# written by rightsizer demo --daemon
[store]
state_dir = "{out}"
busy_seconds = 60
url = "{store_url}"

[inventory]
source = "csv"
csv = "servers.csv"

[metrics]
source = "local"

[daemon]
listen = "{listen}"
stop_seconds = 20

[sizing]
flavors = [
  {flavors},
]

{jobs}
{extra}
{routing}
""", encoding="utf-8")
    return path


def last_working_morning(now: datetime, calendar: WorkCalendar) -> datetime:
    """``now`` on a working day; else 10:00 of the last working day before it (the demo's daemon starts there)."""
    from .errors import CalendarError

    day = now.date()
    for _ in range(30):  # bounded: no holiday run is that long
        try:
            if calendar.is_workday(day):
                break
        except CalendarError:  # a year the calendar lacks: Monday to Friday, for a demo only
            if day.weekday() < 5:
                break
        day -= timedelta(days=1)
    return now if day == now.date() else datetime(day.year, day.month, day.day, 10, tzinfo=now.tzinfo)


def run_daemon(out: Path, seconds: float, servers: int, seed: int, listen: str = "127.0.0.1:9465") -> int:
    """Simulate a city up to now, run ``rightsizer daemon`` on it for ``seconds``, stop it, show the notices."""
    import signal
    import subprocess
    import sys

    settings = load_settings(None)
    start = last_working_morning(datetime.now(settings.tz), WorkCalendar())
    now = evaluate.window_end(start, settings)  # the samples' grid is aligned to the step
    departments = write_city(out, servers, seed, now, departments=8)
    routing = '[[notifiers]]\nname = "console"\ntype = "console"\n\n' + "\n".join(
        f'[departments."{d}"]\nchannels = ["console"]\n' for d in departments)
    config = daemon_config(out, routing, listen=listen)
    print(f"rightsizer demo --daemon: {servers} simulated servers of {len(departments)} departments in {out}; "
          f"running `rightsizer daemon --config {config} --now {start.isoformat()}` for {seconds:g} s "
          f"(metrics: http://{listen}/metrics)", flush=True)
    # the daemon's clock starts on a working morning: notices go out only on working days
    proc = subprocess.Popen([sys.executable, "-m", "rightsizer.cli", "daemon", "--config", str(config),
                             "--now", start.isoformat()])
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    store = Store.open(f"sqlite:///{(out / 'rightsizer.db').resolve()}")
    print()
    print(tables.notices_table(views.notices(store, DEMO), load_settings(str(config)).tz))
    with store.read() as conn:
        from .db import jobruns

        runs = Counter((r.job, r.outcome) for r in jobruns.history(conn))
    print("job runs: " + ", ".join(f"{job} {outcome} {n}" for (job, outcome), n in sorted(runs.items())))
    return proc.returncode
