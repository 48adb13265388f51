"""Counts for ``/metrics``: open findings, notices, the outbox — read at each scrape (the money is the
reports' computation)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .schema import deliveries, findings, notices


def findings_by_kind(conn: Connection) -> dict[tuple[str, str], int]:
    """(kind, department) -> open findings."""
    q = (sa.select(findings.c.kind, findings.c.department, sa.func.count()).where(findings.c.status == "open")
         .group_by(findings.c.kind, findings.c.department))
    return {(k, d): n for k, d, n in conn.execute(q)}


def notices_by_state(conn: Connection) -> dict[str, int]:
    q = sa.select(notices.c.status, sa.func.count()).group_by(notices.c.status)
    return dict(conn.execute(q).all())


def deliveries_by_channel(conn: Connection) -> dict[tuple[str, str], tuple[int, int]]:
    """(channel, status) -> (deliveries, attempts that did not succeed)."""
    failed = sa.func.sum(deliveries.c.attempts - sa.case((deliveries.c.status == "sent", 1), else_=0))
    q = (sa.select(deliveries.c.channel, deliveries.c.status, sa.func.count(), failed)
         .group_by(deliveries.c.channel, deliveries.c.status))
    return {(c, s): (n, int(f or 0)) for c, s, n, f in conn.execute(q)}


def outbox_due(conn: Connection, now: float) -> tuple[int, int, float | None]:
    """(pending deliveries, of which due now, the earliest due time of those) — the relay's backlog."""
    pending = conn.execute(sa.select(sa.func.count()).where(deliveries.c.status == "pending")).scalar()
    due, oldest = conn.execute(sa.select(sa.func.count(), sa.func.min(deliveries.c.next_attempt_at)).where(
        deliveries.c.status == "pending", deliveries.c.next_attempt_at <= now)).one()
    return pending, due, oldest
