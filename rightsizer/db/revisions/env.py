"""Alembic's environment for the store: always run by :mod:`rightsizer.db.migrations` on a connection it
opened (a write transaction of :class:`~rightsizer.db.Store`), never from the ``alembic`` command line.
SQLite runs in batch mode (a table is rebuilt to change a column)."""

from alembic import context

from rightsizer.db import schema

conn = context.config.attributes["connection"]
context.configure(connection=conn, target_metadata=schema.md, render_as_batch=True,
                  version_table="alembic_version")
with context.begin_transaction():
    context.run_migrations()
