"""``check-config``, ``calendar``, ``inventory sync``, ``evaluate`` and ``agent``: reading the city."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path

from ..format import count
from ..settings import load_settings
from .common import (add_common, calendar_of, now_of, open_store, parse_date, parse_time, settings_of,
                     store_exists, warn)


def cmd_check_config(args) -> int:
    from ..errors import ConfigError
    from ..jobs.relay import secret_problems

    s = load_settings(args.file)
    calendar_of(s)  # the override file is part of the configuration
    # what delivery would trip on: every secret file and variable, at once
    problems = [] if args.skip_secrets else secret_problems(s)
    if problems:
        raise ConfigError(args.file, problems)
    print(f"{args.file}: OK" + (" (secrets not read)" if args.skip_secrets else ""))
    return 0


def cmd_add_workdays(args) -> int:
    s = settings_of(args)
    print(calendar_of(s).add_workdays(parse_date(args.start, "start"), args.n).isoformat())
    return 0


def cmd_calendar_import(args) -> int:
    from .. import holiday_notice

    notices = holiday_notice.read_files([Path(f) for f in args.files])
    out = Path(args.out) if args.out else None
    text, said = holiday_notice.write(notices, out)
    warn(holiday_notice.compare_with_package(notices))
    if out is None:
        sys.stdout.write(text)
    for line in said:
        print(line + (f" → {out}" if out and not line.startswith("warning") else ""), file=sys.stderr)
    if out is not None:
        print(f"reload the service to use it: systemctl reload rightsizer", file=sys.stderr)
    return 0


def cmd_inventory_sync(args) -> int:
    from ..format import size_short
    from ..jobs import inventory

    s = settings_of(args)
    r = inventory.sync(open_store(args, s), s, calendar_of(s), now_of(args, s), cloud=args.cloud, out=args.out,
                       csv=Path(args.csv) if args.csv else None)
    warn(r.warnings)
    print(f"{count(r.servers, 'server')} from {r.source}: {r.count('added')} new, {r.count('resized')} resized, "
          f"{r.count('removed')} gone")
    for c in r.changes:
        if c.change != "added":
            print(f"  {c.change:8} {c.server_id}  {c.old_flavor or '-'} {size_short(c.old_size)} -> "
                  f"{c.new_flavor or '-'} {size_short(c.new_size)}")
    if r.rectified or r.closed:
        print(f"{count(r.rectified, 'finding')} on open notices verified as rectified; closed: {', '.join(r.closed) or '-'}")
    return 0


def cmd_evaluate(args) -> int:
    import collectors

    from .. import tables
    from ..jobs import evaluate

    s = settings_of(args)
    at = parse_time(args.at, s, "--at") or evaluate.window_end(datetime.now(s.tz), s)
    usage = next((n for n in collectors.REGISTRY if getattr(args, n) not in (None, False)), None)
    url = getattr(args, usage) if usage else ""
    sources = evaluate.Sources(
        inventory=None if args.openstack else Path(args.inventory), cloud=args.cloud,
        samples=Path(args.samples) if args.samples else None, usage=usage, usage_url=url if isinstance(url, str) else "",
        catalogue=Path(args.catalogue) if args.catalogue else None)
    # the store is opened only once the input has been read and found clean (a new one is not read for history)
    r = evaluate.evaluate(lambda: open_store(args, s), s, calendar_of(s), at, sources, history=store_exists(args, s))
    warn(r.warnings)
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


def register(sub) -> None:
    import collectors

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
    add_common(a, db=False)
    a.set_defaults(func=cmd_add_workdays)

    i = cal.add_parser("import", help="read the State Council's holiday notices (text) into the override TOML")
    i.add_argument("files", nargs="+", metavar="FILE", help="one notice a file, pasted as UTF-8 text")
    i.add_argument("--out", metavar="FILE", help="merge into this override file, replaced atomically "
                   "(default: print the TOML)")
    i.set_defaults(func=cmd_calendar_import)

    inv = sub.add_parser("inventory", help="the cloud's inventory").add_subparsers(dest="inventory_command",
                                                                                  required=True)
    y = inv.add_parser("sync", help="read servers from OpenStack or a CSV, record them and report flavor changes")
    ysrc = y.add_mutually_exclusive_group(required=True)
    ysrc.add_argument("--openstack", action="store_true", help="read from OpenStack (clouds.yaml)")
    ysrc.add_argument("--csv", metavar="FILE", help="read an inventory CSV (a centre without OpenStack)")
    y.add_argument("--cloud", help="clouds.yaml entry (default: [inventory.openstack] cloud, else OS_CLOUD)")
    y.add_argument("--out", help="also write the servers as an inventory CSV")
    add_common(y, now=True)
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
    add_common(e)
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
