"""The daemon's service: start, the jobs on their schedule, health, reload, stop (see :mod:`rightsizer.daemon`)."""

from __future__ import annotations

import logging
import os
import queue
import signal
import threading
import time
from datetime import datetime, timedelta

from ..calendar import WorkCalendar
from ..db import Store
from ..db.leader import Lock, current
from ..errors import ConfigError, SourceError, describe
from ..jobs.relay import secret_problems
from ..settings import Settings, load_settings
from . import systemd as sdnotify
from .leadership import Leadership
from .log import setup_logging
from .scheduler import JOBS, Observer, Outcome, Runner, enabled, trigger

log = logging.getLogger("rightsizer.daemon")

def load(path: str) -> tuple[Settings, WorkCalendar]:
    """The configuration, checked as completely as ``check-config``: raises on any problem."""
    settings = load_settings(path)
    calendar = WorkCalendar(settings.calendar.overrides)
    problems = secret_problems(settings)
    if problems:
        raise ConfigError(path, problems)
    return settings, calendar


class _Watch(Observer):
    """Metrics, plus the last outcome for systemd's STATUS."""

    def __init__(self, daemon: "Daemon"):
        self.daemon = daemon
        self.last: Outcome | None = None
        self.last_at: datetime | None = None

    def started(self, job, at):
        self.daemon.metrics.started(job, at)

    def finished(self, job, outcome, at):
        self.daemon.metrics.finished(job, outcome, at)
        if outcome.outcome != "skipped":
            self.last, self.last_at = outcome, self.daemon.clock()
            self.daemon.events.put("status")  # the main loop tells systemd: only it touches the scheduler

    def count(self, name, value, source):
        self.daemon.metrics.count(name, value, source)


class Daemon(Leadership):
    def __init__(self, config: str, now: datetime | None = None):
        self.config = config
        self.settings, self.calendar = load(config)
        tz = self.settings.tz
        self.shift = (now - datetime.now(tz)) if now else timedelta(0)
        self.events: queue.Queue[str] = queue.Queue()
        self.beat = time.monotonic()
        self.store = Store.open(self.settings.store.resolved_url(), self.settings.store.busy_seconds)
        from .metrics import Metrics

        self.metrics = Metrics(self.store, self.clock)
        self.watch = _Watch(self)
        self.runner = Runner(self.store, self.settings, self.calendar, self.clock, self.watch)
        self.scheduler = None
        self.http = None
        # PostgreSQL: active/standby by advisory lock (rightsizer.db.leader); SQLite: one machine, always leads
        self.lock = Lock(self.store.url) if self.store.engine.dialect.name == "postgresql" else None
        self.next_lead_check = 0.0
        from prometheus_client import Gauge

        self.leader_gauge = Gauge("rightsizer_leader", "1 while this daemon leads (runs the jobs), 0 on standby",
                                  registry=self.metrics.registry)
        self.epoch_gauge = Gauge("rightsizer_leader_epoch", "The fencing epoch this daemon leads with (0: standby)",
                                 registry=self.metrics.registry)

    def clock(self) -> datetime:
        return datetime.now(self.settings.tz) + self.shift

    # -- start ------------------------------------------------------------------------------
    def start(self) -> None:
        from .metrics import serve

        try:
            self.http = serve(self.settings.daemon.address, self.metrics.registry, self.health)
        except OSError as exc:
            raise SourceError(f"daemon.listen: cannot listen on {self.settings.daemon.listen}: {exc.strerror}") from None
        if self.lock is None:
            self._lead()
            return
        if self._try_lead():
            return
        with self.store.read() as conn:
            who = current(conn)
        host, port = self.http.server_address[:2]
        log.info("standby: another daemon leads%s; taking over when its lock is free; /metrics on %s:%d",
                 f" ({who.holder}, epoch {who.epoch})" if who else "", host, port)
        sdnotify.notify("READY=1", f"STATUS={self.status_text()}")

    @property
    def leading(self) -> bool:
        return self.scheduler is not None


    def _lead(self) -> None:
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.background import BackgroundScheduler

        self.leader_gauge.set(1)
        self.epoch_gauge.set(self.store.epoch or 0)
        self.scheduler = BackgroundScheduler(timezone=self.settings.tz,
                                             executors={"default": ThreadPoolExecutor(len(JOBS) + 3)})
        self.scheduler.start()
        self.scheduler.add_job(self._heartbeat, "interval", seconds=self._beat_seconds(), id="heartbeat",
                               coalesce=True, max_instances=1, misfire_grace_time=None)
        self.scheduler.add_job(self._prune, "interval", hours=24, id="prune", next_run_time=datetime.now(self.settings.tz),
                               coalesce=True, max_instances=1, misfire_grace_time=None)
        self._schedule(self.settings)
        self.metrics.seed()
        host, port = self.http.server_address[:2]
        log.info("ready: store at revision %s, /metrics on %s:%d, jobs: %s", self.store.version(), host, port,
                 ", ".join(self._describe_jobs()))
        sdnotify.notify("READY=1", f"STATUS={self.status_text('ready')}")
        missed = self.runner.missed()
        if missed:
            log.info("catch-up: %s did not finish its latest period; running it now", ", ".join(missed))
            # a thread of its own, not a one-shot scheduler job: a stop meanwhile empties the scheduler's store
            # under its loop (APScheduler then fails to remove the fired job and its thread dies with a traceback)
            threading.Thread(target=self._catch_up, args=(missed,), name="catch-up", daemon=True).start()

    def _beat_seconds(self) -> float:
        usec = sdnotify.watchdog_usec()
        return max(0.2, min(10.0, usec / 4e6)) if usec else 10.0

    def _heartbeat(self) -> None:
        self.beat = time.monotonic()

    def _prune(self) -> None:
        try:
            n = self.runner.prune()
        except Exception as exc:  # noqa: BLE001 - housekeeping never stops the service
            known = describe(exc)
            log.warning("pruning old job runs failed: %s", "; ".join(known[1]) if known else type(exc).__name__)
            return
        if n:
            log.info("pruned %d job runs older than %d days", n, self.settings.daemon.keep_job_runs_days)

    def _catch_up(self, jobs: list[str]) -> None:
        for job in jobs:  # in JOBS order: inventory, evaluate, sweep, deliver
            if self.runner.stop.is_set():
                return
            self.runner.run(job)

    def _schedule(self, settings: Settings) -> None:
        on, off = enabled(settings)
        for name in JOBS:
            if self.scheduler.get_job(name):
                self.scheduler.remove_job(name)
        for name, spec in on.items():
            self.scheduler.add_job(self.runner.run, trigger(spec, settings.tz, self.shift), args=[name], id=name,
                                   name=name, misfire_grace_time=spec.misfire_grace_seconds, coalesce=True,
                                   max_instances=1)
        for name, why in off.items():
            log.info("%s is off: %s", name, why)
        self.metrics.configure(settings, list(on))
        self._next_runs()

    def _describe_jobs(self) -> list[str]:
        on, _ = enabled(self.settings)
        return [f"{n} ({s.cron or f'every {s.every_seconds} s'})" for n, s in on.items()]

    def _next_runs(self) -> dict[str, datetime]:
        out = {}
        for name in JOBS:
            job = self.scheduler.get_job(name) if self.scheduler else None
            if job is not None and job.next_run_time is not None:
                out[name] = job.next_run_time + self.shift
                self.metrics.next_run.labels(name).set(out[name].timestamp())
        return out

    # -- systemd ------------------------------------------------------------------------------
    def status_text(self, state: str = "running") -> str:
        if self.lock is not None:  # STATUS= says leader or standby
            state = f"{state}, leader (epoch {self.store.epoch})" if self.leading else "standby"
        parts = [state]
        last, at = self.watch.last, self.watch.last_at
        if last is not None and at is not None:
            parts.append(f"last: {last.job} {last.outcome} at {at:%Y-%m-%d %H:%M:%S} ({last.detail[:80]})")
        nxt = self._next_runs()
        if nxt:
            name, when = min(nxt.items(), key=lambda kv: kv[1])
            parts.append(f"next: {name} at {when:%Y-%m-%d %H:%M:%S}")
        return "; ".join(parts)

    def tell_status(self) -> None:
        sdnotify.notify(f"STATUS={self.status_text()}")

    def health(self) -> tuple[bool, str]:
        """Whether the scheduler's loop runs and the store answers (WATCHDOG=1 and /healthz); a standby is
        healthy while the store answers."""
        if self.lock is not None and not self.leading:
            try:
                import sqlalchemy as sa

                with self.store.read() as conn:
                    conn.execute(sa.text("SELECT 1"))
            except Exception as exc:  # noqa: BLE001
                return False, f"store not answering: {type(exc).__name__}"
            return True, "standby"
        if self.scheduler is None or not self.scheduler.running:
            return False, "scheduler not running"
        stale = time.monotonic() - self.beat
        if stale > 3 * self._beat_seconds() + 1:
            return False, f"scheduler heartbeat {stale:.0f} s old"
        try:
            import sqlalchemy as sa

            with self.store.read() as conn:
                conn.execute(sa.text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 - any failure is "unhealthy", said without the URL
            return False, f"store not answering: {type(exc).__name__}"
        busy = self.runner.busy()
        return True, "ok" + (f" (running: {', '.join(busy)})" if busy else "")

    # -- signals ------------------------------------------------------------------------------
    def reload(self) -> bool:
        sdnotify.notify("RELOADING=1", f"MONOTONIC_USEC={time.monotonic_ns() // 1000}", "STATUS=reloading")
        old = self.settings
        try:
            new, calendar = load(self.config)
        except Exception as exc:  # noqa: BLE001 - any error keeps the running configuration
            known = describe(exc)
            for line in known[1] if known else [f"{type(exc).__name__}: {exc}"]:
                log.error("reload failed, still running with the previous configuration: %s", line)
            self.metrics.reloaded(False)
            sdnotify.notify("READY=1", f"STATUS={self.status_text('reload failed: running with the previous configuration')}")
            return False
        kept = {}
        if new.store != old.store:
            kept["store"] = old.store
        if new.daemon.listen != old.daemon.listen:
            kept["daemon"] = new.daemon.model_copy(update={"listen": old.daemon.listen})
        for key in kept:
            log.warning("reload: [%s] changed; it takes effect when the service restarts", key)
        if kept:
            new = new.model_copy(update=kept)
        self.settings = new
        self.runner.swap(new, calendar)
        if self.leading:
            self._schedule(new)
        self.metrics.reloaded(True)
        log.info("reloaded %s: jobs: %s", self.config, ", ".join(self._describe_jobs()))
        sdnotify.notify("READY=1", f"STATUS={self.status_text('reloaded')}")
        return True

    def serve_forever(self, early: list[int] = ()) -> int:
        for sig, event in ((signal.SIGHUP, "reload"), (signal.SIGTERM, "stop"), (signal.SIGINT, "stop")):
            signal.signal(sig, lambda *_a, e=event: self.events.put(e))
        if any(sig != signal.SIGHUP for sig in early):  # asked to stop while starting
            self.events.put("stop")
        elif early:  # a reload asked for while starting (READY=1 is out before this loop runs): done now
            self.events.put("reload")
        usec = sdnotify.watchdog_usec()
        ping = usec / 2e6 if usec else None
        next_ping = 0.0
        healthy = True
        while True:
            try:
                event = self.events.get(timeout=min(1.0, ping) if ping else 1.0)
            except queue.Empty:
                event = None
            if event == "stop":
                return self.stop()
            if event == "reload":
                self.reload()
            elif event == "status":
                self.tell_status()
            if self.lock is not None and time.monotonic() >= self.next_lead_check:
                self.next_lead_check = time.monotonic() + self.settings.daemon.leader_check_seconds
                if not self.leading:
                    if self._try_lead():
                        sdnotify.notify(f"STATUS={self.status_text('took over')}")
                elif not self.lock.held():
                    return self.lost()
            if ping and time.monotonic() >= next_ping:
                ok, why = self.health()
                if ok:
                    sdnotify.notify("WATCHDOG=1")
                    next_ping = time.monotonic() + ping
                elif healthy:
                    log.error("unhealthy, not telling the watchdog: %s", why)
                healthy = ok


    def stop(self) -> int:
        sdnotify.notify("STOPPING=1", "STATUS=stopping")
        self.runner.stop.set()
        busy = self.runner.busy()
        log.info("stopping%s", f": waiting for {', '.join(busy)} to reach a safe point" if busy else "")
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
        deadline = time.monotonic() + self.settings.daemon.stop_seconds
        while self.runner.busy() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.http.shutdown()
        busy = self.runner.busy()
        if busy:
            log.warning("%s did not finish within %g s; leaving it: its writes are transactions and its period "
                        "runs again at the next start", ", ".join(busy), self.settings.daemon.stop_seconds)
        if self.lock is not None:
            self.lock.close()
        log.info("stopped")
        logging.shutdown()
        if busy:
            os._exit(0)  # the abandoned job's thread must not hold the exit
        return 0


def run(config: str, now: datetime | None = None) -> int:
    """The daemon's life; the exit status (2: bad configuration, 1: the store or the listen address failed)."""
    # SIGTERM/SIGINT/SIGHUP while starting: honoured once the loop runs, never a half start; a SIGHUP right
    # after READY=1 (systemctl reload) must not take SIGHUP's default action, which ends the process
    early: list[int] = []
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda signum, _f: early.append(signum))
    setup_logging()
    try:
        daemon = Daemon(config, now)
        daemon.start()
    except Exception as exc:
        known = describe(exc)
        if known is None:
            raise
        code, lines = known
        for line in lines:
            log.error("%s", line)
        sdnotify.notify(f"STATUS=failed to start: {lines[0] if lines else ''}"[:200])
        return code
    return daemon.serve_forever(early)
