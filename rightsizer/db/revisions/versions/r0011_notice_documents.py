"""A notice's files stored once (issue 22): ``notice_documents`` and ``delivery_documents``.

Until now the PDF and the server list travelled inside each delivery's JSON body as base64,
copied per channel. Each notice's files become rows of ``notice_documents`` (version 1, the
bytes of its first delivery that carried them; a report's xlsx a row of no notice), every
delivery that carried a file refers to it in ``delivery_documents``, and the base64 leaves the
bodies. Nothing else changes.

Revision ID: r0011
"""

import base64
import hashlib
import json
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

from rightsizer.db import schema

revision = "r0011"
down_revision = "r0010"
branch_labels = None
depends_on = None

_FILES = (("pdf", "pdf_b64", "pdf_name"), ("xlsx", "xlsx_b64", "xlsx_name"))


def upgrade() -> None:
    conn = op.get_bind()
    schema.notice_documents.create(conn, checkfirst=True)
    schema.delivery_documents.create(conn, checkfirst=True)
    d = schema.deliveries
    made: dict[tuple[int | None, str, str], int] = {}  # (notice or None for a report, kind, sha256) -> document
    ids = conn.execute(sa.select(d.c.id).where(d.c.body.like('%_b64"%')).order_by(d.c.id)).scalars().all()
    for lo in range(0, len(ids), 200):  # a few bodies at a time: they carry megabytes of base64
        rows = conn.execute(sa.select(d.c.id, d.c.notice_id, d.c.body, d.c.sent_at, d.c.next_attempt_at)
                            .where(d.c.id.in_(ids[lo:lo + 200])).order_by(d.c.id)).all()
        for r in rows:
            _move_files(conn, r, made)


def _move_files(conn, r, made: dict) -> None:
    d, docs, links = schema.deliveries, schema.notice_documents, schema.delivery_documents
    body = json.loads(r.body)
    position = 0
    for kind, data_key, name_key in _FILES:
        if not body.get(data_key):
            continue
        content = base64.b64decode(body.pop(data_key))
        name = body.pop(name_key, "") or f"rightsizer-{r.id}.{kind}"
        digest = hashlib.sha256(content).hexdigest()
        key = (r.notice_id, kind, digest)
        if key not in made:
            version = 1 + sum(1 for n, k, _ in made if n == r.notice_id and k == kind) if r.notice_id else 1
            made[key] = conn.execute(docs.insert().values(
                notice_id=r.notice_id, kind=kind, version=version, name=name, content=content, sha256=digest,
                created_at=r.sent_at or _when(conn, r))).inserted_primary_key[0]
        conn.execute(links.insert().values(delivery_id=r.id, document_id=made[key], position=position))
        position += 1
    conn.execute(d.update().where(d.c.id == r.id).values(body=json.dumps(body, ensure_ascii=False)))


def _when(conn, r):
    """When a file that was never sent was made: its notice's issue time, or (a report) when it was due."""
    if r.notice_id is not None:
        return _issued(conn, r.notice_id)
    return datetime.fromtimestamp(r.next_attempt_at, timezone.utc)


def _issued(conn, notice_id: int):
    return conn.execute(sa.select(schema.notices.c.issued_at).where(schema.notices.c.id == notice_id)).scalar_one()


def downgrade() -> None:
    raise NotImplementedError("the store is never downgraded: restore the backup taken before the upgrade")
