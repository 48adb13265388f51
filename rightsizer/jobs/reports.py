"""Reports as units of work: build them from the store, and send finance the monthly one.

:func:`monthly` and :func:`evaluation` read the whole history in one read transaction and
return the view model; the CLI writes it in a format, the web console shows it.

:func:`send_monthly` is the daemon's ``reports`` job. On the month's first working day of
the statutory calendar (after the National Day holiday: the first day back), and on any
later day until it has happened, it queues the previous month's report to each of
``[reports] channels`` through the outbox — email with the xlsx attached and the HTML page
as its body, IM with a summary and the link. The idempotency key is the month and the
channel, so it goes at least once (the relay retries) and never twice, across restarts
and catch-up runs alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from ..calendar import WorkCalendar
from ..db import Store
from ..db import documents as db_documents
from ..db import exemptions as db_exemptions
from ..db import inventory as db_inventory
from ..db import notices as db_notices
from ..db import outbox as db_outbox
from ..db import runs as db_runs
from ..errors import NotFoundError
from ..format import money
from ..reports import TRACKED, History, Month, MonthlyReport, evaluation as ev, history, monthly as mr, writers
from ..settings import Settings
from .render import attaches


def history_rows(store: Store) -> dict:
    """Every row the reports read, by subject, in one read transaction."""
    with store.read() as conn:
        return {**db_inventory.report_rows(conn), **db_runs.report_rows(conn, TRACKED),
                **db_notices.report_rows(conn), **db_exemptions.report_rows(conn)}


def load(store: Store, settings: Settings) -> History:
    """The whole recorded history: what every report and /metrics compute from."""
    return history.build(history_rows(store), settings.tz, settings.prices)


def monthly(store: Store, settings: Settings, month: Month, now: datetime, department: str | None = None
            ) -> MonthlyReport:
    h = load(store, settings)
    known = set(h.servers["department"]) | set(h.notices["department"])
    if department is not None and department not in known:
        raise NotFoundError(f"no department named {department!r} (known: {', '.join(sorted(known)) or 'none yet'})")
    return mr.build(h, month, now, settings.prices, department)


def evaluated_months(store: Store, settings: Settings) -> set[Month]:
    """The months with at least one evaluation: the only ones with a report to read."""
    with store.read() as conn:
        return {Month.of(t.astimezone(settings.tz).date()) for t in db_runs.run_times(conn)}


def month_to_date(store: Store, settings: Settings, now: datetime) -> dict[str, dict]:
    """Per department, this month so far: waste, run rate, realised savings, unregistered cost (/metrics)."""
    return mr.month_to_date(load(store, settings), now)


def evaluation(store: Store, settings: Settings, year: int, quarter: int | None, now: datetime
               ) -> ev.EvaluationReport:
    h = load(store, settings)
    return ev.build(h, year, quarter, now, settings.evaluation)


def first_workday(month: Month, calendar: WorkCalendar) -> date:
    """The month's first working day (raises :class:`CalendarError` for a year the calendar lacks)."""
    day = date(month.year, month.month, 1)
    while not calendar.is_workday(day):
        day += timedelta(days=1)
    return day


@dataclass
class SendReport:
    month: str
    due: date | None  # the first working day it goes on (None: before this month's)
    queued: list[str] = field(default_factory=list)  # channels queued now
    already: list[str] = field(default_factory=list)  # channels queued before
    skipped: str = ""  # why nothing was sent although it is due


def key(month: Month, channel: str) -> str:
    return f"report:monthly:{month}:{channel}"


def send_monthly(store: Store, settings: Settings, calendar: WorkCalendar, now: datetime) -> SendReport:
    """Queue the previous month's report to every ``[reports] channels`` once it is due."""
    today = now.astimezone(settings.tz).date()
    this = Month.of(today)
    last = this.shift(-1)
    rep = SendReport(str(last), None)
    due = first_workday(this, calendar)
    if today < due or not settings.reports.channels:
        return rep
    rep.due = due
    start = datetime(last.year, last.month, 1, tzinfo=settings.tz)
    end = datetime(this.year, this.month, 1, tzinfo=settings.tz)
    with store.read() as conn:
        todo = [c for c in settings.reports.channels if not db_outbox.exists(conn, key(last, c))]
        evaluated = db_runs.evaluated_between(conn, start, end)
    if todo and not evaluated:  # e.g. the month before the centre started: nothing to report, nothing to send
        rep.skipped = f"no evaluation was recorded in {last}"
        return rep
    rep.already = [c for c in settings.reports.channels if c not in todo]
    if not todo:
        return rep
    report = monthly(store, settings, last, now)
    subject = f"{last.label()}政务云资源浪费报告"
    summary = _summary(report)
    link = f"{settings.reports.link_base.rstrip('/')}/reports/monthly?month={last}" if settings.reports.link_base else ""
    page = writers.monthly(report, "html").decode()
    xlsx = None
    with store.begin() as conn:
        for channel in todo:
            files = []
            if "xlsx" in attaches(settings, channel):  # a channel that carries files: the xlsx, the page as body
                if xlsx is None:
                    xlsx = db_documents.add(conn, None, "xlsx", f"{last}-云资源浪费报告.xlsx",
                                            writers.monthly(report, "xlsx"), now)
                files = [xlsx]
                body = {"text": summary + (f"\n\n在线查看：{link}" if link else "") + "\n\n明细见附件。", "html": page}
            else:
                text = _summary(report, md=True) + (f"\n\n[在线查看]({link})" if link else "")
                body = {"text": summary + (f"\n\n在线查看：{link}" if link else ""), "markdown": text}
            if link:
                body["link"] = link
            if db_outbox.queue(conn, None, "report", channel, key(last, channel), subject, body, now,
                               settings.reports.emails, documents=files):
                rep.queued.append(channel)
            else:
                rep.already.append(channel)
    return rep


def _summary(r: MonthlyReport, md: bool = False) -> str:
    """The report in a few lines; ``md``: for an IM robot's Markdown (the departments' names shown, never acted on)."""
    from ..format import md_safe

    name = md_safe if md else str
    t = r.totals
    share = f"{t['waste'] / t['cost'] * 100:.2f}%" if t["cost"] and t["waste"] is not None else "—"
    lines = [f"{r.month.label()}政务云资源浪费报告（{name(r.department) if r.department else '全市'}）",
             *([unmonitored_zh(r, name)] if unmonitored_zh(r) else []),
             f"本月费用 {money(t['cost'])} 元，资源浪费 {money(t['waste'])} 元（{share}），"
             f"月末浪费速率 {money(t['run_rate'])} 元/月；",
             f"经核验的整改本月实现节约 {money(t['realised'])} 元，本年累计 {money(t['realised_ytd'])} 元；",
             f"未备案服务器 {t['unregistered_servers']} 台，月费用 {money(t['unregistered_run_rate'])} 元。",
             "浪费最多的部门："]
    top = r.departments[[w is not None for w in r.departments["waste"]]].sort_values("waste", ascending=False).head(5)
    lines += [f"{i}. {name(d)}：{money(row['waste'])} 元" for i, (d, row) in enumerate(top.iterrows(), 1) if row["waste"]]
    return "\n".join(lines)


def unmonitored_zh(r: MonthlyReport, name=str) -> str:
    """What the report cannot say for want of evaluations ("" when every department was monitored)."""
    if not r.coverage["days_with_evaluation"]:
        return (f"{r.month.label()}没有任何评估记录：本月费用、浪费与月末浪费速率无法计算，以“—”表示"
                f"（不是 0，也不按全月浪费计）。")
    blind = [d for d, c in zip(r.departments.index, r.departments["cost"]) if c is None]
    if blind:
        return (f"{r.month.label()}尚未监测的部门 {len(blind)} 个（{'、'.join(name(b) for b in blind[:5])}{'等' if len(blind) > 5 else ''}）："
                f"其费用与浪费以“—”表示，不计入合计。")
    return ""


def summary_text(r: MonthlyReport) -> str:
    """The per-department summary as an operator's plain-text table (the CLI and the demo print it)."""
    from ..reports import columns
    from ..tables import table

    keys = ["department", "servers", "cost", "waste", "waste_share", "run_rate", "realised", "realised_ytd",
            "unregistered_run_rate", "issued", "closed_in_time", "overdue"]
    spec = {k: (h, kind) for k, h, kind in columns.SUMMARY}
    rows = [*columns.summary_rows(r).to_dict("records"), columns.totals_row(r)]
    said = unmonitored_zh(r)
    return (said + "\n" if said else "") + table([spec[k][0] for k in keys], [[columns.text(row.get(k), spec[k][1]) for k in keys] for row in rows],
                 right=set(range(1, len(keys))))
