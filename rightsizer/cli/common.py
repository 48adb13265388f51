"""What every command shares: reading times, dates and the configuration, opening the store, printing."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from pathlib import Path

from ..errors import UsageError
from ..settings import Settings, load_settings


def parse_time(text: str | None, s: Settings, name: str) -> datetime | None:
    """An ISO 8601 time from the command line; one without an offset is in the configuration's zone."""
    if text is None:
        return None
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{name}: {text!r} is not an ISO 8601 time (e.g. 2026-11-20T00:00:00+08:00)") from None
    if not 2000 <= t.year <= 2100:  # also keeps window arithmetic away from year 1 and 9999
        raise UsageError(f"{name}: {text!r} is outside the years 2000-2100")
    return t if t.tzinfo else t.replace(tzinfo=s.tz)


def parse_date(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{name}: {text!r} is not a date (YYYY-MM-DD)") from None


def now_of(args, s: Settings) -> datetime:
    """``--now``, else the clock (the one place the CLI reads it), in the configured zone: the day a job takes
    of it is the centre's day, whatever offset ``--now`` was written with."""
    return (parse_time(getattr(args, "now", None), s, "--now") or datetime.now(s.tz)).astimezone(s.tz)


def settings_of(args) -> Settings:
    s = load_settings(getattr(args, "config", None))
    if getattr(args, "holidays", None):
        s = s.model_copy(update={"calendar": s.calendar.model_copy(update={"overrides": Path(args.holidays)})})
    return s


def calendar_of(s: Settings):
    from ..calendar import WorkCalendar

    return WorkCalendar(s.calendar.overrides)


def db_url(args, s: Settings) -> str:
    """``--db``: a SQLite file, or a database URL (``postgresql+psycopg://…``); else ``[store]``."""
    if args.db:
        return args.db if "://" in args.db else f"sqlite:///{Path(args.db).resolve()}"
    return s.store.resolved_url()


def open_store(args, s: Settings):
    """The store; one about to be made where neither ``--db`` nor ``--config`` said (the default state
    directory) is named on stderr first, so that a forgotten ``--config`` does not go unseen."""
    from ..db import Store

    url = db_url(args, s)
    if not args.db and not getattr(args, "config", None) and not store_exists(args, s):
        print(f"note: no --config or --db: creating a new store {url.removeprefix('sqlite:///')} "
              f"(the default [store] state_dir); pass --config FILE to use the service's", file=sys.stderr)
    return Store.open(url, s.store.busy_seconds)


def store_exists(args, s: Settings) -> bool:
    """Whether there is a store to read history from (a new SQLite file is not made just to read it)."""
    url = db_url(args, s)
    return not url.startswith("sqlite:///") or Path(url.removeprefix("sqlite:///")).exists()


def emit(fmt: str, data, as_json, as_table) -> None:
    """``--format json`` or the operators' table of the same data."""
    if fmt == "json":
        json.dump(as_json(data), sys.stdout, ensure_ascii=False, indent=2)
        print()
    else:
        print(as_table(data))


def warn(lines: list[str]) -> None:
    for w in lines:
        print(f"warning: {w}", file=sys.stderr)


def add_common(p, db: bool = True, now: bool = False) -> None:
    p.add_argument("--config", help="configuration TOML")
    if db:
        p.add_argument("--db", help="SQLite file or database URL (default: [store] of the configuration)")
    if now:
        p.add_argument("--now", metavar="ISO", help="act as if it were this time (ISO 8601 with offset), "
                       "to replay days or weeks; default: the clock")
