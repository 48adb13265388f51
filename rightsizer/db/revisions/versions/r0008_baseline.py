"""The store as the releases before Alembic left it: ``schema_version`` 8 (issues 1-14).

A store of an earlier release is brought to version 8 by its own steps
(:data:`rightsizer.db.migrations.LEGACY`) before this revision is stamped; a new store
is created whole and stamped at the head. So this revision itself changes nothing.

Revision ID: r0008
"""

revision = "r0008"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    raise NotImplementedError("the store is never downgraded: restore the backup taken before the upgrade")
