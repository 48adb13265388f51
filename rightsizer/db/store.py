"""The store: an SQLAlchemy engine with short transactions, SQLite in WAL mode by default."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ..errors import StoreError
from . import migrations, schema


class Store:
    """Open a store by URL. The schema is brought up to date by :meth:`migrate`, not here."""

    def __init__(self, url: str):
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.engine: Engine = sa.create_engine(url)
        except ModuleNotFoundError as exc:  # the URL names a database whose driver is not installed
            extra = {"postgresql": "postgresql"}.get(url.split(":", 1)[0].split("+", 1)[0], "")
            raise StoreError(f"the database driver {exc.name!r} is not installed"
                             + (f": pip install 'rightsizer[{extra}]'" if extra else "")) from None
        except sa.exc.ArgumentError:
            raise StoreError("the store URL is not a database URL (see [store] url)") from None
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)

    @classmethod
    def open(cls, url: str) -> Store:
        """Open and migrate: what an entry point does at start."""
        store = cls(url)
        store.migrate()
        return store

    def migrate(self) -> int:
        return migrations.migrate(self.engine)

    def version(self) -> int:
        return migrations.version(self.engine)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """One write transaction: committed on success, rolled back on any exception."""
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    def counts(self) -> dict[str, int]:
        """Rows per table (tests and the demo)."""
        with self.read() as conn:
            return {t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar()
                    for t in (schema.departments, schema.systems, schema.servers, schema.runs, schema.summaries,
                              schema.findings, schema.inventory_syncs, schema.cloud_servers,
                              schema.inventory_changes)}


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()
