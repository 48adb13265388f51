"""Notices, their items, events and answers, and the never-reused numbering.

Reads return the records of :mod:`rightsizer.records` (typed times, states, the item's finding).
Every read that a department may make takes ``department``: ``None`` reads the whole city, a
name that department's rows only, so another department's notice is never fetched (``None``,
a 404), not fetched and hidden.

:func:`next_seq` is one atomic statement (``UPDATE … SET last = last + 1 … RETURNING``
after an insert that does nothing when the row exists), so two transactions never get
the same number, on SQLite and on PostgreSQL under READ COMMITTED alike; a rolled-back
transaction gives its number back.
"""

from __future__ import annotations

import json
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..lifecycle import OPEN_STATES, ItemState, NoticeState
from ..models import Finding
from ..records import Answer, Notice, NoticeEvent, NoticeItem
from .schema import (deliveries, findings, item_answers, notice_event_notes, notice_events, notice_items,
                     notice_seq, notices)


def next_seq(conn: Connection, prefix: str, year: int) -> int:
    """The next number of ``prefix`` in ``year`` (1, 2, …)."""
    dialect = conn.dialect.name
    if dialect in ("sqlite", "postgresql"):
        insert = __import__(f"sqlalchemy.dialects.{dialect}", fromlist=["insert"]).insert
        conn.execute(insert(notice_seq).values(prefix=prefix, year=year, last=0).on_conflict_do_nothing())
    elif conn.execute(sa.select(notice_seq.c.last).where(notice_seq.c.prefix == prefix,
                                                         notice_seq.c.year == year)).first() is None:
        conn.execute(notice_seq.insert().values(prefix=prefix, year=year, last=0))
    return conn.execute(notice_seq.update().where(notice_seq.c.prefix == prefix, notice_seq.c.year == year)
                        .values(last=notice_seq.c.last + 1).returning(notice_seq.c.last)).scalar_one()


def create(conn: Connection, number: str, department: str, follows_id: int | None, issued_at: datetime) -> int:
    return conn.execute(notices.insert().values(number=number, department=department, status=NoticeState.ISSUED,
                                                follows_id=follows_id, issued_at=issued_at)).inserted_primary_key[0]


def add_items(conn: Connection, notice_id: int, rows: list) -> None:
    """One item per finding row (``id``, ``server_id``, ``kind``, ``dimension``): ``open``, or ``advice``
    for an expansion (建议扩容: no deadline, never counted as unrectified)."""
    conn.execute(notice_items.insert(), [
        {"notice_id": notice_id, "finding_id": r.id, "server_id": r.server_id, "kind": r.kind,
         "dimension": r.dimension, "status": ItemState.ADVICE if r.kind == "expand" else ItemState.OPEN}
        for r in rows])


def add_event(conn: Connection, notice_id: int, at: datetime, actor: str, old: str | None, new: str,
              note: str, zh: str) -> None:
    """An event: ``note`` for the centre (details, channel names), ``zh`` what the department reads."""
    eid = conn.execute(notice_events.insert().values(notice_id=notice_id, at=at, actor=actor, from_status=old,
                                                     to_status=new, note=note)).inserted_primary_key[0]
    if zh:
        conn.execute(notice_event_notes.insert().values(event_id=eid, note_zh=zh))


def findings_ever_noticed(conn: Connection, among: list[int] | None = None) -> set[int]:
    """Finding ids (of ``among``, if given) on any notice, except items that were exempted or withdrawn
    (those come through again: an ended exemption, a notice withdrawn as issued in error)."""
    q = sa.select(notice_items.c.finding_id).where(
        notice_items.c.status.not_in((ItemState.EXEMPTED, ItemState.WITHDRAWN)))
    if among is None:
        return set(conn.execute(q).scalars())
    return {f for lo in range(0, len(among), 500)
            for f in conn.execute(q.where(notice_items.c.finding_id.in_(among[lo:lo + 500]))).scalars()}


def exempted_on_open_notices(conn: Connection) -> dict[int, int]:
    """Finding id -> its exempted item on a notice that is still open (where it returns when the
    exemption ends, rather than on a new follow-up)."""
    q = sa.select(notice_items.c.finding_id, notice_items.c.id).join(notices, notices.c.id == notice_items.c.notice_id) \
        .where(notice_items.c.status == ItemState.EXEMPTED, notices.c.status.in_(OPEN_STATES)) \
        .order_by(notice_items.c.id)
    return dict(conn.execute(q).all())


def reopen_item(conn: Connection, item_id: int) -> int:
    """An exempted item back to open (its exemption ended); the notice's id."""
    conn.execute(notice_items.update().where(notice_items.c.id == item_id)
                 .values(status=ItemState.OPEN, closed_at=None, evidence=None))
    return conn.execute(sa.select(notice_items.c.notice_id).where(notice_items.c.id == item_id)).scalar_one()


# -- notices -----------------------------------------------------------------------------------------------------

def _notice(r) -> Notice:
    return Notice(r.id, r.number, r.department, NoticeState(r.status), r.follows_id, r.issued_at, r.delivered_at,
                  r.due_date, r.hold_reason)


def _scoped(q, department: str | None):
    return q if department is None else q.where(notices.c.department == department)


def get(conn: Connection, notice_id: int, department: str | None = None) -> Notice | None:
    """The notice, or ``None`` (also when it is another department's than ``department``, or the id is beyond any
    database integer: a URL's ``/notices/99999999999999999999`` is not found, not an error)."""
    if not 0 < notice_id < 2**31:
        return None
    r = conn.execute(_scoped(sa.select(notices).where(notices.c.id == notice_id), department)).first()
    return _notice(r) if r else None


def listing(conn: Connection, department: str | None = None, state: str | None = None,
            newest_first: bool = False) -> list[Notice]:
    q = _scoped(sa.select(notices), department)
    if state is not None:
        q = q.where(notices.c.status == state)
    return [_notice(r) for r in conn.execute(q.order_by(notices.c.id.desc() if newest_first else notices.c.id))]


def open_notices(conn: Connection) -> list[Notice]:
    return [_notice(r) for r in conn.execute(sa.select(notices).where(notices.c.status.in_(OPEN_STATES))
                                             .order_by(notices.c.id))]


def overdue_open(conn: Connection, today) -> set[int]:
    """Open notices whose due date is before ``today`` (a date, compared in SQL)."""
    return set(conn.execute(sa.select(notices.c.id).where(notices.c.status.in_(OPEN_STATES),
                                                          notices.c.due_date < today)).scalars())


def held_for_channel(conn: Connection) -> list[Notice]:
    """Open notices never queued to their department (held: it had no channel when issued)."""
    queued = sa.select(deliveries.c.notice_id).where(deliveries.c.purpose == "notice",
                                                     deliveries.c.notice_id.is_not(None))
    return [_notice(r) for r in conn.execute(sa.select(notices).where(
        notices.c.status == NoticeState.ISSUED, notices.c.id.not_in(queued)).order_by(notices.c.id))]


def open_notice_of(conn: Connection, department: str) -> Notice | None:
    """The department's oldest open notice, or ``None``."""
    r = conn.execute(sa.select(notices).where(notices.c.department == department,
                                              notices.c.status.in_(OPEN_STATES)).order_by(notices.c.id)).first()
    return _notice(r) if r else None


def set_state(conn: Connection, notice_id: int, state: NoticeState, **values) -> None:
    """Set the state (and ``delivered_at``, ``due_date``, ``hold_reason`` when given)."""
    conn.execute(notices.update().where(notices.c.id == notice_id).values(status=NoticeState(state), **values))


# -- items -------------------------------------------------------------------------------------------------------

def _item(r) -> NoticeItem:
    return NoticeItem(r.id, r.notice_id, r.finding_id, r.server_id, r.kind, r.dimension or None,
                      ItemState(r.status), r.closed_at, r.realised_saving_cny, r.evidence,
                      Finding.from_json(json.loads(r.detail)), r.finding_status == "open")


def _items_query():
    return (sa.select(notice_items, findings.c.detail, findings.c.status.label("finding_status"))
            .join(findings, findings.c.id == notice_items.c.finding_id).order_by(notice_items.c.id))


def items(conn: Connection, notice_id: int) -> list[NoticeItem]:
    """Every item of a notice with its state, closing evidence, realised saving and finding, in order."""
    return [_item(r) for r in conn.execute(_items_query().where(notice_items.c.notice_id == notice_id))]


def server_items(conn: Connection, server_id: str) -> list[NoticeItem]:
    """Every notice item of a server, newest notice first."""
    q = _items_query().where(notice_items.c.server_id == server_id).order_by(None).order_by(
        notice_items.c.notice_id.desc(), notice_items.c.id)
    return [_item(r) for r in conn.execute(q)]


def open_items(conn: Connection, notice_id: int) -> list[NoticeItem]:
    return [_item(r) for r in conn.execute(_items_query().where(notice_items.c.notice_id == notice_id,
                                                                notice_items.c.status == ItemState.OPEN))]


def item_state_counts(conn: Connection) -> dict[int, dict[str, int]]:
    """Notice id -> {item state: count}."""
    out: dict[int, dict[str, int]] = {}
    for nid, st, n in conn.execute(sa.select(notice_items.c.notice_id, notice_items.c.status, sa.func.count())
                                   .group_by(notice_items.c.notice_id, notice_items.c.status)):
        out.setdefault(nid, {})[st] = n
    return out


def close_item(conn: Connection, item_id: int, state: ItemState, closed_at: datetime, evidence: str,
               realised_saving_cny=None) -> None:
    values = {"status": ItemState(state), "closed_at": closed_at, "evidence": evidence}
    if realised_saving_cny is not None:
        values["realised_saving_cny"] = realised_saving_cny
    conn.execute(notice_items.update().where(notice_items.c.id == item_id).values(**values))


def count_open_items(conn: Connection, notice_id: int) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(notice_items).where(
        notice_items.c.notice_id == notice_id, notice_items.c.status == ItemState.OPEN)).scalar()


def item_states(conn: Connection, notice_id: int) -> set[ItemState]:
    return {ItemState(s) for s in conn.execute(sa.select(notice_items.c.status)
                                               .where(notice_items.c.notice_id == notice_id)).scalars()}


def withdraw_items(conn: Connection, notice_id: int) -> None:
    conn.execute(notice_items.update().where(notice_items.c.notice_id == notice_id,
                                             notice_items.c.status == ItemState.OPEN)
                 .values(status=ItemState.WITHDRAWN))


# -- events and answers ------------------------------------------------------------------------------------------

def events(conn: Connection, notice_id: int) -> list[NoticeEvent]:
    q = (sa.select(notice_events, notice_event_notes.c.note_zh)
         .outerjoin(notice_event_notes, notice_event_notes.c.event_id == notice_events.c.id)
         .where(notice_events.c.notice_id == notice_id).order_by(notice_events.c.id))
    return [NoticeEvent(r.id, r.notice_id, r.at, r.actor, r.from_status, r.to_status, r.note, r.note_zh or "")
            for r in conn.execute(q)]


def add_answer(conn: Connection, item_id: int, kind: str, note: str, actor: str, at: datetime) -> None:
    conn.execute(item_answers.insert().values(item_id=item_id, kind=kind, note=note, actor=actor, at=at))


def answers(conn: Connection, item_ids: list[int]) -> dict[int, list[Answer]]:
    out: dict[int, list[Answer]] = {}
    for lo in range(0, len(item_ids), 500):
        q = sa.select(item_answers).where(item_answers.c.item_id.in_(item_ids[lo:lo + 500])) \
            .order_by(item_answers.c.id)
        for r in conn.execute(q):
            out.setdefault(r.item_id, []).append(Answer(r.id, r.item_id, r.kind, r.note, r.actor, r.at))
    return out


def report_rows(conn: Connection) -> dict[str, tuple[list[str], list[tuple]]]:
    """What the reports read of the notices, as ``(columns, rows)``: ``items`` with their notice's department,
    due date and number; ``notices``; ``events`` that changed a notice's state (or began it)."""
    q_items = (sa.select(notice_items.c.id, notice_items.c.notice_id, notice_items.c.finding_id,
                         notice_items.c.server_id, notice_items.c.kind, notice_items.c.dimension, notice_items.c.status,
                         notice_items.c.closed_at, notice_items.c.realised_saving_cny, notices.c.department,
                         notices.c.due_date, notices.c.number)
               .join(notices, notices.c.id == notice_items.c.notice_id))
    q_notices = sa.select(notices.c.id, notices.c.number, notices.c.department, notices.c.status, notices.c.issued_at,
                          notices.c.due_date)
    q_events = sa.select(notice_events.c.notice_id, notice_events.c.at, notice_events.c.to_status).where(
        sa.or_(notice_events.c.from_status.is_(None), notice_events.c.to_status != notice_events.c.from_status))
    out = {}
    for name, q in (("items", q_items), ("notices", q_notices), ("events", q_events)):
        result = conn.execute(q)
        out[name] = (list(result.keys()), [tuple(r) for r in result])
    return out
