"""The daemon's jobs and their periods: what runs when, and which periods are done.

Each job of ``[schedule]`` has a trigger (a crontab line in the configured time zone, or
every N seconds from a fixed anchor, so its periods are the same across restarts). The
*period* of a run is the latest scheduled time at or before it. A run records its period
in the store (``job_runs``) when it starts and its outcome when it ends; a period with an
``ok`` row is done and never runs again, whoever asks. At start-up, each job whose
latest period is not done (the daemon was down, or died in the middle) runs once —
catch-up, coalesced: a daemon down for three days evaluates once, not three times.

A job that fails is recorded ``failed`` and runs again at its next period; it never stops
the daemon. :class:`Runner` has no scheduler and no clock of its own (``clock`` is passed
in), so tests drive it through weeks of periods without sleeping.
"""

from __future__ import annotations

import contextvars
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..calendar import WorkCalendar
from ..db import Store
from ..db import jobruns
from ..db.leader import Fenced
from ..crontab import cron_fields
from ..errors import describe
from ..settings import JobSchedule, Settings

log = logging.getLogger("rightsizer.jobs")

# The job a log line comes from (the daemon's log format shows it).
CURRENT_JOB: contextvars.ContextVar[str] = contextvars.ContextVar("rightsizer_job", default="")

# Interval periods count from here (in the configured zone): every 3600 s is on the hour.
ANCHOR = datetime(2000, 1, 1)


def trigger(spec: JobSchedule, tz, shift: timedelta = timedelta(0)):
    """The APScheduler trigger of one job. ``shift``: the daemon's clock runs that far ahead of the
    wall clock (``daemon --now``), and the trigger fires when the *shifted* clock reaches a period."""
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    if spec.cron:
        inner = CronTrigger(**cron_fields(spec.cron), timezone=tz)
    else:
        inner = IntervalTrigger(seconds=spec.every_seconds, start_date=ANCHOR.replace(tzinfo=tz), timezone=tz)
    return inner if not shift else _shifted(inner, shift)


def _shifted(inner, shift: timedelta):
    from apscheduler.triggers.base import BaseTrigger

    class Shifted(BaseTrigger):
        """A trigger read on a clock ``shift`` ahead of the wall clock (APScheduler asks in wall time)."""

        def __init__(self):
            self.inner, self.shift = inner, shift

        def get_next_fire_time(self, previous_fire_time, now):
            prev = previous_fire_time + self.shift if previous_fire_time else None
            t = self.inner.get_next_fire_time(prev, now + self.shift)
            return t - self.shift if t else None

        def __str__(self) -> str:
            return f"{self.inner} (clock shifted {self.shift})"

    return Shifted()


def previous_fire(spec: JobSchedule, tz, now: datetime) -> datetime | None:
    """The latest scheduled time at or before ``now``: the period a run at ``now`` belongs to."""
    if spec.every_seconds:
        anchor = ANCHOR.replace(tzinfo=tz)
        n = int((now - anchor).total_seconds() // spec.every_seconds)
        return anchor + timedelta(seconds=n * spec.every_seconds)
    trig = trigger(spec, tz)
    # Look back in widening windows, so an every-minute job and a yearly one both take a few steps.
    for back in (timedelta(minutes=2), timedelta(hours=2), timedelta(days=2), timedelta(days=40),
                 timedelta(days=400)):
        t = trig.get_next_fire_time(None, now - back)
        if t is None or t > now:
            continue
        while True:
            nxt = trig.get_next_fire_time(None, t + timedelta(microseconds=1))
            if nxt is None or nxt > now:
                return t
            t = nxt
    return None


@dataclass(frozen=True)
class Outcome:
    job: str
    period: datetime | None  # the scheduled time this run belongs to
    outcome: str  # ok | failed | skipped (the period was already done)
    detail: str
    seconds: float = 0.0


@dataclass
class Context:
    """What a job runs with: one configuration for the whole run (a reload swaps it for the next)."""

    store: Store
    settings: Settings
    calendar: WorkCalendar
    clock: Callable[[], datetime]
    stopping: Callable[[], bool]  # the daemon is shutting down: reach a safe point and return
    observer: "Observer"


def _inventory(ctx: Context, now: datetime) -> str:
    from ..jobs import inventory

    s = ctx.settings
    r = inventory.sync(ctx.store, s, ctx.calendar, now, csv=s.inventory.csv if s.inventory.source == "csv" else None)
    for w in r.warnings:
        log.warning("%s", w)
    return (f"{r.servers} servers from {r.source}: {r.count('added')} new, {r.count('resized')} resized, "
            f"{r.count('removed')} gone; {r.rectified} findings verified as rectified")


def _evaluate(ctx: Context, now: datetime) -> str:
    from collections import Counter

    from ..jobs import evaluate

    s = ctx.settings
    sources = evaluate.Sources(inventory=s.inventory.csv if s.inventory.source == "csv" else None)
    r = evaluate.evaluate(ctx.store, s, ctx.calendar, evaluate.window_end(now, s), sources)
    for w in r.warnings:
        log.warning("%s", w)
    ctx.observer.count("collector_errors", r.source_errors, s.metrics.source)
    kinds = Counter(f.kind.value for f in r.evaluation.findings)
    return (f"run {r.run_id}: {len(r.evaluation.servers)} servers, {len(r.evaluation.findings)} findings"
            + (f" ({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))})" if kinds else ""))


def _sweep(ctx: Context, now: datetime) -> str:
    from ..jobs import notices

    r = notices.sweep(ctx.store, ctx.settings, ctx.calendar, now)  # new notices only on a known working day
    for i in r.issued:
        log.info("issued to %s: %d items -> %s", i.department, i.items, ", ".join(i.channels) or "HELD (no channel)",
                 extra={"notice": i.number})
    for number in r.closed:
        log.info("closed (已办结)", extra={"notice": number})
    if r.not_issued:
        log.info("%s", r.not_issued)
    if r.calendar_warning:
        log.warning("%s", r.calendar_warning)
    return (f"{len(r.issued)} issued{f' (none issued: {r.not_issued})' if r.not_issued else ''}, "
            f"{r.rectified} rectified, {r.resolved} resolved, {r.reminded} reminded, {r.overdue} overdue")


def _reports(ctx: Context, now: datetime) -> str:
    from ..jobs import reports

    r = reports.send_monthly(ctx.store, ctx.settings, ctx.calendar, now)
    if r.due is None:
        return f"the {r.month} report is not due yet (it goes on this month's first working day)"
    if r.skipped:
        return f"the {r.month} report is due but not sent: {r.skipped}"
    if r.queued:
        log.info("monthly report %s queued to %s", r.month, ", ".join(r.queued))
    return (f"the {r.month} report (due {r.due}): queued to {', '.join(r.queued) or 'none'}"
            + (f"; already queued to {', '.join(r.already)}" if r.already else ""))


def _deliver(ctx: Context, now: datetime) -> str:
    from ..jobs import relay

    r = relay.deliver(ctx.store, ctx.settings, ctx.calendar, ctx.clock, stop=ctx.stopping)
    if r.taken_over:
        log.warning("another relay took this one's deliveries over (it stalled past its lease)")
    return f"sent {r.sent}, retry later {r.retried}, deferred {r.deferred}, dead {r.dead}"


JOBS: dict[str, Callable[[Context, datetime], str]] = {
    "inventory": _inventory,
    "evaluate": _evaluate,
    "sweep": _sweep,
    "reports": _reports,
    "deliver": _deliver,
}


def enabled(settings: Settings) -> tuple[dict[str, JobSchedule], dict[str, str]]:
    """The jobs to schedule, and why each other one is off."""
    on, off = {}, {}
    for name in JOBS:
        spec: JobSchedule = getattr(settings.schedule, name)
        if not spec.enabled:
            off[name] = "enabled = false"
        elif name in ("inventory", "evaluate") and settings.inventory.source == "none":
            off[name] = "no [inventory] source"
        elif name == "evaluate" and settings.metrics.source == "none":
            off[name] = "no [metrics] source"
        elif name == "reports" and not settings.reports.channels:
            off[name] = "no [reports] channels"
        else:
            on[name] = spec
    return on, off


class Observer:
    """Told when a run starts and ends (the daemon's /metrics); does nothing here."""

    def started(self, job: str, at: float) -> None: ...

    def finished(self, job: str, outcome: Outcome, at: float) -> None: ...

    def count(self, name: str, value: float, source: str) -> None: ...


class Runner:
    """Runs one job for one period, at most once successfully, and records it."""

    def __init__(self, store: Store, settings: Settings, calendar: WorkCalendar, clock: Callable[[], datetime],
                 observer: Observer | None = None):
        self.store, self.settings, self.calendar, self.clock = store, settings, calendar, clock
        self.observer = observer or Observer()
        self.stop = threading.Event()
        self._running: dict[str, threading.Lock] = {name: threading.Lock() for name in JOBS}

    def swap(self, settings: Settings, calendar: WorkCalendar) -> None:
        """A reloaded configuration, for runs that start from now on (a running one keeps its own)."""
        self.settings, self.calendar = settings, calendar  # one assignment each; a run reads them once

    def period(self, job: str, now: datetime) -> datetime | None:
        return previous_fire(getattr(self.settings.schedule, job), self.settings.tz, now)

    def missed(self) -> list[str]:
        """The enabled jobs whose latest period is not done: they run once at start-up."""
        now = self.clock()
        on, _ = enabled(self.settings)
        out = []
        with self.store.read() as conn:
            for name in on:
                p = self.period(name, now)
                if p is not None and not jobruns.done(conn, name, p):
                    out.append(name)
        return out

    def busy(self) -> list[str]:
        return [name for name, lock in self._running.items() if lock.locked()]

    def run(self, job: str) -> Outcome:
        """Run ``job`` for the period it is in now, unless that period is done or it is already running."""
        lock = self._running[job]
        if not lock.acquire(blocking=False):
            return Outcome(job, None, "skipped", "still running from its previous period")
        token = CURRENT_JOB.set(job)
        try:
            return self._run(job)
        finally:
            CURRENT_JOB.reset(token)
            lock.release()

    def _run(self, job: str) -> Outcome:
        settings, calendar = self.settings, self.calendar  # this run's configuration
        now = self.clock()
        p = previous_fire(getattr(settings.schedule, job), settings.tz, now)
        period = p or now
        if self.stop.is_set():
            return Outcome(job, period, "skipped", "the daemon is stopping")
        try:
            with self.store.begin() as conn:
                if jobruns.done(conn, job, period):
                    return Outcome(job, period, "skipped", "this period is done")
                run_id = jobruns.start(conn, job, period, now, os.getpid())
        except Exception as exc:  # noqa: BLE001 - the store went away, or another daemon leads now
            if isinstance(exc, Fenced):
                self.stop.set()  # no new run starts: the daemon is about to stop
            known = describe(exc)
            log.error("not started: %s", "; ".join(known[1]) if known else type(exc).__name__)
            result = Outcome(job, period, "failed", "; ".join(known[1]) if known else type(exc).__name__)
            self.observer.finished(job, result, time.time())
            return result
        t0 = time.monotonic()
        self.observer.started(job, time.time())
        ctx = Context(self.store, settings, calendar, self.clock, self.stop.is_set, self.observer)
        try:
            detail, outcome = JOBS[job](ctx, now), "ok"
        except Exception as exc:  # noqa: BLE001 - a failing job is logged and retried, the daemon goes on
            if isinstance(exc, Fenced):
                self.stop.set()
            known = describe(exc)
            detail, outcome = ("; ".join(known[1]) if known else f"{type(exc).__name__}: {exc}"), "failed"
            log.error("failed: %s", detail, exc_info=known is None)  # a bug keeps its traceback
        if outcome == "ok" and job == "deliver" and self.stop.is_set():
            detail += " (stopped early: the daemon is stopping)"
        result = Outcome(job, period, outcome, detail, time.monotonic() - t0)
        if outcome == "ok":
            log.info("ok in %.1f s (period %s): %s", result.seconds, period.isoformat(timespec="seconds"), detail)
        try:
            with self.store.begin() as conn:
                jobruns.finish(conn, run_id, self.clock(), outcome, detail)
        except Exception as exc:  # noqa: BLE001 - the store went away: the period simply runs again
            known = describe(exc)
            log.error("could not record the outcome (the period runs again): %s",
                      "; ".join(known[1]) if known else type(exc).__name__)
            result = Outcome(job, period, "failed", detail, result.seconds)
        self.observer.finished(job, result, time.time())
        return result

    def prune(self) -> int:
        before = self.clock() - timedelta(days=self.settings.daemon.keep_job_runs_days)
        with self.store.begin() as conn:
            return jobruns.prune(conn, before)
