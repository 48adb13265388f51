"""Versioned schema migrations: an append-only list, applied in order by :func:`migrate`.

Each step runs in one transaction with the version it brings recorded in
``schema_version``; a released step is never edited. The CLI and the daemon call
:func:`migrate` at start — opening a :class:`~rightsizer.db.Store` does not.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from . import schema as t


def _v1(conn: Connection) -> None:
    t.md.create_all(conn, tables=[t.departments, t.systems, t.servers, t.runs, t.summaries, t.findings])


def _v2(conn: Connection) -> None:
    t.md.create_all(conn, tables=[t.inventory_syncs, t.cloud_servers, t.inventory_changes])


def _v3(conn: Connection) -> None:
    t.md.create_all(conn, tables=[t.notice_seq, t.notices, t.notice_items, t.notice_events, t.deliveries,
                                  t.exemptions])


def _v4(conn: Connection) -> None:
    """Claim tokens on deliveries (issue 9). A store created at v3 by this code has the column already."""
    if "claim_token" not in {c["name"] for c in sa.inspect(conn).get_columns("deliveries")}:
        conn.execute(sa.text("ALTER TABLE deliveries ADD COLUMN claim_token VARCHAR(32) NOT NULL DEFAULT ''"))
    if "deliveries_claim" not in {i["name"] for i in sa.inspect(conn).get_indexes("deliveries")}:
        t.DELIVERIES_CLAIM.create(conn)


def _v5(conn: Connection) -> None:
    """Revocable exemptions (issue 10). A store created at v3 by this code has the columns already."""
    have = {c["name"] for c in sa.inspect(conn).get_columns("exemptions")}
    for name, kind in (("revoked_at", "VARCHAR(40)"), ("revoked_by", "VARCHAR(200)")):
        if name not in have:
            conn.execute(sa.text(f"ALTER TABLE exemptions ADD COLUMN {name} {kind}"))


def _v6(conn: Connection) -> None:
    """The daemon's job periods (issue 12)."""
    t.md.create_all(conn, tables=[t.job_runs])


def _v7(conn: Connection) -> None:
    """Each finding's saving over time (issue 13); a finding recorded before starts at its current value."""
    t.md.create_all(conn, tables=[t.finding_values])
    conn.execute(t.finding_values.insert().from_select(
        ["finding_id", "run_id", "monthly_saving_cny"],
        sa.select(t.findings.c.id, t.findings.c.first_run_id, t.findings.c.monthly_saving_cny)))


def _v8(conn: Connection) -> None:
    """The web console (issue 14): accounts, sessions, API tokens, the login rate limit, the audit log,
    exemption requests and the departments' answers."""
    t.md.create_all(conn, tables=[t.users, t.web_sessions, t.api_tokens, t.login_failures, t.audit,
                                  t.exemption_requests, t.item_answers])


# Append only: a released migration is never edited.
MIGRATIONS: list[Callable[[Connection], None]] = [_v1, _v2, _v3, _v4, _v5, _v6, _v7, _v8]


def migrate(begin: Callable[[], AbstractContextManager[Connection]]) -> int:
    """Bring the schema to the newest version in one write transaction (``Store.begin``); returns it."""
    with begin() as conn:
        t.schema_version.create(conn, checkfirst=True)
        current = conn.execute(sa.select(sa.func.max(t.schema_version.c.version))).scalar() or 0
        for version, step in enumerate(MIGRATIONS[current:], start=current + 1):
            step(conn)
            conn.execute(t.schema_version.insert().values(version=version))
    return len(MIGRATIONS)


def version(conn: Connection) -> int:
    if not sa.inspect(conn).has_table("schema_version"):
        return 0
    return conn.execute(sa.select(sa.func.max(t.schema_version.c.version))).scalar() or 0
