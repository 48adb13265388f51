"""Prometheus / VictoriaMetrics collector: every statistic is pushed down to the TSDB.

Instant queries at ``at`` over the window (``quantile_over_time``,
``max_over_time``, ``count_over_time``, ``last_over_time``) and one range query
with ``step=1d`` over ``max_over_time(<mem>[1d])`` for the daily memory maxima —
no subqueries, and no raw series pulled into Python. Servers are sharded into
batches matched by an anchored label regex; shards run with bounded concurrency,
each request with a timeout and retries. A shard that still fails gives its
servers no data, so they come out ``insufficient_data`` with the error recorded —
a failing source never makes a server look idle.

Configuration example::

    [metrics]
    source = "prometheus"
    [metrics.prometheus]
    url = "http://127.0.0.1:9090"
    cpu_metric = "rightsizer_cpu_utilization_pct"
    memory_metric = "rightsizer_memory_utilization_pct"
    disk_metric = "rightsizer_disk_utilization_pct"
    server_label = "server_id"
    shard_size = 200
    concurrency = 4
    timeout_seconds = 30
    retries = 2
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from rightsizer.models import Server, UsageSummary

if TYPE_CHECKING:
    from rightsizer.settings import Settings


class PrometheusSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = "http://127.0.0.1:9090"
    cpu_metric: str = "rightsizer_cpu_utilization_pct"
    memory_metric: str = "rightsizer_memory_utilization_pct"
    disk_metric: str = "rightsizer_disk_utilization_pct"
    server_label: str = "server_id"
    shard_size: int = Field(200, ge=1, le=5000)
    concurrency: int = Field(4, ge=1, le=32)
    timeout_seconds: float = Field(30, gt=0)
    retries: int = Field(2, ge=0, le=10)


class PrometheusError(Exception):
    pass


@dataclass
class RequestStats:
    requests: int = 0
    bytes_received: int = 0
    errors: list[str] = field(default_factory=list)


def _error_of(exc: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(exc.read()).get("error", ""))[:300]
    except (ValueError, OSError, AttributeError):
        return exc.reason if isinstance(exc.reason, str) else ""


class PrometheusCollector:
    def __init__(self, cfg: PrometheusSettings):
        self.cfg = cfg
        self.stats = RequestStats()
        self._lock = threading.Lock()  # shards update the counters from several threads

    # -- HTTP ---------------------------------------------------------------------------

    def _get(self, path: str, params: dict[str, str]) -> list[dict]:
        """POST a query (long regexes do not fit a URL) with retries; return ``data.result``."""
        body = urllib.parse.urlencode(params).encode()
        url = self.cfg.url.rstrip("/") + path
        last = ""
        for attempt in range(self.cfg.retries + 1):
            if attempt:
                time.sleep(min(0.2 * 2 ** attempt, 5))
            with self._lock:
                self.stats.requests += 1
            try:
                req = urllib.request.Request(url, data=body, headers={
                    "Content-Type": "application/x-www-form-urlencoded"})
                with urllib.request.urlopen(req, timeout=self.cfg.timeout_seconds) as resp:
                    raw = resp.read()
                with self._lock:
                    self.stats.bytes_received += len(raw)
                doc = json.loads(raw)
                if doc.get("status") != "success":
                    raise PrometheusError(f"{doc.get('errorType')}: {doc.get('error')}")
                return doc["data"]["result"]
            except urllib.error.HTTPError as exc:
                last = f"HTTP {exc.code} from {path}: {_error_of(exc)}"
                if 400 <= exc.code < 500 and exc.code != 429:
                    break  # a bad query does not get better by asking again
            except (urllib.error.URLError, TimeoutError, OSError) as exc:
                last = f"{path}: {getattr(exc, 'reason', exc)}"
            except (ValueError, KeyError, PrometheusError) as exc:
                last = f"{path}: bad answer: {exc}"
        raise PrometheusError(last)

    # -- queries ------------------------------------------------------------------------

    def _sel(self, metric: str, ids: list[str]) -> str:
        regex = "|".join(re.escape(i) for i in ids)
        quoted = regex.replace("\\", "\\\\").replace('"', '\\"')  # a PromQL string holds the regex
        return f'{metric}{{{self.cfg.server_label}=~"{quoted}"}}'

    def _by_server(self, result: list[dict]) -> dict[str, float]:
        out = {}
        for r in result:
            sid = r["metric"].get(self.cfg.server_label)
            v = float(r["value"][1])
            if sid is not None and not math.isnan(v):
                out[sid] = v
        return out

    def _instant(self, expr: str, at: int) -> dict[str, float]:
        return self._by_server(self._get("/api/v1/query", {"query": expr, "time": str(at)}))

    def _shard(self, ids: list[str], at: datetime, settings: Settings, day_ends: list[int]) -> dict:
        c = self.cfg
        w = settings.window
        at_e = int(at.timestamp())
        lb = c.server_label
        win = f"{w.days}d"
        recent = f"{settings.policy.release.days}d"
        cpu, mem = self._sel(c.cpu_metric, ids), self._sel(c.memory_metric, ids)
        disk = self._sel(c.disk_metric, ids)
        q = {
            "cpu_p": f"quantile_over_time({w.cpu_quantile}, {cpu}[{win}])",
            "cpu_max": f"max_over_time({cpu}[{win}])",
            "cpu_n": f"count_over_time({cpu}[{win}])",
            "mem_max": f"max_over_time({mem}[{win}])",
            "mem_n": f"count_over_time({mem}[{win}])",
            # several mount points: the fullest counts, and the count of the best-covered one
            "disk_last": f"max by ({lb}) (last_over_time({disk}[{win}]))",
            "disk_max": f"max by ({lb}) (max_over_time({disk}[{win}]))",
            "disk_n": f"max by ({lb}) (count_over_time({disk}[{win}]))",
            "recent_p": f"quantile_over_time({w.cpu_quantile}, {cpu}[{recent}])",
            "recent_n": f"count_over_time({cpu}[{recent}])",
        }
        out = {k: self._instant(expr, at_e) for k, expr in q.items()}
        daily: dict[str, list[float]] = {}
        if day_ends:
            result = self._get("/api/v1/query_range", {
                "query": f"max_over_time({mem}[1d])", "start": str(day_ends[0]), "end": str(day_ends[-1]),
                "step": "86400"})
            wanted = set(day_ends)
            for r in result:
                sid = r["metric"].get(lb)
                daily[sid] = [float(v) for t, v in r["values"] if int(float(t)) in wanted]
        out["daily"] = daily
        return out

    def summaries(self, servers: list[Server], at: datetime, settings: Settings) -> list[UsageSummary]:
        """One summary per server, in the order given."""
        tz = settings.tz
        w = settings.window
        at_e = int(at.timestamp())
        ws_e = at_e - w.days * 86400
        # Daily maxima are evaluated at each local midnight inside the window (and at its end).
        first = datetime.fromtimestamp(ws_e, tz).date() + timedelta(days=1)
        day_ends = []
        d = first
        while (e := int(datetime(d.year, d.month, d.day, tzinfo=tz).timestamp())) <= at_e:
            day_ends.append(e)
            d += timedelta(days=1)

        def query(shard: list[str]) -> dict[str, dict]:
            res = self._shard(shard, at, settings, day_ends)
            return dict.fromkeys(shard, res)  # the shard's answers are keyed by server inside

        results, errors = run_sharded([s.server_id for s in servers], self.cfg.shard_size, self.cfg.concurrency,
                                      query, PrometheusError, self.stats)
        return [build_summary(s, results.get(s.server_id), errors.get(s.server_id), at, ws_e, settings)
                for s in servers]


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
    import numpy as np  # here, not at the top: the settings import this module, and the agent imports those

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
