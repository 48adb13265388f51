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
1) and nothing is returned until the whole input is clean.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from rightsizer.errors import InputError
from rightsizer.models import RegisteredSystem, Server, Size
from rightsizer.summaries import SampleGrid

INVENTORY_COLUMNS = ("server_id", "name", "department", "system", "vcpus", "ram_gib", "disk_gib", "delivered_at")
SAMPLE_COLUMNS = ("server_id", "timestamp", "cpu_pct", "mem_pct", "disk_pct")

__all__ = ["InputError", "RegisteredSystem", "read_catalogue", "read_inventory", "read_samples", "write_inventory"]


@dataclass
class _Table:
    path: str
    header: dict[str, int]  # column name -> index; names are unique
    width: int  # fields per row, as in the header
    rows: list[list[str]]
    lines: list[int]


def _read(path: Path, required: tuple[str, ...], problems: list[tuple[int, str]]) -> _Table | None:
    name = str(path)
    try:
        fh = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        problems.append((0, f"{name}: cannot open: {exc.strerror}"))
        return None
    with fh:
        reader = csv.reader(fh)
        try:
            header = next(reader, None)
            if header is None:
                problems.append((1, f"{name}:1: header: file is empty; expected columns {','.join(required)}"))
                return None
            cols: dict[str, int] = {}
            for i, h in enumerate(header):
                if h.strip() in cols:
                    # two columns of one name: which one is meant? (no guessing: nothing is read)
                    problems.append((1, f"{name}:1: header: column {h.strip()!r} appears twice "
                                        f"(columns {cols[h.strip()] + 1} and {i + 1})"))
                    return None
                cols[h.strip()] = i
            missing = [c for c in required if c not in cols]
            if missing:
                problems.append((1, f"{name}:1: header: missing column(s) {', '.join(missing)}"))
                return None
            rows, lines = [], []
            for row in reader:
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                rows.append(row)
                lines.append(reader.line_num)
        except UnicodeDecodeError as exc:
            problems.append((0, f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})"))
            return None
        except csv.Error as exc:
            problems.append((reader.line_num, f"{name}:{reader.line_num}: {exc}"))
            return None
    width = len(header)
    for row, line in zip(rows, lines):
        if len(row) != width:
            problems.append((line, f"{name}:{line}: row has {len(row)} fields, the header has {width}"))
    return _Table(name, cols, len(header), rows, lines)


EPOCH_MIN, EPOCH_MAX = 946684800, 4102444800  # 2000-01-01 .. 2100-01-01 UTC: a plausible epoch second


def _epoch(t: str, text: str, tz: ZoneInfo) -> datetime:
    """Digits as epoch seconds, only in a plausible range; ``20261101`` is a date, said so."""
    if len(t) == 8 and t.isdigit():
        try:
            d = datetime.strptime(t, "%Y%m%d").date()
        except ValueError:
            d = None
        if d is not None:  # not 1970-08-23
            raise ValueError(f"{text!r} looks like a date without separators (write {d.isoformat()})")
    if not EPOCH_MIN <= float(t) < EPOCH_MAX:
        raise ValueError(f"{text!r} as epoch seconds is outside 2000-2100 (write ISO 8601, "
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
        raise ValueError(f"{text!r} is not an ISO 8601 time or epoch seconds") from None
    if dt.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset (write e.g. {t}+08:00)")
    return dt


def read_inventory(path: str | Path, tz: ZoneInfo) -> list[Server]:
    problems: list[tuple[int, str]] = []
    table = _read(Path(path), INVENTORY_COLUMNS, problems)
    if table is None:
        raise InputError([m for _, m in problems])
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
        if f["server_id"] in seen:
            problems.append((line, f"{where}: server_id: duplicate {f['server_id']!r} (first on line {seen[f['server_id']]})"))
        seen.setdefault(f["server_id"], line)
        nums = {}
        for c, kind, lo in (("vcpus", int, 1), ("ram_gib", float, 0), ("disk_gib", float, 0)):
            try:
                v = kind(f[c])
                if not math.isfinite(v) or v < lo or (c == "ram_gib" and v == 0):
                    raise ValueError
                nums[c] = v
            except ValueError:
                need = "a whole number of at least 1" if kind is int else "a positive number" if c == "ram_gib" \
                    else "a number of at least 0"
                problems.append((line, f"{where}: {c}: {f[c]!r} is not {need}"))
        try:
            delivered = _parse_time(f["delivered_at"], tz, allow_date=True)
        except ValueError as exc:
            problems.append((line, f"{where}: delivered_at: {exc}"))
        if len(problems) == bad:
            servers.append(Server(f["server_id"], f["name"] or f["server_id"], f["department"], f["system"],
                                  Size(nums["vcpus"], nums["ram_gib"], nums["disk_gib"]), delivered))
    if problems:
        raise InputError([m for _, m in sorted(problems, key=lambda p: p[0])])
    if not servers:
        raise InputError([f"{table.path}: no servers"])
    return servers


def _floats(table: _Table, column: str, problems: list[tuple[int, str]], ok: np.ndarray) -> np.ndarray:
    """Column as float64, empty = NaN (missing); out-of-range and unparsable values are problems."""
    idx = table.header[column]
    raw = np.array([r[idx].strip() if len(r) > idx else "" for r in table.rows], dtype=object)
    empty = raw == ""
    text = raw.copy()
    text[empty] = "nan"
    badparse = np.zeros(len(raw), bool)
    try:
        out = text.astype(np.float64)  # the fast path: one C loop for the whole column
    except ValueError:  # find the culprits one by one, only when there are any
        out = np.full(len(raw), np.nan)
        for i, t in enumerate(text):
            try:
                out[i] = float(t)
            except ValueError:
                badparse[i] = True
    with np.errstate(invalid="ignore"):
        bad = badparse | (~empty & ~np.isfinite(out)) | (out < 0) | (out > 100)
    for i in np.nonzero(bad & ok)[0]:
        why = "not a number" if badparse[i] or not np.isfinite(out[i]) else "outside 0-100"
        problems.append((table.lines[i], f"{table.path}:{table.lines[i]}: {column}: {raw[i]!r} is {why}"))
    return out


def read_samples(path: str | Path, servers: list[Server], tz: ZoneInfo, start: int, step: int,
                 slots: int) -> SampleGrid:
    """Samples placed on the grid ``start + i * step``; samples outside it are ignored."""
    problems: list[tuple[int, str]] = []
    table = _read(Path(path), SAMPLE_COLUMNS, problems)
    if table is None:
        raise InputError([m for _, m in problems])
    n = len(table.rows)
    ok = np.array([len(r) == table.width for r in table.rows], dtype=bool)
    index = {s.server_id: i for i, s in enumerate(servers)}
    sid_col = table.header["server_id"]
    rows = np.array([index.get(r[sid_col].strip(), -1) if len(r) > sid_col else -1 for r in table.rows], np.int64)
    for i in np.nonzero(ok & (rows < 0))[0]:
        problems.append((table.lines[i], f"{table.path}:{table.lines[i]}: server_id: "
                                         f"{table.rows[i][sid_col]!r} is not in the inventory"))
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
    if problems:
        problems.sort(key=lambda p: p[0])
        raise InputError([p for _, p in problems])
    if (rows < 0).any():  # never charge a row to server -1 (the last one): every such row is a problem above
        raise InputError([f"{table.path}: server_id: rows of servers not in the inventory"])
    grid = SampleGrid.empty([s.server_id for s in servers], start, step, slots)
    grid.put(rows, ts, cpu, mem, disk)
    return grid



CATALOGUE_COLUMNS = ("system_id", "name", "department", "filing_no")


def read_catalogue(path: str | Path) -> list[RegisteredSystem]:
    """The registered-system catalogue (备案): ``system_id,name,department,filing_no``."""
    problems: list[tuple[int, str]] = []
    table = _read(Path(path), CATALOGUE_COLUMNS, problems)
    if table is None:
        raise InputError([m for _, m in problems])
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
            problems.append((line, f"{where}: system_id: duplicate {f['system_id']!r} "
                                   f"(first on line {seen_id[f['system_id']]})"))
        key = (f["department"], f["name"])
        if f["name"] and key in seen_name:
            problems.append((line, f"{where}: name: {f['name']!r} is registered twice for {f['department']} "
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
