"""Persistence: the only package with SQL. Imports only the models (and the error types).

* :mod:`.schema` — every table on one ``MetaData``; :mod:`.migrations` — versioned steps
  run by :meth:`Store.migrate` (the CLI and the daemon call it at start);
* queries by subject, each a function of an open connection, so a job composes them in
  one transaction: :mod:`.runs` (runs, summaries, findings), :mod:`.inventory` (syncs and
  changes), :mod:`.notices` (notices, items, events, numbering), :mod:`.outbox`
  (deliveries, claims, rate counts), :mod:`.exemptions`.

SQLite (WAL) is the embedded default; PostgreSQL is a URL change.
"""

from __future__ import annotations

from .schema import OPEN_STATES
from .store import Store

__all__ = ["OPEN_STATES", "Store"]
