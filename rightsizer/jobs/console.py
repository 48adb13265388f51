"""The console's query layer and actions, for the pages and the API alike.

A :class:`Viewer` is who asks: an operator of the centre (everything), a department (its own
servers, findings, notices, exemptions and reports only) or finance (every department's reports,
read-only). The scope is applied in the queries (:mod:`rightsizer.db.console`): another
department's server, notice or request is "not found" — the same answer as one that does not
exist — never fetched and hidden. A role that may not act gets :class:`Forbidden`. Every
action writes its audit row (actor, time, before and after) in the action's own transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime

from ..db import Store
from ..db import console as q
from ..db import notices as db_notices
from ..db import outbox as db_outbox
from ..db import web as db_web
from ..errors import NotFoundError, StateError, UsageError
from ..reports import Month, MonthlyReport
from ..settings import Settings
from . import admin, reports
from .followup import iso

ROLES = ("operator", "department", "finance")


class Forbidden(UsageError):
    """The viewer's role may not do this (a department may not approve; finance may not write)."""


@dataclass(frozen=True)
class Viewer:
    name: str
    role: str  # operator | department | finance
    department: str | None = None  # a department user's own

    @property
    def scope(self) -> str | None:
        """The department the queries are limited to (None: the whole city)."""
        return self.department if self.role == "department" else None

    def label(self) -> str:
        return {"operator": "中心", "department": self.department or "", "finance": "财政局"}[self.role] + " " + self.name


def _need(viewer: Viewer, *roles: str) -> None:
    if viewer.role not in roles:
        raise Forbidden(f"{viewer.role} 无权执行此操作")


def _audit(conn, viewer: Viewer, now: datetime, action: str, target: str, department: str | None, before, after):
    db_web.log(conn, iso(now), viewer.name, viewer.role, action, target, department, before, after)


# -- reads ---------------------------------------------------------------------------------------------------

def _narrow(viewer: Viewer, department: str | None) -> str | None:
    """The viewer's scope, narrowed to ``department`` if asked: another department's is not found."""
    if department is None:
        return viewer.scope
    if viewer.scope is not None and viewer.scope != department:
        raise NotFoundError(f"没有部门 {department}")
    return department


def servers(store: Store, viewer: Viewer, limit: int | None = None, offset: int = 0,
            department: str | None = None) -> list:
    _need(viewer, "operator", "department")
    with store.read() as conn:
        return q.server_rows(conn, _narrow(viewer, department), limit, offset)


def server(store: Store, viewer: Viewer, server_id: str) -> dict:
    """A server with its open findings and the history of its statistics (the evidence)."""
    _need(viewer, "operator", "department")
    with store.read() as conn:
        row = q.server_row(conn, server_id, viewer.scope)
        if row is None:
            raise NotFoundError(f"没有服务器 {server_id}")
        found = q.finding_rows(conn, viewer.scope, server_id)
        history = q.summary_history(conn, server_id)
    return {"server": row, "findings": [dict(r._mapping, detail=json.loads(r.detail)) for r in found],
            "history": history}


def findings(store: Store, viewer: Viewer, department: str | None = None) -> list:
    _need(viewer, "operator", "department")
    with store.read() as conn:
        return q.finding_rows(conn, _narrow(viewer, department))


def notices(store: Store, viewer: Viewer) -> list:
    _need(viewer, "operator", "department")
    with store.read() as conn:
        return q.notice_rows(conn, viewer.scope)


@dataclass
class NoticePage:
    notice: object
    items: list
    answers: dict
    events: list
    deliveries: list
    view: admin.NoticeView
    html: str = ""  # the formal document as first rendered (the email's HTML body), if any


def notice(store: Store, viewer: Viewer, notice_id: int) -> NoticePage:
    _need(viewer, "operator", "department")
    with store.read() as conn:
        row = q.notice_row(conn, notice_id, viewer.scope)
        if row is None:
            raise NotFoundError(f"没有通知 #{notice_id}")
        items = q.item_rows(conn, row.id)
        answers = db_web.answers(conn, [i.id for i in items])
        events, sent = q.event_rows(conn, row.id), q.delivery_rows(conn, row.id)
        first = db_outbox.first_body(conn, row.id) or {}
    return NoticePage(row, items, answers, events, sent, admin.notice(store, row.id), first.get("html", ""))


def notice_id_of(store: Store, viewer: Viewer, number: str) -> int:
    with store.read() as conn:
        row = q.notice_by_number(conn, number, viewer.scope)
    if row is None:
        raise NotFoundError(f"没有通知 {number}")
    return row.id


def exemptions(store: Store, viewer: Viewer) -> tuple[list, list]:
    """(exemptions, requests) in the viewer's scope."""
    _need(viewer, "operator", "department")
    with store.read() as conn:
        return q.exemption_rows(conn, viewer.scope), db_web.requests(conn, viewer.scope)


def monthly(store: Store, settings: Settings, viewer: Viewer, month: Month, now: datetime) -> MonthlyReport:
    """The monthly report: a department sees only its own."""
    return reports.monthly(store, settings, month, now, viewer.scope)


def month_view(city: MonthlyReport, viewer: Viewer):
    """(department rows, totals, 12-month trend) of the city's report that ``viewer`` may see: a department
    its own only; the centre and finance the city."""
    if viewer.scope is None:
        return city.departments, city.totals, city.trend
    from ..reports.monthly import for_department

    return for_department(city, viewer.scope)


def departments(store: Store, viewer: Viewer) -> list[str]:
    if viewer.scope is not None:
        return [viewer.scope]
    with store.read() as conn:
        return q.department_names(conn)


def audit_log(store: Store, viewer: Viewer) -> list:
    _need(viewer, "operator")
    with store.read() as conn:
        return db_web.audit_log(conn)


# -- actions -------------------------------------------------------------------------------------------------

def acknowledge(store: Store, viewer: Viewer, now: datetime, notice_id: int, note: str = "") -> admin.Transition:
    _need(viewer, "operator", "department")
    _notice_in_scope(store, viewer, notice_id)
    return admin.transition(store, now, notice_id, "ack", viewer.label(), note, also=lambda conn, t: _audit(
        conn, viewer, now, "notice.ack", t.number, _dept_of(conn, notice_id), {"status": t.old}, {"status": t.new}))


def withdraw(store: Store, viewer: Viewer, now: datetime, notice_id: int, note: str) -> admin.Transition:
    _need(viewer, "operator")
    return admin.transition(store, now, notice_id, "withdraw", viewer.label(), note, also=lambda conn, t: _audit(
        conn, viewer, now, "notice.withdraw", t.number, _dept_of(conn, notice_id), {"status": t.old},
        {"status": t.new, "note": note}))


def resend(store: Store, viewer: Viewer, now: datetime, notice_id: int) -> list[str]:
    _need(viewer, "operator")
    return admin.resend(store, now, notice_id, viewer.label(), also=lambda conn, channels: _audit(
        conn, viewer, now, "notice.resend", str(notice_id), _dept_of(conn, notice_id), {}, {"channels": channels}))


def answer(store: Store, viewer: Viewer, now: datetime, notice_id: int, item_id: int, kind: str, note: str) -> None:
    """A department answers one item: ``done`` (已整改，待核验 — the inventory still verifies it) or
    ``objection`` (a reasoned objection for the centre)."""
    _need(viewer, "department", "operator")
    if kind not in ("done", "objection"):
        raise UsageError(f"kind: {kind!r} is done or objection")
    if not note.strip():
        raise UsageError("请填写说明")
    with store.begin() as conn:
        row = q.notice_row(conn, notice_id, viewer.scope)
        item = next((i for i in q.item_rows(conn, notice_id) if i.id == item_id), None) if row else None
        if item is None:
            raise NotFoundError(f"没有事项 #{item_id}")
        if item.status not in ("open", "advice"):
            raise StateError(f"该事项已{item.status}，无需答复")
        db_web.add_answer(conn, item_id, kind, note.strip(), viewer.label(), iso(now))
        label = "已整改，待核验" if kind == "done" else "异议"
        db_notices.add_event(conn, notice_id, iso(now), viewer.label(), row.status, row.status,
                             f"{label}（{item.server_id}）：{note.strip()}")
        _audit(conn, viewer, now, f"item.{kind}", f"{row.number}#{item_id}", row.department,
               {"item": item.status}, {"answer": kind, "note": note.strip()})


def request_exemption(store: Store, viewer: Viewer, now: datetime, server_id: str, reason: str, until: date) -> int:
    _need(viewer, "department")
    if not reason.strip():
        raise UsageError("请填写豁免理由")
    if until < now.date():
        raise UsageError(f"豁免期限 {until.isoformat()} 早于今天")
    with store.begin() as conn:
        srv = q.server_row(conn, server_id, viewer.scope)
        if srv is None:
            raise NotFoundError(f"没有服务器 {server_id}")
        rid = db_web.add_request(conn, srv.department, server_id, reason.strip(), until.isoformat(), viewer.label(),
                                 iso(now))
        _audit(conn, viewer, now, "exemption.request", f"request#{rid}", srv.department, {},
               {"server_id": server_id, "reason": reason.strip(), "until": until.isoformat()})
        return rid


def decide(store: Store, viewer: Viewer, now: datetime, request_id: int, approve: bool, note: str = "") -> int | None:
    """Approve (an exemption of the server until the requested day; the next sweep honours it) or reject."""
    _need(viewer, "operator")
    with store.read() as conn:
        req = db_web.request(conn, request_id, None)
    if req is None:
        raise NotFoundError(f"没有豁免申请 #{request_id}")
    if req.status != "pending":
        raise StateError(f"豁免申请 #{request_id} 已{'批准' if req.status == 'approved' else '驳回'}")

    def record(conn, eid):
        if not db_web.decide(conn, request_id, "approved" if approve else "rejected", viewer.label(), iso(now),
                             note, eid):
            raise StateError(f"豁免申请 #{request_id} 已被处理")
        _audit(conn, viewer, now, "exemption.approve" if approve else "exemption.reject", f"request#{request_id}",
               req.department, {"status": "pending"},
               {"status": "approved" if approve else "rejected", "exemption_id": eid, "note": note})

    if approve:
        return admin.exempt(store, now, "server", req.server_id, req.reason, viewer.label(),
                            date.fromisoformat(req.until), also=record)
    with store.begin() as conn:
        record(conn, None)
    return None


def _notice_in_scope(store: Store, viewer: Viewer, notice_id: int) -> None:
    with store.read() as conn:
        if q.notice_row(conn, notice_id, viewer.scope) is None:
            raise NotFoundError(f"没有通知 #{notice_id}")


def _dept_of(conn, notice_id: int) -> str | None:
    row = q.notice_row(conn, notice_id, None)
    return row.department if row else None
