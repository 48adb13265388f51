"""Rectification notices (整改通知): issue them, and move open ones along (the sweep).

* :func:`issue` turns a department's open actionable findings into one notice, numbered
  ``平大数据调〔2026〕12号`` from a per-year sequence that is never reused. The
  notice, its items, its first event and one delivery per channel (a *draft*) are written
  in **one short transaction** per department; the text is rendered after it, with no lock
  held, and a second short transaction makes the drafts pending. Drafts left by a command
  that stopped in between are rendered by the next one: nothing is lost, and rendering
  800 notices never holds the store. A finding already on a notice stays there (no new
  notice, no new message); new findings of a department with an open notice go on a
  follow-up notice.
* :func:`sweep` issues new notices, then per open notice:

  - **verified rectification**: an open item is rectified only when the inventory changes
    recorded since the notice reached the department show it — a shrink when that
    dimension went down, an expand when it went up, a release or undeployed finding when
    the server is gone — and the realised monthly saving is recorded. An acknowledgement
    alone closes nothing;
  - a finding that went away by itself **resolves** its item; an exemption in force
    **exempts** it;
  - N working days before the due date the department gets a **reminder**; the day after
    it the notice is **overdue** and **escalated** once to the escalation channels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ..calendar import WorkCalendar
from ..db import Store
from ..db import exemptions as db_exemptions
from ..db import notices as db_notices
from ..db import outbox as db_outbox
from ..db import runs as db_runs
from ..errors import CalendarError
from ..format import count, date_zh
from ..lifecycle import ItemState, NoticeState
from ..settings import Settings
from .followup import alert, escalate, remind, resume_deadline, verify
from .render import render_into

__all__ = ["Issued", "SweepReport", "alert", "finish_drafts", "issue", "sweep"]


@dataclass
class Issued:
    notice_id: int
    number: str
    department: str
    items: int
    follows: str | None
    channels: list[str]


@dataclass
class SweepReport:
    issued: list[Issued]
    resolved: int = 0
    rectified: int = 0
    reminded: int = 0
    overdue: int = 0
    closed: list[str] = field(default_factory=list)
    not_issued: str = ""  # why no new notice was issued today (in Chinese), "" when the day allowed it
    calendar_warning: str = ""  # the calendar ends soon: which year is missing, what follows, how to fix it


def why_not_today(calendar: WorkCalendar, today) -> str:
    """Why nothing may be issued on ``today`` ("" on a working day): a day off, or a day whose working-day status
    the calendar does not know — an unknown day is never taken for a working day."""
    try:
        if calendar.is_workday(today):
            return ""
    except CalendarError:
        from .coverage import fix_zh

        return (f"{date_zh(today)}是否工作日未知（日历尚无{today.year}年的节假日安排），今天不下发新通知；"
                f"{fix_zh(calendar, today.year)}后恢复")
    return f"{date_zh(today)}不是工作日，今天不下发新通知"


def issue(store: Store, settings: Settings, now: datetime, calendar: WorkCalendar | None = None) -> list[Issued]:
    """One notice per department for its open actionable findings not yet on a notice."""
    calendar = calendar or WorkCalendar(settings.calendar.overrides)
    finish_drafts(store, settings, now)
    kinds = set(settings.notices.kinds)
    today = now.astimezone(settings.tz).date()
    with store.read() as conn:
        # A finding once on a notice is never noticed twice: its notice tracks it to the end. An ended
        # exemption returns it to its notice if that is still open (else it comes through anew), and a
        # notice withdrawn as issued in error lets its findings through again.
        on_any = db_notices.findings_ever_noticed(conn)
        exempt = db_exemptions.exempted_servers(conn, today)
        returning = db_notices.exempted_on_open_notices(conn)
        by_dept: dict[str, list[int]] = {}
        back: list[int] = []
        for r in db_runs.open_finding_rows(conn):
            if r.kind not in kinds or r.id in on_any or r.server_id in exempt:
                continue
            if r.id in returning:
                back.append(returning[r.id])
            else:
                by_dept.setdefault(r.department, []).append(r.id)
    if back:
        with store.begin() as conn:
            for item_id in back:
                nid = db_notices.reopen_item(conn, item_id)
                db_notices.add_event(conn, nid, now, "rightsizer", None, "item reopened",
                                     f"item {item_id}: its exemption ended; the finding is back on this notice",
                                     f"事项 #{item_id} 豁免期满，重新列入本通知")
    out: list[Issued] = []
    for dept in sorted(by_dept):
        with store.begin() as conn:  # short: numbers, rows and drafts; no rendering
            issued = _issue_one(conn, settings, calendar, now, dept, by_dept[dept])
        if issued:
            render_into(store, settings, issued.notice_id, now)
            out.append(issued)
    return out


def _issue_one(conn, settings: Settings, calendar: WorkCalendar, now: datetime, dept: str,
               finding_ids: list[int]) -> Issued | None:
    """The department's notice with drafts for every channel, or None when another command noticed the
    findings meanwhile (checked again here, under the write lock)."""
    n = settings.notices
    taken = db_notices.findings_ever_noticed(conn, finding_ids)
    items = [r for r in db_runs.open_finding_rows(conn, finding_ids) if r.id not in taken]
    if not items:
        return None
    today = now.astimezone(settings.tz).date()
    open_one = db_notices.open_notice_of(conn, dept)
    seq = db_notices.next_seq(conn, n.prefix, today.year)
    number = n.number_format.format(prefix=n.prefix, year=today.year, seq=seq)
    nid = db_notices.create(conn, number, dept, open_one.id if open_one else None, now)
    db_notices.add_items(conn, nid, items)
    note = count(len(items), "finding") + (f"; follow-up of {open_one.number}" if open_one else "")
    zh = f"下发，共 {len(items)} 项" + (f"（{open_one.number}的补充通知）" if open_one else "")
    if any(r.kind != "expand" for r in items):  # an advice-only notice (建议扩容) has no deadline
        try:  # printed in the notice; moved later if the notice reaches the department on a later day
            due = calendar.add_workdays(today, n.workdays_to_rectify)
            db_notices.set_state(conn, nid, NoticeState.ISSUED, due_date=due)
            note += f"; due {due.isoformat()}"
            zh += f"；整改期限{date_zh(due)}"
        except CalendarError as exc:
            db_notices.set_state(conn, nid, NoticeState.ISSUED, hold_reason=str(exc))
            note += "; deadline held: the working-day calendar does not cover it"
            zh += "；整改期限待定（节假日安排未发布）"
    db_notices.add_event(conn, nid, now, "rightsizer", None, NoticeState.ISSUED, note, zh)
    contacts = settings.departments.get(dept)
    channels = [(c, "notice") for c in (contacts.channels if contacts else [])]
    channels += [(c, "cc") for c in n.cc_channels]
    for channel, purpose in channels:
        recipients = contacts.emails if contacts and purpose == "notice" else []  # cc: the channel's `to`
        db_outbox.queue(conn, nid, purpose, channel, f"{number}:{purpose}:{channel}", number, {}, now,
                        recipients, draft=True)
    if not contacts or not contacts.channels:
        db_notices.add_event(conn, nid, now, "rightsizer", NoticeState.ISSUED, NoticeState.ISSUED,
                             f"held: no channel configured for {dept} (add [departments.\"{dept}\"])",
                             "暂缓发出：尚未配置本部门的通知渠道")
        alert(conn, settings, now, f"{number}（{dept}）暂未发出：该部门没有配置通知渠道，请在配置中加上 "
              f"[departments.\"{dept}\"] channels 后 systemctl reload rightsizer。\n"
              f"{number}: {dept} has no notice channel; the notice is held", f"nochannel:{number}",
              subject=f"{number} 暂未发出（部门未配置通知渠道）", names=(dept,))
    return Issued(nid, number, dept, len(items), open_one.number if open_one else None, [c for c, _ in channels])


def finish_drafts(store: Store, settings: Settings, now: datetime) -> int:
    """Render the drafts a stopped command left behind (its notices were written, their text was not)."""
    with store.read() as conn:
        pending = db_outbox.drafts(conn)
    for nid in pending:
        render_into(store, settings, nid, now)
    return len(pending)


def sweep(store: Store, settings: Settings, calendar: WorkCalendar, now: datetime, *, issue_new: bool | None = None,
          deadlines: bool = True) -> SweepReport:
    """Issue new notices, then move open ones along: resolved, rectified, reminded, overdue.

    New notices go out only on a working day the calendar knows (``issue_new`` None: the calendar decides, and
    the report says why not); after an inventory sync it runs with ``issue_new=False, deadlines=False``:
    verification only. Each open notice is moved in its own short transaction.
    """
    today = now.astimezone(settings.tz).date()
    why = ""
    if issue_new is None:
        why = why_not_today(calendar, today)
        issue_new = not why
    if not issue_new:
        finish_drafts(store, settings, now)
    rep = SweepReport(issued=issue(store, settings, now, calendar) if issue_new else [], not_issued=why)
    if deadlines:
        rep.calendar_warning = _warn_horizon(store, settings, calendar, now, today)
    _release_held(store, settings, now)
    with store.read() as conn:
        ids = [nt.id for nt in db_notices.open_notices(conn)]
    for nid in ids:
        with store.begin() as conn:
            nt = db_notices.get(conn, nid)
            if nt.is_open:  # not closed or withdrawn meanwhile by another command
                _move(conn, settings, calendar, nt, now, today, deadlines, rep)
    finish_drafts(store, settings, now)  # e.g. a held deadline now known: the notice again, and the word of it
    return rep


def _warn_horizon(store: Store, settings: Settings, calendar: WorkCalendar, now: datetime, today) -> str:
    """The calendar's coming end, said to the operators' channels once per missing year; its text."""
    from .coverage import horizon

    h = horizon(calendar, today, settings.notices.workdays_to_rectify)
    if h is None:
        return ""
    with store.begin() as conn:
        alert(conn, settings, now, h.text(), f"calendar:{h.year}", subject=h.subject())
    return h.text()


def _release_held(store: Store, settings: Settings, now: datetime) -> None:
    """A notice held because its department had no channel goes out once the department has one."""
    with store.read() as conn:
        held = [nt for nt in db_notices.held_for_channel(conn)
                if settings.departments.get(nt.department) and settings.departments[nt.department].channels]
    for nt in held:
        contacts = settings.departments[nt.department]
        with store.begin() as conn:
            for channel in contacts.channels:
                db_outbox.queue(conn, nt.id, "notice", channel, f"{nt.number}:notice:{channel}", nt.number, {}, now,
                                contacts.emails, draft=True)
            db_notices.add_event(conn, nt.id, now, "sweep", nt.state, nt.state,
                                 f"released: {nt.department} now has the channel(s) {', '.join(contacts.channels)}",
                                 "已配置本部门的通知渠道，通知发出")
        render_into(store, settings, nt.id, now)


_FINAL_ZH = {NoticeState.RECTIFIED: "经云平台清单核实，已全部整改", NoticeState.ADVISED: "扩容建议已送达",
             NoticeState.EXEMPTED: "所有服务器均已豁免", NoticeState.RESOLVED: "所有问题已自行消除"}
_FINAL_NOTES = {NoticeState.RECTIFIED: "verified from the inventory", NoticeState.ADVISED: "expansion advice delivered",
                NoticeState.EXEMPTED: "every server is exempted", NoticeState.RESOLVED: "every finding went away by itself"}


def _move(conn, settings: Settings, calendar: WorkCalendar, nt, now: datetime, today, deadlines: bool,
          rep: SweepReport) -> None:
    """One open notice: verify its items, close it, remind, or mark it overdue and escalate."""
    exempt = db_exemptions.exempted_servers(conn, today)
    verify(conn, settings, nt, now, exempt, rep)
    nt = resume_deadline(conn, settings, calendar, nt, now)
    left = db_notices.count_open_items(conn, nt.id)  # advice (expand) items never count
    if left == 0:
        rest = db_notices.item_states(conn, nt.id) - {ItemState.ADVICE}
        if not rest:  # expansion advice only: closed once it has reached the department
            if nt.state == NoticeState.ISSUED:
                return
            final = NoticeState.ADVISED
        else:
            final = (NoticeState.RECTIFIED if ItemState.RECTIFIED in rest
                     else NoticeState.EXEMPTED if rest == {ItemState.EXEMPTED} else NoticeState.RESOLVED)
        db_notices.set_state(conn, nt.id, final)
        db_notices.add_event(conn, nt.id, now, "sweep", nt.state, final, _FINAL_NOTES[final], _FINAL_ZH[final])
        rep.closed.append(nt.number)
        return
    if nt.due_date is None or not deadlines:
        return
    try:
        to_go = calendar.workdays_between(today, nt.due_date)
    except CalendarError:
        return
    waiting = nt.state in (NoticeState.DELIVERED, NoticeState.ACKNOWLEDGED)
    if today > nt.due_date and waiting:
        db_notices.set_state(conn, nt.id, NoticeState.OVERDUE)
        db_notices.add_event(conn, nt.id, now, "sweep", nt.state, NoticeState.OVERDUE,
                             f"due {nt.due_date.isoformat()}, {count(left, 'finding')} open",
                             f"已逾期：整改期限{date_zh(nt.due_date)}，尚有 {left} 项未整改")
        escalate(conn, settings, nt, now, left)
        rep.overdue += 1
    elif 0 < to_go <= settings.notices.reminder_workdays_before and waiting:
        if remind(conn, settings, nt, now, to_go, left):
            rep.reminded += 1
