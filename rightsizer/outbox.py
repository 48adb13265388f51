"""Rectification notices (整改通知) and their outbox: issue, number, deliver at least once.

* :func:`issue` turns a department's open actionable findings into one notice, numbered
  ``平大数据调〔2026〕第0012号`` from a per-year sequence that is never reused. The
  notice, its items, its first event and one delivery per channel are written in **one
  transaction**. A finding already on an open notice stays there (no new notice, no new
  message); new findings of a department with an open notice go on a follow-up notice.
* :func:`relay` sends pending deliveries. A delivery is *claimed* with a lease in a short
  transaction; the message is sent with no database lock held; the result is recorded in
  another transaction. A relay that dies between sending and recording leaves the lease
  to expire and the delivery is sent again with the **same idempotency key and
  Message-ID** — at worst a duplicate the receiver can recognise, never a loss. Failures
  back off exponentially with jitter; after ``max_attempts`` a delivery is ``dead`` and an
  operator alert goes out. Nothing is dropped silently.
* A notice is ``delivered`` when its first department delivery is sent; its due date is
  then the delivery day + N working days. A year the calendar does not know holds the
  deadline (``due_date`` stays empty) and the relay reports it — it never guesses.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from notifiers.base import Attachment, Message, Notifier, SendResult

from .calendar import CalendarError, WorkCalendar
from .settings import Settings
from .store import Store, findings, md

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
OPEN_STATES = ("issued", "delivered", "acknowledged", "overdue", "escalated")

notice_seq = sa.Table(
    "notice_seq", md,
    sa.Column("prefix", sa.String(100), primary_key=True),
    sa.Column("year", sa.Integer, primary_key=True),
    sa.Column("last", sa.Integer, nullable=False),
)

notices = sa.Table(
    "notices", md,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("number", sa.String(100), nullable=False, unique=True),
    sa.Column("department", sa.String(200), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("follows_id", sa.ForeignKey("notices.id")),  # a follow-up of this open notice
    sa.Column("issued_at", sa.String(40), nullable=False),
    sa.Column("delivered_at", sa.String(40)),
    sa.Column("due_date", sa.String(10)),  # empty while the calendar cannot say (held)
    sa.Column("hold_reason", sa.Text),
)

notice_items = sa.Table(
    "notice_items", md,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("notice_id", sa.ForeignKey("notices.id"), nullable=False),
    sa.Column("finding_id", sa.ForeignKey("findings.id"), nullable=False, index=True),
    sa.Column("server_id", sa.String(128), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("dimension", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # open | rectified | resolved | exempted | withdrawn
    sa.Column("closed_at", sa.String(40)),
    sa.Column("realised_saving_cny", sa.String(32)),  # Decimal as text, for a verified rectification
    sa.Column("evidence", sa.Text),  # what the inventory showed
)

notice_events = sa.Table(
    "notice_events", md,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("notice_id", sa.ForeignKey("notices.id"), nullable=False),
    sa.Column("at", sa.String(40), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("from_status", sa.String(16)),
    sa.Column("to_status", sa.String(16), nullable=False),
    sa.Column("note", sa.Text, nullable=False),
)

deliveries = sa.Table(
    "deliveries", md,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("notice_id", sa.ForeignKey("notices.id")),  # None for operator alerts
    sa.Column("purpose", sa.String(16), nullable=False),  # notice | cc | alert
    sa.Column("channel", sa.String(100), nullable=False),
    sa.Column("recipients", sa.Text, nullable=False),  # JSON list (email); [] for IM robots
    sa.Column("idempotency_key", sa.String(200), nullable=False, unique=True),
    sa.Column("message_id", sa.String(200), nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),  # JSON: text, markdown, html, link
    sa.Column("status", sa.String(16), nullable=False),  # pending | sent | dead | withdrawn
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", sa.Float, nullable=False),  # epoch seconds
    sa.Column("lease_until", sa.Float, nullable=False),  # 0 = not claimed
    sa.Column("last_error", sa.Text, nullable=False),
    sa.Column("sent_at", sa.String(40)),
    sa.Column("sent_ts", sa.Float),  # epoch seconds of sent_at: the rate limits count from it
)
sa.Index("deliveries_due", deliveries.c.status, deliveries.c.next_attempt_at)
sa.Index("deliveries_sent", deliveries.c.channel, deliveries.c.sent_ts)

exemptions = sa.Table(  # e.g. a disaster-recovery standby, a system busy only in exam season
    "exemptions", md,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("scope", sa.String(16), nullable=False),  # server | system
    sa.Column("target", sa.String(200), nullable=False),  # server id, or system name
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("approver", sa.String(200), nullable=False),
    sa.Column("expires_on", sa.String(10), nullable=False),  # last day it holds
    sa.Column("created_at", sa.String(40), nullable=False),
)


def create_tables(conn: Connection) -> None:
    md.create_all(conn, tables=[notice_seq, notices, notice_items, notice_events, deliveries, exemptions])


def add_exemption(store: Store, scope: str, target: str, reason: str, approver: str, expires_on: str,
                  now: datetime) -> int:
    if scope not in ("server", "system"):
        raise ValueError("scope is server or system")
    with store.engine.begin() as conn:
        return conn.execute(exemptions.insert().values(scope=scope, target=target, reason=reason, approver=approver,
                                                       expires_on=expires_on, created_at=_iso(now))
                            ).inserted_primary_key[0]


def exempted_servers(conn: Connection, today: str) -> dict[str, str]:
    """Server id -> why, for every exemption still in force on ``today``."""
    from .store import servers, systems

    live = conn.execute(sa.select(exemptions).where(exemptions.c.expires_on >= today)).all()
    out: dict[str, str] = {}
    by_system = {e.target: e for e in live if e.scope == "system"}
    for e in live:
        if e.scope == "server":
            out[e.target] = f"exemption #{e.id} until {e.expires_on} ({e.approver}): {e.reason}"
    if by_system:
        q = sa.select(servers.c.server_id, systems.c.name).join(systems, systems.c.id == servers.c.system_id).where(
            systems.c.name.in_(list(by_system)))
        for sid, name in conn.execute(q):
            e = by_system[name]
            out.setdefault(sid, f"exemption #{e.id} of system {name} until {e.expires_on} ({e.approver}): {e.reason}")
    return out


def _iso(t: datetime) -> str:
    return t.isoformat(timespec="seconds")


def _event(conn: Connection, notice_id: int, at: datetime, actor: str, old: str | None, new: str, note: str) -> None:
    conn.execute(notice_events.insert().values(notice_id=notice_id, at=_iso(at), actor=actor, from_status=old,
                                               to_status=new, note=note))


def _next_number(conn: Connection, settings: Settings, year: int) -> str:
    n = settings.notices
    row = conn.execute(sa.select(notice_seq.c.last).where(notice_seq.c.prefix == n.prefix,
                                                          notice_seq.c.year == year)).scalar()
    seq = (row or 0) + 1
    if row is None:
        conn.execute(notice_seq.insert().values(prefix=n.prefix, year=year, last=seq))
    else:
        conn.execute(notice_seq.update().where(notice_seq.c.prefix == n.prefix, notice_seq.c.year == year)
                     .values(last=seq))
    return n.number_format.format(prefix=n.prefix, year=year, seq=seq)


@dataclass
class Issued:
    notice_id: int
    number: str
    department: str
    items: int
    follows: str | None
    channels: list[str]


Render = Callable[[dict, list[dict], Settings], tuple[str, dict]]


def issue(store: Store, settings: Settings, now: datetime, render: Render) -> list[Issued]:
    """One notice per department for its open actionable findings not yet on an open notice."""
    kinds = set(settings.notices.kinds)
    out: list[Issued] = []
    with store.engine.begin() as conn:
        # A finding once on a notice is never noticed twice: its notice tracks it to the end (a withdrawn
        # notice's findings stay withdrawn). Only an exemption lets it through again, once it has expired.
        on_any = set(conn.execute(sa.select(notice_items.c.finding_id)
                                  .where(notice_items.c.status != "exempted")).scalars())
        rows = conn.execute(sa.select(findings.c.id, findings.c.department, findings.c.kind, findings.c.server_id,
                                      findings.c.dimension, findings.c.detail)
                            .where(findings.c.status == "open").order_by(findings.c.id)).all()
        exempt = exempted_servers(conn, now.date().isoformat())
        by_dept: dict[str, list] = {}
        for r in rows:
            if r.kind in kinds and r.id not in on_any and r.server_id not in exempt:
                by_dept.setdefault(r.department, []).append(r)
        for dept in sorted(by_dept):
            items = by_dept[dept]
            open_one = conn.execute(sa.select(notices.c.id, notices.c.number).where(
                notices.c.department == dept, notices.c.status.in_(OPEN_STATES)).order_by(notices.c.id)).first()
            number = _next_number(conn, settings, now.year)
            nid = conn.execute(notices.insert().values(
                number=number, department=dept, status="issued", follows_id=open_one.id if open_one else None,
                issued_at=_iso(now))).inserted_primary_key[0]
            conn.execute(notice_items.insert(), [
                {"notice_id": nid, "finding_id": r.id, "server_id": r.server_id, "kind": r.kind,
                 "dimension": r.dimension, "status": "open"} for r in items])
            note = f"{len(items)} findings" + (f"; follow-up of {open_one.number}" if open_one else "")
            _event(conn, nid, now, "rightsizer", None, "issued", note)
            notice = {"id": nid, "number": number, "department": dept, "issued_at": _iso(now),
                      "follows": open_one.number if open_one else None}
            subject, body = render(notice, [json.loads(r.detail) for r in items], settings)
            contacts = settings.departments.get(dept)
            channels = [(c, "notice") for c in (contacts.channels if contacts else [])]
            channels += [(c, "cc") for c in settings.notices.cc_channels]
            for channel, purpose in channels:
                queue(conn, nid, purpose, channel, f"{number}:{purpose}:{channel}", subject, body, now,
                      contacts.emails if contacts and purpose == "notice" else [])
            if not contacts or not contacts.channels:
                _event(conn, nid, now, "rightsizer", "issued", "issued",
                       f"held: no channel configured for {dept} (add [departments.\"{dept}\"])")
                _alert(conn, settings, now, f"{number}: {dept} has no notice channel; the notice is held",
                       f"nochannel:{number}")
            out.append(Issued(nid, number, dept, len(items), open_one.number if open_one else None,
                              [c for c, _ in channels]))
    return out


def queue(conn: Connection, notice_id: int | None, purpose: str, channel: str, key: str, subject: str, body: dict,
          now: datetime, recipients: list[str] = ()) -> bool:
    """Add one pending delivery; ``False`` when one with this idempotency key exists already."""
    if conn.execute(sa.select(deliveries.c.id).where(deliveries.c.idempotency_key == key)).first():
        return False
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]  # ASCII, stable across retries
    conn.execute(deliveries.insert().values(
        notice_id=notice_id, purpose=purpose, channel=channel,
        recipients=json.dumps(list(recipients), ensure_ascii=False), idempotency_key=key,
        message_id=f"<{digest}.{int(now.timestamp())}@rightsizer>", subject=subject,
        body=json.dumps(body, ensure_ascii=False), status="pending", attempts=0, next_attempt_at=now.timestamp(),
        lease_until=0.0, last_error=""))
    return True


def _alert(conn, settings: Settings, now: datetime, text: str, key: str) -> None:
    """An operator alert through the operator channels (itself an outbox row: never lost)."""
    for channel in settings.notices.operator_channels:
        queue(conn, None, "alert", channel, f"alert:{key}:{channel}", f"[rightsizer 告警] {text[:80]}",
              {"text": text, "markdown": text}, now)


# -- the relay ---------------------------------------------------------------------------------


@dataclass
class RelayReport:
    sent: int = 0
    retried: int = 0
    dead: int = 0
    deferred: int = 0  # over a channel's rate limit: not attempted this round


# Sends per channel type and window, below the platforms' own limits.
RATE_LIMITS = {"dingtalk": [(18, 60.0)], "wecom": [(18, 60.0)], "feishu": [(4, 1.0), (90, 60.0)]}


def rate_wait(conn: Connection, channel: str, kind: str, now: float) -> float:
    """Seconds to wait before ``channel`` may send again; counted from the store, so every relay agrees."""
    limits = RATE_LIMITS.get(kind, [])
    if not limits:
        return 0.0
    recent = conn.execute(sa.select(deliveries.c.sent_ts).where(
        deliveries.c.channel == channel, deliveries.c.sent_ts > now - 60).order_by(deliveries.c.sent_ts.desc())
    ).scalars().all()
    waits = [window - (now - recent[n - 1]) for n, window in limits if len(recent) >= n]
    return max([0.0, *waits])


def _claim(store: Store, now: float, lease: float, limit: int) -> list:
    with store.engine.begin() as conn:
        rows = conn.execute(sa.select(deliveries).where(
            deliveries.c.status == "pending", deliveries.c.next_attempt_at <= now, deliveries.c.lease_until < now)
            .order_by(deliveries.c.next_attempt_at, deliveries.c.id).limit(limit)).all()
        claimed = []
        for r in rows:
            # the guard makes two relays never claim one row
            res = conn.execute(deliveries.update().where(deliveries.c.id == r.id, deliveries.c.lease_until < now)
                               .values(lease_until=now + lease, attempts=r.attempts + 1))
            if res.rowcount == 1:
                claimed.append(r)
        return claimed


def backoff(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Exponential backoff with full jitter: uniform in [base, min(cap, base * 2**attempt)]."""
    return rng.uniform(base, max(base, min(cap, base * 2 ** attempt)))


def relay(store: Store, settings: Settings, notifiers: dict[str, Notifier], calendar: WorkCalendar,
          now: Callable[[], datetime], limit: int = 1000, rng: random.Random | None = None) -> RelayReport:
    """Send what is due once; returns counts. Safe to run in several processes at once."""
    n = settings.notices
    rng = rng or random.Random()
    kinds = {b["name"]: b["type"] for b in settings.notifiers}
    report = RelayReport()
    for row in _claim(store, now().timestamp(), n.lease_seconds, limit):
        kind = kinds.get(row.channel, "")
        with store.engine.connect() as conn:
            wait = rate_wait(conn, row.channel, kind, now().timestamp())
        notifier = notifiers.get(row.channel)
        if wait > 0:
            _record(store, row, None, now(), settings, calendar, rng, defer=wait)
            report.deferred += 1
            continue
        if notifier is None:
            result = SendResult(False, False, f"no notifier named {row.channel!r} is configured")
        else:
            body = json.loads(row.body)
            attachments = ()
            if body.get("xlsx_b64"):
                attachments = (Attachment(body["xlsx_name"], base64.b64decode(body["xlsx_b64"]), XLSX),)
            msg = Message(key=row.idempotency_key, subject=row.subject, text=body.get("text", ""),
                          markdown=body.get("markdown", ""), html=body.get("html", ""),
                          recipients=tuple(json.loads(row.recipients)), message_id=row.message_id,
                          link=body.get("link", ""), attachments=attachments)
            try:
                result = notifier.send(msg)  # no database lock is held here
            except Exception as exc:  # noqa: BLE001 - a notifier bug must not lose the delivery
                result = SendResult(False, True, f"{row.channel}: {type(exc).__name__}")
        outcome = _record(store, row, result, now(), settings, calendar, rng)
        setattr(report, outcome, getattr(report, outcome) + 1)
    return report


def _record(store: Store, row, result: SendResult | None, at: datetime, settings: Settings,
            calendar: WorkCalendar, rng: random.Random, defer: float = 0.0) -> str:
    n = settings.notices
    with store.engine.begin() as conn:
        upd = deliveries.update().where(deliveries.c.id == row.id)
        if result is None:  # deferred by the rate limit: the attempt does not count
            conn.execute(upd.values(lease_until=0.0, attempts=row.attempts, next_attempt_at=at.timestamp() + defer))
            return "deferred"
        attempts = row.attempts + 1
        if result.ok:
            conn.execute(upd.values(status="sent", sent_at=_iso(at), sent_ts=at.timestamp(), lease_until=0.0,
                                    last_error=""))
            if row.notice_id is not None and row.purpose == "notice":
                _delivered(conn, row.notice_id, at, settings, calendar)
            return "sent"
        if result.refused and result.accepted:  # retry only the refused recipients
            conn.execute(upd.values(recipients=json.dumps(result.refused, ensure_ascii=False)))
        if result.recoverable and attempts < n.max_attempts:
            delay = result.retry_after_seconds or backoff(attempts, n.backoff_base_seconds, n.backoff_max_seconds, rng)
            conn.execute(upd.values(next_attempt_at=at.timestamp() + delay, lease_until=0.0,
                                    last_error=result.detail[:500]))
            return "retried"
        conn.execute(upd.values(status="dead", lease_until=0.0, last_error=result.detail[:500]))
        why = "permanent failure" if not result.recoverable else f"{attempts} attempts"
        if row.notice_id is not None:
            number = conn.execute(sa.select(notices.c.number).where(notices.c.id == row.notice_id)).scalar()
            _event(conn, row.notice_id, at, "relay", None, "undeliverable",
                   f"{row.channel}: {why}: {result.detail[:300]}")
            what = f"{number} via {row.channel}"
        else:
            what = f"alert via {row.channel}"
        if row.purpose != "alert":  # an alert that cannot be delivered stays dead and listed, no alert loop
            _alert(conn, settings, at, f"{what} could not be delivered ({why}): {result.detail[:300]}",
                   f"dead:{row.idempotency_key}")
        return "dead"


def _delivered(conn: Connection, notice_id: int, at: datetime, settings: Settings, calendar: WorkCalendar) -> None:
    cur = conn.execute(sa.select(notices).where(notices.c.id == notice_id)).first()
    if cur.status != "issued":
        return
    values = {"status": "delivered", "delivered_at": _iso(at)}
    note = "first delivery to the department"
    try:
        due = calendar.add_workdays(at.date(), settings.notices.workdays_to_rectify)
        values["due_date"] = due.isoformat()
        note += f"; due {due.isoformat()} ({settings.notices.workdays_to_rectify} working days)"
    except CalendarError as exc:
        values["hold_reason"] = str(exc)
        note += "; deadline held: the working-day calendar does not cover it"
        _alert(conn, settings, at, f"{cur.number}: deadline held: {exc}", f"hold:{cur.number}")
    conn.execute(notices.update().where(notices.c.id == notice_id).values(**values))
    _event(conn, notice_id, at, "relay", "issued", "delivered", note)
