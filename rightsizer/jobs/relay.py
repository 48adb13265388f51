"""The outbox relay: send what is due, at least once, never lost.

Deliveries are *claimed* a few at a time (``batch``) with a lease and a token of this run,
in a short transaction. Before each send the attempt is counted and the lease renewed;
the message is sent with no database lock held; the result is recorded in another short
transaction, only if the row still carries this run's token. A relay whose rows were taken
over (it stalled past its lease) records nothing more and sends nothing more. A relay
that dies between sending and recording leaves the lease to expire and the delivery is
sent again with the **same idempotency key and Message-ID** — at most one copy the
receiver can recognise, never a loss. Failures back off exponentially with jitter; after
``max_attempts`` a delivery is ``dead`` and an operator alert goes out. Each channel's
rate limits (its notifier's ``rate_limits``) are counted from the store, so several
relays together stay under them.

A notice is ``delivered`` when its first department delivery is sent; its due date is
then the delivery day + N working days. A year the calendar does not know holds the
deadline (``due_date`` stays empty) and the operator is alerted — it never guesses.
"""

from __future__ import annotations

import json
import logging
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from notifiers import rate_limits
from notifiers.base import Attachment, Message, Notifier, SendResult

from ..calendar import WorkCalendar
from ..db import Store
from ..db import documents as db_documents
from ..db import notices as db_notices
from ..db import outbox as db_outbox
from ..errors import CalendarError
from ..format import date_zh, local_date, md_safe
from ..lifecycle import NoticeState
from ..records import Delivery
from ..settings import Settings
from .followup import alert, tell_due_known
from .views import notice_view

log = logging.getLogger("rightsizer.relay")
CENTRE_PURPOSES = ("cc", "escalation", "alert")  # what goes to the centre, not to the department
MIME = {"pdf": "application/pdf", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


@dataclass
class RelayReport:
    sent: int = 0
    retried: int = 0
    dead: int = 0
    deferred: int = 0  # over a channel's rate limit: not attempted this round
    taken_over: bool = False  # another relay took this one's rows over (it stalled past its lease): it stopped


def build_notifiers(settings: Settings) -> dict[str, Notifier]:
    """Every configured notifier by channel name (secrets are read here)."""
    import notifiers

    return {b["name"]: notifiers.build(b) for b in settings.notifiers}


def secret_problems(settings: Settings) -> list[str]:
    """Every secret delivery and storage would read, read now: what is missing or unreadable, all at once
    (``check-config``), named by key path and never by value."""
    import notifiers

    from ..errors import ConfigError

    problems = []
    readers = [("store.url", settings.store.resolved_url)]
    readers += [(f"notifiers.{b['name']}", lambda b=b: notifiers.build(b)) for b in settings.notifiers]
    if settings.metrics.source == "influxdb":
        readers.append(("metrics.influxdb.token", settings.metrics.influxdb.token_value))
    for _, read in readers:
        try:
            read()
        except ConfigError as exc:
            problems += [f"{exc.path}: {p}" if exc.path else p for p in exc.problems]
    return problems


def rate_wait(conn, channel: str, limits: list[tuple[int, float]], now: float) -> float:
    """Seconds to wait before ``channel`` may send again; counted from the store, so every relay agrees."""
    if not limits:
        return 0.0
    recent = db_outbox.recent_sends(conn, channel, now - max(window for _, window in limits))
    waits = [window - (now - recent[n - 1]) for n, window in limits if len(recent) >= n]
    return max([0.0, *waits])


def backoff(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Exponential backoff with full jitter: uniform in [base, min(cap, base * 2**attempt)]."""
    return rng.uniform(base, max(base, min(cap, base * 2 ** attempt)))


def deliver(store: Store, settings: Settings, calendar: WorkCalendar, now: Callable[[], datetime],
            notifiers: dict[str, Notifier] | None = None, limit: int = 1000, batch: int = 20,
            rng: random.Random | None = None, stop: Callable[[], bool] | None = None) -> RelayReport:
    """Send up to ``limit`` due deliveries, ``batch`` claimed at a time; returns counts.
    Safe to run in several processes at once. ``stop()`` true (the daemon is shutting down): the send in
    flight is recorded, the rest of the claim is given back at once, and it returns."""
    n = settings.notices
    notifiers = build_notifiers(settings) if notifiers is None else notifiers
    rng = rng or random.Random()
    limits = {b["name"]: rate_limits(b["type"]) for b in settings.notifiers}  # per channel, by its type
    report = RelayReport()
    token = uuid.uuid4().hex
    left = limit
    while left > 0:
        with store.begin() as conn:
            claimed = db_outbox.claim(conn, now().timestamp(), n.lease_seconds, min(batch, left), token)
        if not claimed:
            break
        left -= len(claimed)
        for row in claimed:
            if stop is not None and stop():
                with store.begin() as conn:
                    db_outbox.release(conn, token)
                return report
            outcome = _one(store, settings, calendar, now, notifiers, limits, rng, row, token)
            if outcome == "taken_over":
                report.taken_over = True
                with store.begin() as conn:
                    db_outbox.release(conn, token)  # what is still ours goes back at once, not at lease end
                return report
            setattr(report, outcome, getattr(report, outcome) + 1)
    return report


def _one(store: Store, settings: Settings, calendar: WorkCalendar, now: Callable[[], datetime],
         notifiers: dict[str, Notifier], limits: dict, rng: random.Random, row, token: str) -> str:
    """Send one claimed delivery and record the result: sent | retried | dead | deferred | taken_over."""
    with store.read() as conn:
        wait = rate_wait(conn, row.channel, limits.get(row.channel, []), now().timestamp())
    if wait > 0:
        return _record(store, row, token, None, now(), settings, calendar, rng, defer=wait)
    with store.begin() as conn:  # the attempt counts from here; the whole claim's lease is renewed
        if not db_outbox.start_attempt(conn, row.id, token, now().timestamp() + settings.notices.lease_seconds):
            return "taken_over"
    notifier = notifiers.get(row.channel)
    if notifier is None:
        result = SendResult(False, False, f"no notifier named {row.channel!r} is configured")
    else:
        try:
            result = notifier.send(_message(store, settings, row, getattr(notifier, "carries_notice", False)))
        except Exception as exc:  # noqa: BLE001 - a notifier bug must not lose the delivery
            result = SendResult(False, True, f"{row.channel}: {type(exc).__name__}")
    return _record(store, row, token, result, now(), settings, calendar, rng)


def _message(store: Store, settings: Settings, row: Delivery, with_notice: bool) -> Message:
    """The message of a delivery (read with no lock held while it is sent): its words, the stored files it refers
    to, and — for a notifier that carries it (``carries_notice``), on anything about a notice — the notice as it
    stands now (the one JSON of :class:`~rightsizer.jobs.views.NoticeView`)."""
    notice = None
    with store.read() as conn:
        files = db_documents.of_delivery(conn, row.id)
        if with_notice and row.notice_id is not None:
            try:  # a department's copy carries no operator-only text (the platforms' errors)
                notice = notice_view(conn, row.notice_id, operator=row.purpose in CENTRE_PURPOSES).to_json(settings.tz)
            except Exception:  # noqa: BLE001 - the message goes out without it rather than not at all
                log.warning("notice #%s: its view could not be read for %s; sent without it", row.notice_id,
                            row.channel)
    body = row.body
    return Message(key=row.idempotency_key, subject=row.subject, text=body.get("text", ""),
                   markdown=body.get("markdown", ""), html=body.get("html", ""), recipients=row.recipients,
                   message_id=row.message_id, link=body.get("link", ""),
                   attachments=tuple(Attachment(f.name, f.content, MIME.get(f.kind, "application/octet-stream"))
                                     for f in files),
                   document=body.get("document"), notice=notice)


def _record(store: Store, row, token: str, result: SendResult | None, at: datetime, settings: Settings,
            calendar: WorkCalendar, rng: random.Random, defer: float = 0.0) -> str:
    """The result, written only while ``token`` still holds the row ("taken_over" when it does not)."""
    n = settings.notices
    with store.begin() as conn:
        if result is None:  # deferred by the rate limit: no attempt was made
            ok = db_outbox.update(conn, row.id, token, lease_until=0.0, next_attempt_at=at.timestamp() + defer)
            return "deferred" if ok else "taken_over"
        attempts = row.attempts + 1  # row is as claimed; start_attempt counted this one
        if result.ok:
            if not db_outbox.update(conn, row.id, token, status="sent", sent_at=at, sent_ts=at.timestamp(),
                                    lease_until=0.0, last_error=""):
                return "taken_over"
            if row.notice_id is not None and row.purpose == "notice":
                _delivered(conn, row.notice_id, at, settings, calendar)
            log.info("%s sent via %s (attempt %d)", row.purpose, row.channel, attempts, extra=_number(conn, row))
            return "sent"
        values = {}
        if result.refused and result.accepted:  # retry only the refused recipients
            values["recipients"] = json.dumps(result.refused, ensure_ascii=False)
        if result.recoverable and attempts < n.max_attempts:
            delay = result.retry_after_seconds or backoff(attempts, n.backoff_base_seconds, n.backoff_max_seconds, rng)
            ok = db_outbox.update(conn, row.id, token, next_attempt_at=at.timestamp() + delay, lease_until=0.0,
                                  last_error=result.detail[:500], **values)
            log.warning("%s via %s failed (attempt %d, retry in %.0f s): %s", row.purpose, row.channel, attempts,
                        delay, result.detail[:300], extra=_number(conn, row))
            return "retried" if ok else "taken_over"
        if not db_outbox.update(conn, row.id, token, status="dead", lease_until=0.0, last_error=result.detail[:500],
                                **values):
            return "taken_over"
        why = "permanent failure" if not result.recoverable else f"{attempts} attempts"
        log.error("%s via %s is dead (%s): %s", row.purpose, row.channel, why, result.detail[:300],
                  extra=_number(conn, row))
        if row.notice_id is not None:
            number = db_outbox.notice_number(conn, row.notice_id)
            db_notices.add_event(conn, row.notice_id, at, "relay", None, "undeliverable",
                                 f"{row.channel}: {why}: {result.detail[:300]}", "一个渠道投递失败，中心正在处理")
            what, english = f"{number}（渠道 {row.channel}）", f"{number} via {row.channel}"
        else:
            what, english = f"{row.purpose}（渠道 {row.channel}）", f"{row.purpose} via {row.channel}"
        if row.purpose != "alert":  # an alert that cannot be delivered stays dead and listed, no alert loop
            tried = "永久性错误" if not result.recoverable else f"已试 {attempts} 次"
            alert(conn, settings, at, f"{what}投递失败，已停止重试（{tried}），请处理后在控制台或用 notices resend 重发。"
                  f"\n{english} could not be delivered ({why}): "
                  f"{result.detail[:300]}", f"dead:{row.idempotency_key}", subject=f"{what}投递失败")
        return "dead"


def _number(conn, row) -> dict:
    """The notice number for a log line (``extra``)."""
    return {"notice": db_outbox.notice_number(conn, row.notice_id) if row.notice_id is not None else ""}


def _delivered(conn, notice_id: int, at: datetime, settings: Settings, calendar: WorkCalendar) -> None:
    """The first delivery to the department: the notice is ``delivered``. The department gets at least N
    working days from this day: a printed due date that would give fewer moves, and it is told."""
    cur = db_notices.get(conn, notice_id)
    if cur.state != NoticeState.ISSUED:
        return
    values = {"delivered_at": at}
    note, zh = "first delivery to the department", NoticeState.DELIVERED.label
    n = settings.notices
    if cur.due_date or cur.hold_reason:  # not an advice-only notice (建议扩容 has no deadline)
        try:
            due = calendar.add_workdays(local_date(at, settings.tz), n.workdays_to_rectify)
            if cur.due_date and due <= cur.due_date:
                note += f"; due {cur.due_date.isoformat()} as printed"
                zh += f"；整改期限{date_zh(cur.due_date)}（与通知所印一致）"
            else:
                values.update(due_date=due, hold_reason=None)
                note += f"; due {due.isoformat()} ({n.workdays_to_rectify} working days)"
                zh += f"；整改期限{date_zh(due)}（自收到之日起 {n.workdays_to_rectify} 个工作日）"
                if cur.due_date:  # delivered late: the date moves, and the department is told
                    note += f", moved from {cur.due_date.isoformat()} (delivered late)"
                    zh += f"，因送达晚于发文由{date_zh(cur.due_date)}顺延"
                    _tell_moved(conn, settings, cur, due, at)
                elif cur.hold_reason:  # issued held, the calendar has the year now: the date is told (the next
                    tell_due_known(conn, settings, cur, at)  # sweep renders the word and the notice again)
        except CalendarError as exc:
            values["hold_reason"] = str(exc)
            note += "; deadline held: the working-day calendar does not cover it"
            zh += "；整改期限待定（节假日安排未发布）"
            alert(conn, settings, at, f"{cur.number}（{cur.department}）已送达，整改期限暂缓：日历尚无所需年份的节假日安排，"
                  f"补上后下一次 sweep 定出期限并告知该部门。\n{cur.number}: deadline held: {exc}", f"hold:{cur.number}",
                  subject=f"{cur.number} 整改期限暂缓（日历尚无节假日安排）", names=(cur.department,))
    db_notices.set_state(conn, notice_id, NoticeState.DELIVERED, **values)
    db_notices.add_event(conn, notice_id, at, "relay", NoticeState.ISSUED, NoticeState.DELIVERED, note, zh)


def _tell_moved(conn, settings: Settings, cur, due, at: datetime) -> None:
    contacts = settings.departments.get(cur.department)
    text = (f"{cur.department}：\n\n{cur.number} 送达晚于发文日期，整改期限由{date_zh(cur.due_date)}"
            f"调整为{date_zh(due)}（自收到通知之日起 {settings.notices.workdays_to_rectify} 个工作日）。"
            f"\n\n{settings.notices.sender}\n")
    for channel in (contacts.channels if contacts else []):
        db_outbox.queue(conn, cur.id, "due-moved", channel, f"{cur.number}:due-moved:{channel}",
                        f"【期限调整】{cur.number}", {"text": text, "markdown": text.replace(
                            cur.department, md_safe(cur.department))}, at, contacts.emails)
