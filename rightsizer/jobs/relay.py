"""The outbox relay: send what is due, at least once, never lost.

A delivery is *claimed* with a lease in a short transaction; the message is sent with no
database lock held; the result is recorded in another transaction. A relay that dies
between sending and recording leaves the lease to expire and the delivery is sent again
with the **same idempotency key and Message-ID** — at worst a duplicate the receiver can
recognise, never a loss. Failures back off exponentially with jitter; after
``max_attempts`` a delivery is ``dead`` and an operator alert goes out. Each channel's
rate limits (its notifier's ``rate_limits``) are counted from the store, so several
relays together stay under them.

A notice is ``delivered`` when its first department delivery is sent; its due date is
then the delivery day + N working days. A year the calendar does not know holds the
deadline (``due_date`` stays empty) and the operator is alerted — it never guesses.
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from notifiers import rate_limits
from notifiers.base import Attachment, Message, Notifier, SendResult

from ..calendar import WorkCalendar
from ..db import Store
from ..db import notices as db_notices
from ..db import outbox as db_outbox
from ..errors import CalendarError
from ..settings import Settings
from .notices import alert, iso

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass
class RelayReport:
    sent: int = 0
    retried: int = 0
    dead: int = 0
    deferred: int = 0  # over a channel's rate limit: not attempted this round


def build_notifiers(settings: Settings) -> dict[str, Notifier]:
    """Every configured notifier by channel name (secrets are read here)."""
    import notifiers

    return {b["name"]: notifiers.build(b) for b in settings.notifiers}


def rate_wait(conn, channel: str, limits: list[tuple[int, float]], now: float) -> float:
    """Seconds to wait before ``channel`` may send again; counted from the store, so every relay agrees."""
    if not limits:
        return 0.0
    recent = db_outbox.recent_sends(conn, channel, now - max(window for _, window in limits))
    waits = [window - (now - recent[n - 1]) for n, window in limits if len(recent) >= n]
    return max([0.0, *waits])


def backoff(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Exponential backoff with full jitter: uniform in [base, min(cap, base * 2**attempt)]."""
    return rng.uniform(base, max(base, min(cap, base * 2 ** attempt)))


def deliver(store: Store, settings: Settings, calendar: WorkCalendar, now: Callable[[], datetime],
            notifiers: dict[str, Notifier] | None = None, limit: int = 1000,
            rng: random.Random | None = None) -> RelayReport:
    """Send what is due once; returns counts. Safe to run in several processes at once."""
    n = settings.notices
    notifiers = build_notifiers(settings) if notifiers is None else notifiers
    rng = rng or random.Random()
    limits = {b["name"]: rate_limits(b["type"]) for b in settings.notifiers}  # per channel, by its type
    report = RelayReport()
    with store.begin() as conn:
        claimed = db_outbox.claim(conn, now().timestamp(), n.lease_seconds, limit)
    for row in claimed:
        notifier = notifiers.get(row.channel)
        with store.read() as conn:
            wait = rate_wait(conn, row.channel, limits.get(row.channel, []), now().timestamp())
        if wait > 0:
            _record(store, row, None, now(), settings, calendar, rng, defer=wait)
            report.deferred += 1
            continue
        if notifier is None:
            result = SendResult(False, False, f"no notifier named {row.channel!r} is configured")
        else:
            try:
                result = notifier.send(_message(row))  # no database lock is held here
            except Exception as exc:  # noqa: BLE001 - a notifier bug must not lose the delivery
                result = SendResult(False, True, f"{row.channel}: {type(exc).__name__}")
        outcome = _record(store, row, result, now(), settings, calendar, rng)
        setattr(report, outcome, getattr(report, outcome) + 1)
    return report


def _message(row) -> Message:
    body = json.loads(row.body)
    attachments = ()
    if body.get("xlsx_b64"):
        attachments = (Attachment(body["xlsx_name"], base64.b64decode(body["xlsx_b64"]), XLSX),)
    return Message(key=row.idempotency_key, subject=row.subject, text=body.get("text", ""),
                   markdown=body.get("markdown", ""), html=body.get("html", ""),
                   recipients=tuple(json.loads(row.recipients)), message_id=row.message_id,
                   link=body.get("link", ""), attachments=attachments)


def _record(store: Store, row, result: SendResult | None, at: datetime, settings: Settings,
            calendar: WorkCalendar, rng: random.Random, defer: float = 0.0) -> str:
    n = settings.notices
    with store.begin() as conn:
        if result is None:  # deferred by the rate limit: the attempt does not count
            db_outbox.update(conn, row.id, lease_until=0.0, attempts=row.attempts,
                             next_attempt_at=at.timestamp() + defer)
            return "deferred"
        attempts = row.attempts + 1
        if result.ok:
            db_outbox.update(conn, row.id, status="sent", sent_at=iso(at), sent_ts=at.timestamp(), lease_until=0.0,
                             last_error="")
            if row.notice_id is not None and row.purpose == "notice":
                _delivered(conn, row.notice_id, at, settings, calendar)
            return "sent"
        if result.refused and result.accepted:  # retry only the refused recipients
            db_outbox.update(conn, row.id, recipients=json.dumps(result.refused, ensure_ascii=False))
        if result.recoverable and attempts < n.max_attempts:
            delay = result.retry_after_seconds or backoff(attempts, n.backoff_base_seconds, n.backoff_max_seconds, rng)
            db_outbox.update(conn, row.id, next_attempt_at=at.timestamp() + delay, lease_until=0.0,
                             last_error=result.detail[:500])
            return "retried"
        db_outbox.update(conn, row.id, status="dead", lease_until=0.0, last_error=result.detail[:500])
        why = "permanent failure" if not result.recoverable else f"{attempts} attempts"
        if row.notice_id is not None:
            number = db_outbox.notice_number(conn, row.notice_id)
            db_notices.add_event(conn, row.notice_id, iso(at), "relay", None, "undeliverable",
                                 f"{row.channel}: {why}: {result.detail[:300]}")
            what = f"{number} via {row.channel}"
        else:
            what = f"alert via {row.channel}"
        if row.purpose != "alert":  # an alert that cannot be delivered stays dead and listed, no alert loop
            alert(conn, settings, at, f"{what} could not be delivered ({why}): {result.detail[:300]}",
                  f"dead:{row.idempotency_key}")
        return "dead"


def _delivered(conn, notice_id: int, at: datetime, settings: Settings, calendar: WorkCalendar) -> None:
    cur = db_notices.get(conn, notice_id)
    if cur.status != "issued":
        return
    values = {"delivered_at": iso(at)}
    note = "first delivery to the department"
    try:
        due = calendar.add_workdays(at.date(), settings.notices.workdays_to_rectify)
        values["due_date"] = due.isoformat()
        note += f"; due {due.isoformat()} ({settings.notices.workdays_to_rectify} working days)"
    except CalendarError as exc:
        values["hold_reason"] = str(exc)
        note += "; deadline held: the working-day calendar does not cover it"
        alert(conn, settings, at, f"{cur.number}: deadline held: {exc}", f"hold:{cur.number}")
    db_notices.set_status(conn, notice_id, "delivered", **values)
    db_notices.add_event(conn, notice_id, iso(at), "relay", "issued", "delivered", note)

