"""A notice into its words and files, outside any transaction; then its drafts become pending.

The files (the PDF as signed, the server list) are stored once in ``notice_documents``; each
draft refers to the ones its notifier declares it attaches (``attaches`` in the notifier's
class: email the PDF and the list, a webhook the PDF, an IM robot none). No job asks what
type a notifier is.
"""

from __future__ import annotations

from datetime import datetime

from ..db import Store
from ..db import documents as db_documents
from ..db import notices as db_notices
from ..db import outbox as db_outbox
from ..settings import Settings


def attaches(settings: Settings, channel: str) -> tuple[str, ...]:
    """The kinds of file a channel's notifier carries (its registry's declaration)."""
    import notifiers

    kind = next((b.get("type") for b in settings.notifiers if b.get("name") == channel), None)
    return notifiers.attaches(kind)


DUE_KNOWN = ("due-known",)


def render_into(store: Store, settings: Settings, notice_id: int, now: datetime) -> None:
    """Render the notice with no transaction open, store its files (a new version when they changed), then make
    its drafts pending: the notice's own with the notice, a held deadline's ``due-known`` with the word that the
    date is now known, each carrying the files its notifier attaches."""
    from notifiers.render import render

    with store.read() as conn:
        nt = db_notices.get(conn, notice_id)
        follows = db_notices.get(conn, nt.follows_id).number if nt.follows_id else None
        found = [i.finding for i in db_notices.items(conn, notice_id)]
        purposes = db_outbox.draft_purposes(conn, notice_id)
    out = render(nt, follows, found, settings)
    with store.begin() as conn:
        stored = {f.kind: db_documents.add(conn, notice_id, f.kind, f.name, f.content, now) for f in out.files}
        for channel in db_outbox.draft_channels(conn, notice_id):
            files = [stored[k] for k in attaches(settings, channel) if k in stored]
            db_outbox.fill_drafts(conn, notice_id, out.subject, out.body, channel, files)
        if "due-known" in purposes:
            subject, body = due_known(nt, settings, out.body.get("link", ""))
            for channel in db_outbox.draft_channels(conn, notice_id, DUE_KNOWN):
                files = [stored[k] for k in attaches(settings, channel) if k in stored]
                db_outbox.fill_drafts(conn, notice_id, subject, body, channel, files, DUE_KNOWN)


def due_known(nt, settings: Settings, link: str = "") -> tuple[str, dict]:
    """The department told the due date of its notice, once the calendar gives it (text, Markdown, HTML)."""
    from html import escape

    from ..format import date_zh, local_date, md_safe

    n = settings.notices
    start = local_date(nt.delivered_at or nt.issued_at, settings.tz)
    head = (f"{nt.department}：\n\n{nt.number} 的整改期限现已确定：请于{date_zh(nt.due_date)}前完成整改"
            f"（自{date_zh(start)}收到通知之日起 {n.workdays_to_rectify} 个工作日；此前因节假日安排未发布，期限暂缓）。"
            "随附更新后的通知。")
    text = head + (f"\n\n在线查看：{link}" if link else "") + f"\n\n{n.sender}\n"
    html = ("<div style=\"font-family:'SimSun','Noto Serif CJK SC',serif\">"
            + "".join(f"<p>{escape(p)}</p>" for p in head.split("\n\n"))
            + f"<p style=\"text-align:right\">{escape(n.sender)}</p></div>")
    body = {"text": text, "markdown": text.replace(nt.department, md_safe(nt.department)), "html": html}
    if link:
        body["link"] = link
    return f"【期限确定】{nt.number}", body
