"""What the console and its API read, scoped by department in the query itself.

Every function takes ``department``: ``None`` reads the whole city (the centre's operators,
finance), a name reads that department's rows only. A row of another department is never
fetched, so it cannot be shown by mistake: the caller gets ``None`` (a 404), not a row to
filter out.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .schema import (deliveries, departments, exemptions, findings, notice_events, notice_items, notices, runs,
                     servers, summaries, systems)


def _scoped(q, column, department: str | None):
    return q if department is None else q.where(column == department)


def server_rows(conn: Connection, department: str | None, limit: int | None = None, offset: int = 0) -> list:
    q = (sa.select(servers.c.server_id, servers.c.name, departments.c.name.label("department"),
                   systems.c.name.label("system"), servers.c.vcpus, servers.c.ram_gib, servers.c.disk_gib,
                   servers.c.delivered_at)
         .join(departments, departments.c.id == servers.c.department_id)
         .join(systems, systems.c.id == servers.c.system_id)
         .order_by(departments.c.name, systems.c.name, servers.c.name))
    q = _scoped(q, departments.c.name, department)
    if limit is not None:
        q = q.limit(limit).offset(offset)
    return conn.execute(q).all()


def server_row(conn: Connection, server_id: str, department: str | None):
    q = (sa.select(servers.c.server_id, servers.c.name, departments.c.name.label("department"),
                   systems.c.name.label("system"), servers.c.vcpus, servers.c.ram_gib, servers.c.disk_gib,
                   servers.c.delivered_at)
         .join(departments, departments.c.id == servers.c.department_id)
         .join(systems, systems.c.id == servers.c.system_id).where(servers.c.server_id == server_id))
    return conn.execute(_scoped(q, departments.c.name, department)).first()


def finding_rows(conn: Connection, department: str | None, server_id: str | None = None,
                 status: str = "open") -> list:
    q = sa.select(findings.c.id, findings.c.server_id, findings.c.department, findings.c.kind, findings.c.dimension,
                  findings.c.status, findings.c.monthly_saving_cny, findings.c.detail).where(
        findings.c.status == status).order_by(findings.c.department, findings.c.server_id, findings.c.id)
    if server_id is not None:
        q = q.where(findings.c.server_id == server_id)
    return conn.execute(_scoped(q, findings.c.department, department)).all()


def summary_history(conn: Connection, server_id: str, limit: int = 400) -> list:
    """(at, cpu_p95_pct, memory_peak_pct, disk_latest_pct, coverage) of the server at each run, oldest first."""
    q = (sa.select(runs.c.at, summaries.c.cpu_p95_pct, summaries.c.memory_peak_pct, summaries.c.disk_latest_pct,
                   summaries.c.coverage)
         .join(runs, runs.c.id == summaries.c.run_id).where(summaries.c.server_id == server_id)
         .order_by(runs.c.id.desc()).limit(limit))
    return list(reversed(conn.execute(q).all()))


def notice_rows(conn: Connection, department: str | None) -> list:
    q = sa.select(notices).order_by(notices.c.id.desc())
    return conn.execute(_scoped(q, notices.c.department, department)).all()


def notice_row(conn: Connection, notice_id: int, department: str | None):
    q = sa.select(notices).where(notices.c.id == notice_id)
    return conn.execute(_scoped(q, notices.c.department, department)).first()


def notice_by_number(conn: Connection, number: str, department: str | None):
    q = sa.select(notices).where(notices.c.number == number)
    return conn.execute(_scoped(q, notices.c.department, department)).first()


def item_rows(conn: Connection, notice_id: int) -> list:
    q = (sa.select(notice_items, findings.c.detail, findings.c.monthly_saving_cny)
         .join(findings, findings.c.id == notice_items.c.finding_id)
         .where(notice_items.c.notice_id == notice_id).order_by(notice_items.c.id))
    return conn.execute(q).all()


def event_rows(conn: Connection, notice_id: int) -> list:
    return conn.execute(sa.select(notice_events).where(notice_events.c.notice_id == notice_id)
                        .order_by(notice_events.c.id)).all()


def delivery_rows(conn: Connection, notice_id: int) -> list:
    q = sa.select(deliveries.c.id, deliveries.c.channel, deliveries.c.purpose, deliveries.c.status,
                  deliveries.c.attempts, deliveries.c.sent_at).where(deliveries.c.notice_id == notice_id)
    return conn.execute(q.order_by(deliveries.c.id)).all()


def exemption_rows(conn: Connection, department: str | None) -> list:
    """Exemptions with the department they belong to (of the server, or of the system)."""
    by_server = (sa.select(exemptions, departments.c.name.label("department"))
                 .join(servers, sa.and_(exemptions.c.scope == "server", servers.c.server_id == exemptions.c.target))
                 .join(departments, departments.c.id == servers.c.department_id))
    by_system = (sa.select(exemptions, departments.c.name.label("department"))
                 .join(systems, sa.and_(exemptions.c.scope == "system", systems.c.name == exemptions.c.target))
                 .join(departments, departments.c.id == systems.c.department_id))
    rows = [*conn.execute(_scoped(by_server, departments.c.name, department)),
            *conn.execute(_scoped(by_system, departments.c.name, department))]
    seen, out = set(), []
    for r in sorted(rows, key=lambda r: -r.id):
        if r.id not in seen:
            seen.add(r.id)
            out.append(r)
    return out


def department_names(conn: Connection) -> list[str]:
    return list(conn.execute(sa.select(departments.c.name).order_by(departments.c.name)).scalars())


def last_run_at(conn: Connection) -> str | None:
    """When the newest evaluation was (the demo console's clock)."""
    return conn.execute(sa.select(sa.func.max(runs.c.at))).scalar()
