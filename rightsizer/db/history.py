"""The recorded history the finance reports are computed from, as plain rows.

Each function returns ``(columns, rows)`` for one subject, read in one statement, so the
reports (:mod:`rightsizer.reports`, pandas) build a frame without a query of their own:
servers with their department and system; removals and resizes seen by inventory syncs;
findings with the times of the runs that first saw them and last touched them; notice
items; notices; notice events; the evaluation times; exemptions.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .schema import (cloud_servers, departments, exemptions, finding_values, findings, inventory_changes, notice_events, notice_items,
                     notices, runs, servers, systems)

Rows = tuple[list[str], list[tuple]]


def _rows(conn: Connection, q) -> Rows:
    result = conn.execute(q)
    return list(result.keys()), [tuple(r) for r in result]


def server_rows(conn: Connection) -> Rows:
    q = (sa.select(servers.c.server_id, servers.c.name, departments.c.name.label("department"),
                   systems.c.name.label("system"), servers.c.vcpus, servers.c.ram_gib, servers.c.disk_gib,
                   servers.c.delivered_at)
         .join(departments, departments.c.id == servers.c.department_id)
         .join(systems, systems.c.id == servers.c.system_id))
    return _rows(conn, q)


def removal_rows(conn: Connection) -> Rows:
    """(server_id, at) of servers the cloud no longer lists: when a sync last saw them go."""
    q = (sa.select(inventory_changes.c.server_id, sa.func.max(inventory_changes.c.at).label("at"))
         .join(cloud_servers, cloud_servers.c.server_id == inventory_changes.c.server_id)
         .where(inventory_changes.c.change == "removed", cloud_servers.c.present.is_(False))
         .group_by(inventory_changes.c.server_id))
    return _rows(conn, q)


def resize_rows(conn: Connection) -> Rows:
    """Every resize a sync saw, oldest first: (server_id, at, old_size, new_size) with sizes "v/ram/disk"."""
    q = (sa.select(inventory_changes.c.server_id, inventory_changes.c.at, inventory_changes.c.old_size,
                   inventory_changes.c.new_size)
         .where(inventory_changes.c.change == "resized").order_by(inventory_changes.c.id))
    return _rows(conn, q)


def finding_rows(conn: Connection, kinds: tuple[str, ...]) -> Rows:
    """Findings of ``kinds`` with ``first_at`` (the run that first saw it) and ``last_at`` (the last run that saw
    it open, or — when ``gone`` — the run that found it gone)."""
    first, last = runs.alias("first_run"), runs.alias("last_run")
    q = (sa.select(findings.c.id, findings.c.server_id, findings.c.department, findings.c.kind,
                   findings.c.dimension, findings.c.status, findings.c.monthly_saving_cny,
                   first.c.at.label("first_at"), last.c.at.label("last_at"))
         .join(first, first.c.id == findings.c.first_run_id).join(last, last.c.id == findings.c.last_run_id)
         .where(findings.c.kind.in_(kinds)))
    return _rows(conn, q)


def value_rows(conn: Connection) -> Rows:
    """Each finding's saving from each run that set it: (finding_id, at, monthly_saving_cny), oldest first."""
    q = (sa.select(finding_values.c.finding_id, runs.c.at, finding_values.c.monthly_saving_cny)
         .join(runs, runs.c.id == finding_values.c.run_id).order_by(finding_values.c.finding_id, runs.c.id))
    return _rows(conn, q)


def item_rows(conn: Connection) -> Rows:
    """Notice items with their notice's department and due date."""
    q = (sa.select(notice_items.c.id, notice_items.c.notice_id, notice_items.c.finding_id, notice_items.c.server_id,
                   notice_items.c.kind, notice_items.c.dimension, notice_items.c.status, notice_items.c.closed_at,
                   notice_items.c.realised_saving_cny, notices.c.department, notices.c.due_date, notices.c.number)
         .join(notices, notices.c.id == notice_items.c.notice_id))
    return _rows(conn, q)


def notice_rows(conn: Connection) -> Rows:
    q = sa.select(notices.c.id, notices.c.number, notices.c.department, notices.c.status, notices.c.issued_at,
                  notices.c.due_date)
    return _rows(conn, q)


def event_rows(conn: Connection) -> Rows:
    q = sa.select(notice_events.c.notice_id, notice_events.c.at, notice_events.c.to_status).where(
        sa.or_(notice_events.c.from_status.is_(None), notice_events.c.to_status != notice_events.c.from_status))
    return _rows(conn, q)


def run_times(conn: Connection) -> list[str]:
    """The evaluation time of every recorded run."""
    return list(conn.execute(sa.select(runs.c.at)).scalars())


def exemption_rows(conn: Connection) -> Rows:
    q = sa.select(exemptions.c.scope, exemptions.c.target, exemptions.c.created_at, exemptions.c.expires_on,
                  exemptions.c.revoked_at)
    return _rows(conn, q)


def read_all(conn: Connection, kinds: tuple[str, ...]) -> dict:
    """Everything the reports read, in one transaction (``conn``): subject -> rows."""
    return {"servers": server_rows(conn), "removals": removal_rows(conn), "resizes": resize_rows(conn),
            "findings": finding_rows(conn, kinds), "values": value_rows(conn),
            "items": item_rows(conn), "notices": notice_rows(conn),
            "events": event_rows(conn), "runs": run_times(conn), "exemptions": exemption_rows(conn)}
