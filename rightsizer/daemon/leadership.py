"""Active/standby on PostgreSQL: who leads, taking over, and stopping when the lead is lost.

The leader holds ``pg_try_advisory_lock`` on a connection of its own (:mod:`rightsizer.db.leader`) and
raises the fencing epoch that every write transaction of the daemon checks, so a leader that lost its
lock writes nothing more. A standby is healthy while the store answers, and tries the lock every
``[daemon] leader_check_seconds``; on SQLite there is one machine and the daemon always leads.
"""

from __future__ import annotations

import logging

from ..db.leader import holder_name, raise_epoch
from ..errors import describe

log = logging.getLogger("rightsizer.daemon")


class Leadership:
    """The leader's part of :class:`~rightsizer.daemon.service.Daemon` (``lock``, ``store``, ``_lead``, ``stop``)."""

    def _try_lead(self) -> bool:
        """Take the lock if it is free, raise the epoch, and start leading; whether this daemon leads now."""
        if not self.lock.try_acquire():
            return False
        try:
            with self.store.begin() as conn:  # before store.epoch is set: this transaction is not fenced
                self.store.epoch = raise_epoch(conn, holder_name())
        except Exception as exc:  # noqa: BLE001 - the store went away between the lock and the epoch
            self.lock.close()  # gives the lock back: still a standby, it tries again
            known = describe(exc)
            log.error("took the leader lock but could not raise the epoch: %s; standing by",
                      "; ".join(known[1]) if known else type(exc).__name__)
            return False
        log.info("leader: holding the leader lock, epoch %d", self.store.epoch)
        self._lead()
        return True

    def lost(self) -> int:
        """The leader lock is gone (the connection was cut, the database restarted): stop at once, exit 1.
        Whatever is still running can write nothing (the epoch fences it); systemd restarts this daemon, which
        comes back as a standby."""
        log.error("lost the leader lock (epoch %s): stopping so that a standby takes over", self.store.epoch)
        self.leader_gauge.set(0)
        self.stop()
        return 1
