"""Names are TEXT (issue 24.6): a department, system or server name comes from a tenant (OpenStack allows 255
characters for a VM's name), and one name longer than a column once stopped every evaluation on PostgreSQL
("value too long for type character varying(200)"). The import still refuses a name over 255 characters,
with its row.

SQLite never enforced the lengths: its columns are left as they are.

Revision ID: r0013
"""

from alembic import op

revision = "r0013"
down_revision = "r0012"
branch_labels = None
depends_on = None

COLUMNS = [("departments", "name"), ("systems", "name"), ("servers", "name"), ("findings", "department"),
           ("notices", "department"), ("notice_events", "actor"), ("exemptions", "target"), ("users", "name"),
           ("users", "department"), ("web_sessions", "user"), ("web_sessions", "department"),
           ("api_tokens", "department"), ("login_failures", "key"), ("audit", "actor"), ("audit", "target"),
           ("audit", "department"), ("exemption_requests", "department"), ("item_answers", "actor"),
           ("exemption_requests", "requested_by"), ("exemption_requests", "decided_by"), ("exemptions", "approver"),
           ("exemptions", "revoked_by")]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in COLUMNS:
        op.execute(f'ALTER TABLE {table} ALTER COLUMN "{column}" TYPE text')


def downgrade() -> None:
    raise NotImplementedError("the store is never downgraded: restore the backup taken before the upgrade")
