"""What the daemon tells the watchdog and /healthz: healthy only while the scheduler's heartbeat is fresh and
the store answers (in-process; tests/integration/test_daemon.py runs the real process)."""
from __future__ import annotations

import time
from datetime import datetime

import pytest

from rightsizer import demo
from rightsizer.daemon import Daemon, OneLine
from rightsizer.settings import Settings


@pytest.fixture
def daemon(tmp_path):
    s = Settings()
    now = datetime.now(s.tz).replace(second=0, microsecond=0, minute=0)
    demo.write_city(tmp_path, 10, 3, now, departments=2)
    d = Daemon(str(demo.daemon_config(tmp_path, "", schedule={"deliver": 3600})))
    d.start()
    yield d
    d.runner.stop.set()
    if d.scheduler.running:
        d.scheduler.shutdown(wait=True)
    d.http.shutdown()


def test_healthy_only_with_a_fresh_heartbeat_and_a_store_that_answers(daemon, monkeypatch):
    assert daemon.health()[0] is True
    monkeypatch.setattr(daemon, "beat", time.monotonic() - 3600)
    ok, why = daemon.health()
    assert not ok and "heartbeat" in why
    monkeypatch.setattr(daemon, "beat", time.monotonic())

    def broken():
        raise OSError("disk gone")

    monkeypatch.setattr(daemon.store, "read", broken)
    ok, why = daemon.health()
    assert not ok and why == "store not answering: OSError"  # the cause, never the URL
    daemon.scheduler.shutdown(wait=True)
    assert daemon.health() == (False, "scheduler not running")


def test_one_line_per_event_with_job_notice_and_journal_priority():
    import logging
    import sys

    rec = logging.LogRecord("rightsizer.relay", logging.ERROR, __file__, 1, "dead:\n%s", ("boom",), None)
    rec.notice = "平大数据调〔2026〕7号"
    assert OneLine().format(rec) == "ERROR notice=平大数据调〔2026〕7号 dead: | boom"
    assert OneLine(journal=True).format(rec).startswith("<3>ERROR ")
    try:
        raise ValueError("x")
    except ValueError:
        rec2 = logging.LogRecord("r", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    line = OneLine().format(rec2)
    assert "\n" not in line and "Traceback" in line and "ValueError: x" in line


def test_a_reload_asked_for_while_starting_is_done_not_fatal(daemon, monkeypatch):
    """systemctl reload right after READY=1 (before the main loop has its handlers): the SIGHUP is held by the
    start-up handler and the reload done once the loop runs — never SIGHUP's default, which ends the process."""
    import signal

    done = []

    def reload():
        done.append(True)
        daemon.events.put("stop")
        return True

    monkeypatch.setattr(daemon, "reload", reload)
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT)}
    try:
        assert daemon.serve_forever([signal.SIGHUP]) == 0
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)
    assert done == [True]
