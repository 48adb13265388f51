"""``rightsizer store copy``: every row of one store into another, empty one (SQLite → PostgreSQL).

The source must be at the head revision (``store migrate`` first) and is only read, in one
snapshot; the target is migrated, then filled in one transaction in foreign-key order, each
table in primary-key order and in batches, through the column types (so a time stays the
same instant and an amount the same money). PostgreSQL's id sequences are moved past the
copied ids. A target that holds any row is refused before anything is written; a failure
half-way rolls the whole copy back. Returns the rows per table, checked equal on both sides.
"""

from __future__ import annotations

import sqlalchemy as sa

from ..errors import StoreError
from . import migrations, schema
from .store import Store

_BATCH = 5000


def _tables() -> list[sa.Table]:
    return [t for t in schema.md.sorted_tables if t is not schema.schema_version]


def copy(source: Store, target: Store) -> dict[str, int]:
    head = migrations.head()
    if source.version() != head:
        raise StoreError(f"the source store is at revision {source.version()}, not {head}: run "
                         "`rightsizer store migrate` on it first; nothing was copied")
    target.migrate()
    counts: dict[str, int] = {}
    with target.begin() as out, source.read() as inp:
        full = [t.name for t in _tables() if out.execute(sa.select(sa.func.count()).select_from(t)).scalar()]
        if full:
            raise StoreError(f"the target store is not empty (rows in {', '.join(full)}): a copy goes only into a "
                             "new store; nothing was copied")
        for table in _tables():
            rows = inp.execution_options(yield_per=_BATCH).execute(
                sa.select(table).order_by(*table.primary_key.columns))
            n = 0
            for part in rows.partitions(_BATCH):
                out.execute(table.insert(), [dict(r._mapping) for r in part])
                n += len(part)
            counts[table.name] = n
        if out.dialect.name == "postgresql":
            for table in _tables():
                pk = list(table.primary_key.columns)
                if len(pk) == 1 and isinstance(pk[0].type, sa.Integer) and pk[0].autoincrement in (True, "auto"):
                    out.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table.name}', '{pk[0].name}'), "
                                        f"COALESCE(MAX({pk[0].name}), 1), MAX({pk[0].name}) IS NOT NULL) "
                                        f"FROM {table.name}"))
        landed = {t.name: out.execute(sa.select(sa.func.count()).select_from(t)).scalar() for t in _tables()}
        if landed != counts:
            raise StoreError("the copy does not match its source; nothing was copied")
    return counts
