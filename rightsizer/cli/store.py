"""``report``, ``store``, ``daemon`` and ``demo``."""

from __future__ import annotations

import sys
from pathlib import Path

from ..errors import UsageError
from ..settings import Settings, load_settings
from .common import add_common, db_url, now_of, open_store, parse_time, settings_of, store_exists, warn


def cmd_report(args) -> int:
    from ..jobs import reports
    from ..reports import Month, writers

    s = settings_of(args)
    now = now_of(args, s)
    if not store_exists(args, s):
        raise UsageError(f"no store at {args.db or s.store.resolved_url()}: run evaluate (or the daemon) first")
    store = open_store(args, s)
    if args.report_command == "monthly":
        month = _month(args.month) if args.month else Month.of(now.astimezone(s.tz).date()).shift(-1)
        r = reports.monthly(store, s, month, now, args.department)
        data, name = writers.monthly(r, args.format), f"{month}-云资源浪费报告.{args.format}"
        table = reports.summary_text(r)
        if reports.unmonitored_zh(r):
            warn([reports.unmonitored_zh(r)])
    else:
        if args.quarter is not None and not 1 <= args.quarter <= 4:
            raise UsageError(f"--quarter: {args.quarter} is not 1-4")
        e = reports.evaluation(store, s, args.year, args.quarter, now)
        data, name = writers.evaluation(e, args.format), f"{e.year}{'Q' + str(e.quarter) if e.quarter else ''}-绩效评价.{args.format}"
        table = None
    out = args.out or (name if args.format == "xlsx" else "-")
    if out == "-":
        if args.format == "xlsx":
            raise UsageError("--out: an xlsx is written to a file, not to the terminal")
        sys.stdout.buffer.write(data)
        return 0
    target = Path(out)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_bytes(data)  # the whole file or nothing
    tmp.replace(target)
    if table:
        print(table)
    print(f"written: {target} ({len(data):,} bytes)")
    return 0


def _month(text: str):
    from ..reports import Month

    try:
        return Month.parse(text)
    except ValueError:
        raise UsageError(f"--month: {text!r} is not a month (YYYY-MM)") from None


def cmd_store(args) -> int:
    """``store migrate``: the schema to the head revision; ``store copy``: one store into a new one."""
    from ..db import Store
    from ..db.copy import copy

    s = settings_of(args)
    if args.store_command == "migrate":
        store = Store(db_url(args, s), s.store.busy_seconds)
        was = store.version()
        now = store.migrate()
        print(f"store at revision {now}" + (f" (was {was})" if was != now else " (already)")
              + f"  数据库结构版本 {now}")
        return 0
    from ..secrets import url_has_password

    if url_has_password(args.source) or url_has_password(args.target):
        raise UsageError("a database URL on the command line holds a password, which every user of the machine "
                         "can read (ps): give it in ~/.pgpass or PGPASSFILE instead (the URL is not shown)")
    source = Store(args.source if "://" in args.source else f"sqlite:///{Path(args.source).resolve()}",
                   s.store.busy_seconds)
    counts = copy(source, Store(args.target, s.store.busy_seconds))
    print(f"copied {sum(counts.values())} rows in {len(counts)} tables  已复制 {sum(counts.values())} 行")
    for name, n in counts.items():
        if n:
            print(f"  {name:<20} {n:>10}")
    return 0


def cmd_daemon(args) -> int:
    from .. import daemon

    # a time without an offset is read in Asia/Shanghai (the configuration is read by the daemon, not here)
    return daemon.run(args.config, parse_time(args.now, Settings(), "--now"))


def cmd_demo(args) -> int:
    from .. import demo

    if args.daemon:
        return demo.run_daemon(Path(args.out), args.daemon, servers=min(args.servers, 400), seed=args.seed)
    code = demo.run(Path(args.out), servers=args.servers, seed=args.seed, at_text=args.at, config=args.config)
    if code or not args.web:
        return code
    return _demo_web(Path(args.out) / "month" / "rightsizer.db", args.web, args.config)


DEMO_PASSWORD = "rightsizer-demo"


def _demo_web(db: Path, listen: str, config: str | None) -> int:
    """Serve the demo's month in the console: one account per role, the clock at the month's last evening."""
    from .. import web
    from ..db import Store
    from ..db import inventory as db_inventory
    from ..db import runs as db_runs
    from ..jobs import accounts

    s = load_settings(config)
    s = s.model_copy(update={"store": s.store.model_copy(update={"url": f"sqlite:///{db.resolve()}"})})
    store = Store.open(s.store.url)
    with store.read() as conn:
        first = db_inventory.server_rows(conn, None, limit=1)[0].department
        last = db_runs.last_run_at(conn)
    now = last.astimezone(s.tz).replace(hour=18, minute=0, second=0, microsecond=0)
    logins = [("centre", "operator", None), ("finance", "finance", None), ("dept", "department", first)]
    for name, role, dept in logins:
        try:
            accounts.add_user(store, now, name, role, dept, DEMO_PASSWORD)
        except UsageError:
            pass  # made by an earlier run
    print()
    print(f"the console: http://{listen}/  (the month's store, as of {now:%Y-%m-%d %H:%M}; Ctrl-C stops it)")
    for name, role, dept in logins:
        print(f"  {role:10} {name} / {DEMO_PASSWORD}" + (f"  ({dept})" if dept else ""))
    return web.run(s, listen, now=now)


def register(sub) -> None:
    rp = sub.add_parser("report", help="finance reports from the recorded history").add_subparsers(
        dest="report_command", required=True)
    rm = rp.add_parser("monthly", help="the monthly waste report (月度资源浪费报告): cost, waste, run rate, "
                       "realised savings, 未备案, per department, system and server")
    rm.add_argument("--month", metavar="YYYY-MM", help="default: the month before --now")
    rm.add_argument("--department", help="only this department")
    rm.add_argument("--format", choices=("xlsx", "csv", "html", "json"), default="xlsx")
    re_ = rp.add_parser("evaluation", help="the performance-evaluation export (绩效评价) per department, scored by "
                        "the [evaluation] rubric")
    re_.add_argument("--year", type=int, required=True)
    re_.add_argument("--quarter", type=int, help="1-4 (default: the whole year)")
    re_.add_argument("--format", choices=("xlsx", "csv"), default="xlsx")
    for c in (rm, re_):
        c.add_argument("--out", help="file to write; '-' for standard output (not xlsx); default: xlsx to a file "
                       "named after the report, other formats to standard output")
        add_common(c, now=True)
        c.set_defaults(func=cmd_report)

    so = sub.add_parser("store", help="the store: schema migrations (Alembic) and copying to a new database"
                        ).add_subparsers(dest="store_command", required=True)
    sm = so.add_parser("migrate", help="bring the store's schema to the newest revision (the daemon, the console "
                       "and every command do it at start; this does only that)")
    add_common(sm)
    sc = so.add_parser("copy", help="copy every row of a store into a new, empty one (SQLite -> PostgreSQL); "
                       "the source is only read")
    sc.add_argument("--from", dest="source", required=True, metavar="URL", help="sqlite:///… (or a SQLite file)")
    sc.add_argument("--to", dest="target", required=True, metavar="URL", help="postgresql+psycopg://… "
                    "(a password comes from ~/.pgpass or PGPASSFILE, never the command line)")
    sc.add_argument("--config", help="configuration TOML (its timezone)")
    for c in (sm, sc):
        c.set_defaults(func=cmd_store)

    dm = sub.add_parser("daemon", help="run the whole job on the [schedule] of the configuration (systemd: "
                        "Type=notify, SIGHUP reloads, SIGTERM stops); /metrics and /healthz on [daemon] listen")
    dm.add_argument("--config", required=True, help="configuration TOML")
    dm.add_argument("--now", metavar="ISO", help="start the daemon's clock at this time (it then runs on): "
                    "replay a schedule or a demo; default: the clock")
    dm.set_defaults(func=cmd_daemon)

    d = sub.add_parser("demo", help="simulate a city's cloud and run the whole job on it")
    d.add_argument("--out", default="demo-out", help="directory for the store and samples (default: demo-out)")
    d.add_argument("--servers", type=int, default=2000)
    d.add_argument("--seed", type=int, default=20261120)
    d.add_argument("--at", default="2026-11-20T00:00:00+08:00")
    d.add_argument("--config", help="configuration TOML")
    d.add_argument("--web", metavar="HOST:PORT", help="then serve the simulated month in the web console here "
                   "until interrupted (make demo-web), with a demo login for each role")
    d.add_argument("--daemon", type=float, metavar="SECONDS", help="instead: run `rightsizer daemon` on a "
                   "simulated city up to now, on a fast schedule, for SECONDS (make demo-daemon); at most 400 servers")
    d.set_defaults(func=cmd_demo)
