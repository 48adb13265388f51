"""InfluxDB 2 (and 1.8 in compatibility mode) collector: Flux with the aggregation pushed down.

For each shard of server ids one Flux script runs on the server and yields only
statistics — ``quantile``, ``max``, ``count``, ``last`` over the window, the daily
memory maxima with ``aggregateWindow(every: 1d, fn: max)`` aligned to local midnight,
and the CPU quantile over the release look-back. Results are read with ``query_raw``
as annotated CSV (DataFrames are slow for this) and parsed here. The data layout is
the agent's: measurement ``rightsizer``, fields ``cpu_utilization_pct``,
``memory_utilization_pct``, ``disk_utilization_pct``, tags ``server_id`` and ``mountpoint``.

A shard whose query fails leaves its servers without data: ``insufficient_data``
with the error recorded, never idle.

InfluxDB 1.8 (``/api/v2/query`` compatibility endpoint, Flux enabled): ``bucket =
"database/retention_policy"``, ``org = "-"``, and a token of ``user:password``.

Quantiles use Flux's ``exact_mean`` method; Prometheus and numpy interpolate linearly,
so a p95 can differ slightly between the sources (not the maxima, counts or latest values).

Configuration example::

    [metrics]
    source = "influxdb"
    [metrics.influxdb]
    url = "http://127.0.0.1:8086"
    org = "bigdata"
    bucket = "rightsizer"
    token = { env = "RIGHTSIZER_INFLUX_TOKEN" }   # or { file = "…" }; never the token itself
"""

from __future__ import annotations

import csv
import io
import json
import threading
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from rightsizer.errors import SourceError
from rightsizer.models import Server, UsageSummary

from .config import InfluxDBSettings
from .tsdb import RequestStats, build_summary, run_sharded

if TYPE_CHECKING:
    from rightsizer.settings import Settings


class InfluxError(SourceError):
    pass


def _flux_str(v: str) -> str:
    return json.dumps(v, ensure_ascii=False)  # a JSON string is a valid Flux string literal


def _rfc3339(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def flux_for_shard(cfg: InfluxDBSettings, ids: list[str], at: datetime, settings: Settings) -> str:
    """The Flux script for one shard: only statistics come back, never raw points."""
    w = settings.window
    at_e = int(at.timestamp())
    ws_e = at_e - w.days * 86400
    recent_e = at_e - settings.policy.release.days * 86400
    offset = int(at.astimezone(settings.tz).utcoffset().total_seconds())
    # Prometheus' [30d] at `at` is (at-30d, at]; Flux's range is [start, stop).
    start, stop, recent = _rfc3339(ws_e + 1), _rfc3339(at_e + 1), _rfc3339(recent_e + 1)
    tag = cfg.server_tag
    day_offset = f"{(-offset) % 86400}s"  # windows start at local midnight
    return f"""ids = [{", ".join(_flux_str(i) for i in ids)}]
base = from(bucket: {_flux_str(cfg.bucket)})
  |> range(start: {start}, stop: {stop})
  |> filter(fn: (r) => r._measurement == {_flux_str(cfg.measurement)} and contains(value: r.{tag}, set: ids))
cpu = base |> filter(fn: (r) => r._field == {_flux_str(cfg.cpu_field)}) |> group(columns: ["{tag}"])
mem = base |> filter(fn: (r) => r._field == {_flux_str(cfg.memory_field)}) |> group(columns: ["{tag}"])
disk = base |> filter(fn: (r) => r._field == {_flux_str(cfg.disk_field)}) |> group(columns: ["{tag}", "mountpoint"])
recent = cpu |> range(start: {recent}, stop: {stop})
cpu |> quantile(q: {w.cpu_quantile}, method: "exact_mean") |> yield(name: "cpu_p")
cpu |> max() |> yield(name: "cpu_max")
cpu |> count() |> yield(name: "cpu_n")
mem |> max() |> yield(name: "mem_max")
mem |> count() |> yield(name: "mem_n")
mem |> aggregateWindow(every: 1d, offset: {day_offset}, fn: max, createEmpty: false) |> yield(name: "daily")
disk |> last() |> group(columns: ["{tag}"]) |> max() |> yield(name: "disk_last")
disk |> max() |> group(columns: ["{tag}"]) |> max() |> yield(name: "disk_max")
disk |> count() |> group(columns: ["{tag}"]) |> max() |> yield(name: "disk_n")
recent |> quantile(q: {w.cpu_quantile}, method: "exact_mean") |> yield(name: "recent_p")
recent |> count() |> yield(name: "recent_n")
"""


def parse_annotated_csv(text: str, tag: str) -> dict[str, dict[str, list[float]]]:
    """Annotated CSV -> {result name: {server id: [values in row order]}}.

    Each table group starts with ``#datatype``/``#group``/``#default`` annotation rows and a
    header; empty cells take the ``#default`` value (InfluxDB puts the result name there).
    An error table (columns ``error``, ``reference``) raises :class:`InfluxError`.
    """
    out: dict[str, dict[str, list[float]]] = {}
    header: list[str] | None = None
    defaults: list[str] = []
    for row in csv.reader(io.StringIO(text)):
        if not row or all(c == "" for c in row):
            header, defaults = None, []  # a blank line ends a table group
            continue
        if row[0].startswith("#"):
            if row[0] == "#default":
                defaults = row
            header = None
            continue
        if header is None:
            header = row
            continue
        rec = {h: (v if v != "" or i >= len(defaults) else defaults[i]) for i, (h, v) in enumerate(zip(header, row))}
        if "error" in header and "_value" not in header:
            raise InfluxError(f"query error: {rec.get('error', '')[:300]}")
        sid, value = rec.get(tag), rec.get("_value", "")
        if sid is None or value == "":
            continue
        out.setdefault(rec.get("result") or "_result", {}).setdefault(sid, []).append(float(value))
    return out


class InfluxDBCollector:
    def __init__(self, cfg: InfluxDBSettings, settings: Settings | None = None):
        self.cfg = cfg
        self.where = cfg.url
        self.stats = RequestStats()
        self._lock = threading.Lock()
        try:
            from influxdb_client import InfluxDBClient
        except ImportError:  # pragma: no cover
            raise InfluxError("influxdb-client is not installed: pip install 'rightsizer[influxdb]'") from None
        self._client = InfluxDBClient(url=cfg.url, token=cfg.token_value(), org=cfg.org,
                                      timeout=int(cfg.timeout_seconds * 1000), retries=0)
        self._query = self._client.query_api()

    def close(self) -> None:
        self._client.close()

    def _run(self, flux: str) -> str:
        from influxdb_client.rest import ApiException

        with self._lock:
            self.stats.requests += 1
        try:
            resp = self._query.query_raw(flux, org=self.cfg.org)
            raw = resp.data if hasattr(resp, "data") else resp.read()
        except ApiException as exc:
            msg = ""
            try:
                msg = json.loads(exc.body or "{}").get("message", "")
            except (ValueError, AttributeError):
                pass
            raise InfluxError(f"HTTP {exc.status} from /api/v2/query: {msg[:300]}") from None
        except Exception as exc:  # noqa: BLE001 - urllib3 raises many kinds; all mean "no data this run"
            raise InfluxError(f"/api/v2/query: {type(exc).__name__}") from None
        with self._lock:
            self.stats.bytes_received += len(raw)
        return raw.decode("utf-8")

    def summaries(self, servers: list[Server], at: datetime, settings: Settings) -> list[UsageSummary]:
        """One summary per server, in the order given."""

        def query(shard: list[str]) -> dict[str, dict]:
            parsed = parse_annotated_csv(self._run(flux_for_shard(self.cfg, shard, at, settings)), self.cfg.server_tag)
            out = {}
            for sid in shard:
                res = {k: {sid: v[sid][-1]} for k, v in parsed.items() if k != "daily" and sid in v}
                res["daily"] = {sid: parsed.get("daily", {}).get(sid, [])}
                out[sid] = res
            return out

        results, errors = run_sharded([s.server_id for s in servers], self.cfg.shard_size, self.cfg.concurrency,
                                      query, InfluxError, self.stats)
        ws_e = int(at.timestamp()) - settings.window.days * 86400
        return [build_summary(s, results.get(s.server_id), errors.get(s.server_id), at, ws_e, settings)
                for s in servers]
