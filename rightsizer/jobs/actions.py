"""Actions on notices and exemptions, by anyone: an operator at the CLI or the console, a department, a token.

Every action takes a :class:`~rightsizer.lifecycle.Viewer`, asks :func:`~rightsizer.lifecycle.check`
whether that viewer may take it in the notice's state (the table of :mod:`rightsizer.lifecycle`),
and is one transaction that records who did it, when and why: a notice event where a notice is
concerned, and an audit row (actor, role, time, before and after) always — at the CLI as at the
console. A notice of another department is "not found"; a role that may not act gets
:class:`~rightsizer.lifecycle.Forbidden`; a state the action does not apply to is a
:class:`~rightsizer.errors.StateError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from itertools import islice

from ..db import Store
from ..db import accounts as db_accounts
from ..db import exemptions as db_exemptions
from ..db import notices as db_notices
from ..db import inventory as db_inventory
from ..db import outbox as db_outbox
from ..errors import NotFoundError, StateError, UsageError
from ..format import minute
from ..lifecycle import ACTION_TARGET, ANSWER_LABELS, AnswerKind, NoticeState, RequestState, Viewer, check
from ..records import Notice


@dataclass(frozen=True)
class Transition:
    number: str
    old: NoticeState
    new: NoticeState


def _audit(conn, viewer: Viewer, now: datetime, action: str, target: str, department: str | None, before, after):
    db_accounts.log(conn, now, viewer.name, viewer.role, action, target, department, before, after)


def _notice(conn, viewer: Viewer, notice_id: int) -> Notice:
    n = db_notices.get(conn, notice_id, viewer.scope)
    if n is None:
        raise NotFoundError(f"没有通知 #{notice_id}（见 `rightsizer notices list`）")
    return n


NOTE_MAX = 1000  # characters of a note, an answer or a reason: a page, not a file


def _short(text: str, what: str = "说明") -> str:
    if len(text) > NOTE_MAX:
        raise UsageError(f"{what}过长：{len(text)} 个字符，最多 {NOTE_MAX} 个")
    return text


def transition(store: Store, viewer: Viewer, now: datetime, notice_id: int, action: str, note: str = "") -> Transition:
    """``ack`` (recorded; it closes nothing) or ``withdraw`` (items and pending deliveries withdrawn too).

    An overdue or escalated notice that is acknowledged stays where it is: the ack is recorded, the
    notice is neither moved back nor escalated again."""
    note = _short(note.strip())
    with store.begin() as conn:
        n = _notice(conn, viewer, notice_id)
        check(viewer, action, notice=n, what=n.number)
        target = ACTION_TARGET[action]
        if action == "ack" and n.state in (NoticeState.OVERDUE, NoticeState.ESCALATED):
            db_notices.add_event(conn, n.id, now, viewer.label(), n.state, n.state,
                                 "acknowledged" + (f": {note}" if note else ""),
                                 NoticeState.ACKNOWLEDGED.label + (f"：{note}" if note else ""))
            done = Transition(n.number, n.state, n.state)
        else:
            db_notices.set_state(conn, n.id, target)
            db_notices.add_event(conn, n.id, now, viewer.label(), n.state, target, note,
                                 target.label + (f"：{note}" if note else ""))
            if target == NoticeState.WITHDRAWN:
                db_notices.withdraw_items(conn, n.id)
                db_outbox.withdraw_pending(conn, n.id)
            done = Transition(n.number, n.state, target)
        _audit(conn, viewer, now, f"notice.{action}", n.number, n.department, {"state": done.old},
               {"state": done.new, **({"note": note} if note else {})})
    return done


def ack(store: Store, viewer: Viewer, now: datetime, notice_id: int, note: str = "") -> Transition:
    return transition(store, viewer, now, notice_id, "ack", note)


def withdraw(store: Store, viewer: Viewer, now: datetime, notice_id: int, note: str = "") -> Transition:
    return transition(store, viewer, now, notice_id, "withdraw", note)


def resend(store: Store, viewer: Viewer, now: datetime, notice_id: int, channel: str | None = None) -> list[str]:
    """Queue a notice's dead deliveries again (same idempotency key and Message-ID); their channels."""
    with store.begin() as conn:
        n = _notice(conn, viewer, notice_id)
        check(viewer, "resend", notice=n, what=n.number)
        channels = db_outbox.resend(conn, n.id, channel, now)
        if not channels:
            raise StateError(f"{n.number} 没有投递失败（dead）的消息" + (f"（渠道 {channel}）" if channel else ""))
        db_notices.add_event(conn, n.id, now, viewer.label(), n.state, n.state, f"resend: {', '.join(channels)}",
                             "已重新发送")
        _audit(conn, viewer, now, "notice.resend", n.number, n.department, {}, {"channels": channels})
        return channels


def answer(store: Store, viewer: Viewer, now: datetime, notice_id: int, item_id: int, kind: str, note: str) -> None:
    """A department answers one item: ``done`` (已整改，待核验 — the inventory still verifies it) or
    ``objection`` (a reasoned objection for the centre)."""
    if kind not in AnswerKind.__members__.values():
        raise UsageError(f"kind: {kind!r} is done or objection")
    if not note.strip():
        raise UsageError("请填写说明")
    _short(note.strip())
    with store.begin() as conn:
        n = _notice(conn, viewer, notice_id)
        item = next((i for i in db_notices.items(conn, n.id) if i.id == item_id), None)
        if item is None:
            raise NotFoundError(f"没有事项 #{item_id}")
        check(viewer, "answer", notice=n, item=item, what=f"事项 #{item_id}")
        db_notices.add_answer(conn, item_id, kind, note.strip(), viewer.label(), now)
        said = f"{ANSWER_LABELS[AnswerKind(kind)]}（{item.server_id}）：{note.strip()}"
        db_notices.add_event(conn, n.id, now, viewer.label(), n.state, n.state, said, said)
        _audit(conn, viewer, now, f"item.{kind}", f"{n.number}#{item_id}", n.department,
               {"item": item.state}, {"answer": kind, "note": note.strip()})


def exempt(store: Store, viewer: Viewer, now: datetime, scope: str, target: str, reason: str, until: date,
           request_id: int | None = None, note: str = "", department: str | None = None) -> int:
    """Exempt a server or a system (every server of it) until ``until`` (inclusive); the exemption's id. The
    server or system must be known to the store and ``until`` not in the past. A system is a department's: with
    ``department`` that one's; without, the one department that has a system of that name — a name several
    departments have is refused with them listed. With ``request_id``, the department's request it approves (in
    the same transaction)."""
    check(viewer, "exempt")
    if scope not in ("server", "system"):
        raise UsageError(f"scope: {scope!r} is not server or system")
    if until < now.date():
        raise UsageError(f"--until {until.isoformat()} 已经过去（今天是 {now.date().isoformat()}）：豁免期限不能早于今天")
    if not reason.strip() or not viewer.name.strip():
        raise UsageError("--reason 和 --approver 不能为空")
    _short(reason, "理由")
    with store.begin() as conn:
        known = db_exemptions.server_known if scope == "server" else db_exemptions.system_known
        if not known(conn, target):
            what = "服务器" if scope == "server" else "系统"
            raise NotFoundError(f"没有{what} {target!r}（请先运行 evaluate 或 inventory sync；名称须与清单一致）")
        if scope == "system":
            have = db_exemptions.system_departments(conn, target)
            listed = "、".join(islice(have, 10)) + ("等" if len(have) > 10 else "")
            if department is None and len(have) > 1:
                raise UsageError(f"系统 {target!r} 有 {len(have)} 个部门都有（{listed}）：请用 --department 指明是哪个部门的系统")
            department = department or have[0]
            if department not in have:
                raise NotFoundError(f"{department} 没有系统 {target!r}（有此系统的部门：{listed}）")
        eid = db_exemptions.add(conn, scope, target, reason, viewer.label() if request_id else viewer.name, until,
                                now, department if scope == "system" else None)
        srv = db_inventory.server_row(conn, target, None) if scope == "server" else None
        if request_id is not None:
            _decide(conn, viewer, now, request_id, RequestState.APPROVED, note, eid)
        _audit(conn, viewer, now, "exemption.add", f"exemption#{eid}", srv.department if srv else department, {},
               {"scope": scope, "target": target, "reason": reason, "until": until.isoformat()})
        return eid


def unexempt(store: Store, viewer: Viewer, now: datetime, exemption_id: int):
    """Revoke an exemption from now on; the next sweep sends its findings back to their notices."""
    check(viewer, "unexempt")
    with store.begin() as conn:
        e = db_exemptions.get(conn, exemption_id)
        if e is None:
            raise NotFoundError(f"没有豁免 #{exemption_id}（见 `rightsizer notices exemptions`）")
        if e.revoked_at:
            raise StateError(f"豁免 #{exemption_id} 已于 {minute(e.revoked_at, now.tzinfo)} 由 {e.revoked_by} 撤销")
        db_exemptions.revoke(conn, exemption_id, now, viewer.name)
        _audit(conn, viewer, now, "exemption.revoke", f"exemption#{exemption_id}", None, {"revoked": False},
               {"revoked": True})
        return e


def request_exemption(store: Store, viewer: Viewer, now: datetime, server_id: str, reason: str, until: date) -> int:
    check(viewer, "request_exemption")
    if not reason.strip():
        raise UsageError("请填写豁免理由")
    _short(reason, "豁免理由")
    if until < now.date():
        raise UsageError(f"豁免期限 {until.isoformat()} 早于今天")
    with store.begin() as conn:
        srv = db_inventory.server_row(conn, server_id, viewer.scope)
        if srv is None:
            raise NotFoundError(f"没有服务器 {server_id}")
        rid = db_exemptions.add_request(conn, srv.department, server_id, reason.strip(), until, viewer.label(), now)
        _audit(conn, viewer, now, "exemption.request", f"request#{rid}", srv.department, {},
               {"server_id": server_id, "reason": reason.strip(), "until": until.isoformat()})
        return rid


def decide(store: Store, viewer: Viewer, now: datetime, request_id: int, approve: bool, note: str = "") -> int | None:
    """Approve (an exemption of the server until the requested day; the next sweep honours it) or reject."""
    check(viewer, "approve" if approve else "reject")
    _short(note)
    with store.read() as conn:
        req = db_exemptions.request(conn, request_id, None)
    if req is None:
        raise NotFoundError(f"没有豁免申请 #{request_id}")
    check(viewer, "approve" if approve else "reject", request=req, what=f"豁免申请 #{request_id}")
    if approve:
        return exempt(store, viewer, now, "server", req.server_id, req.reason, req.until, request_id, note)
    with store.begin() as conn:
        _decide(conn, viewer, now, request_id, RequestState.REJECTED, note, None)
    return None


def _decide(conn, viewer: Viewer, now: datetime, request_id: int, state: RequestState, note: str,
            eid: int | None) -> None:
    req = db_exemptions.request(conn, request_id, None)
    if not db_exemptions.decide(conn, request_id, state, viewer.label(), now, note, eid):
        raise StateError(f"豁免申请 #{request_id} 已被处理")
    _audit(conn, viewer, now, f"exemption.{'approve' if state == RequestState.APPROVED else 'reject'}",
           f"request#{request_id}", req.department, {"state": RequestState.PENDING},
           {"state": state, "exemption_id": eid, "note": note})
