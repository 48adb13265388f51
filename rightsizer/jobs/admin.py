"""Operators' actions on notices and exemptions, and the views they read.

Every action is one transaction and records who did it, when and why as a notice event.
A state the action does not apply to is a :class:`~rightsizer.errors.StateError`; an
unknown notice is a :class:`~rightsizer.errors.NotFoundError`.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from ..db import Store
from ..db import exemptions as db_exemptions
from ..db import notices as db_notices
from ..db import outbox as db_outbox
from ..db.schema import OPEN_STATES
from ..errors import NotFoundError, StateError, UsageError
from .followup import iso

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
    items: list  # every item with its state, evidence, realised saving and finding detail
    pdf: bytes | None = None  # the notice as signed (红头 PDF), as it was sent
    pdf_name: str = ""


def _notice(conn, notice_id: int):
    row = db_notices.get(conn, notice_id)
    if row is None:
        raise NotFoundError(f"no notice #{notice_id} (see `rightsizer notices list`)")
    return row


def transition(store: Store, now: datetime, notice_id: int, action: str, actor: str, note: str = "",
               also: Callable[[object, Transition], None] | None = None) -> Transition:
    """``ack`` (recorded; it closes nothing) or ``withdraw`` (items and pending deliveries withdrawn too).

    An overdue or escalated notice that is acknowledged stays where it is: the ack is recorded, the
    notice is neither moved back nor escalated again."""
    target, allowed = TRANSITIONS[action]
    with store.begin() as conn:
        row = _notice(conn, notice_id)
        if row.status not in allowed:
            raise StateError(f"{row.number} 当前状态为 {row.status}，{action} 只适用于 {', '.join(allowed)}")
        if action == "ack" and row.status in ("overdue", "escalated"):
            db_notices.add_event(conn, row.id, iso(now), actor, row.status, row.status,
                                 "acknowledged" + (f": {note}" if note else ""))
            done = Transition(row.number, row.status, row.status)
        else:
            db_notices.set_status(conn, row.id, target)
            db_notices.add_event(conn, row.id, iso(now), actor, row.status, target, note or "")
            if target == "withdrawn":
                db_notices.withdraw_items(conn, row.id)
                db_outbox.withdraw_pending(conn, row.id)
            done = Transition(row.number, row.status, target)
        if also is not None:  # e.g. the console's audit row, in the same transaction
            also(conn, done)
    return done


def ack(store: Store, now: datetime, notice_id: int, actor: str, note: str = "") -> Transition:
    return transition(store, now, notice_id, "ack", actor, note)


def withdraw(store: Store, now: datetime, notice_id: int, actor: str, note: str = "") -> Transition:
    return transition(store, now, notice_id, "withdraw", actor, note)


def exempt(store: Store, now: datetime, scope: str, target: str, reason: str, approver: str, until: date,
           also: Callable[[object, int], None] | None = None) -> int:
    """Exempt a server or a system (every server of it) until ``until`` (inclusive); the exemption's id.
    The server or system must be known to the store and ``until`` not in the past."""
    if scope not in ("server", "system"):
        raise UsageError(f"scope: {scope!r} is not server or system")
    if until < now.date():
        raise UsageError(f"--until {until.isoformat()} 已经过去（今天是 {now.date().isoformat()}）：豁免期限不能早于今天")
    if not reason.strip() or not approver.strip():
        raise UsageError("--reason 和 --approver 不能为空")
    with store.begin() as conn:
        known = db_exemptions.server_known if scope == "server" else db_exemptions.system_known
        if not known(conn, target):
            what = "服务器" if scope == "server" else "系统"
            raise NotFoundError(f"没有{what} {target!r}（请先运行 evaluate 或 inventory sync；名称须与清单一致）")
        eid = db_exemptions.add(conn, scope, target, reason, approver, until.isoformat(), iso(now))
        if also is not None:
            also(conn, eid)
        return eid


def unexempt(store: Store, now: datetime, exemption_id: int, actor: str):
    """Revoke an exemption from now on; the next sweep sends its findings back to their notices."""
    with store.begin() as conn:
        e = db_exemptions.get(conn, exemption_id)
        if e is None:
            raise NotFoundError(f"没有豁免 #{exemption_id}（见 `rightsizer notices exemptions`）")
        if e.revoked_at:
            raise StateError(f"豁免 #{exemption_id} 已于 {e.revoked_at} 由 {e.revoked_by} 撤销")
        db_exemptions.revoke(conn, exemption_id, iso(now), actor)
        return e


def resend(store: Store, now: datetime, notice_id: int, actor: str, channel: str | None = None,
           also: Callable[[object, list[str]], None] | None = None) -> list[str]:
    """Queue a notice's dead deliveries again (same idempotency key and Message-ID); their channels."""
    with store.begin() as conn:
        row = _notice(conn, notice_id)
        channels = db_outbox.resend(conn, row.id, channel, now)
        if not channels:
            raise StateError(f"{row.number} 没有投递失败（dead）的消息" + (f"（渠道 {channel}）" if channel else ""))
        db_notices.add_event(conn, row.id, iso(now), actor, row.status, row.status,
                             f"resend: {', '.join(channels)}")
        if also is not None:
            also(conn, channels)
        return channels


def notices(store: Store, department: str | None = None, status: str | None = None, overdue: bool = False,
            today: date | None = None) -> list[tuple[object, dict[str, int]]]:
    """Notices with their item counts by state, filtered by department, status, or overdue (open and past
    the due date on ``today``)."""
    with store.read() as conn:
        counts = db_notices.item_state_counts(conn)
        out = []
        for r in db_notices.all_notices(conn):
            if department and r.department != department or status and r.status != status:
                continue
            if overdue and not (r.status in OPEN_STATES and r.due_date and today and r.due_date < today.isoformat()):
                continue
            out.append((r, counts.get(r.id, {})))
        return out


def notice(store: Store, notice_id: int) -> NoticeView:
    with store.read() as conn:
        row = _notice(conn, notice_id)
        body = db_outbox.first_body(conn, row.id)
        pdf = base64.b64decode(body["pdf_b64"]) if body and body.get("pdf_b64") else None
        return NoticeView(row, db_notices.events(conn, row.id), db_outbox.of_notice(conn, row.id),
                          body["text"] if body else "", db_notices.items(conn, row.id), pdf,
                          (body or {}).get("pdf_name", ""))


def exemptions(store: Store) -> list:
    with store.read() as conn:
        return db_exemptions.all_exemptions(conn)
