"""Following a notice to its end: verification from the inventory, held deadlines, reminders, escalation.

Each function works inside the sweep's short transaction for one notice (``conn``) and
renders nothing heavy: reminders and escalations are built from the notice's open items
(text and HTML, one row per server), and an escalation carries the original notice's PDF.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from html import escape

from ..calendar import WorkCalendar
from ..db import documents as db_documents
from ..db import inventory as db_inventory
from ..db import notices as db_notices
from ..db import outbox as db_outbox
from ..errors import CalendarError
from ..format import DIM_ZH, KIND_ZH, date_zh, local_date, md_safe, minute, size_zh
from ..lifecycle import ItemState, NoticeState
from ..models import Dimension, cny_text
from ..records import Notice
from ..settings import Settings
from .render import attaches


def alert(conn, settings: Settings, now: datetime, text: str, key: str, subject: str, names: tuple[str, ...] = ()
          ) -> None:
    """An operator alert through the operator channels (itself an outbox row: never lost); once per ``key``.
    ``subject`` is whole (never a cut of ``text``): "[rightsizer 告警] " and what happened, in Chinese. ``names``
    are the tenants' names in ``text`` (a department's): in the Markdown they are shown, never acted on."""
    markdown = text
    for name in names:
        markdown = markdown.replace(name, md_safe(name))
    for channel in settings.notices.operator_channels:
        db_outbox.queue(conn, None, "alert", channel, f"alert:{key}:{channel}", f"[rightsizer 告警] {subject}",
                        {"text": text, "markdown": markdown}, now)


def resume_deadline(conn, settings: Settings, calendar: WorkCalendar, nt: Notice, now: datetime) -> Notice:
    """A deadline held for want of the calendar is computed once the calendar has the year."""
    if nt.due_date or not nt.hold_reason or not nt.delivered_at or not db_notices.count_open_items(conn, nt.id):
        return nt
    start = local_date(nt.delivered_at, settings.tz)
    try:
        due = calendar.add_workdays(start, settings.notices.workdays_to_rectify)
    except CalendarError:
        return nt
    db_notices.set_state(conn, nt.id, nt.state, due_date=due, hold_reason=None)
    n = settings.notices.workdays_to_rectify
    db_notices.add_event(conn, nt.id, now, "sweep", nt.state, nt.state,
                         f"deadline resumed: due {due.isoformat()} ({n} working days from {start.isoformat()}); "
                         f"the calendar now covers it",
                         f"整改期限确定：请于{date_zh(due)}前完成整改（自{date_zh(start)}收到通知起 {n} 个工作日）")
    tell_due_known(conn, settings, nt, now)
    return db_notices.get(conn, nt.id)


def tell_due_known(conn, settings: Settings, nt: Notice, now: datetime) -> None:
    """The department is told its held deadline, with the notice rendered again (its files a new version):
    drafts, rendered after the transaction (:func:`rightsizer.jobs.render.render_into`)."""
    contacts = settings.departments.get(nt.department)
    for channel in (contacts.channels if contacts else []):
        db_outbox.queue(conn, nt.id, "due-known", channel, f"{nt.number}:due-known:{channel}", nt.number, {}, now,
                        contacts.emails, draft=True)


def verify(conn, settings: Settings, nt: Notice, now: datetime, exempt: dict[str, str], rep) -> None:
    """Close the notice's open items that an exemption, the inventory or the usage settled."""
    from policies.sizing import monthly_cost, unit_price

    since = nt.delivered_at or nt.issued_at
    for it in db_notices.open_items(conn, nt.id):
        if it.server_id in exempt:
            db_notices.close_item(conn, it.id, ItemState.EXEMPTED, now, exempt[it.server_id])
            continue
        done, saving, evidence, when = False, None, "", now
        for ch in db_inventory.changes_since(conn, it.server_id, since):
            seen = minute(ch.at, settings.tz)
            if it.kind in ("release", "undeployed") and ch.change == "removed":
                done, saving = True, monthly_cost(ch.old_size, settings.prices)
                evidence = f"server gone from the cloud at {seen}"
            elif it.kind in ("shrink", "expand") and ch.change == "resized" and it.dimension:
                dim = Dimension(it.dimension)
                old, new = ch.old_size.get(dim), ch.new_size.get(dim)
                if (new < old) if it.kind == "shrink" else (new > old):
                    done = True
                    saving = (Decimal(str(old)) - Decimal(str(new))) * unit_price(dim, settings.prices)
                    evidence = f"{ch.old_flavor} -> {ch.new_flavor}: {dim.value} {old:g} -> {new:g} at {seen}"
            if done:
                when = ch.at or when  # the day the change happened: the end of the waste, the start of the saving
                break
        if done:
            db_notices.close_item(conn, it.id, ItemState.RECTIFIED, when, evidence, cny_text(saving))
            rep.rectified += 1
        elif not it.finding_open:
            db_notices.close_item(conn, it.id, ItemState.RESOLVED, now,
                                  "the finding went away by itself (usage changed, size unchanged)")
            rep.resolved += 1


def _copy_body(conn, nt: Notice) -> tuple[str, dict]:
    return db_outbox.first_notice_message(conn, nt.id) or (nt.number, {"text": nt.number, "markdown": nt.number})


def _open_items_body(conn, settings: Settings, nt: Notice, head: str) -> tuple[str, dict]:
    """A reminder or escalation as a document: a first paragraph, the due date, then one row per server
    with only its items still open (text, Markdown and HTML)."""
    subject, body = _copy_body(conn, nt)
    rows: dict[str, dict] = {}
    for it in db_notices.open_items(conn, nt.id):
        f = it.finding
        r = rows.setdefault(f.server_id, {"name": f.server_name, "system": f.system, "current": f.current,
                                          "recommended": f.recommended, "problems": []})
        dim = DIM_ZH.get(f.dimension.value if f.dimension else "", "")
        r["problems"].append(KIND_ZH.get(f.kind, f.kind) + (f" {dim}" if dim else ""))
    lines = [f"{i}. {r['system'] or '（未登记系统）'}｜{r['name']}（{sid}）：{'、'.join(r['problems'])}；当前配置 "
             f"{size_zh(r['current'])}，建议配置 {size_zh(r['recommended']) if r['recommended'] else '释放'}"
             for i, (sid, r) in enumerate(rows.items(), 1)]
    tail = f"\n\n详见 {nt.number}。\n\n{settings.notices.sender}\n"
    text = head + f"尚未整改的服务器（{len(rows)} 台）：\n" + "\n".join(lines) + tail
    md_lines = [f"{i}. {md_safe(r['system']) if r['system'] else '（未登记系统）'}｜{md_safe(r['name'])}（{md_safe(sid)}）："
                f"{'、'.join(r['problems'])}；当前配置 {size_zh(r['current'])}，建议配置 "
                f"{size_zh(r['recommended']) if r['recommended'] else '释放'}" for i, (sid, r) in enumerate(rows.items(), 1)]
    markdown = (head.replace(nt.department, md_safe(nt.department)) + f"尚未整改的服务器（{len(rows)} 台）：\n"
                + "\n".join(md_lines) + tail)
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
    out = {"text": text, "markdown": markdown, "html": html}
    if body.get("link"):
        out["link"] = body["link"]
    return subject, out


def remind(conn, settings: Settings, nt: Notice, now: datetime, to_go: int, left: int) -> bool:
    contacts = settings.departments.get(nt.department)
    head = f"【提醒】{nt.number} 距整改期限（{_due(nt)}）还有 {to_go} 个工作日，尚有 {left} 项未整改。\n\n"
    subject, body = _open_items_body(conn, settings, nt, head)
    added = False
    for channel in (contacts.channels if contacts else []):
        added |= db_outbox.queue(conn, nt.id, "reminder", channel, f"{nt.number}:reminder:{channel}",
                                 "【提醒】" + subject, body, now, contacts.emails)
    if added:
        db_notices.add_event(conn, nt.id, now, "sweep", nt.state, nt.state, f"reminder: {to_go} working days to go",
                             f"提醒：距整改期限还有 {to_go} 个工作日")
    return added


def escalate(conn, settings: Settings, nt: Notice, now: datetime, left: int) -> None:
    """The overdue notice to the escalation channels, carrying the original notice's PDF (as signed)."""
    contacts = settings.departments.get(nt.department)
    head = (f"【逾期未整改】{nt.number}（{nt.department}）整改期限 {_due(nt)} 已过，尚有 {left} 项未整改。"
            "根据规定，资源使用不合理情况将纳入绩效评价。\n\n")
    subject, body = _open_items_body(conn, settings, nt, head)
    pdf = db_documents.newest(conn, nt.id, "pdf")
    for channel in settings.notices.escalation_channels:
        files = [pdf.id] if pdf is not None and "pdf" in attaches(settings, channel) else []
        db_outbox.queue(conn, nt.id, "escalation", channel, f"{nt.number}:escalation:{channel}", "【逾期】" + subject,
                        body, now, contacts.head_emails if contacts else [], documents=files)
    db_notices.set_state(conn, nt.id, NoticeState.ESCALATED)
    db_notices.add_event(conn, nt.id, now, "sweep", NoticeState.OVERDUE, NoticeState.ESCALATED,
                         f"escalation to {', '.join(settings.notices.escalation_channels) or 'no channel configured'}",
                         "逾期未整改，已报请督办")


def _due(nt: Notice) -> str:
    return date_zh(nt.due_date) or "（待定）"
