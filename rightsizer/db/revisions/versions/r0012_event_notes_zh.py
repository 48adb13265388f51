"""What each notice event says to the department, in Chinese (issue 23.10): ``notice_event_notes``.

A table of its own rather than a column of ``notice_events``, so that no earlier revision's rebuild of
``notice_events`` meets a column it does not know. Events written before this revision have none: the
console shows their change of state only.

Revision ID: r0012
"""

from alembic import op

from rightsizer.db import schema

revision = "r0012"
down_revision = "r0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema.notice_event_notes.create(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    raise NotImplementedError("the store is never downgraded: restore the backup taken before the upgrade")
