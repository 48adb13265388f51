"""A system exemption names its department (issue 24.5): ``exemption_departments``. ``--system 门户网站``
once exempted the servers of every department with a system of that name, and showed its reason to all of them.

A table of its own, as r0012's: no earlier revision's rebuild of ``exemptions`` meets a column it does not know.

Revision ID: r0014
"""

from alembic import op

from rightsizer.db import schema

revision = "r0014"
down_revision = "r0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema.exemption_departments.create(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    raise NotImplementedError("the store is never downgraded: restore the backup taken before the upgrade")
