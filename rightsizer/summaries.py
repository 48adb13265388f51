"""Usage summaries from samples, vectorised with numpy.

Samples live on a regular time grid (:class:`SampleGrid`): one float32 row per
server and metric, one column per step, ``NaN`` where nothing was measured. All
statistics are computed over whole blocks of rows at once; there is no Python
loop per sample. ``NaN`` is *missing*, never zero: it is left out of every
statistic and lowers the coverage instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import numpy as np

from .models import Server, UsageSummary
from .settings import Settings

METRICS = ("cpu", "mem", "disk")
CHUNK_ROWS = 1024  # rows summarised at once: bounds memory for 10k+ servers


@dataclass
class SampleGrid:
    """Samples of ``server_ids`` on the grid ``start + i * step`` (epoch seconds)."""

    server_ids: list[str]
    start: int
    step: int
    cpu: np.ndarray  # shape (servers, slots), float32, percent 0..100, NaN = missing
    mem: np.ndarray
    disk: np.ndarray

    @property
    def slots(self) -> int:
        return self.cpu.shape[1]

    @classmethod
    def empty(cls, server_ids: list[str], start: int, step: int, slots: int) -> "SampleGrid":
        shape = (len(server_ids), slots)
        return cls(list(server_ids), start, step, *(np.full(shape, np.nan, np.float32) for _ in METRICS))

    def put(self, rows: np.ndarray, ts: np.ndarray, cpu: np.ndarray, mem: np.ndarray, disk: np.ndarray) -> None:
        """Place samples into their slots. Two samples in one slot keep the larger value:
        the grid may overstate use within a step, never understate it."""
        cols = (ts - self.start) // self.step
        ok = (cols >= 0) & (cols < self.slots)
        r, c = rows[ok], cols[ok]
        for arr, vals in ((self.cpu, cpu), (self.mem, mem), (self.disk, disk)):
            np.fmax.at(arr, (r, c), vals[ok].astype(np.float32))


def _epoch(dt: datetime) -> int:
    return int(dt.timestamp())


def _row_quantile(rows: np.ndarray, counts: np.ndarray, q: float) -> np.ndarray:
    """Linear-interpolated quantile of each row's values (``counts`` of them; NaN, missing, left out).

    A selection, not a sort: ``np.partition`` puts the order statistic below ``q`` in place (NaN goes last,
    as in a sort), O(n) a row, and the one above it is the least of the rest. Rows are taken in groups of equal count — almost every row of a fleet has
    the same — so one call serves each group. The same figures as ``np.nanquantile(..., method="linear")``."""
    out = np.full(len(rows), np.nan)
    if rows.shape[1] == 0:
        return out
    for c in np.unique(counts):
        if c == 0:
            continue
        group = np.nonzero(counts == c)[0]
        pos = q * (int(c) - 1)
        lo, hi = math.floor(pos), math.ceil(pos)
        part = np.partition(rows[group] if len(group) < len(rows) else rows, lo, axis=1)
        lo_v = part[:, lo].astype(np.float64)
        # the next order statistic is the least of what the selection put above it (NaN, last, left out)
        hi_v = np.fmin.reduce(part[:, lo + 1:], axis=1).astype(np.float64) if hi > lo else lo_v
        out[group] = lo_v + (hi_v - lo_v) * (pos - lo)
    return out


def _counts(a: np.ndarray) -> np.ndarray:
    return np.count_nonzero(~np.isnan(a), axis=1)


def _day_starts(start: datetime, end: datetime, tz) -> list[int]:
    """Epoch seconds of each local midnight in (start, end), plus start itself."""
    local = start.astimezone(tz)
    out = [_epoch(start)]
    day: date = local.date() + timedelta(days=1)
    while True:
        midnight = datetime(day.year, day.month, day.day, tzinfo=tz)
        if midnight >= end:
            return out
        out.append(_epoch(midnight))
        day += timedelta(days=1)


def _opt(x: float) -> float | None:
    return None if math.isnan(x) else round(float(x), 4)


def summarise(grid: SampleGrid, servers: list[Server], at: datetime, settings: Settings,
              measured: tuple[str, ...] = METRICS) -> list[UsageSummary]:
    """One :class:`UsageSummary` per server over the window ending at ``at``.

    ``servers`` may be in any order; each is looked up in the grid by id. A server
    absent from the grid gets a summary with no data (coverage 0). ``measured`` names
    the metrics the source can see at all (Gnocchi has no in-guest disk use): coverage
    counts only those, and the others stay ``None`` — unknown, never zero.
    """
    w = settings.window
    tz = settings.tz
    step = grid.step
    at_e = _epoch(at)
    ws_e = at_e - w.days * 86400
    window_start = datetime.fromtimestamp(ws_e, timezone.utc).astimezone(tz)
    window_end = at.astimezone(tz)
    # Window columns of the grid: slots whose start time lies in [ws, at).
    c0 = max(0, -(-(ws_e - grid.start) // step))
    c1 = min(grid.slots, max(c0, -(-(at_e - grid.start) // step)))
    col_t = grid.start + step * np.arange(c0, c1, dtype=np.int64)
    recent_e = at_e - settings.policy.release.days * 86400
    rc0 = int(np.searchsorted(col_t, recent_e))
    bounds = np.searchsorted(col_t, _day_starts(window_start, window_end, tz))
    bounds = np.unique(bounds[bounds < len(col_t)])

    index = {sid: i for i, sid in enumerate(grid.server_ids)}
    out: list[UsageSummary] = []
    for lo in range(0, len(servers), CHUNK_ROWS):
        out.extend(_summarise_chunk(grid, servers[lo : lo + CHUNK_ROWS], index, c0, c1, col_t, rc0, bounds,
                                    ws_e, at_e, recent_e, window_start, window_end, settings, measured))
    return out


def _summarise_chunk(grid, servers, index, c0, c1, col_t, rc0, bounds, ws_e, at_e, recent_e,
                     window_start, window_end, settings, measured) -> list[UsageSummary]:
    w = settings.window
    step = grid.step
    n, width = len(servers), c1 - c0
    rows = np.array([index.get(s.server_id, -1) for s in servers], dtype=np.int64)
    present = rows >= 0
    data = {}
    # the usual case, the fleet in the grid's own order: a plain slice (one copy), not a gather
    run = bool(n) and present.all() and int(rows[-1]) - int(rows[0]) == n - 1 and bool((np.diff(rows) == 1).all())
    for m in METRICS:
        if run:
            data[m] = np.array(getattr(grid, m)[int(rows[0]):int(rows[0]) + n, c0:c1], dtype=np.float32)
            continue
        block = np.full((n, width), np.nan, np.float32)
        if width and present.any():
            block[present] = getattr(grid, m)[rows[present], c0:c1]
        data[m] = block
    # Nothing before delivery (or before the last resize: percentages of another size) counts: blank it,
    # and measure coverage from then on.
    eff_e = np.array([max(ws_e, _epoch(s.measured_from)) for s in servers], dtype=np.int64)
    for i in np.nonzero(eff_e > ws_e)[0]:
        cut = int(np.searchsorted(col_t, eff_e[i]))
        for m in METRICS:
            data[m][i, :cut] = np.nan
    expected = np.maximum(np.ceil((at_e - eff_e) / step), 1)
    counts = {m: _counts(data[m]) for m in METRICS}
    coverage = {m: np.minimum(counts[m] / expected, 1.0) for m in measured}
    min_cov = np.minimum.reduce([coverage[m] for m in measured])
    days_of_data = np.minimum.reduce([counts[m] for m in measured]) * step / 86400

    cpu_p = _row_quantile(data["cpu"], counts["cpu"], w.cpu_quantile)
    cpu_max = np.fmax.reduce(data["cpu"], axis=1).astype(np.float64) if width else np.full(n, np.nan)

    recent = data["cpu"][:, rc0:]
    recent_counts = _counts(recent)
    recent_p = _row_quantile(recent, recent_counts, w.cpu_quantile)
    recent_expected = np.maximum(np.ceil((at_e - np.maximum(eff_e, recent_e)) / step), 1)
    recent_cov = np.minimum(recent_counts / recent_expected, 1.0)

    if width and len(bounds):
        daily = np.fmax.reduceat(data["mem"], bounds, axis=1)
    else:
        daily = np.full((n, 0), np.nan, np.float32)
    day_counts = _counts(daily)
    mem_peak = _row_quantile(daily, day_counts, w.memory_peak_quantile)
    mem_max = np.fmax.reduce(data["mem"], axis=1) if width else np.full(n, np.nan)

    disk = data["disk"]
    disk_max = np.fmax.reduce(disk, axis=1) if width else np.full(n, np.nan)
    if width:
        last = width - 1 - np.argmax(~np.isnan(disk[:, ::-1]), axis=1)
        disk_latest = disk[np.arange(n), last].astype(np.float64)
    else:
        disk_latest = np.full(n, np.nan)

    out = []
    tz = settings.tz
    for i, s in enumerate(servers):
        eff = datetime.fromtimestamp(int(eff_e[i]), timezone.utc).astimezone(tz)
        out.append(UsageSummary(
            server_id=s.server_id,
            window_start=window_start,
            window_end=window_end,
            effective_start=eff,
            coverage=round(float(min_cov[i]), 4),
            coverage_by_metric={m: round(float(coverage[m][i]), 4) for m in measured},
            days_of_data=round(float(days_of_data[i]), 3),
            cpu_p95_pct=_opt(cpu_p[i]),
            cpu_max_pct=_opt(cpu_max[i]),
            memory_peak_pct=_opt(mem_peak[i]),
            memory_max_pct=_opt(float(mem_max[i])),
            memory_peak_days=int(day_counts[i]),
            disk_latest_pct=_opt(float(disk_latest[i])),
            disk_max_pct=_opt(float(disk_max[i])),
            recent_cpu_p95_pct=_opt(recent_p[i]),
            recent_coverage=round(float(recent_cov[i]), 4),
            delivered_in_window=bool(_epoch(servers[i].delivered_at) > ws_e),
        ))
    return out
