"""Persistence: the only package with SQL. Imports only the core records (models, records, lifecycle, errors).

* :mod:`.schema` — every table on one ``MetaData``; :mod:`.migrations` — Alembic revisions
  (``revisions/versions``), run by :meth:`Store.migrate` (the CLI and the daemon call it at start);
  :mod:`.types` — the column types of times, dates and money;
* queries by subject, each a function of an open connection, so a job composes them in one
  transaction, each returning typed records or rows with typed times: :mod:`.runs` (runs,
  summaries, findings), :mod:`.inventory` (servers, syncs and changes), :mod:`.notices`
  (notices, items, events, answers, numbering), :mod:`.documents` (a notice's files),
  :mod:`.outbox` (deliveries, claims, rate counts), :mod:`.exemptions` (exemptions and
  requests), :mod:`.accounts` (users, sessions, tokens, the audit log), :mod:`.jobruns`,
  :mod:`.leader`, :mod:`.stats` (``/metrics`` counts); :mod:`.copy` (a store into another).

A read a department may make takes ``department`` and applies it in the query. SQLite (WAL)
is the embedded default; PostgreSQL is a URL change.
"""

from __future__ import annotations

from .store import Store

__all__ = ["Store"]
