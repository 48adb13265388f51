"""The leader's fencing epoch (issue 15): one row per role, its epoch raised by every new leader.

Revision ID: r0010
"""

from alembic import op

from rightsizer.db import schema

revision = "r0010"
down_revision = "r0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema.leader.create(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    raise NotImplementedError("the store is never downgraded: restore the backup taken before the upgrade")
