"""A notice's rendered files (the PDF as signed, the server list): stored once, referred to by deliveries.

A notice rendered again (a deadline that became known) gets a new version; deliveries keep
pointing at the version they carried, so what a department received never changes.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..records import Document
from .schema import delivery_documents, notice_documents


def _document(r) -> Document:
    return Document(r.id, r.notice_id, r.kind, r.version, r.name, r.content, r.sha256, r.created_at)


def add(conn: Connection, notice_id: int | None, kind: str, name: str, content: bytes, at: datetime) -> int:
    """Store a file of the notice as its next version (the same bytes as the newest version: that one); its id.
    A report's file (``notice_id`` None) is stored as it is."""
    if notice_id is None:
        return conn.execute(notice_documents.insert().values(
            notice_id=None, kind=kind, version=1, name=name, content=content,
            sha256=hashlib.sha256(content).hexdigest(), created_at=at)).inserted_primary_key[0]
    digest = hashlib.sha256(content).hexdigest()
    newest = conn.execute(sa.select(notice_documents.c.id, notice_documents.c.version, notice_documents.c.sha256)
                          .where(notice_documents.c.notice_id == notice_id, notice_documents.c.kind == kind)
                          .order_by(notice_documents.c.version.desc()).limit(1)).first()
    if newest is not None and newest.sha256 == digest:
        return newest.id
    return conn.execute(notice_documents.insert().values(
        notice_id=notice_id, kind=kind, version=(newest.version + 1) if newest else 1, name=name, content=content,
        sha256=digest, created_at=at)).inserted_primary_key[0]


def attach(conn: Connection, delivery_id: int, document_ids: list[int]) -> None:
    """The files a delivery carries, in order (replacing what it carried)."""
    conn.execute(delivery_documents.delete().where(delivery_documents.c.delivery_id == delivery_id))
    if document_ids:
        conn.execute(delivery_documents.insert(), [{"delivery_id": delivery_id, "document_id": d, "position": i}
                                                   for i, d in enumerate(document_ids)])


def of_delivery(conn: Connection, delivery_id: int) -> list[Document]:
    q = (sa.select(notice_documents).join(delivery_documents, delivery_documents.c.document_id == notice_documents.c.id)
         .where(delivery_documents.c.delivery_id == delivery_id).order_by(delivery_documents.c.position))
    return [_document(r) for r in conn.execute(q)]


def newest(conn: Connection, notice_id: int, kind: str) -> Document | None:
    """The newest version of a file of the notice, or ``None``."""
    r = conn.execute(sa.select(notice_documents).where(notice_documents.c.notice_id == notice_id,
                                                       notice_documents.c.kind == kind)
                     .order_by(notice_documents.c.version.desc()).limit(1)).first()
    return _document(r) if r else None


def count(conn: Connection) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(notice_documents)).scalar()
