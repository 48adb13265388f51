"""Command line: ``rightsizer check-config | calendar | inventory | evaluate | sweep | deliver | notices | agent | demo``.

Exit status: 0 success, 2 bad input or configuration (the message says what and
where; nothing is written), 1 an unexpected failure.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, datetime
from pathlib import Path

from .settings import ConfigError, Settings, load_settings

# Heavy modules (SQLAlchemy, numpy, the calendar) are imported by the commands that use
# them, so the in-guest agent starts small.

EXIT_INPUT = 2


class UsageError(Exception):
    """A bad command-line value."""


class SourceError(Exception):
    """A source (the cloud, a TSDB) could not be read; nothing was written."""


def _parse_at(text: str | None, settings: Settings) -> datetime:
    if text is None:
        now = datetime.now(settings.tz)
        step = settings.window.step_seconds
        return datetime.fromtimestamp(int(now.timestamp()) // step * step, settings.tz)
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--at: {text!r} is not an ISO 8601 time (e.g. 2026-11-20T00:00:00+08:00)") from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=settings.tz)
    return at


def _settings(args) -> Settings:
    s = load_settings(getattr(args, "config", None))
    if getattr(args, "holidays", None):
        s = s.model_copy(update={"calendar": s.calendar.model_copy(update={"overrides": Path(args.holidays)})})
    return s


def cmd_check_config(args) -> int:
    from .calendar import WorkCalendar

    s = load_settings(args.file)
    WorkCalendar(s.calendar.overrides)  # the override file is part of the configuration
    print(f"{args.file}: OK")
    return 0


def cmd_add_workdays(args) -> int:
    from .calendar import WorkCalendar

    s = _settings(args)
    try:
        start = date.fromisoformat(args.start)
    except ValueError:
        raise UsageError(f"start: {args.start!r} is not a date (YYYY-MM-DD)") from None
    print(WorkCalendar(s.calendar.overrides).add_workdays(start, args.n).isoformat())
    return 0


def _cloud_inventory(args, s: Settings):
    """Servers from OpenStack, with the sync recorded (and changes detected) in the store."""
    from collectors.openstack import OpenStackError, connect, read_inventory

    cfg = s.inventory.openstack
    if getattr(args, "cloud", None):
        cfg = cfg.model_copy(update={"cloud": args.cloud})
    try:
        inv = read_inventory(connect(cfg), cfg, s.tz)
    except OpenStackError as exc:
        raise SourceError(f"openstack: {exc}") from None
    for w in inv.warnings:
        print(f"warning: openstack: {w}", file=sys.stderr)
    return inv, f"openstack:{cfg.cloud or 'OS_CLOUD'}"


def _store(args, s: Settings):
    from .store import Store

    return Store(f"sqlite:///{Path(args.db).resolve()}" if args.db else s.store.resolved_url())


def cmd_inventory_sync(args) -> int:
    from collectors.csv_import import write_inventory

    s = _settings(args)
    at = datetime.now(s.tz)
    inv, source = _cloud_inventory(args, s)
    changes = _store(args, s).sync_inventory(source, at, [(c.server, c.flavor_name, c.status) for c in inv.servers])
    if args.out:
        write_inventory(args.out, [c.server for c in inv.servers])
    kinds = [c.change for c in changes]
    print(f"{len(inv.servers)} servers from {source}: {kinds.count('added')} new, {kinds.count('resized')} resized, "
          f"{kinds.count('removed')} gone")
    fmt = (lambda z: "-" if z is None else f"{z.vcpus}C/{z.ram_gib:g}G/{z.disk_gib:g}G")  # noqa: E731
    for c in changes:
        if c.change != "added":
            print(f"  {c.change:8} {c.server_id}  {c.old_flavor or '-'} {fmt(c.old_size)} -> "
                  f"{c.new_flavor or '-'} {fmt(c.new_size)}")
    # Rectification is verified on each sync: the open notices see the changes at once.
    from notifiers.render import render

    from . import sweep
    from .calendar import WorkCalendar

    r = sweep.sweep(_store(args, s), s, WorkCalendar(s.calendar.overrides), at, render, issue_new=False,
                     deadlines=False)
    if r.rectified or r.closed:
        print(f"{r.rectified} findings on open notices verified as rectified; closed: {', '.join(r.closed) or '-'}")
    return 0


def cmd_evaluate(args) -> int:
    from collectors.csv_import import read_catalogue, read_inventory, read_samples

    from . import engine, report
    from .calendar import WorkCalendar

    s = _settings(args)
    at = _parse_at(args.at, s)
    cal = WorkCalendar(s.calendar.overrides)
    cat_file = args.catalogue or s.catalogue.file
    catalogue = read_catalogue(cat_file) if cat_file else None
    if args.openstack:
        inv, inv_source = _cloud_inventory(args, s)
        servers = [c.server for c in inv.servers]
        inv_digest = engine.text_digest(repr(servers))
    else:
        servers = read_inventory(args.inventory, s.tz)
        inv_source, inv_digest = f"csv:{args.inventory}", engine.file_digest(args.inventory)
    if cat_file:
        inv_digest += ":" + engine.file_digest(cat_file)
    if args.samples:
        step, days = s.window.step_seconds, s.window.days
        slots = days * 86400 // step
        start = (int(at.timestamp()) - slots * step) // step * step
        grid = read_samples(args.samples, servers, s.tz, start, step, slots + 1)
        ev = engine.evaluate(servers, grid, at, s, cal, catalogue)
        source, digest = f"{inv_source},csv:{args.samples}", inv_digest + ":" + engine.file_digest(args.samples)
    else:
        kind = "prometheus" if args.prometheus is not None else "influxdb" if args.influxdb is not None \
            else "gnocchi" if args.gnocchi else s.metrics.source
        if kind == "none":
            raise UsageError("no usage source: give --samples, --prometheus [URL], --influxdb [URL] or --gnocchi, "
                             "or set [metrics] source in the configuration")
        if kind == "gnocchi":
            from collectors.gnocchi import GnocchiCollector
            from collectors.openstack import OpenStackError, connect

            ocfg = s.inventory.openstack
            if args.cloud:
                ocfg = ocfg.model_copy(update={"cloud": args.cloud})
            try:
                collector = GnocchiCollector(connect(ocfg), s.metrics.gnocchi)
            except OpenStackError as exc:
                raise SourceError(f"gnocchi: {exc}") from None
            where = ocfg.cloud or "OS_CLOUD"
        elif kind == "prometheus":
            from collectors.prometheus import PrometheusCollector

            cfg = s.metrics.prometheus
            if args.prometheus:
                cfg = cfg.model_copy(update={"url": args.prometheus})
            collector, where = PrometheusCollector(cfg), cfg.url
        else:
            from collectors.influxdb import InfluxDBCollector

            cfg = s.metrics.influxdb
            if args.influxdb:
                cfg = cfg.model_copy(update={"url": args.influxdb})
            collector, where = InfluxDBCollector(cfg), cfg.url
        ev = engine.evaluate_summaries(servers, collector.summaries(servers, at, s), at, s, cal, catalogue)
        source, digest = f"{inv_source},{kind}:{where}", f"{inv_digest}:{kind}:{where}"
        for err in sorted(set(collector.stats.errors)):
            print(f"warning: {kind}: {err} (its servers are insufficient_data in this run)", file=sys.stderr)
    # Only a clean evaluation reaches the store.
    engine.record(_store(args, s), ev, source, digest, s)
    if args.format == "json":
        json.dump({"at": at.isoformat(), "findings": [f.to_json() for f in ev.findings]}, sys.stdout,
                  ensure_ascii=False, indent=2, default=str)
        print()
    else:
        print(report.findings_table(ev.findings))
    return 0


def cmd_agent(args) -> int:
    import logging

    from collectors.psutil_local import AgentError, default_server_id, load_agent_settings, run_agent

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        cfg = load_agent_settings(args.config, server_id=args.server_id, listen=args.listen, port=args.port,
                                  interval_seconds=args.interval, mountpoints=args.mount)
        if not cfg.server_id:
            cfg = cfg.model_copy(update={"server_id": default_server_id()})
        return run_agent(cfg, rounds=args.rounds)
    except AgentError as exc:
        raise UsageError(str(exc)) from None


def _notifiers(s: Settings) -> dict:
    import notifiers

    try:
        return {b["name"]: notifiers.build(b) for b in s.notifiers}
    except notifiers.NotifierConfigError as exc:
        raise UsageError(f"notifiers: {exc}") from None


def cmd_sweep(args) -> int:
    from notifiers.render import render

    from . import sweep
    from .calendar import WorkCalendar

    s = _settings(args)
    now = _parse_now(args.now, s)
    r = sweep.sweep(_store(args, s), s, WorkCalendar(s.calendar.overrides), now, render)
    for i in r.issued:
        extra = f" (follow-up of {i.follows})" if i.follows else ""
        print(f"issued {i.number} to {i.department}: {i.items} findings{extra} -> {', '.join(i.channels) or 'HELD'}")
    for number in r.closed:
        print(f"closed {number}")
    print(f"{len(r.issued)} notices issued; {r.rectified} findings rectified (verified), {r.resolved} resolved by "
          f"themselves; {r.reminded} reminders, {r.overdue} overdue and escalated")
    return 0


def cmd_deliver(args) -> int:
    from . import outbox
    from .calendar import WorkCalendar

    s = _settings(args)
    fixed = _parse_now(args.now, s) if args.now else None
    r = outbox.relay(_store(args, s), s, _notifiers(s), WorkCalendar(s.calendar.overrides),
                     (lambda: fixed) if fixed else (lambda: datetime.now(s.tz)))
    print(f"sent {r.sent}, retry later {r.retried}, deferred by rate limits {r.deferred}, dead {r.dead}")
    return 0


def cmd_notices(args) -> int:
    import sqlalchemy as sa

    from . import outbox, report

    s = _settings(args)
    store = _store(args, s)
    n, ev, it, dl = outbox.notices, outbox.notice_events, outbox.notice_items, outbox.deliveries
    if args.notices_command == "exempt":
        try:
            until = date.fromisoformat(args.until)
        except ValueError:
            raise UsageError(f"--until: {args.until!r} is not a date (YYYY-MM-DD)") from None
        scope, target = ("server", args.server) if args.server else ("system", args.system)
        eid = outbox.add_exemption(store, scope, target, args.reason, args.approver, until.isoformat(),
                                   datetime.now(s.tz))
        print(f"exemption #{eid}: {scope} {target} until {until} ({args.approver}): {args.reason}")
        return 0
    with store.engine.begin() as conn:
        if args.notices_command == "exemptions":
            ex = outbox.exemptions
            rows = conn.execute(sa.select(ex).order_by(ex.c.id)).all()
            today = datetime.now(s.tz).date().isoformat()
            print(report.table(["#", "范围", "对象", "原因", "批准人", "有效期至", "状态"],
                               [[r.id, r.scope, r.target, r.reason, r.approver, r.expires_on,
                                 "有效" if r.expires_on >= today else "已过期"] for r in rows]))
            return 0
        if args.notices_command == "list":
            rows = conn.execute(sa.select(n).order_by(n.c.id)).all()
            counts = dict(conn.execute(sa.select(it.c.notice_id, sa.func.count()).group_by(it.c.notice_id)).all())
            print(report.table(["#", "文号", "部门", "状态", "送达", "整改期限", "服务器问题数"],
                               [[r.id, r.number, r.department, r.status, (r.delivered_at or "-")[:10],
                                 r.due_date or ("暂缓" if r.hold_reason else "-"), counts.get(r.id, 0)] for r in rows]))
            return 0
        row = conn.execute(sa.select(n).where(n.c.id == args.id)).first()
        if row is None:
            raise UsageError(f"no notice #{args.id} (see `rightsizer notices list`)")
        now = datetime.now(s.tz).isoformat(timespec="seconds")
        if args.notices_command == "show":
            print(f"{row.number}  {row.department}  status {row.status}  due {row.due_date or '-'}")
            for e in conn.execute(sa.select(ev).where(ev.c.notice_id == row.id).order_by(ev.c.id)):
                print(f"  {e.at}  {e.actor:12}  {e.from_status or '-'} -> {e.to_status}  {e.note}")
            for d in conn.execute(sa.select(dl).where(dl.c.notice_id == row.id).order_by(dl.c.id)):
                print(f"  delivery {d.channel} ({d.purpose}): {d.status}, {d.attempts} attempts"
                      + (f", last error: {d.last_error}" if d.last_error else ""))
            first = conn.execute(sa.select(dl.c.body).where(dl.c.notice_id == row.id).limit(1)).scalar()
            if first:
                print()
                print(json.loads(first)["text"])
            return 0
        target = {"ack": "acknowledged", "withdraw": "withdrawn"}[args.notices_command]
        allowed = {"ack": ("delivered", "overdue", "escalated"), "withdraw": outbox.OPEN_STATES}[args.notices_command]
        if row.status not in allowed:
            raise UsageError(f"{row.number} is {row.status}; {args.notices_command} needs one of {', '.join(allowed)}")
        conn.execute(n.update().where(n.c.id == row.id).values(status=target))
        conn.execute(ev.insert().values(notice_id=row.id, at=now, actor=args.actor, from_status=row.status,
                                        to_status=target, note=args.note or ""))
        if target == "withdrawn":
            conn.execute(it.update().where(it.c.notice_id == row.id, it.c.status == "open").values(status="withdrawn"))
            conn.execute(dl.update().where(dl.c.notice_id == row.id, dl.c.status == "pending")
                         .values(status="withdrawn"))
        print(f"{row.number}: {row.status} -> {target}")
    return 0


def _parse_now(text: str | None, s: Settings) -> datetime:
    if text is None:
        return datetime.now(s.tz)
    return _parse_at(text, s)


def cmd_demo(args) -> int:
    from . import demo

    return demo.run(Path(args.out), servers=args.servers, seed=args.seed, at_text=args.at, config=args.config)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rightsizer", description="Right-size government-cloud servers (平度 第十三条).")
    p.add_argument("--version", action="version", version=f"%(prog)s {__import__('rightsizer').__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("check-config", help="validate a configuration file; exit 2 on errors")
    c.add_argument("file")
    c.set_defaults(func=cmd_check_config)

    cal = sub.add_parser("calendar", help="working-day arithmetic").add_subparsers(dest="calendar_command",
                                                                                   required=True)
    a = cal.add_parser("add-workdays", help="the N-th working day after START (START not counted)")
    a.add_argument("start", help="YYYY-MM-DD")
    a.add_argument("n", type=int)
    a.add_argument("--holidays", help="override TOML for years chinese_calendar does not know")
    a.add_argument("--config", help="configuration TOML")
    a.set_defaults(func=cmd_add_workdays)

    inv = sub.add_parser("inventory", help="the cloud's inventory").add_subparsers(dest="inventory_command",
                                                                                  required=True)
    y = inv.add_parser("sync", help="read servers from OpenStack, record them and report flavor changes")
    y.add_argument("--openstack", action="store_true", required=True, help="read from OpenStack (clouds.yaml)")
    y.add_argument("--cloud", help="clouds.yaml entry (default: [inventory.openstack] cloud, else OS_CLOUD)")
    y.add_argument("--out", help="also write the servers as an inventory CSV")
    y.add_argument("--config", help="configuration TOML")
    y.add_argument("--db", help="SQLite file (default: [store] of the configuration)")
    y.set_defaults(func=cmd_inventory_sync)

    e = sub.add_parser("evaluate", help="evaluate an inventory with usage from CSV, Prometheus or InfluxDB")
    isrc = e.add_mutually_exclusive_group(required=True)
    isrc.add_argument("--inventory", help="inventory CSV")
    isrc.add_argument("--openstack", action="store_true", help="inventory from OpenStack (clouds.yaml)")
    e.add_argument("--cloud", help="clouds.yaml entry for --openstack")
    src = e.add_mutually_exclusive_group()
    src.add_argument("--samples", help="samples CSV")
    src.add_argument("--prometheus", metavar="URL", nargs="?", const="",
                     help="Prometheus/VictoriaMetrics (statistics pushed down); URL default from [metrics.prometheus]")
    src.add_argument("--influxdb", metavar="URL", nargs="?", const="",
                     help="InfluxDB 2 / 1.8 (Flux pushed down); URL default from [metrics.influxdb]")
    src.add_argument("--gnocchi", action="store_true",
                     help="CPU and memory from OpenStack's Gnocchi (clouds.yaml, --cloud); no disk")
    e.add_argument("--catalogue", help="registered-system CSV (default: [catalogue] file); flags 未备案 servers")
    e.add_argument("--at", help="end of the window, ISO 8601 (default: now)")
    e.add_argument("--config", help="configuration TOML")
    e.add_argument("--holidays", help="override TOML for years chinese_calendar does not know")
    e.add_argument("--db", help="SQLite file (default: [store] of the configuration)")
    e.add_argument("--format", choices=("json", "table"), default="table")
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
    sw.add_argument("--config", help="configuration TOML")
    sw.add_argument("--db", help="SQLite file (default: [store] of the configuration)")
    sw.add_argument("--now", help=argparse.SUPPRESS)
    sw.set_defaults(func=cmd_sweep)

    dv = sub.add_parser("deliver", help="run the outbox relay once: send what is due")
    dv.add_argument("--config", help="configuration TOML")
    dv.add_argument("--db", help="SQLite file (default: [store] of the configuration)")
    dv.add_argument("--now", help=argparse.SUPPRESS)
    dv.set_defaults(func=cmd_deliver)

    no = sub.add_parser("notices", help="rectification notices (整改通知)").add_subparsers(dest="notices_command",
                                                                                        required=True)
    ex = no.add_parser("exempt", help="exempt a server or a system from notices until a date")
    who = ex.add_mutually_exclusive_group(required=True)
    who.add_argument("--server", help="server id")
    who.add_argument("--system", help="system name (every server of it)")
    ex.add_argument("--reason", required=True, help="e.g. 容灾备机, 考试季系统")
    ex.add_argument("--approver", required=True)
    ex.add_argument("--until", required=True, help="last day the exemption holds (YYYY-MM-DD)")
    ex.add_argument("--config", help="configuration TOML")
    ex.add_argument("--db", help="SQLite file")
    ex.set_defaults(func=cmd_notices)
    for name, text in (("list", "all notices"), ("exemptions", "all exemptions, live and expired"),
                       ("show", "one notice: events, deliveries, text"),
                       ("ack", "record that the department acknowledged (does not close it)"),
                       ("withdraw", "withdraw a notice issued in error")):
        c = no.add_parser(name, help=text)
        if name not in ("list", "exemptions"):
            c.add_argument("id", type=int)
        if name in ("ack", "withdraw"):
            c.add_argument("--actor", required=True, help="who (recorded with the transition)")
            c.add_argument("--note", help="why")
        c.add_argument("--config", help="configuration TOML")
        c.add_argument("--db", help="SQLite file")
        c.set_defaults(func=cmd_notices)

    d = sub.add_parser("demo", help="simulate a city's cloud and run the whole job on it")
    d.add_argument("--out", default="demo-out", help="directory for the store and samples (default: demo-out)")
    d.add_argument("--servers", type=int, default=2000)
    d.add_argument("--seed", type=int, default=20261120)
    d.add_argument("--at", default="2026-11-20T00:00:00+08:00")
    d.add_argument("--config", help="configuration TOML")
    d.set_defaults(func=cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except BrokenPipeError:
        return 0
    except Exception as exc:
        code = _failure(exc)
        if code is None:
            raise
        return code


def _failure(exc: Exception) -> int | None:
    """Print a known failure as one clear line per problem; ``None`` for a bug (traceback)."""
    from sqlalchemy.exc import SQLAlchemyError

    from collectors.csv_import import InputError

    from .calendar import CalendarError

    if isinstance(exc, ConfigError):
        for problem in exc.problems:
            print(f"error: {exc.path}: {problem}", file=sys.stderr)
        return EXIT_INPUT
    if isinstance(exc, SourceError):
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if isinstance(exc, (CalendarError, InputError, UsageError)):
        for line in str(exc).splitlines():
            print(f"error: {line}", file=sys.stderr)
        return EXIT_INPUT
    if isinstance(exc, (OSError, SQLAlchemyError)):
        # The store URL may carry a password: say what failed, never the URL.
        reason = getattr(exc, "orig", None) or getattr(exc, "strerror", None) or type(exc).__name__
        print(f"error: store or file access failed: {reason}", file=sys.stderr)
        return 1
    return None


if __name__ == "__main__":
    sys.exit(main())
