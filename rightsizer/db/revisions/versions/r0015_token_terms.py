"""A token's terms (issue 24.7): ``api_token_terms`` — until when it works, the account it dies with, when it was
last used. A token made before this revision has none: it works until revoked.

Revision ID: r0015
"""

from alembic import op

from rightsizer.db import schema

revision = "r0015"
down_revision = "r0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema.api_token_terms.create(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    raise NotImplementedError("the store is never downgraded: restore the backup taken before the upgrade")
