"""Command line: argparse → a job of :mod:`rightsizer.jobs` → print.

Exit status (:mod:`rightsizer.errors`): 0 success, 2 bad input or configuration (the
message says what and where; nothing is written), 1 a source or the store failed.
Heavy modules (SQLAlchemy, numpy, the SDKs) are imported by the commands that use them,
so the in-guest agent starts small.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, datetime
from pathlib import Path

from .errors import UsageError, describe
from .settings import Settings, load_settings


def _time(text: str | None, s: Settings, name: str) -> datetime | None:
    if text is None:
        return None
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{name}: {text!r} is not an ISO 8601 time (e.g. 2026-11-20T00:00:00+08:00)") from None
    if not 2000 <= t.year <= 2100:  # also keeps window arithmetic away from year 1 and 9999
        raise UsageError(f"{name}: {text!r} is outside the years 2000-2100")
    return t if t.tzinfo else t.replace(tzinfo=s.tz)


def _date(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{name}: {text!r} is not a date (YYYY-MM-DD)") from None


def _now(args, s: Settings) -> datetime:
    return _time(getattr(args, "now", None), s, "--now") or datetime.now(s.tz)


def _settings(args) -> Settings:
    s = load_settings(getattr(args, "config", None))
    if getattr(args, "holidays", None):
        s = s.model_copy(update={"calendar": s.calendar.model_copy(update={"overrides": Path(args.holidays)})})
    return s


def _calendar(s: Settings):
    from .calendar import WorkCalendar

    return WorkCalendar(s.calendar.overrides)


def _db_url(args, s: Settings) -> str:
    """``--db``: a SQLite file, or a database URL (``postgresql+psycopg://…``); else ``[store]``."""
    if args.db:
        return args.db if "://" in args.db else f"sqlite:///{Path(args.db).resolve()}"
    return s.store.resolved_url()


def _store(args, s: Settings):
    from .db import Store

    return Store.open(_db_url(args, s), s.store.busy_seconds, zone=s.tz)


def _store_exists(args, s: Settings) -> bool:
    """Whether there is a store to read history from (a new SQLite file is not made just to read it)."""
    url = _db_url(args, s)
    return not url.startswith("sqlite:///") or Path(url.removeprefix("sqlite:///")).exists()


def _print(fmt: str, data, as_json, as_table) -> None:
    """``--format json`` or the operators' table of the same data."""
    if fmt == "json":
        json.dump(as_json(data), sys.stdout, ensure_ascii=False, indent=2)
        print()
    else:
        print(as_table(data))


def _warn(lines: list[str]) -> None:
    for w in lines:
        print(f"warning: {w}", file=sys.stderr)


def cmd_check_config(args) -> int:
    from .errors import ConfigError
    from .jobs.relay import secret_problems

    s = load_settings(args.file)
    _calendar(s)  # the override file is part of the configuration
    # what delivery would trip on: every secret file and variable, at once
    problems = [] if args.skip_secrets else secret_problems(s)
    if problems:
        raise ConfigError(args.file, problems)
    print(f"{args.file}: OK" + (" (secrets not read)" if args.skip_secrets else ""))
    return 0


def cmd_add_workdays(args) -> int:
    s = _settings(args)
    print(_calendar(s).add_workdays(_date(args.start, "start"), args.n).isoformat())
    return 0


def cmd_inventory_sync(args) -> int:
    from .format import size_short
    from .jobs import inventory

    s = _settings(args)
    r = inventory.sync(_store(args, s), s, _calendar(s), _now(args, s), cloud=args.cloud, out=args.out,
                       csv=Path(args.csv) if args.csv else None)
    _warn(r.warnings)
    print(f"{r.servers} servers from {r.source}: {r.count('added')} new, {r.count('resized')} resized, "
          f"{r.count('removed')} gone")
    for c in r.changes:
        if c.change != "added":
            print(f"  {c.change:8} {c.server_id}  {c.old_flavor or '-'} {size_short(c.old_size)} -> "
                  f"{c.new_flavor or '-'} {size_short(c.new_size)}")
    if r.rectified or r.closed:
        print(f"{r.rectified} findings on open notices verified as rectified; closed: {', '.join(r.closed) or '-'}")
    return 0


def cmd_evaluate(args) -> int:
    import collectors

    from . import tables
    from .jobs import evaluate

    s = _settings(args)
    at = _time(args.at, s, "--at") or evaluate.window_end(datetime.now(s.tz), s)
    usage = next((n for n in collectors.REGISTRY if getattr(args, n) not in (None, False)), None)
    url = getattr(args, usage) if usage else ""
    opened = []  # the store is opened only once the input has been read and found clean

    def store():
        if not opened:
            opened.append(_store(args, s))
        return opened[0]

    sources = evaluate.Sources(
        inventory=None if args.openstack else Path(args.inventory), cloud=args.cloud,
        samples=Path(args.samples) if args.samples else None, usage=usage, usage_url=url if isinstance(url, str) else "",
        catalogue=Path(args.catalogue) if args.catalogue else None,
        history=lambda servers, t: evaluate.resize_history(store(), servers, t) if _store_exists(args, s) else {})
    r = evaluate.prepare(s, _calendar(s), at, sources)
    _warn(r.warnings)
    evaluate.record(store(), r.evaluation, r.source, r.digest, s, r.csv_inventory)  # only a clean evaluation
    if args.format == "json":
        json.dump({"at": at.isoformat(), "findings": [f.to_json() for f in r.evaluation.findings]}, sys.stdout,
                  ensure_ascii=False, indent=2, default=str)
        print()
    else:
        print(tables.findings_table(r.evaluation.findings))
    return 0


def cmd_agent(args) -> int:
    import logging

    from collectors.psutil_local import default_server_id, load_agent_settings, run_agent

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    cfg = load_agent_settings(args.config, server_id=args.server_id, listen=args.listen, port=args.port,
                              interval_seconds=args.interval, mountpoints=args.mount)
    if not cfg.server_id:
        cfg = cfg.model_copy(update={"server_id": default_server_id()})
    return run_agent(cfg, rounds=args.rounds)


def cmd_sweep(args) -> int:
    from .jobs import notices

    s = _settings(args)
    r = notices.sweep(_store(args, s), s, _calendar(s), _now(args, s))
    for i in r.issued:
        extra = f" (follow-up of {i.follows})" if i.follows else ""
        print(f"issued {i.number} to {i.department}: {i.items} findings{extra} -> {', '.join(i.channels) or 'HELD'}"
              f"  （已发出，{i.items} 项{'，补充通知' if i.follows else ''}{'' if i.channels else '，暂缓：部门未配置渠道'}）")
    for number in r.closed:
        print(f"closed {number}  （已办结）")
    print(f"{len(r.issued)} notices issued; {r.rectified} findings rectified (verified), {r.resolved} resolved by "
          f"themselves; {r.reminded} reminders, {r.overdue} overdue and escalated  （发出通知 {len(r.issued)} 份；"
          f"核实整改 {r.rectified} 项，自行消除 {r.resolved} 项；提醒 {r.reminded} 次，逾期上报 {r.overdue} 份）")
    return 0


def cmd_deliver(args) -> int:
    from .jobs import relay

    s = _settings(args)
    fixed = _time(args.now, s, "--now")
    r = relay.deliver(_store(args, s), s, _calendar(s), (lambda: fixed) if fixed else (lambda: datetime.now(s.tz)))
    print(f"sent {r.sent}, retry later {r.retried}, deferred by rate limits {r.deferred}, dead {r.dead}  "
          f"（已发送 {r.sent}，待重试 {r.retried}，限流顺延 {r.deferred}，投递失败 {r.dead}）")
    if r.taken_over:
        _warn(["this relay stalled past its lease and another relay took its deliveries over; it stopped "
               "(raise [notices] lease_seconds if sends are slow)（本次投递超过租期，已由另一投递进程接管并停止）"])
    return 0


def cmd_notices(args) -> int:
    from . import tables
    from .jobs import admin

    s = _settings(args)
    from .errors import StateError

    store, cmd = _store(args, s), args.notices_command
    now = _time(getattr(args, "now", None), s, "--now") or datetime.now(s.tz)
    if cmd == "exempt":
        until = _date(args.until, "--until")
        scope, target = ("server", args.server) if args.server else ("system", args.system)
        eid = admin.exempt(store, now, scope, target, args.reason, args.approver, until)
        print(f"豁免 #{eid}：{'服务器' if scope == 'server' else '系统'} {target}，至 {until}（{args.approver}）：{args.reason}")
    elif cmd == "unexempt":
        e = admin.unexempt(store, now, args.id, args.actor)
        print(f"豁免 #{e.id}（{e.target}）已撤销；下次 sweep 时其问题回到原通知")
    elif cmd == "exemptions":
        print(tables.exemptions_table(admin.exemptions(store), now.date()))
    elif cmd == "list":
        rows = admin.notices(store, args.department, args.status, args.overdue, now.date())
        _print(args.format, rows, tables.notices_json, tables.notices_table)
    elif cmd == "show":
        _print(args.format, admin.notice(store, args.id), tables.notice_json, tables.notice_text)
    elif cmd == "pdf":
        view = admin.notice(store, args.id)
        if not view.pdf:
            raise StateError(f"{view.notice.number} 没有 PDF（在生成 PDF 之前发出的通知）")
        target = Path(args.out or view.pdf_name)
        target.write_bytes(view.pdf)
        print(f"{view.notice.number}：{target}")
    elif cmd == "resend":
        channels = admin.resend(store, now, args.id, args.actor, args.channel)
        print(f"已重新排队：{', '.join(channels)}（同一幂等键，由 deliver 发送）")
    else:
        t = admin.transition(store, now, args.id, cmd, args.actor, args.note or "")
        if t.old == t.new:
            print(f"{t.number}：已记录确认，状态仍为 {tables.STATUS_ZH.get(t.new, t.new)}（{t.new}）")
        else:
            print(f"{t.number}：{tables.STATUS_ZH.get(t.old, t.old)} -> {tables.STATUS_ZH.get(t.new, t.new)}"
                  f"（{t.old} -> {t.new}）")
    return 0


def cmd_report(args) -> int:
    from .jobs import reports
    from .reports import Month, writers

    s = _settings(args)
    now = _now(args, s)
    if not _store_exists(args, s):
        raise UsageError(f"no store at {args.db or s.store.resolved_url()}: run evaluate (or the daemon) first")
    store = _store(args, s)
    if args.report_command == "monthly":
        month = _month(args.month) if args.month else Month.of(now.astimezone(s.tz).date()).shift(-1)
        r = reports.monthly(store, s, month, now, args.department)
        data, name = writers.monthly(r, args.format), f"{month}-云资源浪费报告.{args.format}"
        table = reports.summary_text(r)
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
    from .reports import Month

    try:
        return Month.parse(text)
    except ValueError:
        raise UsageError(f"--month: {text!r} is not a month (YYYY-MM)") from None


def cmd_web(args) -> int:
    from . import web

    s = _settings(args)
    if args.db:
        s = s.model_copy(update={"store": s.store.model_copy(update={"url": _db_url(args, s)})})
    print(f"rightsizer web: http://{args.listen or s.web.listen}/ (stop with Ctrl-C)", flush=True)
    return web.run(s, args.listen, now=_time(args.now, s, "--now"))


def cmd_store(args) -> int:
    """``store migrate``: the schema to the head revision; ``store copy``: one store into a new one."""
    from .db import Store, migrations
    from .db.copy import copy

    s = _settings(args)
    if args.store_command == "migrate":
        store = Store(_db_url(args, s), s.store.busy_seconds, zone=s.tz)
        was = store.version()
        now = store.migrate()
        print(f"store at revision {now}" + (f" (was {was})" if was != now else " (already)")
              + f"  数据库结构版本 {now}")
        return 0
    from .secrets import url_has_password

    if url_has_password(args.source) or url_has_password(args.target):
        raise UsageError("a database URL on the command line holds a password, which every user of the machine "
                         "can read (ps): give it in ~/.pgpass or PGPASSFILE instead (the URL is not shown)")
    source = Store(args.source if "://" in args.source else f"sqlite:///{Path(args.source).resolve()}",
                   s.store.busy_seconds, zone=s.tz)
    counts = copy(source, Store(args.target, s.store.busy_seconds, zone=s.tz))
    print(f"copied {sum(counts.values())} rows in {len(counts)} tables  已复制 {sum(counts.values())} 行")
    for name, n in counts.items():
        if n:
            print(f"  {name:<20} {n:>10}")
    return 0


def _password(args) -> str:
    data = sys.stdin.readline()
    if not data.strip():
        raise UsageError("the password is read from standard input (one line), e.g. `printf '%s\\n' … | rightsizer "
                         "users add …`")
    return data


def cmd_users(args) -> int:
    from .jobs import accounts

    s = _settings(args)
    store, now = _store(args, s), _now(args, s)
    if args.users_command == "add":
        accounts.add_user(store, now, args.name, args.role, args.department, None if args.sso_only else _password(args))
        print(f"account {args.name} ({args.role}{', ' + args.department if args.department else ''}) added")
    elif args.users_command == "passwd":
        accounts.set_password(store, now, args.name, _password(args))
        print(f"password of {args.name} changed; its sessions ended")
    elif args.users_command == "disable":
        accounts.disable_user(store, now, args.name)
        print(f"account {args.name} disabled; its sessions ended")
    return 0


def cmd_tokens(args) -> int:
    from .jobs import accounts

    s = _settings(args)
    token = accounts.add_token(_store(args, s), _now(args, s), args.name, args.role, args.department)
    print(token)
    print(f"(token {args.name}: shown once, stored hashed; use it as `Authorization: Bearer …`)", file=sys.stderr)
    return 0


def cmd_daemon(args) -> int:
    from . import daemon

    # a time without an offset is read in Asia/Shanghai (the configuration is read by the daemon, not here)
    return daemon.run(args.config, _time(args.now, Settings(), "--now"))


def cmd_demo(args) -> int:
    from . import demo

    if args.daemon:
        return demo.run_daemon(Path(args.out), args.daemon, servers=min(args.servers, 400), seed=args.seed)
    code = demo.run(Path(args.out), servers=args.servers, seed=args.seed, at_text=args.at, config=args.config)
    if code or not args.web:
        return code
    return _demo_web(Path(args.out) / "month" / "rightsizer.db", args.web, args.config)


DEMO_PASSWORD = "rightsizer-demo"


def _demo_web(db: Path, listen: str, config: str | None) -> int:
    """Serve the demo's month in the console: one account per role, the clock at the month's last evening."""
    from . import web
    from .db import Store
    from .db import console as q
    from .jobs import accounts

    s = load_settings(config)
    s = s.model_copy(update={"store": s.store.model_copy(update={"url": f"sqlite:///{db.resolve()}"})})
    store = Store.open(s.store.url)
    with store.read() as conn:
        depts = q.department_names(conn)
        last = q.last_run_at(conn)
    now = datetime.fromisoformat(last).replace(hour=18)
    logins = [("centre", "operator", None), ("finance", "finance", None), ("dept", "department", depts[0])]
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


def _common(p, db: bool = True, now: bool = False) -> None:
    p.add_argument("--config", help="configuration TOML")
    if db:
        p.add_argument("--db", help="SQLite file or database URL (default: [store] of the configuration)")
    if now:
        p.add_argument("--now", metavar="ISO", help="act as if it were this time (ISO 8601 with offset), "
                       "to replay days or weeks; default: the clock")


def build_parser() -> argparse.ArgumentParser:
    import collectors

    p = argparse.ArgumentParser(prog="rightsizer", description="Right-size government-cloud servers (平度 第十三条).")
    p.add_argument("--version", action="version", version=f"%(prog)s {__import__('rightsizer').__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("check-config", help="validate a configuration file; exit 2 on errors")
    c.add_argument("file")
    c.add_argument("--skip-secrets", action="store_true", help="do not read the secrets (for one whose secrets only "
                   "the service can read, e.g. systemd credentials under /run/credentials/rightsizer.service/)")
    c.set_defaults(func=cmd_check_config)

    cal = sub.add_parser("calendar", help="working-day arithmetic").add_subparsers(dest="calendar_command",
                                                                                   required=True)
    a = cal.add_parser("add-workdays", help="the N-th working day after START (START not counted)")
    a.add_argument("start", help="YYYY-MM-DD")
    a.add_argument("n", type=int)
    a.add_argument("--holidays", help="override TOML for years chinese_calendar does not know")
    _common(a, db=False)
    a.set_defaults(func=cmd_add_workdays)

    inv = sub.add_parser("inventory", help="the cloud's inventory").add_subparsers(dest="inventory_command",
                                                                                  required=True)
    y = inv.add_parser("sync", help="read servers from OpenStack or a CSV, record them and report flavor changes")
    ysrc = y.add_mutually_exclusive_group(required=True)
    ysrc.add_argument("--openstack", action="store_true", help="read from OpenStack (clouds.yaml)")
    ysrc.add_argument("--csv", metavar="FILE", help="read an inventory CSV (a centre without OpenStack)")
    y.add_argument("--cloud", help="clouds.yaml entry (default: [inventory.openstack] cloud, else OS_CLOUD)")
    y.add_argument("--out", help="also write the servers as an inventory CSV")
    _common(y, now=True)
    y.set_defaults(func=cmd_inventory_sync)

    e = sub.add_parser("evaluate", help="evaluate an inventory with usage from CSV or a registered source")
    isrc = e.add_mutually_exclusive_group(required=True)
    isrc.add_argument("--inventory", help="inventory CSV")
    isrc.add_argument("--openstack", action="store_true", help="inventory from OpenStack (clouds.yaml)")
    e.add_argument("--cloud", help="clouds.yaml entry for --openstack")
    src = e.add_mutually_exclusive_group()
    src.add_argument("--samples", help="samples CSV")
    for name, plugin in collectors.REGISTRY.items():  # one option per registered usage source
        if plugin.takes_url:
            src.add_argument(f"--{name}", metavar="URL", nargs="?", const="", help=plugin.help)
        else:
            src.add_argument(f"--{name}", action="store_true", default=None, help=plugin.help)
    e.add_argument("--catalogue", help="registered-system CSV (default: [catalogue] file); flags 未备案 servers")
    e.add_argument("--at", help="end of the window, ISO 8601 (default: now)")
    e.add_argument("--holidays", help="override TOML for years chinese_calendar does not know")
    e.add_argument("--format", choices=("json", "table"), default="table")
    _common(e)
    e.set_defaults(func=cmd_evaluate)

    g = sub.add_parser("agent", help="in-guest agent: serve CPU, memory and disk use for Prometheus")
    g.add_argument("--config", help="agent TOML (see config/agent.example.toml)")
    g.add_argument("--server-id", help="the cloud's id of this server (default: cloud-init's instance id)")
    g.add_argument("--listen", help="address to serve /metrics on (default 0.0.0.0)")
    g.add_argument("--port", type=int, help="port (default 9464; 0 picks a free one)")
    g.add_argument("--interval", type=float, help="seconds between samples (default 15)")
    g.add_argument("--mount", action="append", help="mount point to watch; repeat for several (default /)")
    g.add_argument("--rounds", type=int, help=argparse.SUPPRESS)  # stop after N samples (tests, benchmarks)
    g.set_defaults(func=cmd_agent)

    sw = sub.add_parser("sweep", help="issue notices for new findings; verify, remind, escalate the open ones")
    _common(sw, now=True)
    sw.set_defaults(func=cmd_sweep)

    dv = sub.add_parser("deliver", help="run the outbox relay once: send what is due")
    _common(dv, now=True)
    dv.set_defaults(func=cmd_deliver)

    no = sub.add_parser("notices", help="rectification notices (整改通知)").add_subparsers(dest="notices_command",
                                                                                        required=True)
    ex = no.add_parser("exempt", help="exempt a server or a system from notices until a date")
    who = ex.add_mutually_exclusive_group(required=True)
    who.add_argument("--server", help="server id")
    who.add_argument("--system", help="system name (every server of it)")
    ex.add_argument("--reason", required=True, help="e.g. 容灾备机, 考试季系统")
    ex.add_argument("--approver", required=True)
    ex.add_argument("--until", required=True, help="last day the exemption holds (YYYY-MM-DD), not in the past")
    _common(ex, now=True)
    ex.set_defaults(func=cmd_notices)
    for name, text in (("list", "notices, with their items counted by state"),
                       ("exemptions", "all exemptions: live, expired, revoked"),
                       ("show", "one notice: each item's state, events, deliveries, text"),
                       ("ack", "record that the department acknowledged (does not close it)"),
                       ("withdraw", "withdraw a notice issued in error (its findings come through again)"),
                       ("resend", "queue a notice's dead deliveries again (same idempotency key)"),
                       ("unexempt", "revoke an exemption"),
                       ("pdf", "write the notice as sent (红头 PDF) to a file")):
        c = no.add_parser(name, help=text)
        if name not in ("list", "exemptions"):
            c.add_argument("id", type=int, help="exemption id" if name == "unexempt" else "notice id (see list)")
        if name in ("ack", "withdraw", "resend", "unexempt"):
            c.add_argument("--actor", required=True, help="who (recorded with the action)")
        if name in ("ack", "withdraw"):
            c.add_argument("--note", help="why")
        if name == "resend":
            c.add_argument("--channel", help="only this channel's dead deliveries")
        if name == "list":
            c.add_argument("--department", help="only this department's notices")
            c.add_argument("--status", help="only notices in this state (issued, delivered, overdue, escalated, …)")
            c.add_argument("--overdue", action="store_true", help="only open notices past their due date")
        if name in ("list", "show"):
            c.add_argument("--format", choices=("table", "json"), default="table")
        if name == "pdf":
            c.add_argument("--out", help="file to write (default: the notice's number.pdf here)")
        _common(c, now=name not in ("show", "pdf"))
        c.set_defaults(func=cmd_notices)

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
        _common(c, now=True)
        c.set_defaults(func=cmd_report)

    w = sub.add_parser("web", help="the web console and its API (FastAPI + uvicorn) on [web] listen")
    w.add_argument("--listen", metavar="HOST:PORT", help="default: [web] listen (127.0.0.1:8080)")
    _common(w)
    w.add_argument("--now", metavar="ISO", help="a fixed clock for the console (replays and demos); default: the clock")
    w.set_defaults(func=cmd_web)

    us = sub.add_parser("users", help="console accounts (argon2 hashes)").add_subparsers(dest="users_command",
                                                                                       required=True)
    ua = us.add_parser("add", help="add an account; the password is read from standard input")
    ua.add_argument("name")
    ua.add_argument("--role", required=True, choices=("operator", "department", "finance"))
    ua.add_argument("--department", help="the department of a department account")
    ua.add_argument("--sso-only", action="store_true", help="no password: signs in only through [web] sso_header")
    up = us.add_parser("passwd", help="set a new password (standard input); ends the account's sessions")
    up.add_argument("name")
    ud = us.add_parser("disable", help="disable an account and end its sessions")
    ud.add_argument("name")
    for c in (ua, up, ud):
        _common(c)
        c.set_defaults(func=cmd_users)
    tk = sub.add_parser("tokens", help="API bearer tokens").add_subparsers(dest="tokens_command", required=True)
    ta = tk.add_parser("add", help="print a new token once (stored hashed)")
    ta.add_argument("name")
    ta.add_argument("--role", required=True, choices=("operator", "department", "finance"))
    ta.add_argument("--department")
    _common(ta)
    ta.set_defaults(func=cmd_tokens)

    so = sub.add_parser("store", help="the store: schema migrations (Alembic) and copying to a new database"
                        ).add_subparsers(dest="store_command", required=True)
    sm = so.add_parser("migrate", help="bring the store's schema to the newest revision (the daemon, the console "
                       "and every command do it at start; this does only that)")
    _common(sm)
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
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except BrokenPipeError:
        return 0
    except Exception as exc:
        known = describe(exc)
        if known is None:
            raise  # a bug: keep the traceback
        code, lines = known
        for line in lines:
            print(f"error: {line}", file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
