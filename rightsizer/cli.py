"""Command line: ``rightsizer check-config | calendar | evaluate | agent | demo``.

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


def cmd_evaluate(args) -> int:
    from collectors.csv_import import read_inventory, read_samples

    from . import engine, report
    from .calendar import WorkCalendar
    from .store import Store

    s = _settings(args)
    at = _parse_at(args.at, s)
    cal = WorkCalendar(s.calendar.overrides)
    servers = read_inventory(args.inventory, s.tz)
    if args.prometheus:
        from collectors.prometheus import PrometheusCollector, PrometheusSettings

        prom = PrometheusCollector(PrometheusSettings(url=args.prometheus))
        ev = engine.evaluate_summaries(servers, prom.summaries(servers, at, s), at, s, cal)
        source, digest = f"prometheus:{args.prometheus}", engine.file_digest(args.inventory) + ":" + args.prometheus
        for err in sorted(set(prom.stats.errors)):
            print(f"warning: prometheus: {err} (its servers are insufficient_data in this run)", file=sys.stderr)
    else:
        step, days = s.window.step_seconds, s.window.days
        slots = days * 86400 // step
        start = (int(at.timestamp()) - slots * step) // step * step
        grid = read_samples(args.samples, servers, s.tz, start, step, slots + 1)
        ev = engine.evaluate(servers, grid, at, s, cal)
        source, digest = f"csv:{args.inventory},{args.samples}", engine.file_digest(args.inventory, args.samples)
    # Only a clean evaluation reaches the store.
    store = Store(f"sqlite:///{Path(args.db).resolve()}" if args.db else s.store.resolved_url())
    engine.record(store, ev, source, digest, s)
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

    e = sub.add_parser("evaluate", help="evaluate an inventory with samples from CSV or Prometheus")
    e.add_argument("--inventory", required=True)
    src = e.add_mutually_exclusive_group(required=True)
    src.add_argument("--samples", help="samples CSV")
    src.add_argument("--prometheus", metavar="URL", help="Prometheus/VictoriaMetrics base URL (statistics pushed down)")
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
