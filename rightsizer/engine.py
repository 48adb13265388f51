"""The pure pipeline: inventory + samples (or summaries) -> policies -> findings.

No I/O and no clock (``at`` is passed in); :mod:`rightsizer.jobs.evaluate` reads the
sources and records the result in the store.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from policies import evaluate_server
from policies.unregistered import find_unregistered

from .calendar import WorkCalendar
from .models import Finding, RegisteredSystem, Server, UsageSummary
from .settings import Settings
from .summaries import SampleGrid, summarise


@dataclass
class Evaluation:
    at: datetime
    servers: list[Server]
    summaries: list[UsageSummary]
    findings: list[Finding]


def evaluate(servers: list[Server], grid: SampleGrid, at: datetime, settings: Settings,
             calendar: WorkCalendar, catalogue: list[RegisteredSystem] | None = None) -> Evaluation:
    return evaluate_summaries(servers, summarise(grid, servers, at, settings), at, settings, calendar, catalogue)


def evaluate_summaries(servers: list[Server], sums: list[UsageSummary], at: datetime, settings: Settings,
                       calendar: WorkCalendar, catalogue: list[RegisteredSystem] | None = None) -> Evaluation:
    """Policies over summaries that a source has already computed (e.g. pushed down to Prometheus).

    With a ``catalogue`` (the registered systems), servers that map to none also get ``unregistered``.
    """
    found: list[Finding] = []
    for server, summary in zip(servers, sums):
        found.extend(evaluate_server(server, summary, at, settings, calendar))
    if catalogue is not None:
        found.extend(find_unregistered(servers, catalogue, settings))
    return Evaluation(at, servers, sums, found)


JUDGEMENT = ("timezone", "window", "policy", "sizing", "prices")  # the settings a finding depends on


def run_key(source_digest: str, at: datetime, settings: Settings, calendar: WorkCalendar) -> str:
    """Identity of a run: what changes the judgement — the input (inventory, samples or the source and its
    window), the time, the policies, the window, sizing, prices, the zone and the calendar. Nothing else of
    the configuration (the console's address, a department's email) makes it another run."""
    h = hashlib.sha256()
    for part in (source_digest, at.isoformat(), settings.model_dump_json(include=set(JUDGEMENT)),
                 calendar.fingerprint()):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()
