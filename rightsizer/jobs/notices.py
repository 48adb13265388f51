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

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from ..calendar import WorkCalendar
from ..db import Store
from ..db import exemptions as db_exemptions
from ..db import inventory as db_inventory
from ..db import notices as db_notices
from ..db import outbox as db_outbox
from ..db import runs as db_runs
from ..db import OPEN_STATES
from ..errors import CalendarError
from ..models import cny_text
from ..settings import Settings

Render = Callable[[dict, list[dict], Settings], tuple[str, dict]]


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


def iso(t: datetime) -> str:
    return t.isoformat(timespec="seconds")


def _default_render() -> Render:
    from notifiers.render import render

    return render


def alert(conn, settings: Settings, now: datetime, text: str, key: str) -> None:
    """An operator alert through the operator channels (itself an outbox row: never lost)."""
    for channel in settings.notices.operator_channels:
        db_outbox.queue(conn, None, "alert", channel, f"alert:{key}:{channel}", f"[rightsizer 告警] {text[:80]}",
                        {"text": text, "markdown": text}, now)


def issue(store: Store, settings: Settings, now: datetime, render: Render | None = None,
          calendar: WorkCalendar | None = None) -> list[Issued]:
    """One notice per department for its open actionable findings not yet on a notice."""
    render = render or _default_render()
    calendar = calendar or WorkCalendar(settings.calendar.overrides)
    finish_drafts(store, settings, render)
    kinds = set(settings.notices.kinds)
    with store.read() as conn:
        # A finding once on a notice is never noticed twice: its notice tracks it to the end. An ended
        # exemption returns it to its notice if that is still open (else it comes through anew), and a
        # notice withdrawn as issued in error lets its findings through again.
        on_any = db_notices.findings_ever_noticed(conn)
        exempt = db_exemptions.exempted_servers(conn, now.date().isoformat())
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
                db_notices.add_event(conn, nid, iso(now), "rightsizer", None, "item reopened",
                                     f"item {item_id}: its exemption ended; the finding is back on this notice")
    out: list[Issued] = []
    for dept in sorted(by_dept):
        with store.begin() as conn:  # short: numbers, rows and drafts; no rendering
            made = _issue_one(conn, settings, calendar, now, dept, by_dept[dept])
        if made:
            issued, items = made
            _render_into(store, settings, render, issued.notice_id, items)
            out.append(issued)
    return out


def _issue_one(conn, settings: Settings, calendar: WorkCalendar, now: datetime, dept: str, finding_ids: list[int]):
    """The department's notice with drafts for every channel, or None when another command noticed the
    findings meanwhile (checked again here, under the write lock)."""
    n = settings.notices
    taken = db_notices.findings_ever_noticed(conn, finding_ids)
    items = [r for r in db_runs.open_finding_rows(conn, finding_ids) if r.id not in taken]
    if not items:
        return None
    open_one = db_notices.open_notice_of(conn, dept)
    seq = db_notices.next_seq(conn, n.prefix, now.year)
    number = n.number_format.format(prefix=n.prefix, year=now.year, seq=seq)
    nid = db_notices.create(conn, number, dept, open_one.id if open_one else None, iso(now))
    db_notices.add_items(conn, nid, items)
    note = f"{len(items)} findings" + (f"; follow-up of {open_one.number}" if open_one else "")
    if any(r.kind != "expand" for r in items):  # an advice-only notice (建议扩容) has no deadline
        try:  # printed in the notice; moved later if the notice reaches the department on a later day
            due = calendar.add_workdays(now.date(), n.workdays_to_rectify)
            db_notices.set_status(conn, nid, "issued", due_date=due.isoformat())
            note += f"; due {due.isoformat()}"
        except CalendarError as exc:
            db_notices.set_status(conn, nid, "issued", hold_reason=str(exc))
            note += "; deadline held: the working-day calendar does not cover it"
    db_notices.add_event(conn, nid, iso(now), "rightsizer", None, "issued", note)
    contacts = settings.departments.get(dept)
    channels = [(c, "notice") for c in (contacts.channels if contacts else [])]
    channels += [(c, "cc") for c in n.cc_channels]
    for channel, purpose in channels:
        recipients = contacts.emails if contacts and purpose == "notice" else []  # cc: the channel's `to`
        db_outbox.queue(conn, nid, purpose, channel, f"{number}:{purpose}:{channel}", number, {}, now,
                        recipients, draft=True)
    if not contacts or not contacts.channels:
        db_notices.add_event(conn, nid, iso(now), "rightsizer", "issued", "issued",
                             f"held: no channel configured for {dept} (add [departments.\"{dept}\"])")
        alert(conn, settings, now, f"{number}: {dept} has no notice channel; the notice is held",
              f"nochannel:{number}")
    return (Issued(nid, number, dept, len(items), open_one.number if open_one else None, [c for c, _ in channels]),
            [json.loads(r.detail) for r in items])


def _render_into(store: Store, settings: Settings, render: Render, notice_id: int, items: list[dict]) -> None:
    """Render the notice with no transaction open, then make its drafts pending (a short transaction)."""
    with store.read() as conn:
        nt = db_notices.get(conn, notice_id)
        follows = db_notices.get(conn, nt.follows_id).number if nt.follows_id else None
    notice = {"id": nt.id, "number": nt.number, "department": nt.department, "issued_at": nt.issued_at,
              "follows": follows, "due_date": nt.due_date}
    subject, body = render(notice, items, settings)
    kinds = {b["name"]: b.get("type") for b in settings.notifiers}
    # attachments only where they are used: the PDF and xlsx by email, the PDF by webhook (for OA systems)
    keep = {"email": None, "webhook": {"xlsx_b64"}}
    with store.begin() as conn:
        first = db_outbox.first_body(conn, notice_id) is None  # the first stored body keeps it all (notices pdf)
        for channel in db_outbox.draft_channels(conn, notice_id):
            kind = kinds.get(channel)
            if kind == "email" or first:
                drop = set()
            elif kind in keep:
                drop = keep[kind]
            else:
                drop = {"pdf_b64", "xlsx_b64"}
            db_outbox.fill_drafts(conn, notice_id, subject, {k: v for k, v in body.items() if k not in drop}, channel)
            first = False


def finish_drafts(store: Store, settings: Settings, render: Render | None = None) -> int:
    """Render the drafts a stopped command left behind (its notices were written, their text was not)."""
    with store.read() as conn:
        pending = [(nid, [json.loads(d) for d in db_notices.item_details(conn, nid)])
                   for nid in db_outbox.drafts(conn)]
    for nid, items in pending:
        _render_into(store, settings, render or _default_render(), nid, items)
    return len(pending)


def sweep(store: Store, settings: Settings, calendar: WorkCalendar, now: datetime, render: Render | None = None,
          issue_new: bool = True, deadlines: bool = True) -> SweepReport:
    """Issue new notices, then move open ones along: resolved, rectified, reminded, overdue.

    After an inventory sync it runs with ``issue_new=False, deadlines=False``: verification only.
    Each open notice is moved in its own short transaction.
    """
    if not issue_new:
        finish_drafts(store, settings, render)
    rep = SweepReport(issued=issue(store, settings, now, render, calendar) if issue_new else [])
    _release_held(store, settings, now, render or _default_render())
    today = now.date()
    with store.read() as conn:
        ids = [nt.id for nt in db_notices.open_notices(conn)]
    for nid in ids:
        with store.begin() as conn:
            nt = db_notices.get(conn, nid)
            if nt.status in OPEN_STATES:  # not closed or withdrawn meanwhile by another command
                _move(conn, settings, calendar, nt, now, today, deadlines, rep)
    return rep


def _release_held(store: Store, settings: Settings, now: datetime, render: Render) -> None:
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
            db_notices.add_event(conn, nt.id, iso(now), "sweep", nt.status, nt.status,
                                 f"released: {nt.department} now has the channel(s) {', '.join(contacts.channels)}")
        with store.read() as conn:
            details = [json.loads(d) for d in db_notices.item_details(conn, nt.id)]
        _render_into(store, settings, render, nt.id, details)


def _resume_deadline(conn, settings: Settings, calendar: WorkCalendar, nt, now: datetime):
    """A deadline held for want of the calendar is computed once the calendar has the year."""
    if nt.due_date or not nt.hold_reason or not nt.delivered_at or not db_notices.count_open_items(conn, nt.id):
        return nt
    start = datetime.fromisoformat(nt.delivered_at).date()
    try:
        due = calendar.add_workdays(start, settings.notices.workdays_to_rectify)
    except CalendarError:
        return nt
    db_notices.set_status(conn, nt.id, nt.status, due_date=due.isoformat(), hold_reason=None)
    db_notices.add_event(conn, nt.id, iso(now), "sweep", nt.status, nt.status,
                         f"deadline resumed: due {due.isoformat()} ({settings.notices.workdays_to_rectify} working "
                         f"days from {start.isoformat()}); the calendar now covers it")
    return db_notices.get(conn, nt.id)


def _move(conn, settings: Settings, calendar: WorkCalendar, nt, now: datetime, today, deadlines: bool,
          rep: SweepReport) -> None:
    """One open notice: verify its items, close it, remind, or mark it overdue and escalate."""
    exempt = db_exemptions.exempted_servers(conn, today.isoformat())
    _verify(conn, settings, nt, now, exempt, rep)
    nt = _resume_deadline(conn, settings, calendar, nt, now)
    left = db_notices.count_open_items(conn, nt.id)  # advice (expand) items never count
    if left == 0:
        rest = db_notices.item_statuses(conn, nt.id) - {"advice"}
        if not rest:  # expansion advice only: closed once it has reached the department
            if nt.status == "issued":
                return
            final = "advised"
        else:
            final = "rectified" if "rectified" in rest else "exempted" if rest == {"exempted"} else "resolved"
        db_notices.set_status(conn, nt.id, final)
        db_notices.add_event(conn, nt.id, iso(now), "sweep", nt.status, final,
                             {"rectified": "verified from the inventory", "advised": "expansion advice delivered",
                              "exempted": "every server is exempted"}.get(final, "every finding went away by itself"))
        rep.closed.append(nt.number)
        return
    if not nt.due_date or not deadlines:
        return
    due = datetime.fromisoformat(nt.due_date).date()
    try:
        to_go = calendar.workdays_between(today, due)
    except CalendarError:
        return
    if today > due and nt.status in ("delivered", "acknowledged"):
        db_notices.set_status(conn, nt.id, "overdue")
        db_notices.add_event(conn, nt.id, iso(now), "sweep", nt.status, "overdue",
                             f"due {nt.due_date}, {left} findings open")
        _escalate(conn, settings, nt, now, left)
        rep.overdue += 1
    elif 0 < to_go <= settings.notices.reminder_workdays_before and nt.status in ("delivered", "acknowledged"):
        if _remind(conn, settings, nt, now, to_go, left):
            rep.reminded += 1


def _verify(conn, settings: Settings, nt, now: datetime, exempt: dict[str, str], rep: SweepReport) -> None:
    """Close the notice's open items that an exemption, the inventory or the usage settled."""
    from policies.sizing import monthly_cost, unit_price

    from ..models import Dimension

    since = datetime.fromisoformat(nt.delivered_at or nt.issued_at)
    for it in db_notices.open_items(conn, nt.id):
        if it.server_id in exempt:
            db_notices.close_item(conn, it.id, "exempted", iso(now), exempt[it.server_id])
            continue
        done, saving, evidence = False, None, ""
        for ch in db_inventory.changes_since(conn, it.server_id, since):
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
            db_notices.close_item(conn, it.id, "rectified", iso(now), evidence, cny_text(saving))
            rep.rectified += 1
        elif it.finding_status == "gone":
            db_notices.close_item(conn, it.id, "resolved", iso(now),
                                  "the finding went away by itself (usage changed, size unchanged)")
            rep.resolved += 1


def _copy_body(conn, nt) -> tuple[str, dict]:
    return db_outbox.first_notice_message(conn, nt.id) or (nt.number, {"text": nt.number, "markdown": nt.number})


def _open_items_body(conn, settings: Settings, nt, head: str, with_pdf: bool = False) -> tuple[str, dict]:
    """A reminder or escalation as a document: a first paragraph, the due date, then one row per server
    with only its items still open (text, Markdown and HTML); an escalation carries the notice's PDF."""
    from html import escape

    from ..format import DIM_ZH, KIND_ZH, size_zh

    subject, body = _copy_body(conn, nt)
    rows: dict[str, dict] = {}
    for it in db_notices.open_items(conn, nt.id):
        f = json.loads(it.detail)
        ev = f.get("evidence") or {}
        r = rows.setdefault(f["server_id"], {"name": ev.get("server_name", f["server_id"]), "system": ev.get("system"),
                                             "current": f.get("current"), "recommended": f.get("recommended"),
                                             "problems": []})
        dim = DIM_ZH.get(f.get("dimension") or "", "")
        r["problems"].append(KIND_ZH.get(f["kind"], f["kind"]) + (f" {dim}" if dim else ""))
    lines = [f"{i}. {r['system'] or '（未登记系统）'}｜{r['name']}（{sid}）：{'、'.join(r['problems'])}；当前配置 "
             f"{size_zh(r['current'])}，建议配置 {size_zh(r['recommended']) if r['recommended'] else '释放'}"
             for i, (sid, r) in enumerate(rows.items(), 1)]
    tail = f"\n\n详见 {nt.number}。\n\n{settings.notices.sender}\n"
    text = head + f"尚未整改的服务器（{len(rows)} 台）：\n" + "\n".join(lines) + tail
    html = ("<div style=\"font-family:'SimSun','Noto Serif CJK SC',serif\">"
            + "".join(f"<p>{escape(p)}</p>" for p in head.strip().split("\n\n"))
            + f"<p>尚未整改的服务器（{len(rows)} 台）：</p><table border=\"1\" cellspacing=\"0\" cellpadding=\"4\">"
            "<tr><th>序号</th><th>系统</th><th>服务器</th><th>问题</th><th>当前配置</th><th>建议配置</th></tr>"
            + "".join(f"<tr><td>{i}</td><td>{escape(r['system'] or '（未登记）')}</td><td>{escape(r['name'])}<br>"
                      f"<small>{escape(sid)}</small></td><td>{escape('、'.join(r['problems']))}</td>"
                      f"<td>{size_zh(r['current'])}</td><td>{size_zh(r['recommended']) if r['recommended'] else '释放'}"
                      "</td></tr>" for i, (sid, r) in enumerate(rows.items(), 1))
            + f"</table><p>详见 {escape(nt.number)}。</p><p style=\"text-align:right\">"
              f"{escape(settings.notices.sender)}</p></div>")
    out = {"text": text, "markdown": text, "html": html}
    if body.get("link"):
        out["link"] = body["link"]
    if with_pdf:
        first = db_outbox.first_body(conn, nt.id) or {}
        if first.get("pdf_b64"):  # the original notice, as signed
            out.update(pdf_b64=first["pdf_b64"], pdf_name=first["pdf_name"])
    return subject, out


def _remind(conn, settings: Settings, nt, now: datetime, to_go: int, left: int) -> bool:
    contacts = settings.departments.get(nt.department)
    head = f"【提醒】{nt.number} 距整改期限（{_date_zh(nt.due_date)}）还有 {to_go} 个工作日，尚有 {left} 项未整改。\n\n"
    subject, body = _open_items_body(conn, settings, nt, head)
    added = False
    for channel in (contacts.channels if contacts else []):
        added |= db_outbox.queue(conn, nt.id, "reminder", channel, f"{nt.number}:reminder:{channel}",
                                 "【提醒】" + subject, body, now, contacts.emails)
    if added:
        db_notices.add_event(conn, nt.id, iso(now), "sweep", nt.status, nt.status,
                             f"reminder: {to_go} working days to go")
    return added


def _escalate(conn, settings: Settings, nt, now: datetime, left: int) -> None:
    contacts = settings.departments.get(nt.department)
    head = (f"【逾期未整改】{nt.number}（{nt.department}）整改期限 {_date_zh(nt.due_date)} 已过，尚有 {left} 项未整改。"
            "根据规定，资源使用不合理情况将纳入绩效评价。\n\n")
    subject, body = _open_items_body(conn, settings, nt, head, with_pdf=True)
    for channel in settings.notices.escalation_channels:
        db_outbox.queue(conn, nt.id, "escalation", channel, f"{nt.number}:escalation:{channel}", "【逾期】" + subject,
                        body, now, contacts.head_emails if contacts else [])
    db_notices.set_status(conn, nt.id, "escalated")
    db_notices.add_event(conn, nt.id, iso(now), "sweep", "overdue", "escalated",
                         f"escalation to {', '.join(settings.notices.escalation_channels) or 'no channel configured'}")


def _date_zh(iso_date: str | None) -> str:
    """``2026-12-04`` as ``2026年12月4日``."""
    if not iso_date:
        return "（待定）"
    y, m, d = (int(x) for x in iso_date.split("-"))
    return f"{y}年{m}月{d}日"
