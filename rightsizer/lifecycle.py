"""The life of a notice: its states and its items', who may do what in which state, and what each is called.

The one place where a state is named and labelled. The store keeps the enum values; the CLI table,
the console, the templates, the documents, the reports and ``/metrics`` take their state lists and
their Chinese labels from here, and every page asks :func:`can` whether to offer an action:

* :class:`NoticeState` — issued → delivered → acknowledged → (overdue → escalated); it closes as
  rectified (verified from the inventory), resolved (the findings went away by themselves),
  exempted, advised (expansion advice only, once delivered) or withdrawn.
* :class:`ItemState` — open (or advice, for an expansion: no deadline) → rectified | resolved |
  exempted | withdrawn; an exempted item reopens when its exemption ends.
* :class:`DeliveryState`, :class:`RequestState` (an exemption request), :class:`AnswerKind`.
* :data:`ACTIONS` — each action with the roles that may take it and the notice (or item, or
  request) states it applies to; :func:`can` and :func:`check` read it, and nothing else decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .errors import StateError, UsageError


class _Labelled(StrEnum):
    """A state whose Chinese label is in the one table (:data:`LABELS`)."""

    @property
    def label(self) -> str:
        return LABELS[type(self)][self]


class NoticeState(_Labelled):
    ISSUED = "issued"
    DELIVERED = "delivered"
    ACKNOWLEDGED = "acknowledged"
    OVERDUE = "overdue"
    ESCALATED = "escalated"
    RECTIFIED = "rectified"
    RESOLVED = "resolved"
    EXEMPTED = "exempted"
    ADVISED = "advised"
    WITHDRAWN = "withdrawn"

    @property
    def is_open(self) -> bool:
        return self in OPEN


class ItemState(_Labelled):
    OPEN = "open"
    ADVICE = "advice"
    RECTIFIED = "rectified"
    RESOLVED = "resolved"
    EXEMPTED = "exempted"
    WITHDRAWN = "withdrawn"


class DeliveryState(_Labelled):
    DRAFT = "draft"
    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"
    WITHDRAWN = "withdrawn"


class RequestState(_Labelled):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


RECTIFY_KINDS = frozenset({"shrink", "release", "undeployed", "unregistered"})  # what a notice makes compulsory


class AnswerKind(_Labelled):
    DONE = "done"
    OBJECTION = "objection"


class ServerState(_Labelled):
    """What the console says of a server, first that applies: given back, exempted, to rectify (an open item, or a
    finding a notice makes compulsory), advised (expansion advice only), nothing due (insufficient data included)."""
    RELEASED = "released"
    EXEMPTED = "exempted"
    TO_RECTIFY = "to_rectify"
    ADVISED = "advised"
    CLEAR = "clear"


# -- the one table of Chinese labels ---------------------------------------------------------------------------

NOTICE_LABELS: dict[NoticeState, str] = {
    NoticeState.ISSUED: "已下发", NoticeState.DELIVERED: "已送达", NoticeState.ACKNOWLEDGED: "已签收",
    NoticeState.OVERDUE: "已逾期", NoticeState.ESCALATED: "已督办", NoticeState.RECTIFIED: "已整改",
    NoticeState.RESOLVED: "已消除", NoticeState.EXEMPTED: "已豁免", NoticeState.ADVISED: "已告知",
    NoticeState.WITHDRAWN: "已撤回",
}
ITEM_LABELS: dict[ItemState, str] = {
    ItemState.OPEN: "待整改", ItemState.ADVICE: "扩容建议（不设期限）", ItemState.RECTIFIED: "已整改",
    ItemState.RESOLVED: "已消除", ItemState.EXEMPTED: "已豁免", ItemState.WITHDRAWN: "已撤回",
}
DELIVERY_LABELS: dict[DeliveryState, str] = {
    DeliveryState.DRAFT: "待生成", DeliveryState.PENDING: "待发送", DeliveryState.SENT: "已发送",
    DeliveryState.DEAD: "发送失败", DeliveryState.WITHDRAWN: "已撤回",
}
REQUEST_LABELS: dict[RequestState, str] = {
    RequestState.PENDING: "待审批", RequestState.APPROVED: "已批准", RequestState.REJECTED: "已驳回",
}
ANSWER_LABELS: dict[AnswerKind, str] = {AnswerKind.DONE: "已整改，待核验", AnswerKind.OBJECTION: "异议"}
SERVER_LABELS: dict[ServerState, str] = {
    ServerState.RELEASED: "已释放", ServerState.EXEMPTED: "已豁免", ServerState.TO_RECTIFY: "待整改",
    ServerState.ADVISED: "有扩容建议", ServerState.CLEAR: "无须整改",
}
LABELS: dict[type, dict] = {NoticeState: NOTICE_LABELS, ItemState: ITEM_LABELS, DeliveryState: DELIVERY_LABELS,
                            RequestState: REQUEST_LABELS, AnswerKind: ANSWER_LABELS, ServerState: SERVER_LABELS}
ROLE_LABELS = {"operator": "中心", "department": "", "finance": "财政局"}
# what a notice event's to_status may also be (an item reopened: not a notice state)
EVENT_LABELS = {"item reopened": "事项恢复", "undeliverable": "无法投递"}


def label(state: str | None) -> str:
    """The Chinese label of a notice state, an item state or an event's state ("" for none)."""
    if not state:
        return ""
    for enum, table in ((NoticeState, NOTICE_LABELS), (ItemState, ITEM_LABELS)):
        if state in enum.__members__.values():
            return table[enum(state)]
    return EVENT_LABELS.get(state, state)


def delivery_label(state: str) -> str:
    return DELIVERY_LABELS[DeliveryState(state)] if state in DeliveryState.__members__.values() else state


def request_label(state: str) -> str:
    return REQUEST_LABELS[RequestState(state)]


# -- states and transitions -------------------------------------------------------------------------------------

OPEN: frozenset[NoticeState] = frozenset({NoticeState.ISSUED, NoticeState.DELIVERED, NoticeState.ACKNOWLEDGED,
                                          NoticeState.OVERDUE, NoticeState.ESCALATED})
CLOSED: frozenset[NoticeState] = frozenset(NoticeState) - OPEN
# open states in the order of a notice's life (SQL ``IN`` lists, the CLI's filters)
OPEN_STATES: tuple[str, ...] = tuple(s.value for s in NoticeState if s in OPEN)
# the states a notice may move to from each state (the sweep, the relay and the actions keep to these)
TRANSITIONS: dict[NoticeState, frozenset[NoticeState]] = {
    NoticeState.ISSUED: frozenset({NoticeState.DELIVERED, NoticeState.WITHDRAWN, NoticeState.RESOLVED,
                                   NoticeState.EXEMPTED, NoticeState.RECTIFIED}),
    NoticeState.DELIVERED: frozenset({NoticeState.ACKNOWLEDGED, NoticeState.OVERDUE, *CLOSED}),
    NoticeState.ACKNOWLEDGED: frozenset({NoticeState.OVERDUE, *CLOSED}),
    NoticeState.OVERDUE: frozenset({NoticeState.ESCALATED, *CLOSED}),
    NoticeState.ESCALATED: frozenset(CLOSED),
    **{s: frozenset() for s in CLOSED},
}
CLOSED_ITEMS: frozenset[ItemState] = frozenset({ItemState.RECTIFIED, ItemState.RESOLVED, ItemState.EXEMPTED,
                                                ItemState.WITHDRAWN})


def may_move(old: str, new: str) -> bool:
    """Whether a notice may go from ``old`` to ``new`` (staying where it is is always allowed)."""
    return old == new or NoticeState(new) in TRANSITIONS[NoticeState(old)]


# -- who may do what ----------------------------------------------------------------------------------------------

ROLES = ("operator", "department", "finance")


@dataclass(frozen=True)
class Viewer:
    """Who asks or acts: an operator of the centre (the whole city, at the console or the CLI), a department (its
    own rows only) or finance (every department's reports, read-only)."""

    name: str
    role: str  # operator | department | finance
    department: str | None = None  # a department user's own
    signs_as: str | None = None  # how an operator at the CLI signs (``--actor "卫健局 赵六"``), as given

    @property
    def scope(self) -> str | None:
        """The department the queries are limited to (None: the whole city)."""
        return self.department if self.role == "department" else None

    def label(self) -> str:
        """Who did it, as the notice's record and the audit show it: ``中心 王五``, ``市档案馆 李四``."""
        if self.signs_as:
            return self.signs_as
        return (self.department or "" if self.role == "department" else ROLE_LABELS[self.role]) + " " + self.name


@dataclass(frozen=True)
class Action:
    name: str
    zh: str  # what the console's button and the audit say
    roles: frozenset[str]
    notice_states: frozenset[NoticeState] | None = None  # None: the action is not on a notice
    item_states: frozenset[ItemState] | None = None  # an action on one item of a notice
    request_states: frozenset[RequestState] | None = None  # an action on an exemption request


_STAFF = frozenset({"operator", "department"})
ACTIONS: dict[str, Action] = {a.name: a for a in (
    # an overdue or escalated notice that is acknowledged stays where it is (the ack is recorded)
    Action("ack", "签收", _STAFF, frozenset({NoticeState.DELIVERED, NoticeState.OVERDUE, NoticeState.ESCALATED})),
    Action("withdraw", "撤回", frozenset({"operator"}), OPEN),
    Action("resend", "重发失败的消息", frozenset({"operator"}), frozenset(NoticeState) - {NoticeState.WITHDRAWN}),
    Action("answer", "答复", _STAFF, frozenset(NoticeState), frozenset({ItemState.OPEN, ItemState.ADVICE})),
    Action("exempt", "豁免", frozenset({"operator"})),
    Action("unexempt", "撤销豁免", frozenset({"operator"})),
    Action("request_exemption", "申请豁免", frozenset({"department"})),
    Action("approve", "批准", frozenset({"operator"}), request_states=frozenset({RequestState.PENDING})),
    Action("reject", "驳回", frozenset({"operator"}), request_states=frozenset({RequestState.PENDING})),
    Action("read", "查看", _STAFF),  # servers, findings, notices and exemptions (finance reads the reports only)
    Action("audit", "查看审计日志", frozenset({"operator"})),
    Action("tokens", "管理接口令牌", frozenset({"operator"})),
)}
# where an action leads a notice (the others leave its state as it is)
ACTION_TARGET = {"ack": NoticeState.ACKNOWLEDGED, "withdraw": NoticeState.WITHDRAWN}


class Forbidden(UsageError):
    """The viewer's role may not do this (a department may not approve; finance may not write)."""


def can(viewer: Viewer, action: str, notice=None, item=None, request=None) -> bool:
    """Whether ``viewer`` may take ``action`` (on ``notice``, its ``item`` or an exemption ``request``, each
    anything with a ``state`` or ``status``) now."""
    a = ACTIONS[action]
    if viewer.role not in a.roles:
        return False
    if notice is not None and a.notice_states is not None and _state(notice) not in a.notice_states:
        return False
    if item is not None and a.item_states is not None and _state(item) not in a.item_states:
        return False
    return request is None or a.request_states is None or _state(request) in a.request_states


def check(viewer: Viewer, action: str, notice=None, item=None, request=None, what: str = "") -> None:
    """:func:`can`, or the error that says why not: :class:`Forbidden` for the role, a
    :class:`~rightsizer.errors.StateError` naming the states it applies to."""
    a = ACTIONS[action]
    if viewer.role not in a.roles:
        raise Forbidden(f"{viewer.role} 无权执行此操作（{a.zh}）")
    for obj, states in ((notice, a.notice_states), (item, a.item_states), (request, a.request_states)):
        if obj is not None and states is not None and _state(obj) not in states:
            kind = type(next(iter(states)))
            allowed = "、".join(s.label for s in kind if s in states)
            raise StateError(f"{what + ' ' if what else ''}当前状态为{kind(_state(obj)).label}，{a.zh}只适用于：{allowed}")


def _state(obj) -> str:
    if isinstance(obj, str):
        return obj
    return getattr(obj, "state", None) or obj.status
