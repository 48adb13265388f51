"""The outbox: one row per delivery of a notice, reminder, escalation or alert to one channel.

A row is written in the transaction that creates what it delivers; a relay *claims* due
rows with a lease (a guarded update, so two relays never claim one row), sends with no
transaction open, and records the result afterwards. ``sent_ts`` is what the per-channel
rate limits count, so every relay sees the same sends.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .schema import deliveries, notices


def queue(conn: Connection, notice_id: int | None, purpose: str, channel: str, key: str, subject: str, body: dict,
          now: datetime, recipients: list[str] = ()) -> bool:
    """Add one pending delivery; ``False`` when one with this idempotency key exists already."""
    if conn.execute(sa.select(deliveries.c.id).where(deliveries.c.idempotency_key == key)).first():
        return False
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]  # ASCII, stable across retries
    conn.execute(deliveries.insert().values(
        notice_id=notice_id, purpose=purpose, channel=channel,
        recipients=json.dumps(list(recipients), ensure_ascii=False), idempotency_key=key,
        message_id=f"<{digest}.{int(now.timestamp())}@rightsizer>", subject=subject,
        body=json.dumps(body, ensure_ascii=False), status="pending", attempts=0, next_attempt_at=now.timestamp(),
        lease_until=0.0, last_error=""))
    return True


def claim(conn: Connection, now: float, lease: float, limit: int) -> list:
    """Claim up to ``limit`` due rows until ``now + lease``; returns them as they were before the claim."""
    rows = conn.execute(sa.select(deliveries).where(
        deliveries.c.status == "pending", deliveries.c.next_attempt_at <= now, deliveries.c.lease_until < now)
        .order_by(deliveries.c.next_attempt_at, deliveries.c.id).limit(limit)).all()
    claimed = []
    for r in rows:
        # the guard makes two relays never claim one row
        res = conn.execute(deliveries.update().where(deliveries.c.id == r.id, deliveries.c.lease_until < now)
                           .values(lease_until=now + lease, attempts=r.attempts + 1))
        if res.rowcount == 1:
            claimed.append(r)
    return claimed


def recent_sends(conn: Connection, channel: str, since: float) -> list[float]:
    """Epoch seconds of the channel's sends after ``since``, newest first."""
    return conn.execute(sa.select(deliveries.c.sent_ts).where(
        deliveries.c.channel == channel, deliveries.c.sent_ts > since).order_by(deliveries.c.sent_ts.desc())
    ).scalars().all()


def update(conn: Connection, delivery_id: int, **values) -> None:
    conn.execute(deliveries.update().where(deliveries.c.id == delivery_id).values(**values))


def notice_number(conn: Connection, notice_id: int) -> str | None:
    return conn.execute(sa.select(notices.c.number).where(notices.c.id == notice_id)).scalar()


def first_notice_message(conn: Connection, notice_id: int) -> tuple[str, dict] | None:
    """Subject and body of the notice's first department delivery (what reminders repeat)."""
    row = conn.execute(sa.select(deliveries.c.subject, deliveries.c.body).where(
        deliveries.c.notice_id == notice_id, deliveries.c.purpose == "notice").limit(1)).first()
    return (row.subject, json.loads(row.body)) if row else None


def first_body(conn: Connection, notice_id: int) -> dict | None:
    """The body of the notice's first delivery of any purpose."""
    body = conn.execute(sa.select(deliveries.c.body).where(deliveries.c.notice_id == notice_id).limit(1)).scalar()
    return json.loads(body) if body else None


def of_notice(conn: Connection, notice_id: int) -> list:
    return conn.execute(sa.select(deliveries).where(deliveries.c.notice_id == notice_id)
                        .order_by(deliveries.c.id)).all()


def withdraw_pending(conn: Connection, notice_id: int) -> None:
    conn.execute(deliveries.update().where(deliveries.c.notice_id == notice_id, deliveries.c.status == "pending")
                 .values(status="withdrawn"))
