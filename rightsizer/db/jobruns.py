"""The daemon's job periods: one row per attempt at a scheduled period.

A period is done when one of its rows says ``ok``. A row left ``running`` by a process
that died is simply not done: the period runs again at the next start (catch-up).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .schema import job_runs


@dataclass(frozen=True)
class JobRun:
    id: int
    job: str
    period: datetime  # the scheduled time the run belongs to
    started: datetime
    finished: datetime | None
    outcome: str
    detail: str


def start(conn: Connection, job: str, period: datetime, started: datetime, pid: int) -> int:
    return conn.execute(job_runs.insert().values(job=job, period=period, started=started, outcome="running",
                                                 detail="", pid=pid)).inserted_primary_key[0]


def finish(conn: Connection, run_id: int, finished: datetime, outcome: str, detail: str) -> None:
    conn.execute(job_runs.update().where(job_runs.c.id == run_id).values(finished=finished, outcome=outcome,
                                                                       detail=detail[:2000]))


def done(conn: Connection, job: str, period: datetime) -> bool:
    """Whether ``period`` of ``job`` has finished successfully."""
    q = sa.select(job_runs.c.id).where(job_runs.c.job == job, job_runs.c.period == period,
                                       job_runs.c.outcome == "ok").limit(1)
    return conn.execute(q).first() is not None


def last(conn: Connection) -> dict[str, dict[str, JobRun]]:
    """Per job, its newest run of each outcome (``ok``, ``failed``, ``running``): what /metrics starts from."""
    newest = sa.select(sa.func.max(job_runs.c.id)).group_by(job_runs.c.job, job_runs.c.outcome)
    rows = conn.execute(sa.select(job_runs).where(job_runs.c.id.in_(newest))).all()
    out: dict[str, dict[str, JobRun]] = {}
    for r in rows:
        out.setdefault(r.job, {})[r.outcome] = JobRun(r.id, r.job, r.period, r.started, r.finished, r.outcome,
                                                      r.detail)
    return out


def history(conn: Connection, job: str | None = None) -> list[JobRun]:
    q = sa.select(job_runs).order_by(job_runs.c.id)
    if job:
        q = q.where(job_runs.c.job == job)
    return [JobRun(r.id, r.job, r.period, r.started, r.finished, r.outcome, r.detail) for r in conn.execute(q)]


def prune(conn: Connection, before: datetime) -> int:
    """Delete rows started before ``before``, keeping each job's newest ok row; how many."""
    keep = sa.select(sa.func.max(job_runs.c.id)).where(job_runs.c.outcome == "ok").group_by(job_runs.c.job)
    res = conn.execute(job_runs.delete().where(job_runs.c.started < before, job_runs.c.id.not_in(keep)))
    return res.rowcount
