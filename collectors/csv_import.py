"""CSV import: inventory and samples exported by a centre's own monitoring.

Inventory (``inv.csv``)::

    server_id,name,department,system,vcpus,ram_gib,disk_gib,delivered_at
    srv-001,教育云-web01,市教育和体育局,智慧教育平台,8,16,200,2026-09-01T09:30:00+08:00

Samples (``samples.csv``), one row per server per sample; a metric the cloud
cannot see may be left empty (missing, never zero)::

    server_id,timestamp,cpu_pct,mem_pct,disk_pct
    srv-001,2026-11-01T00:05:00+08:00,12.5,40.1,33.0
    srv-001,1761926700,13.0,,33.0

Every problem is reported as ``file:line: field: message`` (the header is line
1) and nothing is returned until the whole input is clean. The inventory may carry an
optional ``resized_at`` column (when the server got its current size). Samples of
servers not in the inventory (usually released ones) are skipped with a warning.
"""

from __future__ import annotations

import csv
import math
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from rightsizer.errors import InputError
from rightsizer.format import count
from rightsizer.models import RegisteredSystem, Server, Size
from rightsizer.summaries import SampleGrid

from .csvfile import DECIMAL_CHARS, PLAIN, Table, control_problem, plain_decimal, read, show

INVENTORY_COLUMNS = ("server_id", "name", "department", "system", "vcpus", "ram_gib", "disk_gib", "delivered_at")
SAMPLE_COLUMNS = ("server_id", "timestamp", "cpu_pct", "mem_pct", "disk_pct")

__all__ = ["InputError", "RegisteredSystem", "read_catalogue", "read_inventory", "read_samples", "write_inventory"]


EPOCH_MIN, EPOCH_MAX = 946684800, 4102444800  # 2000-01-01 .. 2100-01-01 UTC: a plausible epoch second


def _epoch(t: str, text: str, tz: ZoneInfo) -> datetime:
    """Digits as epoch seconds, only in a plausible range; ``20261101`` is a date, said so."""
    if len(t) == 8 and t.isdigit():
        try:
            d = datetime.strptime(t, "%Y%m%d").date()
        except ValueError:
            d = None
        if d is not None:  # not 1970-08-23
            raise ValueError(f"{show(text)} looks like a date without separators (write {d.isoformat()})")
    if not EPOCH_MIN <= float(t) < EPOCH_MAX:
        raise ValueError(f"{show(text)} as epoch seconds is outside 2000-2100 (write ISO 8601, "
                         "e.g. 2026-11-19T10:00:00+08:00)")
    return datetime.fromtimestamp(float(t), tz)


def _parse_time(text: str, tz: ZoneInfo, allow_date: bool) -> datetime:
    t = text.strip()
    digits = t.replace(".", "", 1)
    if digits.isascii() and digits.isdigit():
        return _epoch(t, text, tz)
    try:
        if allow_date and len(t) == 10:
            return datetime.combine(date.fromisoformat(t), time(0), tz)
        dt = datetime.fromisoformat(t)
    except (ValueError, OverflowError, OSError):
        raise ValueError(f"{show(text)} is not an ISO 8601 time or epoch seconds") from None
    if dt.tzinfo is None:
        raise ValueError(f"{show(text)} has no UTC offset (write e.g. {t}+08:00)")
    return dt


LONGEST = {"server_id": 128, "name": 255, "department": 255, "system": 255}  # Nova allows 255 for a name


def read_inventory(path: str | Path, tz: ZoneInfo) -> list[Server]:
    problems: list[tuple[int, str]] = []
    table = read(Path(path), INVENTORY_COLUMNS, problems)
    if table is None:
        raise InputError([m for _, m in problems])
    cause = control_problem(table)
    if cause:
        raise InputError([cause[1]])
    servers, seen = [], {}
    for row, line in zip(table.rows, table.lines):
        if len(row) != table.width:
            continue
        where = f"{table.path}:{line}"
        f = {c: row[table.header[c]].strip() for c in INVENTORY_COLUMNS}
        bad = len(problems)
        # system may be empty: a cloud server that names none (the catalogue check flags it 未备案)
        for c in ("server_id", "department"):
            if not f[c]:
                problems.append((line, f"{where}: {c}: empty"))
        for c, most in LONGEST.items():  # what the store keeps (Nova's own limits): never a failure of the whole run
            if len(f[c]) > most:
                problems.append((line, f"{where}: {c}: {len(f[c])} characters, more than {most} ({show(f[c])})"))
        if f["server_id"] in seen:
            problems.append((line, f"{where}: server_id: duplicate {show(f['server_id'])} (first on line {seen[f['server_id']]})"))
        seen.setdefault(f["server_id"], line)
        nums = {}
        for c, kind, lo in (("vcpus", int, 1), ("ram_gib", float, 0), ("disk_gib", float, 0)):
            try:
                if kind is int and not (f[c].isascii() and f[c].isdigit()):
                    raise ValueError
                v = kind(f[c]) if kind is int else plain_decimal(f[c])
                if not math.isfinite(v) or v < lo or (c == "ram_gib" and v == 0):
                    raise ValueError
                nums[c] = v
            except ValueError:
                need = "a whole number of at least 1" if kind is int else "a positive number" if c == "ram_gib" \
                    else "a number of at least 0"
                problems.append((line, f"{where}: {c}: {show(f[c])} is not {need} ({PLAIN})"))
        try:
            delivered = _parse_time(f["delivered_at"], tz, allow_date=True)
        except ValueError as exc:
            problems.append((line, f"{where}: delivered_at: {exc}"))
        resized = None
        if "resized_at" in table.header and row[table.header["resized_at"]].strip():  # optional column
            try:
                resized = _parse_time(row[table.header["resized_at"]].strip(), tz, allow_date=True)
            except ValueError as exc:
                problems.append((line, f"{where}: resized_at: {exc}"))
        if len(problems) == bad:
            servers.append(Server(f["server_id"], f["name"] or f["server_id"], f["department"], f["system"],
                                  Size(nums["vcpus"], nums["ram_gib"], nums["disk_gib"]), delivered, resized))
    if problems:
        raise InputError([m for _, m in sorted(problems, key=lambda p: p[0])])
    if not servers:
        raise InputError([f"{table.path}: no servers"])
    return servers


def _floats(table: Table, column: str, problems: list[tuple[int, str]], ok: np.ndarray) -> np.ndarray:
    """Column as float64, empty = NaN (missing); out-of-range and unparsable values are problems."""
    idx = table.header[column]
    stripped = [r[idx].strip(" \t") if len(r) > idx else "" for r in table.rows]  # a form feed is no blank
    raw = np.array(stripped, dtype=object)
    empty = raw == ""
    text = raw.copy()
    text[empty] = "nan"
    badparse = np.zeros(len(raw), bool)
    # the fast path: the column holds only ASCII digits, signs, points and exponents (two C loops,
    # 14 ms a million cells; a regex took 1.4 s), and within those characters float() reads exactly
    # the plain decimals; only when either fails are the culprits found one by one
    joined = "\n".join(stripped)
    plain = joined.isascii() and not joined.encode("ascii").translate(None, DECIMAL_CHARS + b"\n")
    try:
        if not plain:
            raise ValueError
        out = text.astype(np.float64)
    except ValueError:
        out = np.full(len(raw), np.nan)
        for i, t in enumerate(text):
            try:
                out[i] = np.nan if empty[i] else plain_decimal(t)
            except ValueError:
                badparse[i] = True
    with np.errstate(invalid="ignore"):
        bad = badparse | (~empty & ~np.isfinite(out)) | (out < 0) | (out > 100)
    for i in np.nonzero(bad & ok)[0]:
        why = f"not a number ({PLAIN})" if badparse[i] or np.isnan(out[i]) else "outside 0-100"
        problems.append((table.lines[i], f"{table.path}:{table.lines[i]}: {column}: {show(raw[i])} is {why}"))
    return out


def read_samples(path: str | Path, servers: list[Server], tz: ZoneInfo, start: int, step: int,
                 slots: int, warnings: list[str] | None = None) -> SampleGrid:
    """Samples placed on the grid ``start + i * step``; samples outside it are ignored.

    A file that is clean but gives the window nothing (header only, every sample outside the
    window, samples after its end) adds a warning with the counts to ``warnings``."""
    problems: list[tuple[int, str]] = []
    table = read(Path(path), SAMPLE_COLUMNS, problems)
    if table is None:
        raise InputError([m for _, m in problems])
    n = len(table.rows)
    ok = np.array([len(r) == table.width for r in table.rows], dtype=bool)
    index = {s.server_id: i for i, s in enumerate(servers)}
    sid_col = table.header["server_id"]
    rows = np.array([index.get(r[sid_col].strip(), -1) if len(r) > sid_col else -1 for r in table.rows], np.int64)
    unknown = ok & (rows < 0)  # usually servers released since: skipped, counted in a warning
    ts_col = table.header["timestamp"]
    texts = [r[ts_col] if len(r) > ts_col else "" for r in table.rows]
    parsed: dict[str, int | str] = {}
    for t in set(texts):
        try:
            parsed[t] = int(_parse_time(t, tz, allow_date=False).timestamp())
        except ValueError as exc:
            parsed[t] = str(exc)
    ts = np.zeros(n, np.int64)
    for i, t in enumerate(texts):
        v = parsed[t]
        if isinstance(v, str):
            if ok[i]:
                problems.append((table.lines[i], f"{table.path}:{table.lines[i]}: timestamp: {v}"))
        else:
            ts[i] = v
    cpu, mem, disk = (_floats(table, c, problems, ok) for c in ("cpu_pct", "mem_pct", "disk_pct"))
    if problems or unknown.any():
        cause = control_problem(table)  # a NUL behind many follow-on errors (or unknown ids) is reported alone
        if cause:
            raise InputError([cause[1]])
    if problems:
        problems.sort(key=lambda p: p[0])
        raise InputError([p for _, p in problems])
    known = rows >= 0  # never index a server with -1 (that is the last one)
    grid = SampleGrid.empty([s.server_id for s in servers], start, step, slots)
    grid.put(rows[known], ts[known], cpu[known], mem[known], disk[known])
    if warnings is not None:
        if unknown.any():
            ids = sorted({table.rows[i][sid_col].strip() for i in np.nonzero(unknown)[0]})
            n = int(unknown.sum())
            warnings.append(f"{table.path}: {count(n, 'sample')} of {count(len(ids), 'server')} not in the inventory "
                            f"{'was' if n == 1 else 'were'} skipped (released?): {', '.join(show(x, 30) for x in ids[:5])}"
                            + (f" and {len(ids) - 5} more" if len(ids) > 5 else ""))
        warnings += _emptiness(table.path, servers, rows[known], ts[known], start, start + step * slots, step, tz)
    return grid


def _emptiness(path: str, servers: list[Server], rows: np.ndarray, ts: np.ndarray, start: int, end: int,
               step: int, tz: ZoneInfo) -> list[str]:
    """Warnings for a clean samples file that leaves the window empty, or has samples after it, with counts."""
    last = end - step  # the window's last slot
    if len(rows) == 0:
        return [f"{path}: no samples (only the header): all {count(len(servers), 'server')} are insufficient_data"]
    before, after = int((ts < start).sum()), int((ts >= end).sum())
    inside = len(ts) - before - after
    span = f"{datetime.fromtimestamp(start, tz):%Y-%m-%d %H:%M} – {datetime.fromtimestamp(last, tz):%Y-%m-%d %H:%M}"
    out = []
    if inside == 0:
        first, last = datetime.fromtimestamp(int(ts.min()), tz), datetime.fromtimestamp(int(ts.max()), tz)
        out.append(f"{path}: none of its {len(ts):,} samples ({first:%Y-%m-%d} – {last:%Y-%m-%d}) lies in the "
                   f"window {span}: all {count(len(servers), 'server')} are insufficient_data; check --at and the file")
    elif after:
        out.append(f"{path}: {after:,} of {len(ts):,} samples are after the end of the window {span} and were "
                   "ignored; check --at and the file's times")
    return out



CATALOGUE_COLUMNS = ("system_id", "name", "department", "filing_no")


def read_catalogue(path: str | Path) -> list[RegisteredSystem]:
    """The registered-system catalogue (备案): ``system_id,name,department,filing_no``."""
    problems: list[tuple[int, str]] = []
    table = read(Path(path), CATALOGUE_COLUMNS, problems)
    if table is None:
        raise InputError([m for _, m in problems])
    cause = control_problem(table)
    if cause:
        raise InputError([cause[1]])
    out, seen_id, seen_name = [], {}, {}
    for row, line in zip(table.rows, table.lines):
        if len(row) != table.width:
            continue
        where = f"{table.path}:{line}"
        f = {c: row[table.header[c]].strip() for c in CATALOGUE_COLUMNS}
        bad = len(problems)
        for c in CATALOGUE_COLUMNS:
            if not f[c]:
                problems.append((line, f"{where}: {c}: empty"))
        if f["system_id"] and f["system_id"] in seen_id:
            problems.append((line, f"{where}: system_id: duplicate {show(f['system_id'])} "
                                   f"(first on line {seen_id[f['system_id']]})"))
        key = (f["department"], f["name"])
        if f["name"] and key in seen_name:
            problems.append((line, f"{where}: name: {show(f['name'])} is registered twice for {f['department']} "
                                   f"(first on line {seen_name[key]})"))
        seen_id.setdefault(f["system_id"], line)
        seen_name.setdefault(key, line)
        if len(problems) == bad:
            out.append(RegisteredSystem(f["system_id"], f["name"], f["department"], f["filing_no"]))
    if problems:
        raise InputError([m for _, m in sorted(problems, key=lambda p: p[0])])
    return out


def write_inventory(path: str | Path, servers: list[Server]) -> None:
    """Write servers in the inventory CSV format that ``read_inventory`` reads (atomically)."""
    p = Path(path)
    tmp = p.with_name(p.name + ".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(INVENTORY_COLUMNS)
        for s in servers:
            w.writerow([s.server_id, s.name, s.department, s.system, s.size.vcpus, f"{s.size.ram_gib:g}",
                        f"{s.size.disk_gib:g}", s.delivered_at.isoformat()])
    tmp.replace(p)
