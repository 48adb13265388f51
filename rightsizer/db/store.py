"""The store: an SQLAlchemy engine with short transactions, SQLite in WAL mode by default.

Several processes share one store (the daemon, a relay, an operator's command). On SQLite
a write transaction starts with ``BEGIN IMMEDIATE``: it takes the write lock at its start
or waits for it, so a transaction never fails half-way because another one wrote first
(a deferred BEGIN that later writes gets "database is locked" at once). A busy store is
waited for with backoff, up to ``busy_seconds``; after that the command says that another
one holds the store (exit 1) — before it has done anything, never in the middle of a batch.
Reads run in a deferred transaction (one snapshot) and never wait for writers (WAL).
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ..errors import StoreError
from . import migrations, schema


def _check_url(url: str) -> None:
    """What would make SQLAlchemy show a piece of the password (an ``@`` in it splits the URL elsewhere) or fail
    with a traceback (a port that is not a number): said without repeating any part of the URL."""
    if "://" not in url or url.startswith("sqlite:"):
        return
    rest = url.split("://", 1)[1]
    userinfo, _, after = rest.rpartition("@")
    if "@" in userinfo:
        raise StoreError("the store URL has more than one '@' before the host: percent-encode an '@' in the "
                         "password as %40 (or keep the password in ~/.pgpass)")
    host = after.split("/", 1)[0].split("?", 1)[0]
    if ":" in host and not host.startswith("["):
        port = host.rsplit(":", 1)[1]
        if port and not port.isdigit():
            raise StoreError("the store URL's port is not a number")


class Store:
    """Open a store by URL. The schema is brought up to date by :meth:`migrate`, not here."""

    def __init__(self, url: str, busy_seconds: float = 120.0):
        self.busy_seconds = busy_seconds
        self.url = url  # never logged nor shown: it may carry a password
        self.epoch: int | None = None  # the leader's fencing epoch (rightsizer.db.leader), checked by begin()
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        _check_url(url)
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
            sa.event.listen(self.engine, "begin", _sqlite_begin)

    @classmethod
    def open(cls, url: str, busy_seconds: float = 120.0) -> Store:
        """Open and migrate: what an entry point does at start."""
        store = cls(url, busy_seconds)
        store.migrate()
        return store

    def migrate(self) -> str:
        """Bring the schema to the head revision; returns it."""
        head = migrations.head()
        if self.version() == head:
            return head  # the common case takes no write lock
        return migrations.migrate(self._begin_rebuilding)

    def version(self) -> str | None:
        with self.read() as conn:
            return migrations.version(conn)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """One write transaction: committed on success, rolled back on any exception.

        Waits (with backoff) while another process holds the write lock, up to ``busy_seconds``."""
        conn, trans = self._begin_waiting()
        with conn, trans:
            if self.epoch is not None:  # a daemon that leads: nothing is written once another one leads
                from .leader import check

                check(conn, self.epoch)
            yield conn

    @contextmanager
    def _begin_rebuilding(self) -> Iterator[Connection]:
        """The migrations' transaction. On SQLite, foreign keys are off while a table is rebuilt (batch mode:
        its children point at it while it is dropped and renamed), and checked whole before the commit."""
        if self.engine.dialect.name != "sqlite":
            with self.begin() as conn:
                yield conn
            return
        conn, trans = self._begin_waiting(before="PRAGMA foreign_keys=OFF")
        try:
            with trans:
                yield conn
                broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
                if broken:
                    raise StoreError(f"the migration would leave {len(broken)} rows pointing at nothing "
                                     f"(first: table {broken[0][0]}); nothing was changed")
        finally:
            conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")
            conn.close()

    def _begin_waiting(self, before: str | None = None):
        deadline = time.monotonic() + self.busy_seconds
        delay = 0.02
        while True:
            conn = self.engine.connect()
            if before:  # on the driver's connection, outside any transaction (a PRAGMA that needs that)
                conn.connection.dbapi_connection.execute(before)
            try:
                return conn, conn.begin()
            except sa.exc.OperationalError as exc:
                conn.close()
                if not _busy(exc):
                    raise
                if time.monotonic() + delay > deadline:
                    raise StoreError(f"the store is busy: another rightsizer command has held its write lock for "
                                     f"more than {self.busy_seconds:g} s; nothing was changed, try again when it "
                                     "has finished") from None
            time.sleep(random.uniform(delay / 2, delay))
            delay = min(delay * 2, 1.0)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only snapshot; never waits for a writer."""
        with self.engine.connect().execution_options(rightsizer_read=True) as conn:
            yield conn

    def counts(self) -> dict[str, int]:
        """Rows per table (tests and the demo)."""
        with self.read() as conn:
            return {t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar()
                    for t in (schema.departments, schema.systems, schema.servers, schema.runs, schema.summaries,
                              schema.findings, schema.inventory_syncs, schema.cloud_servers,
                              schema.inventory_changes)}


def _busy(exc: sa.exc.OperationalError) -> bool:
    text = str(exc.orig).lower()
    return "locked" in text or "busy" in text


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    dbapi_conn.isolation_level = None  # the driver's own BEGIN is deferred: _sqlite_begin says which
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=2000")  # SQLite's own wait, inside each of begin()'s tries
    cur.close()


def _sqlite_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get("rightsizer_read") else "BEGIN IMMEDIATE")
