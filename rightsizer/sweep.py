"""The sweep: move open notices along — resolved, rectified (verified), reminded, overdue, escalated.

* **Verified rectification**: an open item is rectified only when the inventory changes
  recorded since the notice reached the department show it — a shrink when that
  dimension went down, an expand when it went up, a release or undeployed finding when
  the server is gone — and the realised monthly saving is recorded. An acknowledgement
  alone closes nothing.
* A finding that went away by itself (usage changed, size did not) **resolves** its item;
  an exemption in force **exempts** it.
* N working days before the due date the department gets a **reminder**; the day after
  it the notice is **overdue** and **escalated** once to the escalation channels.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa

from .calendar import CalendarError, WorkCalendar
from .outbox import (OPEN_STATES, Issued, Render, _event, _iso, deliveries, exempted_servers, issue, notice_items,
                     notices, queue)
from .settings import Settings
from .store import Store, changes_since, findings


@dataclass
class SweepReport:
    issued: list[Issued]
    resolved: int = 0
    rectified: int = 0
    reminded: int = 0
    overdue: int = 0
    closed: list[str] | None = None


def sweep(store: Store, settings: Settings, calendar: WorkCalendar, now: datetime, render: Render,
          issue_new: bool = True, deadlines: bool = True) -> SweepReport:
    """Issue new notices, then move open ones along: resolved, rectified, reminded, overdue.

    After an inventory sync it runs with ``issue_new=False, deadlines=False``: verification only.
    """
    from policies.sizing import monthly_cost, unit_price

    from .models import Dimension

    rep = SweepReport(issued=issue(store, settings, now, render) if issue_new else [], closed=[])
    today = now.date()
    with store.engine.begin() as conn:
        exempt = exempted_servers(conn, today.isoformat())
        open_notices = conn.execute(sa.select(notices).where(notices.c.status.in_(OPEN_STATES))).all()
        for nt in open_notices:
            items = conn.execute(sa.select(notice_items, findings.c.status.label("finding_status"),
                                           findings.c.detail).join(findings, findings.c.id == notice_items.c.finding_id)
                                 .where(notice_items.c.notice_id == nt.id, notice_items.c.status == "open")).all()
            since = datetime.fromisoformat(nt.delivered_at or nt.issued_at)
            for it in items:
                if it.server_id in exempt:
                    conn.execute(notice_items.update().where(notice_items.c.id == it.id).values(
                        status="exempted", closed_at=_iso(now), evidence=exempt[it.server_id]))
                    continue
                done, saving, evidence = False, None, ""
                for ch in changes_since(conn, it.server_id, since):
                    if it.kind in ("release", "undeployed") and ch.change == "removed":
                        done, saving = True, monthly_cost(ch.old_size, settings.prices)
                        evidence = f"server gone from the cloud at {ch.at}"
                    elif it.kind in ("shrink", "expand") and ch.change == "resized" and it.dimension:
                        dim = Dimension(it.dimension)
                        old, new = ch.old_size.get(dim), ch.new_size.get(dim)
                        if (new < old) if it.kind == "shrink" else (new > old):
                            done = True
                            saving = (Decimal(str(old)) - Decimal(str(new))) * unit_price(dim, settings.prices)
                            evidence = f"{ch.old_flavor} -> {ch.new_flavor}: {dim.value} {old:g} -> {new:g} at {ch.at}"
                    if done:
                        break
                if done:
                    conn.execute(notice_items.update().where(notice_items.c.id == it.id).values(
                        status="rectified", closed_at=_iso(now), realised_saving_cny=str(saving), evidence=evidence))
                    rep.rectified += 1
                elif it.finding_status == "gone":
                    conn.execute(notice_items.update().where(notice_items.c.id == it.id).values(
                        status="resolved", closed_at=_iso(now),
                        evidence="the finding went away by itself (usage changed, size unchanged)"))
                    rep.resolved += 1
            left = conn.execute(sa.select(sa.func.count()).select_from(notice_items).where(
                notice_items.c.notice_id == nt.id, notice_items.c.status == "open")).scalar()
            if left == 0:
                statuses = set(conn.execute(sa.select(notice_items.c.status)
                                            .where(notice_items.c.notice_id == nt.id)).scalars())
                final = "rectified" if "rectified" in statuses else "exempted" if statuses == {"exempted"} \
                    else "resolved"
                conn.execute(notices.update().where(notices.c.id == nt.id).values(status=final))
                _event(conn, nt.id, now, "sweep", nt.status, final,
                       {"rectified": "verified from the inventory", "exempted": "every server is exempted"}.get(
                           final, "every finding went away by itself"))
                rep.closed.append(nt.number)
                continue
            if not nt.due_date or not deadlines:
                continue
            due = datetime.fromisoformat(nt.due_date).date()
            try:
                to_go = calendar.workdays_between(today, due)
            except CalendarError:
                continue
            if today > due and nt.status in ("delivered", "acknowledged"):
                conn.execute(notices.update().where(notices.c.id == nt.id).values(status="overdue"))
                _event(conn, nt.id, now, "sweep", nt.status, "overdue", f"due {nt.due_date}, {left} findings open")
                _escalate(conn, settings, nt, now, left)
                rep.overdue += 1
            elif 0 < to_go <= settings.notices.reminder_workdays_before and nt.status in ("delivered", "acknowledged"):
                if _remind(conn, settings, nt, now, to_go, left):
                    rep.reminded += 1
    return rep


def _copy_body(conn, nt) -> tuple[str, dict]:
    row = conn.execute(sa.select(deliveries.c.subject, deliveries.c.body).where(
        deliveries.c.notice_id == nt.id, deliveries.c.purpose == "notice").limit(1)).first()
    return (row.subject, json.loads(row.body)) if row else (nt.number, {"text": nt.number, "markdown": nt.number})


def _prefixed(body: dict, head: str) -> dict:
    """The notice's body with a first paragraph in front (the HTML part is dropped: text says it all)."""
    return {**body, "text": head + body.get("text", ""), "markdown": head + body.get("markdown", ""), "html": ""}


def _remind(conn, settings: Settings, nt, now: datetime, to_go: int, left: int) -> bool:
    contacts = settings.departments.get(nt.department)
    subject, body = _copy_body(conn, nt)
    head = f"【提醒】{nt.number} 距整改期限（{nt.due_date}）还有 {to_go} 个工作日，尚有 {left} 项未整改。\n\n"
    added = False
    for channel in (contacts.channels if contacts else []):
        added |= queue(conn, nt.id, "reminder", channel, f"{nt.number}:reminder:{channel}", "【提醒】" + subject,
                       _prefixed(body, head), now, contacts.emails)
    if added:
        _event(conn, nt.id, now, "sweep", nt.status, nt.status, f"reminder: {to_go} working days to go")
    return added


def _escalate(conn, settings: Settings, nt, now: datetime, left: int) -> None:
    contacts = settings.departments.get(nt.department)
    subject, body = _copy_body(conn, nt)
    head = (f"【逾期未整改】{nt.number}（{nt.department}）整改期限 {nt.due_date} 已过，尚有 {left} 项未整改。"
            "根据规定，资源使用不合理情况将纳入绩效评价。\n\n")
    for channel in settings.notices.escalation_channels:
        queue(conn, nt.id, "escalation", channel, f"{nt.number}:escalation:{channel}", "【逾期】" + subject,
              _prefixed(body, head), now, contacts.head_emails if contacts else [])
    conn.execute(notices.update().where(notices.c.id == nt.id).values(status="escalated"))
    _event(conn, nt.id, now, "sweep", "overdue", "escalated",
           f"escalation to {', '.join(settings.notices.escalation_channels) or 'no channel configured'}")
