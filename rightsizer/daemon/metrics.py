"""The daemon's ``/metrics`` (prometheus-client) and ``/healthz``.

Two kinds of series. The daemon's own — each job's last start, last success, duration,
runs and failures, the expected seconds between its periods (what the alert rules compare
with), configuration reloads, collector errors, build info — live in a registry of this
process and are seeded from ``job_runs`` at start, so a restart does not look like a job
that never succeeded. The city's — open findings by kind and department, notices by state,
the outbox backlog, deliveries by channel — are read from the store at each scrape (a few
GROUP BYs), so they agree with what any other process wrote. The money by department
(waste run rate, waste and realised savings so far this month, 未备案 cost) is the monthly
report's own computation (:mod:`rightsizer.reports`), recomputed at most once a minute. A store that cannot be read gives ``rightsizer_store_up 0``, not an error.

The server binds ``[daemon] listen`` (default ``127.0.0.1:9465``) and serves nothing else.
"""

from __future__ import annotations

import logging
import platform
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, Counter, Gauge, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from .. import __version__
from ..db import Store, jobruns, stats
from ..lifecycle import NoticeState
from ..settings import Settings
from .scheduler import JOBS, Observer, Outcome, trigger

log = logging.getLogger("rightsizer.metrics")


def period_seconds(settings: Settings, job: str) -> float:
    """The longest gap between two of the job's next periods (a weekday cron: the weekend)."""
    spec = getattr(settings.schedule, job)
    if spec.every_seconds:
        return float(spec.every_seconds)
    trig = trigger(spec, settings.tz)
    t = trig.get_next_fire_time(None, datetime.now(settings.tz))
    gaps = []
    for _ in range(12):
        nxt = trig.get_next_fire_time(None, t + timedelta(microseconds=1))
        gaps.append((nxt - t).total_seconds())
        t = nxt
    return max(gaps)


class Metrics(Observer):
    def __init__(self, store: Store, clock: Callable[[], datetime], settings: Settings | None = None):
        self.store, self.clock = store, clock
        self.settings = settings or Settings()
        self.money_cache: tuple[float, dict] | None = None  # (when, figures): the month's money, for MONEY_TTL
        self.registry = CollectorRegistry()
        r = self.registry
        job = ["task"]
        self.last_start = Gauge("rightsizer_job_last_start_timestamp_seconds", "When the job last started", job,
                                registry=r)
        self.last_success = Gauge("rightsizer_job_last_success_timestamp_seconds",
                                  "When the job last finished successfully", job, registry=r)
        self.duration = Gauge("rightsizer_job_last_duration_seconds", "How long the job's last run took", job,
                              registry=r)
        self.running = Gauge("rightsizer_job_running", "1 while the job runs", job, registry=r)
        self.runs = Counter("rightsizer_job_runs", "Runs of the job by outcome (ok, failed, skipped)",
                            ["task", "outcome"], registry=r)
        self.failures = Counter("rightsizer_job_failures", "Runs of the job that failed", job, registry=r)
        self.interval = Gauge("rightsizer_job_interval_seconds", "Longest expected gap between the job's periods",
                              job, registry=r)
        self.next_run = Gauge("rightsizer_job_next_run_timestamp_seconds", "When the job runs next", job,
                              registry=r)
        self.reload_ok = Gauge("rightsizer_config_last_reload_successful",
                               "Whether the last configuration reload succeeded", registry=r)
        self.reload_time = Gauge("rightsizer_config_last_reload_success_timestamp_seconds",
                                 "When the configuration was last loaded successfully", registry=r)
        self.collector_errors = Counter("rightsizer_collector_errors", "Usage-source errors (servers left "
                                        "insufficient_data)", ["source"], registry=r)
        Gauge("rightsizer_build_info", "Version of rightsizer and Python", ["version", "python"],
              registry=r).labels(__version__, platform.python_version()).set(1)
        r.register(_StoreCollector(self))
        self.reload_ok.set(1)
        self.reload_time.set(time.time())

    def configure(self, settings: Settings, enabled: list[str]) -> None:
        self.settings, self.money_cache = settings, None
        for name in JOBS:
            if name in enabled:
                self.interval.labels(name).set(period_seconds(settings, name))
                for m in (self.last_start, self.last_success, self.duration, self.running):
                    m.labels(name)
                self.failures.labels(name)
            else:
                for m in (self.interval, self.next_run):
                    try:
                        m.remove(name)
                    except KeyError:
                        pass

    def seed(self) -> None:
        """Last start and success of each job from the store (they outlive a restart)."""
        with self.store.read() as conn:
            last = jobruns.last(conn)
        for job, by in last.items():
            if job not in JOBS:
                continue
            if "ok" in by:
                self.last_success.labels(job).set(by["ok"].finished.timestamp())
            newest = max(by.values(), key=lambda r: r.id)
            self.last_start.labels(job).set(newest.started.timestamp())

    def started(self, job: str, at: float) -> None:
        self.last_start.labels(job).set(at)
        self.running.labels(job).set(1)

    def finished(self, job: str, outcome: Outcome, at: float) -> None:
        self.running.labels(job).set(0)
        self.runs.labels(job, outcome.outcome).inc()
        self.duration.labels(job).set(outcome.seconds)
        if outcome.outcome == "ok":
            self.last_success.labels(job).set(at)
        elif outcome.outcome == "failed":
            self.failures.labels(job).inc()

    def count(self, name: str, value: float, source: str) -> None:
        if name == "collector_errors" and value:
            self.collector_errors.labels(source).inc(value)

    def reloaded(self, ok: bool) -> None:
        self.reload_ok.set(1 if ok else 0)
        if ok:
            self.reload_time.set(time.time())


MONEY_TTL = 60.0  # seconds: the month's money is recomputed from the history at most once a minute
MONEY_SERIES = (  # the monthly report's figures (rightsizer.reports), this month so far
    ("run_rate", "rightsizer_monthly_waste_cny", "Waste run rate: the monthly saving of the shrink, release and "
     "undeployed findings open today, exemptions excluded (CNY a month; 每月财政资金浪费)"),
    ("waste", "rightsizer_waste_month_to_date_cny", "Waste so far this month, prorated by day (CNY; the monthly "
     "report's 本月浪费)"),
    ("realised", "rightsizer_realised_savings_month_to_date_cny", "Savings of verified rectifications so far this "
     "month (CNY; 已实现节约)"),
    ("unregistered_run_rate", "rightsizer_unregistered_monthly_cost_cny", "Monthly cost of servers of no "
     "registered system (CNY a month; 未备案)"),
)


class _StoreCollector:
    """The city's numbers, read from the store at each scrape."""

    def __init__(self, metrics: Metrics):
        self.metrics = metrics

    def _money(self) -> dict:
        from ..jobs import reports

        m = self.metrics
        cached = m.money_cache
        if cached is not None and time.monotonic() - cached[0] < MONEY_TTL:
            return cached[1]
        figures = reports.month_to_date(m.store, m.settings, m.clock())
        m.money_cache = (time.monotonic(), figures)
        return figures

    def describe(self):
        return []  # read at scrape time only: registering must not touch the store

    def _horizon(self) -> GaugeMetricFamily | None:
        """When the working-day calendar stops: the first instant of the first day of a year it does not cover."""
        from ..calendar import WorkCalendar
        from ..errors import CalendarError

        s = self.metrics.settings
        try:
            end = WorkCalendar(s.calendar.overrides).first_unknown(self.metrics.clock().astimezone(s.tz).date())
        except (CalendarError, OSError):  # an unreadable override file: the alert on a missing series says it
            return None
        return GaugeMetricFamily("rightsizer_calendar_covered_until",
                                 "Start of the first day the working-day calendar does not cover (Unix time): "
                                 "from here on nothing is issued; add the year to [calendar] overrides",
                                 value=datetime(end.year, end.month, end.day, tzinfo=s.tz).timestamp())

    def collect(self):
        horizon = self._horizon()
        if horizon is not None:
            yield horizon
        up = GaugeMetricFamily("rightsizer_store_up", "Whether the store could be read at this scrape")
        now = self.metrics.clock().timestamp()
        try:
            with self.metrics.store.read() as conn:
                found = stats.findings_by_kind(conn)
                states = stats.notices_by_state(conn)
                chans = stats.deliveries_by_channel(conn)
                pending, due, oldest = stats.outbox_due(conn, now)
            money = self._money()
        except Exception as exc:  # noqa: BLE001 - a scrape never fails; the gauge says the store is down
            log.warning("store not readable for /metrics: %s", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        f = GaugeMetricFamily("rightsizer_findings", "Open findings by kind and department",
                              labels=["kind", "department"])
        for (kind, dept), n in sorted(found.items()):
            f.add_metric([kind, dept], n)
        yield f
        for key, name, text in MONEY_SERIES:
            g = GaugeMetricFamily(name, text, labels=["department"])
            for dept, figures in sorted(money.items()):
                if key in figures:  # a department not monitored this month has no waste series (never 0)
                    g.add_metric([dept], float(figures[key]))
            yield g
        s = GaugeMetricFamily("rightsizer_notices", "Notices by state (every state the lifecycle has)",
                              labels=["state"])
        for state in NoticeState:
            s.add_metric([state.value], states.get(state.value, 0))
        yield s
        d = GaugeMetricFamily("rightsizer_deliveries", "Deliveries by channel and state (sent, pending, dead, …)",
                              labels=["channel", "state"])
        failed = CounterMetricFamily("rightsizer_delivery_failed_attempts", "Send attempts that did not succeed",
                                     labels=["channel"])
        per_channel: dict[str, int] = {}
        for (channel, state), (n, bad) in sorted(chans.items()):
            d.add_metric([channel, state], n)
            per_channel[channel] = per_channel.get(channel, 0) + bad
        for channel, bad in sorted(per_channel.items()):
            failed.add_metric([channel], bad)
        yield d
        yield failed
        yield GaugeMetricFamily("rightsizer_outbox_pending", "Deliveries not yet sent or dead", value=pending)
        yield GaugeMetricFamily("rightsizer_outbox_due", "Pending deliveries due now (the relay's backlog)",
                                value=due)
        yield GaugeMetricFamily("rightsizer_outbox_oldest_due_age_seconds",
                                "How long the longest-waiting due delivery has been due", value=max(0.0, now - oldest)
                                if oldest is not None else 0.0)


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args) -> None:  # one line per event is ours; scrapes are not events
        pass


def serve(address: tuple[str, int], registry: CollectorRegistry, health: Callable[[], tuple[bool, str]]):
    """Start ``/metrics`` and ``/healthz`` in a thread; the server (``.server_address``, ``.shutdown()``)."""
    metrics_app = make_wsgi_app(registry)

    def app(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            return metrics_app(environ, start_response)
        if path == "/healthz":
            ok, why = health()
            start_response("200 OK" if ok else "503 Service Unavailable", [("Content-Type", "text/plain")])
            return [(why + "\n").encode()]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"/metrics or /healthz\n"]

    host, port = address
    server = make_server(host, port, app, _Server6 if ":" in host else _Server, _Quiet)
    threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True).start()
    return server
