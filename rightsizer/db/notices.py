"""Notices, their items and events, and the never-reused numbering.

:func:`next_seq` is one atomic statement (``UPDATE … SET last = last + 1 … RETURNING``
after an insert that does nothing when the row exists), so two transactions never get
the same number, on SQLite and on PostgreSQL under READ COMMITTED alike; a rolled-back
transaction gives its number back.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .schema import OPEN_STATES, deliveries, findings, notice_events, notice_items, notice_seq, notices


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


def create(conn: Connection, number: str, department: str, follows_id: int | None, issued_at: str) -> int:
    return conn.execute(notices.insert().values(number=number, department=department, status="issued",
                                                follows_id=follows_id, issued_at=issued_at)).inserted_primary_key[0]


def add_items(conn: Connection, notice_id: int, rows: list) -> None:
    """One item per finding row (``id``, ``server_id``, ``kind``, ``dimension``): ``open``, or ``advice``
    for an expansion (建议扩容: no deadline, never counted as unrectified)."""
    conn.execute(notice_items.insert(), [
        {"notice_id": notice_id, "finding_id": r.id, "server_id": r.server_id, "kind": r.kind,
         "dimension": r.dimension, "status": "advice" if r.kind == "expand" else "open"} for r in rows])


def add_event(conn: Connection, notice_id: int, at: str, actor: str, old: str | None, new: str, note: str) -> None:
    conn.execute(notice_events.insert().values(notice_id=notice_id, at=at, actor=actor, from_status=old,
                                               to_status=new, note=note))


def findings_ever_noticed(conn: Connection, among: list[int] | None = None) -> set[int]:
    """Finding ids (of ``among``, if given) on any notice, except items that were exempted or withdrawn
    (those come through again: an ended exemption, a notice withdrawn as issued in error)."""
    q = sa.select(notice_items.c.finding_id).where(notice_items.c.status.not_in(("exempted", "withdrawn")))
    if among is None:
        return set(conn.execute(q).scalars())
    return {f for lo in range(0, len(among), 500)
            for f in conn.execute(q.where(notice_items.c.finding_id.in_(among[lo:lo + 500]))).scalars()}


def exempted_on_open_notices(conn: Connection) -> dict[int, int]:
    """Finding id -> its exempted item on a notice that is still open (where it returns when the
    exemption ends, rather than on a new follow-up)."""
    q = sa.select(notice_items.c.finding_id, notice_items.c.id).join(notices, notices.c.id == notice_items.c.notice_id) \
        .where(notice_items.c.status == "exempted", notices.c.status.in_(OPEN_STATES)).order_by(notice_items.c.id)
    return dict(conn.execute(q).all())


def reopen_item(conn: Connection, item_id: int) -> int:
    """An exempted item back to open (its exemption ended); the notice's id."""
    conn.execute(notice_items.update().where(notice_items.c.id == item_id)
                 .values(status="open", closed_at=None, evidence=None))
    return conn.execute(sa.select(notice_items.c.notice_id).where(notice_items.c.id == item_id)).scalar_one()


def items(conn: Connection, notice_id: int) -> list:
    """Every item of a notice with its state, closing evidence, realised saving and finding detail."""
    return conn.execute(sa.select(notice_items, findings.c.detail)
                        .join(findings, findings.c.id == notice_items.c.finding_id)
                        .where(notice_items.c.notice_id == notice_id).order_by(notice_items.c.id)).all()


def item_state_counts(conn: Connection) -> dict[int, dict[str, int]]:
    """Notice id -> {item state: count}."""
    out: dict[int, dict[str, int]] = {}
    for nid, st, n in conn.execute(sa.select(notice_items.c.notice_id, notice_items.c.status, sa.func.count())
                                   .group_by(notice_items.c.notice_id, notice_items.c.status)):
        out.setdefault(nid, {})[st] = n
    return out


def held_for_channel(conn: Connection) -> list:
    """Open notices never queued to their department (held: it had no channel when issued)."""
    queued = sa.select(deliveries.c.notice_id).where(deliveries.c.purpose == "notice",
                                                     deliveries.c.notice_id.is_not(None))
    return conn.execute(sa.select(notices).where(notices.c.status == "issued", notices.c.id.not_in(queued))
                        .order_by(notices.c.id)).all()


def open_notice_of(conn: Connection, department: str):
    """The department's oldest open notice (``id``, ``number``), or ``None``."""
    return conn.execute(sa.select(notices.c.id, notices.c.number).where(
        notices.c.department == department, notices.c.status.in_(OPEN_STATES)).order_by(notices.c.id)).first()


def open_notices(conn: Connection) -> list:
    return conn.execute(sa.select(notices).where(notices.c.status.in_(OPEN_STATES)).order_by(notices.c.id)).all()


def get(conn: Connection, notice_id: int):
    return conn.execute(sa.select(notices).where(notices.c.id == notice_id)).first()


def item_details(conn: Connection, notice_id: int) -> list[str]:
    """The JSON detail of the findings on a notice, in item order (what its text is rendered from)."""
    return conn.execute(sa.select(findings.c.detail).select_from(
        notice_items.join(findings, findings.c.id == notice_items.c.finding_id))
        .where(notice_items.c.notice_id == notice_id).order_by(notice_items.c.id)).scalars().all()


def all_notices(conn: Connection) -> list:
    return conn.execute(sa.select(notices).order_by(notices.c.id)).all()


def open_items(conn: Connection, notice_id: int) -> list:
    """Open items with their finding's status (``finding_status``) and detail."""
    return conn.execute(sa.select(notice_items, findings.c.status.label("finding_status"), findings.c.detail)
                        .join(findings, findings.c.id == notice_items.c.finding_id)
                        .where(notice_items.c.notice_id == notice_id, notice_items.c.status == "open")).all()


def close_item(conn: Connection, item_id: int, status: str, closed_at: str, evidence: str,
               realised_saving_cny: str | None = None) -> None:
    values = {"status": status, "closed_at": closed_at, "evidence": evidence}
    if realised_saving_cny is not None:
        values["realised_saving_cny"] = realised_saving_cny
    conn.execute(notice_items.update().where(notice_items.c.id == item_id).values(**values))


def count_open_items(conn: Connection, notice_id: int) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(notice_items).where(
        notice_items.c.notice_id == notice_id, notice_items.c.status == "open")).scalar()


def item_statuses(conn: Connection, notice_id: int) -> set[str]:
    return set(conn.execute(sa.select(notice_items.c.status).where(notice_items.c.notice_id == notice_id)).scalars())


def withdraw_items(conn: Connection, notice_id: int) -> None:
    conn.execute(notice_items.update().where(notice_items.c.notice_id == notice_id, notice_items.c.status == "open")
                 .values(status="withdrawn"))


def set_status(conn: Connection, notice_id: int, status: str, **values) -> None:
    """Set the status (and ``delivered_at``, ``due_date``, ``hold_reason`` when given)."""
    conn.execute(notices.update().where(notices.c.id == notice_id).values(status=status, **values))


def events(conn: Connection, notice_id: int) -> list:
    return conn.execute(sa.select(notice_events).where(notice_events.c.notice_id == notice_id)
                        .order_by(notice_events.c.id)).all()
