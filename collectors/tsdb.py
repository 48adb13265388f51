"""Shared by the TSDB collectors: request statistics, sharded queries, summaries from statistics.

* :class:`RequestStats` counts requests, bytes and errors (thread-safe updates are the
  caller's, under its lock);
* :func:`run_sharded` runs one query per shard of server ids with bounded concurrency; a
  shard that fails gives each of its servers the error instead of a result;
* :func:`build_summary` turns pushed-down statistics into a :class:`UsageSummary`,
  counting coverage the same way as the local (numpy) path.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from rightsizer.models import Server, UsageSummary

if TYPE_CHECKING:
    from rightsizer.settings import Settings


@dataclass
class RequestStats:
    requests: int = 0
    bytes_received: int = 0
    errors: list[str] = field(default_factory=list)


def run_sharded(ids: list[str], shard_size: int, concurrency: int, query, error_type: type[Exception],
                stats: RequestStats) -> tuple[dict[str, dict], dict[str, str]]:
    """Run ``query(shard) -> {server id: result}`` over shards of ids with bounded concurrency.

    A shard that raises ``error_type`` gives each of its servers that error instead of a
    result (so they come out ``insufficient_data``); the error is also kept in ``stats``.
    """
    shards = [ids[i:i + shard_size] for i in range(0, len(ids), shard_size)]
    results: dict[str, dict] = {}
    errors: dict[str, str] = {}

    def run(shard):
        try:
            return shard, query(shard), None
        except error_type as exc:
            return shard, None, str(exc)

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for shard, res, err in pool.map(run, shards):
            if err:
                stats.errors.append(err)
                errors.update(dict.fromkeys(shard, err))
            else:
                results.update(res)
    return results, errors


def build_summary(s: Server, res: dict | None, err: str | None, at: datetime, ws_e: int,
                  settings: Settings) -> UsageSummary:
    """A summary from pushed-down statistics: ``res[stat][server_id]`` and ``res["daily"][server_id]``.

    Shared by the TSDB collectors; coverage is counted the same way as the local path.
    """
    w = settings.window
    tz = settings.tz
    step = w.step_seconds
    at_e = int(at.timestamp())
    eff_e = max(ws_e, int(s.delivered_at.timestamp()))
    recent_e = at_e - settings.policy.release.days * 86400
    sid = s.server_id
    get = (lambda k: (res or {}).get(k, {}).get(sid))  # noqa: E731
    expected = max(math.ceil((at_e - eff_e) / step), 1)
    counts = {"cpu": get("cpu_n") or 0, "mem": get("mem_n") or 0, "disk": get("disk_n") or 0}
    coverage = {m: min(n / expected, 1.0) for m, n in counts.items()}
    recent_expected = max(math.ceil((at_e - max(eff_e, recent_e)) / step), 1)
    daily = [v for v in (res or {}).get("daily", {}).get(sid, []) if not math.isnan(v)]
    import numpy as np  # here, not at the top: numpy is heavy, and only the evaluation needs it

    peak = float(np.quantile(np.array(daily), w.memory_peak_quantile)) if daily else None
    r4 = (lambda v: None if v is None else round(v, 4))  # noqa: E731
    return UsageSummary(
        server_id=sid,
        window_start=datetime.fromtimestamp(ws_e, timezone.utc).astimezone(tz),
        window_end=at.astimezone(tz),
        effective_start=datetime.fromtimestamp(eff_e, timezone.utc).astimezone(tz),
        coverage=round(min(coverage.values()), 4),
        coverage_by_metric={m: round(v, 4) for m, v in coverage.items()},
        days_of_data=round(min(counts.values()) * step / 86400, 3),
        cpu_p95_pct=r4(get("cpu_p")), cpu_max_pct=r4(get("cpu_max")),
        memory_peak_pct=r4(peak), memory_max_pct=r4(get("mem_max")), memory_peak_days=len(daily),
        disk_latest_pct=r4(get("disk_last")), disk_max_pct=r4(get("disk_max")),
        recent_cpu_p95_pct=r4(get("recent_p")),
        recent_coverage=round(min((get("recent_n") or 0) / recent_expected, 1.0), 4),
        delivered_in_window=eff_e > ws_e,
        source_error=err,
    )
