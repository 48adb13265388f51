"""What a viewer may read, and the one view of a notice that every reader shares.

A :class:`~rightsizer.lifecycle.Viewer` is who asks: an operator of the centre (everything, at the
console or the CLI), a department (its own servers, findings, notices, exemptions and reports
only) or finance (every department's reports, read-only). The scope is applied in the queries:
another department's server, notice or request is "not found" — the same answer as one that
does not exist — never fetched and hidden. A role that may not read gets
:class:`~rightsizer.lifecycle.Forbidden`.

:class:`NoticeView` is a notice as people read it — its items with their findings and answers,
its events, deliveries, text and files — and :meth:`NoticeView.to_json` is the one JSON of it:
``rightsizer notices show --format json``, ``/api/v1/notices/{id}``, the console's notice page
and the ``notice`` of each webhook message give the same keys, the same state names and the
same Chinese labels (:mod:`rightsizer.lifecycle`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from decimal import Decimal

from ..db import Store
from ..db import documents as db_documents
from ..db import exemptions as db_exemptions
from ..db import inventory as db_inventory
from ..db import notices as db_notices
from ..db import outbox as db_outbox
from ..db import runs as db_runs
from ..errors import NotFoundError
from ..format import DIM_ZH, KIND_ZH, cny, date_zh, iso_time, size_json
from ..lifecycle import (ANSWER_LABELS, RECTIFY_KINDS, AnswerKind, ItemState, NoticeState, RequestState, ServerState,
                         Viewer, check, delivery_label, label)
from ..models import Finding
from ..records import Answer, Delivery, Document, Notice, NoticeEvent, NoticeItem

HELD = "期限待定（节假日安排未发布）"
NO_DEADLINE = "不设期限（扩容建议）"


def deadline_zh(notice: Notice) -> str:
    """The due date as a department reads it; a held deadline and advice (no deadline) said apart."""
    if notice.due_date is not None:
        return date_zh(notice.due_date)
    return HELD if notice.hold_reason else NO_DEADLINE


@dataclass(frozen=True)
class NoticeView:
    notice: Notice
    follows: str | None  # the number of the notice this one follows up
    items: list[NoticeItem]
    answers: dict[int, list[Answer]]
    events: list[NoticeEvent]
    deliveries: list[Delivery]
    text: str = ""  # the notice's text as first delivered ("" before it was rendered)
    html: str = ""  # the formal document as first rendered (the email's HTML body)
    pdf: Document | None = None  # the notice as signed (红头 PDF), its newest version
    operator: bool = field(default=False)  # an operator's view carries the platforms' error text

    @property
    def deadline(self) -> str:
        return deadline_zh(self.notice)

    def summary_json(self, tz: tzinfo, item_counts: dict[str, int] | None = None) -> dict:
        """The notice without its items, events and deliveries (the lists of the CLI and the API)."""
        return notice_json(self.notice, self.follows, tz, item_counts)

    def to_json(self, tz: tzinfo) -> dict:
        return self.summary_json(tz) | {
            "items": [item_json(i, self.answers.get(i.id, []), tz) for i in self.items],
            "events": [{"at": iso_time(e.at, tz), "actor": e.actor, "from": e.from_state, "to": e.to_state,
                        "from_zh": label(e.from_state), "to_zh": label(e.to_state),
                        "note": e.note if self.operator else None,  # the centre's detail (channels, errors)
                        "note_zh": e.note_zh or None}
                       for e in self.events],
            "deliveries": [{"channel": d.channel, "purpose": d.purpose, "state": d.state.value,
                            "state_zh": delivery_label(d.state), "attempts": d.attempts,
                            "sent_at": iso_time(d.sent_at, tz),
                            "last_error": (d.last_error or None) if self.operator else None}
                           for d in self.deliveries]}


def notice_json(n: Notice, follows: str | None, tz: tzinfo, item_counts: dict[str, int] | None = None) -> dict:
    out = {"id": n.id, "number": n.number, "department": n.department, "state": n.state.value,
           "state_zh": n.state.label, "follows": follows, "issued_at": iso_time(n.issued_at, tz),
           "delivered_at": iso_time(n.delivered_at, tz), "due_date": n.due_date.isoformat() if n.due_date else None,
           "deadline_zh": deadline_zh(n), "hold_reason": n.hold_reason}
    if item_counts is not None:
        out["item_counts"] = dict(sorted(item_counts.items()))
    return out


def item_json(i: NoticeItem, answers: list[Answer], tz: tzinfo) -> dict:
    f = i.finding
    return {"id": i.id, "server_id": i.server_id, "server_name": f.server_name, "system": f.system,
            "kind": i.kind, "kind_zh": KIND_ZH.get(i.kind, i.kind), "dimension": i.dimension,
            "dimension_zh": DIM_ZH.get(i.dimension or "", "") or None, "state": i.state.value,
            "state_zh": i.state.label, "closed_at": iso_time(i.closed_at, tz), "evidence": i.evidence,
            "monthly_saving_cny": cny(f.monthly_saving_cny), "realised_saving_cny": cny(i.realised_saving_cny),
            "current": size_json(f.current), "recommended": size_json(f.recommended),
            "answers": [{"kind": a.kind, "kind_zh": ANSWER_LABELS[AnswerKind(a.kind)], "note": a.note,
                         "actor": a.actor, "at": iso_time(a.at, tz)} for a in answers]}


def _need(viewer: Viewer) -> None:
    check(viewer, "read")


def _narrow(viewer: Viewer, department: str | None) -> str | None:
    """The viewer's scope, narrowed to ``department`` if asked: another department's is not found."""
    if department is None:
        return viewer.scope
    if viewer.scope is not None and viewer.scope != department:
        raise NotFoundError(f"没有部门 {department}")
    return department


# -- notices -------------------------------------------------------------------------------------------------------

def notice_view(conn, notice_id: int, viewer: Viewer | None = None, operator: bool | None = None) -> NoticeView:
    """The view of one notice in ``viewer``'s scope (none: the system itself, e.g. the relay), in ``conn``.
    ``operator`` says whether its reader is the centre (the platforms' error text is the centre's only); by
    default, whether the viewer is an operator."""
    scope = viewer.scope if viewer is not None else None
    n = db_notices.get(conn, notice_id, scope)
    if n is None:
        raise NotFoundError(f"没有通知 #{notice_id}（见 `rightsizer notices list`）")
    follows = db_notices.get(conn, n.follows_id) if n.follows_id else None
    items = db_notices.items(conn, n.id)
    first = db_outbox.first_body(conn, n.id) or {}
    return NoticeView(n, follows.number if follows else None, items, db_notices.answers(conn, [i.id for i in items]),
                      db_notices.events(conn, n.id), db_outbox.of_notice(conn, n.id), first.get("text", ""),
                      first.get("html", ""), db_documents.newest(conn, n.id, "pdf"),
                      operator=(viewer is None or viewer.role == "operator") if operator is None else operator)


def notice(store: Store, viewer: Viewer, notice_id: int) -> NoticeView:
    _need(viewer)
    with store.read() as conn:
        return notice_view(conn, notice_id, viewer)


@dataclass(frozen=True)
class NoticeLine:
    """A notice in a list, with its items counted by state."""

    notice: Notice
    follows: str | None
    item_counts: dict[str, int]

    def to_json(self, tz: tzinfo) -> dict:
        return notice_json(self.notice, self.follows, tz, self.item_counts)


def notices(store: Store, viewer: Viewer, department: str | None = None, state: str | None = None,
            overdue_on: date | None = None, newest_first: bool = False) -> list[NoticeLine]:
    """Notices in the viewer's scope, filtered by department, state, or overdue (open and past the due date on
    ``overdue_on``, in SQL)."""
    _need(viewer)
    with store.read() as conn:
        rows = db_notices.listing(conn, _narrow(viewer, department), state, newest_first)
        counts = db_notices.item_state_counts(conn)
        late = db_notices.overdue_open(conn, overdue_on) if overdue_on is not None else None
    numbers = {n.id: n.number for n in rows}
    with store.read() as conn:
        for n in rows:
            if n.follows_id and n.follows_id not in numbers:
                f = db_notices.get(conn, n.follows_id)
                numbers[n.follows_id] = f.number if f else None
    return [NoticeLine(n, numbers.get(n.follows_id) if n.follows_id else None, counts.get(n.id, {}))
            for n in rows if late is None or n.id in late]


# -- servers, findings, exemptions ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class ServerView:
    server: object  # the server's row: server_id, name, department, system, size, delivered_at
    findings: list[tuple[int, Finding]]  # open findings; none once it is released or while it is exempted
    history: list  # (at, cpu_p95_pct, memory_peak_pct, disk_latest_pct, coverage) per run, oldest first
    status: ServerStatus = None  # type: ignore[assignment]


@dataclass
class ServerStatus:
    """Where a server stands, first that applies: given back (the day the cloud dropped it, the saving verified),
    exempted (until), to rectify (an open notice item, or an open finding), or nothing due."""
    state: ServerState
    released_at: datetime | None = None
    realised_saving: Decimal | None = None  # a verified release's saving a month
    exempted_until: date | None = None
    exemption: str = ""  # whose, and why
    request_pending: bool = False  # the department asked for an exemption, not decided yet
    notices: list[tuple[Notice, list[NoticeItem]]] = field(default_factory=list)  # newest first

    @property
    def released(self) -> bool:
        return self.state is ServerState.RELEASED

    @property
    def exempted(self) -> bool:
        return self.state is ServerState.EXEMPTED

    @property
    def to_rectify(self) -> bool:
        return self.state is ServerState.TO_RECTIFY

    @staticmethod
    def overdue(n: Notice) -> bool:
        return n.state in (NoticeState.OVERDUE, NoticeState.ESCALATED)

    def notice_zh(self, n: Notice) -> str:
        """A notice's state as the server page says it: an overdue one "已逾期" (and "已督办" once escalated)."""
        if n.state == NoticeState.ESCALATED:
            return f"{NoticeState.OVERDUE.label}，{n.state.label}"
        return n.state.label

    def to_json(self, tz: tzinfo) -> dict:
        return {"state": self.state.value, "state_zh": self.state.label,
                "released_at": iso_time(self.released_at, tz) if self.released_at else None,
                "realised_saving_cny": cny(self.realised_saving),
                "exempted_until": self.exempted_until.isoformat() if self.exempted_until else None,
                "exemption": self.exemption or None, "exemption_requested": self.request_pending,
                "notices": [{"id": n.id, "number": n.number, "state": n.state.value, "state_zh": self.notice_zh(n),
                             "overdue": self.overdue(n),
                             "due_date": n.due_date.isoformat() if n.due_date else None,
                             "items": [{"kind": it.kind, "dimension": it.dimension, "state": it.state.value,
                                        "state_zh": it.state.label} for it in items]}
                            for n, items in self.notices]}


def servers(store: Store, viewer: Viewer, limit: int | None = None, offset: int = 0,
            department: str | None = None) -> list:
    _need(viewer)
    with store.read() as conn:
        return db_inventory.server_rows(conn, _narrow(viewer, department), limit, offset)


def server(store: Store, viewer: Viewer, server_id: str, today: date) -> ServerView:
    """A server with where it stands, its open findings and the history of its statistics (the evidence)."""
    _need(viewer)
    with store.read() as conn:
        row = db_inventory.server_row(conn, server_id, viewer.scope)
        if row is None:
            raise NotFoundError(f"没有服务器 {server_id}")
        found = db_runs.open_finding_ids(conn, viewer.scope, server_id)
        items = db_notices.server_items(conn, server_id)
        by_notice: dict[int, list[NoticeItem]] = {}
        for it in items:
            by_notice.setdefault(it.notice_id, []).append(it)
        listed = [(db_notices.get(conn, nid, viewer.scope), its) for nid, its in by_notice.items()]
        listed = [(n, its) for n, its in listed if n is not None]  # a server moved here: not the old one's notices
        items = [it for n, its in listed for it in its]
        st = ServerStatus(ServerState.CLEAR, notices=listed)
        gone = db_inventory.removed_at(conn, server_id)
        ex = db_exemptions.in_force_for(conn, server_id, today)
        st.request_pending = any(r.server_id == server_id and r.state == RequestState.PENDING
                                 for r in db_exemptions.requests(conn, row.department))
        if gone is not None:
            released = [it for it in items if it.kind in ("release", "undeployed") and it.state == ItemState.RECTIFIED]
            st.state, st.released_at = ServerState.RELEASED, gone
            st.realised_saving = released[0].realised_saving_cny if released else None
            found = []
        elif ex is not None:
            st.state, st.exempted_until = ServerState.EXEMPTED, ex.expires_on
            st.exemption = (f"本服务器经 {ex.approver} 批准豁免：{ex.reason}" if ex.scope == "server" else
                            f"所属系统“{ex.target}”整体豁免")  # a system's exemption: its reason is not this one's
            found = []
        elif any(f.kind in RECTIFY_KINDS for _, f in found) or any(it.state == ItemState.OPEN for it in items):
            st.state = ServerState.TO_RECTIFY
        elif any(f.kind == "expand" for _, f in found):
            st.state = ServerState.ADVISED
        return ServerView(row, found, db_runs.summary_history(conn, server_id), st)


def findings(store: Store, viewer: Viewer, department: str | None = None) -> list[tuple[int, Finding]]:
    _need(viewer)
    with store.read() as conn:
        return db_runs.open_finding_ids(conn, _narrow(viewer, department))


def exemptions(store: Store, viewer: Viewer) -> tuple[list, list]:
    """(exemptions, requests) in the viewer's scope, newest first."""
    _need(viewer)
    with store.read() as conn:
        return db_exemptions.all_exemptions(conn, viewer.scope), db_exemptions.requests(conn, viewer.scope)


def audit_log(store: Store, viewer: Viewer) -> list:
    check(viewer, "audit")
    from ..db import accounts as db_accounts

    with store.read() as conn:
        return db_accounts.audit_log(conn)


def last_evaluated(store: Store) -> datetime | None:
    with store.read() as conn:
        return db_runs.last_run_at(conn)
