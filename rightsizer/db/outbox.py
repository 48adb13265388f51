"""The outbox: one row per delivery of a notice, reminder, escalation or alert to one channel.

A row is written in the transaction that creates what it delivers — as a ``draft`` when
its text is rendered afterwards, outside that transaction. A relay *claims* a few due rows
with a lease and a token of its own (a guarded update, so two relays never claim one
row); before each send it counts the attempt and renews the lease, and it records a result
only while the row still carries its token — a relay whose lease ran out and whose rows
another relay took over stops. ``sent_ts`` is what the per-channel rate limits count, so
every relay sees the same sends.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..lifecycle import DeliveryState
from ..records import Delivery
from . import documents as db_documents
from .schema import deliveries, notices


def _delivery(r) -> Delivery:
    return Delivery(r.id, r.notice_id, r.purpose, r.channel, tuple(json.loads(r.recipients)), r.idempotency_key,
                    r.message_id, r.subject, json.loads(r.body), DeliveryState(r.status), r.attempts,
                    r.next_attempt_at, r.last_error, r.sent_at)


def queue(conn: Connection, notice_id: int | None, purpose: str, channel: str, key: str, subject: str, body: dict,
          now: datetime, recipients: list[str] = (), draft: bool = False, documents: list[int] = ()) -> bool:
    """Add one pending delivery (a draft to be rendered: :func:`fill_drafts`) carrying the stored ``documents``;
    ``False`` when one with this idempotency key exists already."""
    if conn.execute(sa.select(deliveries.c.id).where(deliveries.c.idempotency_key == key)).first():
        return False
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]  # ASCII, stable across retries
    did = conn.execute(deliveries.insert().values(
        notice_id=notice_id, purpose=purpose, channel=channel,
        recipients=json.dumps(list(recipients), ensure_ascii=False), idempotency_key=key,
        message_id=f"<{digest}.{int(now.timestamp())}@rightsizer>", subject=subject,
        body=json.dumps(body, ensure_ascii=False), status=DeliveryState.DRAFT if draft else DeliveryState.PENDING,
        attempts=0, next_attempt_at=now.timestamp(), lease_until=0.0, last_error="",
        claim_token="")).inserted_primary_key[0]
    if documents:
        db_documents.attach(conn, did, list(documents))
    return True


def exists(conn: Connection, key: str) -> bool:
    """Whether a delivery with this idempotency key was ever queued (whatever became of it)."""
    return conn.execute(sa.select(deliveries.c.id).where(deliveries.c.idempotency_key == key)).first() is not None


def drafts(conn: Connection) -> list[int]:
    """Notices with deliveries still to be rendered (a command stopped between writing and rendering)."""
    return conn.execute(sa.select(deliveries.c.notice_id).where(deliveries.c.status == DeliveryState.DRAFT)
                        .distinct().order_by(deliveries.c.notice_id)).scalars().all()


def fill_drafts(conn: Connection, notice_id: int, subject: str, body: dict, channel: str,
                documents: list[int] = (), purposes: tuple[str, ...] = ("notice", "cc")) -> int:
    """The rendered text into the notice's drafts of ``channel`` (of ``purposes``), carrying the stored
    ``documents``; they become pending; how many."""
    ids = conn.execute(sa.select(deliveries.c.id).where(deliveries.c.notice_id == notice_id,
                                                        deliveries.c.status == DeliveryState.DRAFT,
                                                        deliveries.c.channel == channel,
                                                        deliveries.c.purpose.in_(purposes))).scalars().all()
    for did in ids:
        db_documents.attach(conn, did, list(documents))
    if ids:
        conn.execute(deliveries.update().where(deliveries.c.id.in_(ids)).values(
            subject=subject, body=json.dumps(body, ensure_ascii=False), status=DeliveryState.PENDING))
    return len(ids)


def draft_channels(conn: Connection, notice_id: int, purposes: tuple[str, ...] = ("notice", "cc")) -> list[str]:
    """The channels of a notice's drafts (of ``purposes``), in the order they were queued."""
    rows = conn.execute(sa.select(deliveries.c.channel).where(deliveries.c.notice_id == notice_id,
                                                              deliveries.c.status == DeliveryState.DRAFT,
                                                              deliveries.c.purpose.in_(purposes))
                        .order_by(deliveries.c.id)).scalars().all()
    return list(dict.fromkeys(rows))


def draft_purposes(conn: Connection, notice_id: int) -> set[str]:
    """What a notice's drafts are for (``notice``, ``cc``, ``due-known``)."""
    return set(conn.execute(sa.select(deliveries.c.purpose).where(deliveries.c.notice_id == notice_id,
                                                                  deliveries.c.status == DeliveryState.DRAFT))
               .scalars())


def claim(conn: Connection, now: float, lease: float, limit: int, token: str) -> list[Delivery]:
    """Claim up to ``limit`` due rows for ``token`` until ``now + lease``; returns them as they were
    before the claim. On PostgreSQL the rows are taken ``FOR UPDATE SKIP LOCKED``, so relays never
    wait for each other nor take one row twice. The attempt is counted later, when a send is tried (:func:`start_attempt`)."""
    q = sa.select(deliveries).where(
        deliveries.c.status == DeliveryState.PENDING, deliveries.c.next_attempt_at <= now,
        deliveries.c.lease_until < now) \
        .order_by(deliveries.c.next_attempt_at, deliveries.c.id).limit(limit)
    if conn.dialect.name == "postgresql":
        # relays on several machines: each locks the rows it takes and passes over the ones another holds
        rows = conn.execute(q.with_for_update(skip_locked=True)).all()
        if rows:
            conn.execute(deliveries.update().where(deliveries.c.id.in_([r.id for r in rows]))
                         .values(lease_until=now + lease, claim_token=token))
        return [_delivery(r) for r in rows]
    rows = conn.execute(q).all()
    claimed = []
    for r in rows:
        # the guard makes two relays never claim one row
        res = conn.execute(deliveries.update().where(deliveries.c.id == r.id, deliveries.c.lease_until < now)
                           .values(lease_until=now + lease, claim_token=token))
        if res.rowcount == 1:
            claimed.append(_delivery(r))
    return claimed


def start_attempt(conn: Connection, delivery_id: int, token: str, lease_until: float) -> bool:
    """Before a send: count the attempt and renew the lease of every row the claim still holds.
    ``False`` when this row is no longer the claim's (another relay took it over): do not send."""
    res = conn.execute(deliveries.update().where(deliveries.c.id == delivery_id, deliveries.c.claim_token == token,
                                                 deliveries.c.status == DeliveryState.PENDING)
                       .values(attempts=deliveries.c.attempts + 1, lease_until=lease_until))
    if res.rowcount != 1:
        return False
    conn.execute(deliveries.update().where(deliveries.c.claim_token == token,
                                           deliveries.c.status == DeliveryState.PENDING)
                 .values(lease_until=lease_until))
    return True


def release(conn: Connection, token: str) -> int:
    """Give back the rows a claim still holds (a relay that stops early); how many."""
    return conn.execute(deliveries.update().where(deliveries.c.claim_token == token,
                                                  deliveries.c.status == DeliveryState.PENDING)
                        .values(lease_until=0.0, claim_token="")).rowcount


def recent_sends(conn: Connection, channel: str, since: float) -> list[float]:
    """Epoch seconds of the channel's sends after ``since``, newest first."""
    return conn.execute(sa.select(deliveries.c.sent_ts).where(
        deliveries.c.channel == channel, deliveries.c.sent_ts > since).order_by(deliveries.c.sent_ts.desc())
    ).scalars().all()


def update(conn: Connection, delivery_id: int, token: str, **values) -> bool:
    """Record a result, only if the claim ``token`` still holds the row; whether it did."""
    return conn.execute(deliveries.update().where(deliveries.c.id == delivery_id, deliveries.c.claim_token == token)
                        .values(claim_token="", **values)).rowcount == 1


def notice_number(conn: Connection, notice_id: int) -> str | None:
    return conn.execute(sa.select(notices.c.number).where(notices.c.id == notice_id)).scalar()


def first_notice_message(conn: Connection, notice_id: int) -> tuple[str, dict] | None:
    """Subject and body of the notice's first department delivery (what reminders repeat)."""
    row = conn.execute(sa.select(deliveries.c.subject, deliveries.c.body).where(
        deliveries.c.notice_id == notice_id, deliveries.c.purpose == "notice",
        deliveries.c.status != DeliveryState.DRAFT).order_by(deliveries.c.id).limit(1)).first()
    return (row.subject, json.loads(row.body)) if row else None


def first_body(conn: Connection, notice_id: int) -> dict | None:
    """The body of the notice's first rendered delivery of any purpose (its text and HTML as sent)."""
    body = conn.execute(sa.select(deliveries.c.body).where(deliveries.c.notice_id == notice_id,
                                                           deliveries.c.status != DeliveryState.DRAFT)
                        .order_by(deliveries.c.id).limit(1)).scalar()
    return json.loads(body) if body else None


def of_notice(conn: Connection, notice_id: int) -> list[Delivery]:
    return [_delivery(r) for r in conn.execute(sa.select(deliveries).where(deliveries.c.notice_id == notice_id)
                                               .order_by(deliveries.c.id))]


def withdraw_pending(conn: Connection, notice_id: int) -> None:
    conn.execute(deliveries.update().where(deliveries.c.notice_id == notice_id,
                                           deliveries.c.status.in_((DeliveryState.PENDING, DeliveryState.DRAFT)))
                 .values(status=DeliveryState.WITHDRAWN))


def resend(conn: Connection, notice_id: int, channel: str | None, now: datetime) -> list[str]:
    """Dead deliveries of a notice (of ``channel``, if given) due again with the same idempotency key and
    Message-ID, and fresh attempts; their channels."""
    q = sa.select(deliveries.c.id, deliveries.c.channel).where(deliveries.c.notice_id == notice_id,
                                                                deliveries.c.status == DeliveryState.DEAD)
    if channel:
        q = q.where(deliveries.c.channel == channel)
    rows = conn.execute(q).all()
    for r in rows:
        conn.execute(deliveries.update().where(deliveries.c.id == r.id).values(
            status=DeliveryState.PENDING, attempts=0, next_attempt_at=now.timestamp(), lease_until=0.0,
            claim_token=""))
    return [r.channel for r in rows]
