"""Times as timezone-aware timestamps (UTC), money as NUMERIC(14,2), dates as DATE (issue 15).

Until now every time was ISO 8601 text with its offset, which the database orders as text:
``2026-10-08T09:00:00+08:00`` sorts after ``2026-10-08T02:00:00+00:00``, an hour earlier.
PostgreSQL converts each column in place (``USING col::timestamptz``, which reads the
offset). SQLite has no such types: each table is rebuilt in batch mode with the new
declarations (copied as text, never through a ``CAST`` that would keep only the year) and
every value rewritten as fixed-width UTC text. A value that does not parse stops the
upgrade with its table, column and row, and the transaction leaves the store as it was.

Revision ID: r0009
"""

from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

from rightsizer.db import schema
from rightsizer.db.types import Day, Instant, Money

revision = "r0009"
down_revision = "r0008"
branch_labels = None
depends_on = None

_PG_TYPE = {Instant: "timestamp with time zone", Money: "numeric(14,2)", Day: "date"}


def _typed(table: sa.Table) -> list[sa.Column]:
    return [c for c in table.columns if type(c.type) in _PG_TYPE]


def upgrade() -> None:
    conn = op.get_bind()
    tables = [t for t in schema.md.sorted_tables if _typed(t) and sa.inspect(conn).has_table(t.name)]
    if conn.dialect.name == "postgresql":
        for table in tables:
            have = {c["name"]: c["type"] for c in sa.inspect(conn).get_columns(table.name)}
            for col in _typed(table):
                if isinstance(have[col.name], sa.String):
                    op.execute(f'ALTER TABLE {table.name} ALTER COLUMN "{col.name}" TYPE {_PG_TYPE[type(col.type)]} '
                               f'USING NULLIF("{col.name}", \'\')::{_PG_TYPE[type(col.type)]}')
        return
    # SQLite: Store runs this with foreign keys off (a parent is rebuilt under its children) and checks them after
    for table in tables:
        with op.batch_alter_table(table.name, copy_from=table, recreate="always"):
            pass
        _rewrite_sqlite(conn, table)


def _rewrite_sqlite(conn, table: sa.Table) -> None:
    cols = _typed(table)
    raw = sa.table(table.name, sa.column("rowid"), *(sa.column(c.name, sa.String) for c in cols))
    typed = sa.table(table.name, sa.column("rowid"), *(sa.column(c.name, c.type) for c in cols))
    for row in conn.execute(sa.select(raw)).all():
        values = {}
        for col in cols:
            value = getattr(row, col.name)
            try:
                values[col.name] = _value(col.type, value)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{table.name}.{col.name} of row {row.rowid}: {value!r}: {exc}") from None
        conn.execute(typed.update().where(typed.c.rowid == row.rowid).values(**values))


def _value(kind, value):
    if value is None or value == "":
        return None
    if isinstance(kind, Instant):
        at = datetime.fromisoformat(value)
        return at if at.tzinfo else at.replace(tzinfo=timezone.utc)  # naive: written by this revision already
    return value  # Money and Day take their text as it is (and check it)


def downgrade() -> None:
    raise NotImplementedError("the store is never downgraded: restore the backup taken before the upgrade")
