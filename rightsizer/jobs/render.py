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


def render_into(store: Store, settings: Settings, notice_id: int, now: datetime) -> None:
    """Render the notice with no transaction open, store its files, then make its drafts pending."""
    from notifiers.render import render

    with store.read() as conn:
        nt = db_notices.get(conn, notice_id)
        follows = db_notices.get(conn, nt.follows_id).number if nt.follows_id else None
        found = [i.finding for i in db_notices.items(conn, notice_id)]
    out = render(nt, follows, found, settings)
    with store.begin() as conn:
        stored = {f.kind: db_documents.add(conn, notice_id, f.kind, f.name, f.content, now) for f in out.files}
        for channel in db_outbox.draft_channels(conn, notice_id):
            files = [stored[k] for k in attaches(settings, channel) if k in stored]
            db_outbox.fill_drafts(conn, notice_id, out.subject, out.body, channel, files)
