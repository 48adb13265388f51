"""Evaluation: inventory + usage source → summaries → policies → findings in the store.

The one orchestration of the CLI, the daemon and the demo (:func:`evaluate`). The inventory
comes from a CSV file, OpenStack, or is given (the demo's simulated city); usage from a samples
CSV or a given sample grid (summarised here with numpy) or a registered collector
(``collectors.REGISTRY``: the statistics are pushed down to the TSDB). Each server's resize
history comes from the store, so only samples of its current size are judged. Only a clean
evaluation reaches the store, in one transaction, and the store is opened only once the input
has been read and found clean. A run is identified by what changes the judgement
(:func:`rightsizer.engine.run_key`), so the same input twice adds nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import collectors

from .. import engine
from ..calendar import WorkCalendar
from ..db import Store
from ..db import inventory as db_inventory
from ..db import runs as db_runs
from ..engine import Evaluation
from ..errors import UsageError
from ..format import count
from ..models import Server
from ..settings import Settings
from ..summaries import SampleGrid


@dataclass(frozen=True)
class Sources:
    """Where an evaluation reads from."""

    inventory: Path | None = None  # inventory CSV; None = OpenStack
    cloud: str | None = None  # clouds.yaml entry for OpenStack (and Gnocchi)
    samples: Path | None = None  # samples CSV; None = a collector
    usage: str | None = None  # a collectors.REGISTRY name; None = [metrics] source
    usage_url: str = ""  # overrides the collector's configured url
    catalogue: Path | None = None  # registered systems; None = [catalogue] file
    # Or given, not read: an inventory and a sample grid (the demo's simulated city), named and identified
    servers: list[Server] | None = None
    grid: SampleGrid | None = None
    given: tuple[str, str] = ("", "")  # (source name, digest) of what was given
    # When each server last changed size, from the store (called once the input has been read and found
    # clean, so bad input never opens a store): see :func:`resize_history`
    history: Callable[[list[Server], datetime], dict[str, datetime]] | None = None


@dataclass
class Prepared:
    """An evaluation read and judged, not yet recorded."""

    evaluation: Evaluation
    source: str
    digest: str
    warnings: list[str] = field(default_factory=list)
    csv_inventory: bool = False  # recorded as an inventory sync too (change detection without OpenStack)
    source_errors: int = 0  # distinct errors of the usage source (its servers are insufficient_data)


@dataclass
class EvaluateResult:
    evaluation: Evaluation
    run_id: int
    source: str
    warnings: list[str] = field(default_factory=list)
    source_errors: int = 0


def window_end(now: datetime, settings: Settings) -> datetime:
    """``now`` rounded down to the sample step: the default end of the window."""
    step = settings.window.step_seconds
    return datetime.fromtimestamp(int(now.timestamp()) // step * step, settings.tz)


def evaluate(store: Store | Callable[[], Store], settings: Settings, calendar: WorkCalendar, at: datetime,
             sources: Sources, history: bool = True) -> EvaluateResult:
    """Read, judge and record: :func:`prepare` then :func:`record`. ``store`` may be a function that opens it,
    called only once the input is clean; ``history=False`` when there is no store yet to read history from."""
    opened: list[Store] = []

    def the_store() -> Store:
        if not opened:
            opened.append(store() if callable(store) else store)
        return opened[0]

    if sources.history is None and history:
        sources = replace(sources, history=lambda servers, t: resize_history(the_store(), servers, t))
    p = prepare(settings, calendar, at, sources)
    run_id = record(the_store(), p.evaluation, p.source, p.digest, settings, calendar, p.csv_inventory)
    return EvaluateResult(p.evaluation, run_id, p.source, p.warnings, p.source_errors)


def resize_history(store: Store, servers: list[Server], at: datetime) -> dict[str, datetime]:
    """When each server got its current size: the last resize a sync saw, or ``at`` when the size now
    given differs from the last recorded one (it changed since; its older samples are another size's)."""
    with store.read() as conn:
        last, sizes = db_inventory.last_resized(conn), db_inventory.current_sizes(conn)
    out = {}
    for s in servers:
        if s.server_id in sizes and sizes[s.server_id] != s.size:
            out[s.server_id] = at
        elif s.server_id in last:
            out[s.server_id] = last[s.server_id]
    return out


def _with_history(servers: list[Server], sources: Sources, at: datetime) -> list[Server]:
    if sources.history is None:
        return servers
    seen = sources.history(servers, at)
    return [replace(s, resized_at=max(filter(None, (s.resized_at, seen.get(s.server_id)))))
            if seen.get(s.server_id) else s for s in servers]


def prepare(settings: Settings, calendar: WorkCalendar, at: datetime, sources: Sources) -> Prepared:
    """Read the sources and apply the policies; touches no store (bad input leaves none behind)."""
    from collectors.csv_import import read_catalogue, read_inventory, read_samples

    from .inventory import read_cloud

    warnings: list[str] = []
    cat_file = sources.catalogue or settings.catalogue.file
    catalogue = read_catalogue(cat_file) if cat_file else None
    if sources.servers is not None:
        servers = list(sources.servers)
        inv_source, inv_digest = sources.given
    elif sources.inventory is None:
        inv = read_cloud(settings, sources.cloud)
        warnings += inv.warnings
        servers = [c.server for c in inv.servers]
        inv_source, inv_digest = inv.source, text_digest(repr(servers))
    else:
        servers = read_inventory(sources.inventory, settings.tz)
        inv_source, inv_digest = f"csv:{sources.inventory}", file_digest(sources.inventory)
    if cat_file:
        inv_digest += ":" + file_digest(cat_file)
    future = [s for s in servers if s.delivered_at > at]
    if future:
        warnings.append(f"{len(future)} of {count(len(servers), 'server')} were delivered after {at.isoformat()} "
                        f"(e.g. {future[0].server_id} on {future[0].delivered_at.isoformat()}): "
                        "check --at and delivered_at")
    if sources.grid is not None:  # given: its name and digest are the inventory's (one simulated city)
        servers = _with_history(servers, sources, at)
        ev = engine.evaluate(servers, sources.grid, at, settings, calendar, catalogue)
        source, digest, errors = inv_source, inv_digest, 0
    elif sources.samples is not None:
        step, days = settings.window.step_seconds, settings.window.days
        slots = days * 86400 // step
        start = (int(at.timestamp()) - slots * step) // step * step
        grid = read_samples(sources.samples, servers, settings.tz, start, step, slots + 1, warnings)
        servers = _with_history(servers, sources, at)
        ev = engine.evaluate(servers, grid, at, settings, calendar, catalogue)
        source, digest = f"{inv_source},csv:{sources.samples}", inv_digest + ":" + file_digest(sources.samples)
        errors = 0
    else:
        kind = sources.usage or settings.metrics.source
        if kind == "none":
            raise UsageError("no usage source: give --samples, " + ", ".join(
                f"--{n} [URL]" if p.takes_url else f"--{n}" for n, p in collectors.REGISTRY.items())
                + ", or set [metrics] source in the configuration")
        cfg = getattr(settings.metrics, kind)
        if sources.usage_url and collectors.REGISTRY[kind].takes_url:
            cfg = cfg.model_copy(update={"url": sources.usage_url})
        csettings = settings  # the collector's view: --cloud picks the clouds.yaml entry
        if sources.cloud:
            csettings = settings.model_copy(update={"inventory": settings.inventory.model_copy(update={
                "openstack": settings.inventory.openstack.model_copy(update={"cloud": sources.cloud})})})
        collector = collectors.collector_class(kind)(cfg, csettings)
        servers = _with_history(servers, sources, at)
        ev = engine.evaluate_summaries(servers, collector.summaries(servers, at, settings), at, settings, calendar,
                                       catalogue)
        source, digest = f"{inv_source},{kind}:{collector.where}", f"{inv_digest}:{kind}:{collector.where}"
        warnings += [f"{kind}: {err} (its servers are insufficient_data in this run)"
                     for err in sorted(set(collector.stats.errors))]
        errors = len(set(collector.stats.errors))
    warnings += held_deployments(ev.servers, at, settings, calendar)
    return Prepared(ev, source, digest, warnings,
                    csv_inventory=sources.inventory is not None or sources.servers is not None, source_errors=errors)


def held_deployments(servers: list[Server], at: datetime, settings: Settings, calendar: WorkCalendar) -> list[str]:
    """Servers whose deployment deadline falls in a year the calendar does not know: judged as still deploying
    (held), said once per year — the city's evaluation goes on."""
    from policies.undeployed import deploy_deadline

    from ..errors import CalendarError

    held: dict[int, list[str]] = {}
    recent = 7 * settings.policy.undeployed.workdays
    for s in servers:
        if (at - s.delivered_at).days > recent:
            continue
        try:
            deploy_deadline(s, settings, calendar)
        except CalendarError as exc:
            year = int(next((w for w in str(exc).split() if w.isdigit() and len(w) == 4), "0"))
            held.setdefault(year, []).append(s.server_id)
    return [f"{len(ids)} server(s) delivered lately (e.g. {ids[0]}) have a deployment deadline in {year}, which the "
            f"working-day calendar does not cover: their deadline is held (judged as still deploying) until "
            f"[calendar] overrides has [years.{year}]（部署期限落在{year}年，日历尚无该年节假日安排，暂缓判定）"
            for year, ids in sorted(held.items())]


def record(store: Store, ev: Evaluation, source: str, source_digest: str, settings: Settings,
           calendar: WorkCalendar | None = None, csv_inventory: bool = False) -> int:
    """Write one evaluation (servers, summaries, findings) in one transaction; the run id.

    A server whose ``undeployed`` finding is open and that is idle now stays ``undeployed``. A CSV (or given)
    inventory is recorded as an inventory sync too (added, resized, removed), the first time this run is
    recorded: a centre without OpenStack sees rectification verified by the next sweep."""
    from policies.undeployed import carry

    key = engine.run_key(source_digest, ev.at, settings, calendar or WorkCalendar(settings.calendar.overrides))
    with store.begin() as conn:
        if csv_inventory and not db_runs.run_exists(conn, key):
            db_inventory.record_sync(conn, source.split(",")[0], ev.at,
                                     [(s, None, "ACTIVE") for s in ev.servers])
        ev.findings = carry(ev.findings, db_runs.open_servers_of_kind(conn, "undeployed"))  # what is printed too
        return db_runs.record_run(conn, key, source, ev.at, ev.servers, ev.summaries, ev.findings)


def file_digest(*paths) -> str:
    h = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        h.update(b"\0")
    return h.hexdigest()


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
