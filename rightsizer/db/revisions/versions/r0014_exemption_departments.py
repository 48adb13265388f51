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
    import sqlalchemy as sa

    conn = op.get_bind()
    schema.exemption_departments.create(conn, checkfirst=True)
    # an exemption of a system made before: its department, where the name is one department's (a name several
    # departments share stays as it was — `notices exemptions` lists it; revoke and exempt again with --department)
    e, s, d = schema.exemptions, schema.systems, schema.departments
    rows = conn.execute(sa.select(e.c.id, sa.func.min(d.c.name), sa.func.count(sa.distinct(d.c.id)))
                        .join(s, s.c.name == e.c.target).join(d, d.c.id == s.c.department_id)
                        .where(e.c.scope == "system").group_by(e.c.id)).all()
    for eid, dept, n in rows:
        if n == 1:
            conn.execute(schema.exemption_departments.insert().values(exemption_id=eid, department=dept))


def downgrade() -> None:
    raise NotImplementedError("the store is never downgraded: restore the backup taken before the upgrade")
