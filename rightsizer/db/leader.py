"""Active/standby daemons on PostgreSQL: one leader by advisory lock, and a fencing epoch.

The leader holds ``pg_try_advisory_lock`` on a connection of its own: autocommit, outside
the pool, straight to PostgreSQL (a transaction-mode pooler such as PgBouncer would hand
the session — and the lock — to someone else), with TCP keepalives and a user timeout so
a dead peer is noticed in seconds. PostgreSQL releases the lock when that session ends
(the process died, the connection was cut), and a standby's next try takes it.

Taking the lock is not enough: an old leader may not yet know it lost it. So each new
leader raises the ``leader`` row's epoch, and every write transaction of a daemon
(:meth:`Store.begin` with ``store.epoch`` set) first reads the epoch ``FOR SHARE``: a
moved epoch raises :class:`Fenced` before anything is written, and the row lock makes the
new leader's raise wait for a transaction of the old one that already passed the check.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..errors import StoreError
from .schema import leader

ROLE = "daemon"
LOCK_KEY = 0x72737A01  # one advisory-lock key for the daemon role ("rsz" and 1)


class Fenced(StoreError):
    """This process is no longer the leader: the epoch moved on."""


def holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def raise_epoch(conn: Connection, holder: str) -> int:
    """The new leader's epoch (the previous one + 1), recorded with who holds it."""
    from sqlalchemy.dialects.postgresql import insert

    now = datetime.now(timezone.utc)
    q = insert(leader).values(role=ROLE, epoch=1, holder=holder, since=now)
    q = q.on_conflict_do_update(index_elements=[leader.c.role],
                                set_={"epoch": leader.c.epoch + 1, "holder": holder, "since": now})
    return conn.execute(q.returning(leader.c.epoch)).scalar_one()


def check(conn: Connection, epoch: int) -> None:
    """Raise :class:`Fenced` unless ``epoch`` is still the current one (held until the transaction ends)."""
    q = sa.select(leader.c.epoch).where(leader.c.role == ROLE)
    if conn.dialect.name == "postgresql":
        q = q.with_for_update(read=True)
    now = conn.execute(q).scalar()
    if now != epoch:
        raise Fenced(f"this daemon is no longer the leader (epoch {epoch}, now {now}): it writes nothing more; "
                     "the new leader carries on")


def current(conn: Connection):
    """The ``leader`` row (epoch, holder, since), or ``None``."""
    return conn.execute(sa.select(leader).where(leader.c.role == ROLE)).first()


class Lock:
    """The advisory lock on its dedicated connection (psycopg, autocommit, keepalives)."""

    def __init__(self, url: str, keepalive_seconds: int = 5):
        made = sa.engine.make_url(url)
        if made.get_backend_name() != "postgresql":
            raise StoreError("a leader lock needs PostgreSQL")
        self.conninfo = made.set(drivername="postgresql").render_as_string(hide_password=False)
        self.keepalive = keepalive_seconds
        self.conn = None

    def _connect(self):
        import psycopg

        k = self.keepalive
        self.conn = psycopg.connect(self.conninfo, autocommit=True, connect_timeout=max(2, 2 * k),
                                    application_name="rightsizer-leader", keepalives=1, keepalives_idle=k,
                                    keepalives_interval=max(1, k // 2), keepalives_count=3,
                                    tcp_user_timeout=3000 * k)

    def try_acquire(self) -> bool:
        """Whether this process holds the lock now (a failed connection is "no", to be tried again)."""
        try:
            if self.conn is None or self.conn.closed:
                self._connect()
            return bool(self.conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()[0])
        except Exception:  # noqa: BLE001 - the database is away: a standby, and a standby tries again
            self.close()
            return False

    def held(self) -> bool:
        """The heartbeat: the session is alive and still holds the lock."""
        if self.conn is None or self.conn.closed:
            return False
        try:
            row = self.conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                                    "AND pid = pg_backend_pid() AND ((classid::bigint << 32) | objid::bigint) = %s",
                                    (LOCK_KEY,)).fetchone()
            return bool(row and row[0])
        except Exception:  # noqa: BLE001 - a cut connection: the lock is gone with it
            self.close()
            return False

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:  # noqa: BLE001
                pass
        self.conn = None
