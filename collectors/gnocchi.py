"""Gnocchi (OpenStack Telemetry) usage through the openstacksdk session: CPU and memory.

For each shard of servers, one ``POST /v1/aggregates?groupby=id`` per metric asks
Gnocchi for the series already aggregated at the archive granularity:

* CPU: ``(aggregate rate:mean (metric cpu mean))`` — nanoseconds of CPU time per
  granularity period, turned into percent of the server's vCPUs;
* memory: ``(aggregate mean (metric memory.usage mean))`` — MB in use, turned into
  percent of the server's RAM.

Gnocchi computes the rates and the per-period means; the window statistics (p95, daily
peaks) are then computed with numpy over those few thousand points per server — Gnocchi
has no quantile over time. Gnocchi has no in-guest disk use (``disk.usage`` is the image
file on the host), so disk stays *unknown*: coverage counts CPU and memory only, and no
disk decision is made (run the in-guest agent for disk). A shard whose request fails
leaves its servers ``insufficient_data`` with the error recorded.

Configuration example::

    [metrics]
    source = "gnocchi"
    [metrics.gnocchi]
    granularity_seconds = 300
    cpu_metric = "cpu"
    memory_metric = "memory.usage"
"""

from __future__ import annotations

import warnings
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from rightsizer.errors import SourceError
from rightsizer.models import Server, UsageSummary

from .config import GnocchiSettings, OpenStackSettings
from .session import OpenStackError, connect
from .tsdb import RequestStats, run_sharded

if TYPE_CHECKING:
    from rightsizer.settings import Settings


class GnocchiError(SourceError):
    pass


def _series(doc) -> dict[str, list]:
    """groupby answer -> {resource id: [[timestamp, granularity, value], ...]}."""
    out: dict[str, list] = {}
    for group in doc if isinstance(doc, list) else []:
        rid = (group.get("group") or {}).get("id")
        measures = group.get("measures") or {}
        points = (measures.get("measures") or measures).get("aggregated", [])
        if rid:
            out[rid] = points
    return out


class GnocchiCollector:
    """Built with the connection of ``[inventory.openstack]`` (its ``cloud``), or one given."""

    def __init__(self, cfg: GnocchiSettings, settings: Settings | None = None, conn=None):
        ocfg = settings.inventory.openstack if settings is not None else OpenStackSettings()
        if conn is None:
            try:
                conn = connect(ocfg)
            except OpenStackError as exc:
                raise GnocchiError(f"gnocchi: {exc}") from None
        self.conn, self.cfg = conn, cfg
        self.where = ocfg.cloud or "OS_CLOUD"
        self.stats = RequestStats()

    def _aggregate(self, operations: str, ids: list[str], start: datetime, stop: datetime) -> dict[str, list]:
        from keystoneauth1 import exceptions as ksexc

        c = self.cfg
        params = {"groupby": "id", "granularity": str(c.granularity_seconds), "details": "false",
                  "start": start.isoformat(), "stop": stop.isoformat(), "fill": "dropna"}
        body = {"operations": operations, "resource_type": c.resource_type, "search": {"in": {"id": ids}}}
        self.stats.requests += 1
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", PendingDeprecationWarning)
                resp = self.conn.session.post("/v1/aggregates", params=params, json=body, raise_exc=False,
                                              endpoint_filter={"service_type": "metric", "interface": "public"},
                                              timeout=c.timeout_seconds)
        except ksexc.ClientException as exc:
            raise GnocchiError(f"{type(exc).__name__}") from None
        self.stats.bytes_received += len(resp.content)
        if resp.status_code != 200:
            raise GnocchiError(f"HTTP {resp.status_code} from /v1/aggregates")
        try:
            return _series(resp.json())
        except ValueError:
            raise GnocchiError("bad answer from /v1/aggregates") from None

    def summaries(self, servers: list[Server], at: datetime, settings: Settings) -> list[UsageSummary]:
        import numpy as np  # imported here: the settings (and so the agent) import this module's model

        from rightsizer.summaries import SampleGrid, summarise

        c = self.cfg
        step = c.granularity_seconds
        settings = settings.model_copy(update={"window": settings.window.model_copy(update={"step_seconds": step})})
        slots = settings.window.days * 86400 // step
        start_e = (int(at.timestamp()) - slots * step) // step * step
        start, stop = datetime.fromtimestamp(start_e, UTC), at.astimezone(UTC)
        by_id = {s.server_id: s for s in servers}
        grid = SampleGrid.empty([s.server_id for s in servers], start_e, step, slots + 1)
        row = {sid: i for i, sid in enumerate(grid.server_ids)}

        def query(shard: list[str]) -> dict[str, dict]:
            cpu = self._aggregate(f"(aggregate rate:mean (metric {c.cpu_metric} mean))", shard, start, stop)
            mem = self._aggregate(f"(aggregate mean (metric {c.memory_metric} mean))", shard, start, stop)
            return {sid: {"cpu": cpu.get(sid, []), "mem": mem.get(sid, [])} for sid in shard}

        results, errors = run_sharded(list(by_id), c.shard_size, c.concurrency, query, GnocchiError, self.stats)
        for sid, res in results.items():
            s = by_id[sid]
            for metric, scale in (("cpu", 100.0 / (step * 1e9 * s.size.vcpus)),
                                  ("mem", 100.0 / (s.size.ram_gib * 1024))):
                pts = [(p[0], p[2]) for p in res[metric] if p[2] is not None]
                if not pts:
                    continue
                # Gnocchi stamps a period by its start; the grid keeps the sample where it was taken
                ts = np.array([int(datetime.fromisoformat(t).timestamp()) for t, _ in pts], np.int64)
                vals = np.clip(np.array([v for _, v in pts], np.float64) * scale, 0, 100)
                cols = (ts - start_e) // step
                ok = (cols >= 0) & (cols < grid.slots)
                getattr(grid, metric)[row[sid], cols[ok]] = vals[ok].astype(np.float32)
        out = summarise(grid, servers, at, settings, measured=("cpu", "mem"))
        return [x if x.server_id not in errors else _failed(x, errors[x.server_id]) for x in out]


def _failed(summary: UsageSummary, error: str) -> UsageSummary:
    from dataclasses import replace

    return replace(summary, source_error=error)
