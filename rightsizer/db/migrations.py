"""Schema migrations: Alembic revisions (``rightsizer/db/revisions/versions``), run by :func:`migrate`.

* a new, empty store is created whole from :mod:`.schema` and stamped at the head;
* a store of a release before Alembic (``schema_version`` 1-8) first takes its own
  steps (:data:`LEGACY`, append-only, never edited) to version 8, is stamped at the
  baseline revision ``r0008``, then upgraded like any other;
* a store with ``alembic_version`` is upgraded to the head.

Everything happens in one write transaction (``Store.begin``): a failing step leaves the
store exactly as it was (PostgreSQL and SQLite both roll DDL back). The CLI and the daemon
call :func:`migrate` at start — opening a :class:`~rightsizer.db.Store` does not.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

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


# The releases before Alembic: append only, never edited; nothing is added here any more.
LEGACY: list[Callable[[Connection], None]] = [_v1, _v2, _v3, _v4, _v5, _v6, _v7, _v8]
BASELINE = "r0008"  # the Alembic revision that stands for schema_version 8
MIGRATION_LOCK = 0x72737A00  # PostgreSQL advisory lock held by the migrating transaction


def _config(conn: Connection):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).with_name("revisions")))
    cfg.attributes["connection"] = conn
    return cfg


@functools.lru_cache(maxsize=1)
def head() -> str:
    """The newest revision (read once a process: every command asks it when it opens the store)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config(None)).get_current_head()


def migrate(begin: Callable[[], AbstractContextManager[Connection]]) -> str:
    """Bring the schema to the head revision in one write transaction (``Store.begin``); returns it."""
    from alembic import command

    with begin() as conn:
        if conn.dialect.name == "postgresql":  # two processes starting on a new database: one migrates, one waits
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
        insp = sa.inspect(conn)
        cfg = _config(conn)
        if not insp.has_table("alembic_version"):
            if not insp.has_table("schema_version"):  # a new store: the whole schema, stamped at the head
                t.md.create_all(conn, tables=[x for x in t.md.sorted_tables if x is not t.schema_version])
                command.stamp(cfg, "head")
                return head()
            current = conn.execute(sa.select(sa.func.max(t.schema_version.c.version))).scalar() or 0
            for number, step in enumerate(LEGACY[current:], start=current + 1):
                step(conn)
                conn.execute(t.schema_version.insert().values(version=number))
            command.stamp(cfg, BASELINE)
        command.upgrade(cfg, "head")
    return head()


def version(conn: Connection) -> str | None:
    """The store's Alembic revision; ``legacy-N`` for a store of an earlier release; ``None`` when empty."""
    insp = sa.inspect(conn)
    if insp.has_table("alembic_version"):
        return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    if insp.has_table("schema_version"):
        return f"legacy-{conn.execute(sa.select(sa.func.max(t.schema_version.c.version))).scalar() or 0}"
    return None
