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
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from rightsizer.errors import SourceError
from rightsizer.models import Server, UsageSummary

from .config import PrometheusSettings
from .tsdb import RequestStats, build_summary, run_sharded

if TYPE_CHECKING:
    from rightsizer.settings import Settings


class PrometheusError(SourceError):
    pass


def _error_of(exc: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(exc.read()).get("error", ""))[:300]
    except (ValueError, OSError, AttributeError):
        return exc.reason if isinstance(exc.reason, str) else ""


class PrometheusCollector:
    def __init__(self, cfg: PrometheusSettings, settings: Settings | None = None):
        self.cfg = cfg
        self.where = cfg.url
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
