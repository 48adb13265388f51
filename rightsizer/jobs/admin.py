"""Operators' actions on notices and exemptions, and the views they read.

Every action is one transaction and records who did it, when and why as a notice event.
A state the action does not apply to is a :class:`~rightsizer.errors.StateError`; an
unknown notice is a :class:`~rightsizer.errors.NotFoundError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from ..db import Store
from ..db import exemptions as db_exemptions
from ..db import notices as db_notices
from ..db import outbox as db_outbox
from ..db.schema import OPEN_STATES
from ..errors import NotFoundError, StateError, UsageError
from .notices import iso

# action -> (the status it leads to, the statuses it applies to)
TRANSITIONS = {
    "ack": ("acknowledged", ("delivered", "overdue", "escalated")),
    "withdraw": ("withdrawn", OPEN_STATES),
}


@dataclass(frozen=True)
class Transition:
    number: str
    old: str
    new: str


@dataclass(frozen=True)
class NoticeView:
    notice: object  # the notice row
    events: list
    deliveries: list
    text: str  # the notice's text as first delivered ("" if none)


def _notice(conn, notice_id: int):
    row = db_notices.get(conn, notice_id)
    if row is None:
        raise NotFoundError(f"no notice #{notice_id} (see `rightsizer notices list`)")
    return row


def transition(store: Store, now: datetime, notice_id: int, action: str, actor: str, note: str = "") -> Transition:
    """``ack`` (recorded; it closes nothing) or ``withdraw`` (items and pending deliveries withdrawn too)."""
    target, allowed = TRANSITIONS[action]
    with store.begin() as conn:
        row = _notice(conn, notice_id)
        if row.status not in allowed:
            raise StateError(f"{row.number} is {row.status}; {action} needs one of {', '.join(allowed)}")
        db_notices.set_status(conn, row.id, target)
        db_notices.add_event(conn, row.id, iso(now), actor, row.status, target, note or "")
        if target == "withdrawn":
            db_notices.withdraw_items(conn, row.id)
            db_outbox.withdraw_pending(conn, row.id)
    return Transition(row.number, row.status, target)


def ack(store: Store, now: datetime, notice_id: int, actor: str, note: str = "") -> Transition:
    return transition(store, now, notice_id, "ack", actor, note)


def withdraw(store: Store, now: datetime, notice_id: int, actor: str, note: str = "") -> Transition:
    return transition(store, now, notice_id, "withdraw", actor, note)


def exempt(store: Store, now: datetime, scope: str, target: str, reason: str, approver: str, until: date) -> int:
    """Exempt a server or a system (every server of it) until ``until`` (inclusive); the exemption's id."""
    if scope not in ("server", "system"):
        raise UsageError(f"scope: {scope!r} is not server or system")
    with store.begin() as conn:
        return db_exemptions.add(conn, scope, target, reason, approver, until.isoformat(), iso(now))


def notices(store: Store) -> list[tuple[object, int]]:
    """Every notice with its number of items."""
    with store.read() as conn:
        counts = db_notices.item_counts(conn)
        return [(r, counts.get(r.id, 0)) for r in db_notices.all_notices(conn)]


def notice(store: Store, notice_id: int) -> NoticeView:
    with store.read() as conn:
        row = _notice(conn, notice_id)
        body = db_outbox.first_body(conn, row.id)
        return NoticeView(row, db_notices.events(conn, row.id), db_outbox.of_notice(conn, row.id),
                          body["text"] if body else "")


def exemptions(store: Store) -> list:
    with store.read() as conn:
        return db_exemptions.all_exemptions(conn)
