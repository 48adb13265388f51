"""``rightsizer daemon`` for real: its unit checked by systemd-analyze, the process under a NOTIFY_SOCKET
the test binds (READY, WATCHDOG, STATUS, RELOADING, STOPPING), reloads good and bad, catch-up across
stops with an injected clock (``--now``), /metrics scraped by a real Prometheus, the alert rules checked
and unit-tested by promtool, and no secret in what it logs or serves."""
from __future__ import annotations

import json
import re
import signal
import subprocess
import time
import urllib.parse
import urllib.request
from datetime import date, datetime
from zoneinfo import ZoneInfo
from pathlib import Path

import pytest

import servers
from daemonproc import RIGHTSIZER, WORKDAY, DaemonProc, NotifySocket, wait_until
from rightsizer import demo
from rightsizer.db import Store, jobruns
from rightsizer.jobs.evaluate import window_end
from rightsizer.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
TZ = ZoneInfo("Asia/Shanghai")
UNIT = ROOT / "systemd" / "rightsizer.service"
FAST = {"inventory": 20, "evaluate": 10, "sweep": 2, "deliver": 1}


def _city(tmp_path: Path, at: datetime, schedule=FAST, routing: str | None = None, extra: str = "",
          servers_n: int = 30) -> tuple[Path, list[str]]:
    depts = demo.write_city(tmp_path, servers_n, 5, at, departments=3)
    if routing is None:
        routing = '[[notifiers]]\nname = "console"\ntype = "console"\n' + "".join(
            f'[departments."{d}"]\nchannels = ["console"]\n' for d in depts)
    return demo.daemon_config(tmp_path, routing, schedule=schedule, extra=extra), depts


def _now_city(tmp_path: Path, **kw) -> tuple[Path, list[str]]:
    """A city whose samples run up to the daemons' clock (:data:`daemonproc.WORKDAY`, a working day)."""
    s = Settings()
    return _city(tmp_path, window_end(datetime.fromisoformat(WORKDAY), s), **kw)


def _runs(tmp_path: Path, job: str | None = None) -> list[jobruns.JobRun]:
    """The daemon's job_runs so far (none before it has made its store)."""
    import sqlalchemy as sa

    try:
        with Store(f"sqlite:///{tmp_path / 'rightsizer.db'}").read() as conn:
            return jobruns.history(conn, job)
    except sa.exc.OperationalError:
        return []


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _metric(body: str, name: str, labels: str = "") -> float:
    m = re.search(rf"^{re.escape(name)}{re.escape(labels)} ([-+\d.e]+)$", body, re.M)
    assert m, f"{name}{labels} not in /metrics"
    return float(m.group(1))


@pytest.fixture
def notify(tmp_path):
    sock = NotifySocket(tmp_path / "notify.sock")
    yield sock
    sock.close()


# -- the unit ---------------------------------------------------------------------------------------------

def _unit_for_here(tmp_path: Path, config: Path) -> Path:
    text = UNIT.read_text()
    assert "ExecStart=/opt/rightsizer/bin/rightsizer daemon --config /etc/rightsizer/rightsizer.toml" in text
    text = text.replace("/opt/rightsizer/bin/rightsizer", RIGHTSIZER).replace("/etc/rightsizer/rightsizer.toml",
                                                                             str(config))
    out = tmp_path / "rightsizer.service"
    out.write_text(text)
    return out


def test_the_unit_passes_systemd_analyze_verify_and_scores_at_most_1_5(tmp_path):
    unit = _unit_for_here(tmp_path, ROOT / "config" / "rightsizer.example.toml")
    tool = servers.binary("systemd-analyze")
    r = subprocess.run([tool, "verify", str(unit)], capture_output=True, text=True)
    assert r.returncode == 0 and r.stderr.strip() == "", r.stderr  # a warning counts as a failure
    r = subprocess.run([tool, "security", "--offline=true", str(unit)], capture_output=True, text=True)
    level = float(re.search(r"Overall exposure level for \S+: ([\d.]+)", r.stdout).group(1))
    assert level <= 1.5, r.stdout[-3000:]
    text = UNIT.read_text()
    for line in ("Type=notify", "WatchdogSec=", "ExecReload=/bin/kill -HUP $MAINPID", "DynamicUser=yes",
                 "StateDirectory=rightsizer", "ProtectSystem=strict", "PrivateTmp=yes", "NoNewPrivileges=yes",
                 "RestrictAddressFamilies=", "SystemCallFilter=@system-service", "CapabilityBoundingSet=\n"):
        assert line in text, line


# -- the notify protocol ------------------------------------------------------------------------------------

def test_ready_watchdog_status_reload_and_stop_as_systemd_sees_them(tmp_path, notify):
    config, _ = _now_city(tmp_path)
    unit = _unit_for_here(tmp_path, config)
    exec_start = next(line for line in unit.read_text().splitlines() if line.startswith("ExecStart="))
    d = DaemonProc(config, tmp_path / "daemon.log", notify, watchdog_usec=1_000_000,
                   command=exec_start.removeprefix("ExecStart=").split())
    try:
        ready = notify.wait_for(r"^READY=1\nSTATUS=ready")
        # WATCHDOG=1 every half of WATCHDOG_USEC while the scheduler and the store are healthy.
        first = notify.wait_for(r"^WATCHDOG=1$", ready)
        notify.wait_for(r"^WATCHDOG=1$", first + 1)
        notify.wait_for(r"^WATCHDOG=1$", notify.wait_for(r"^WATCHDOG=1$", first + 1) + 1)
        # STATUS= tells the last run and the next.
        i = notify.wait_for(r"^STATUS=running; last: \w+ ok at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d .*; next: \w+ at ")
        assert _get(f"http://127.0.0.1:{d.port()}/healthz")[0] == 200
        wait_until(lambda: "notice sent via console" in d.text(), 60, "a notice delivered")
        # SIGHUP (systemctl reload): RELOADING=1 with MONOTONIC_USEC, then READY=1.
        d.signal(signal.SIGHUP)
        r = notify.wait_for(r"^RELOADING=1\nMONOTONIC_USEC=\d+", i)
        notify.wait_for(r"^READY=1\nSTATUS=reloaded", r)
        usec = int(re.search(r"MONOTONIC_USEC=(\d+)", notify.all()[r]).group(1))
        assert abs(usec / 1e6 - time.monotonic()) < 60  # CLOCK_MONOTONIC, as systemd compares it
        # SIGTERM (systemctl stop): STOPPING=1, exit 0.
        d.signal(signal.SIGTERM)
        assert d.proc.wait(30) == 0
        notify.wait_for(r"^STOPPING=1", r)
    finally:
        d.kill()
    log = d.text()
    assert re.search(r"^INFO ready: store at revision r\d+", log, re.M)
    assert re.search(r"^INFO job=sweep notice=平大数据调〔\d{4}〕\d+号 issued to ", log, re.M)
    assert re.search(r"^INFO job=deliver notice=平大数据调〔\d{4}〕\d+号 notice sent via console", log, re.M)
    assert all(line.split(" ", 1)[0] in ("INFO", "WARNING", "ERROR") for line in log.splitlines() if line)


def test_a_reload_with_a_broken_configuration_keeps_the_old_one(tmp_path, notify):
    config, _ = _now_city(tmp_path)
    good = config.read_text()
    d = DaemonProc(config, tmp_path / "daemon.log", notify)
    try:
        notify.wait_for(r"^READY=1")
        port = d.port()
        config.write_text(good.replace("[schedule.deliver]\nevery_seconds = 1", "[schedule.deliver]\nevery_secondz = 1"))
        d.signal(signal.SIGHUP)
        notify.wait_for(r"^READY=1\nSTATUS=reload failed: running with the previous configuration")
        assert d.proc.poll() is None
        assert "schedule.deliver.every_secondz: unknown key (typo?)" in d.text()
        assert _metric(_get(f"http://127.0.0.1:{port}/metrics")[1], "rightsizer_config_last_reload_successful") == 0
        # The old schedule is still in force: the relay keeps running every second.
        n = len(_runs(tmp_path, "deliver"))
        wait_until(lambda: len(_runs(tmp_path, "deliver")) >= n + 2, 20, "the relay running on")
        # A good configuration: swapped in, the jobs rebuilt (sweep switched off), the metric back to 1.
        config.write_text(good.replace("[schedule.sweep]\nevery_seconds = 2", "[schedule.sweep]\nevery_seconds = 2\n"
                                       "enabled = false"))
        d.signal(signal.SIGHUP)
        wait_until(lambda: "sweep is off: enabled = false" in d.text(), 20, "the reload")
        assert _metric(_get(f"http://127.0.0.1:{port}/metrics")[1], "rightsizer_config_last_reload_successful") == 1
        body = _get(f"http://127.0.0.1:{port}/metrics")[1]
        assert 'rightsizer_job_interval_seconds{task="sweep"}' not in body
        assert d.stop() == 0
    finally:
        d.kill()


def test_a_bad_configuration_at_start_is_exit_2_with_the_key(tmp_path, notify):
    config, _ = _now_city(tmp_path)
    config.write_text(config.read_text() + '\n[daemon.extra]\n')
    d = DaemonProc(config, tmp_path / "daemon.log", notify)
    assert d.proc.wait(30) == 2
    assert "daemon.extra: unknown key (typo?)" in d.text()
    assert not any(m.startswith("READY=1") for m in notify.all())


# -- catch-up with an injected clock -----------------------------------------------------------------------

DAILY = ('[schedule.inventory]\ncron = "0 6 * * *"\n[schedule.evaluate]\ncron = "30 6 * * *"\n'
         '[schedule.sweep]\ncron = "0 9 * * *"\n[schedule.deliver]\nevery_seconds = 60\n')


def test_catch_up_runs_each_unfinished_period_once_and_never_a_finished_one(tmp_path, notify):
    config, _ = _city(tmp_path, datetime.fromisoformat("2026-11-20T00:00:00+08:00"), schedule={}, extra=DAILY)

    def run_from(now: str, until) -> str:
        d = DaemonProc(config, tmp_path / "daemon.log", notify, now=now)
        try:
            wait_until(until, 60, f"the daemon started at {now}", daemon=d)
            assert d.stop() == 0
        finally:
            d.kill()
        return d.text()

    def ok(job):
        return [r.period.astimezone(TZ).isoformat() for r in _runs(tmp_path, job) if r.outcome == "ok"]

    # Friday 20 November 10:00, a new store: every job's latest period runs once at start-up.
    run_from("2026-11-20T10:00:00+08:00", lambda: ok("sweep") and ok("deliver"))
    assert ok("inventory") == ["2026-11-20T06:00:00+08:00"] and ok("evaluate") == ["2026-11-20T06:30:00+08:00"]
    assert ok("sweep") == ["2026-11-20T09:00:00+08:00"]
    # A restart twenty minutes later: only the relay's minute is new.
    log = run_from("2026-11-20T10:20:00+08:00", lambda: len(ok("deliver")) >= 2)
    assert "catch-up: deliver did not finish" in log
    assert len(ok("inventory")) == len(ok("evaluate")) == len(ok("sweep")) == 1
    # Down over the weekend, back on Monday at 08:59:57: the weekend's periods run once, coalesced (the
    # latest of each), then the scheduler fires Monday's 09:00 sweep three seconds later on the shifted clock.
    run_from("2026-11-23T08:59:57+08:00", lambda: "2026-11-23T09:00:00+08:00" in ok("sweep"))
    assert ok("inventory") == ["2026-11-20T06:00:00+08:00", "2026-11-23T06:00:00+08:00"]
    assert ok("evaluate") == ["2026-11-20T06:30:00+08:00", "2026-11-23T06:30:00+08:00"]
    assert ok("sweep") == ["2026-11-20T09:00:00+08:00", "2026-11-22T09:00:00+08:00", "2026-11-23T09:00:00+08:00"]
    sunday = next(r for r in _runs(tmp_path, "sweep") if r.period.astimezone(TZ).date() == date(2026, 11, 22))
    started = sunday.started.astimezone(TZ)
    assert (started.date(), started.hour, started.minute) == (date(2026, 11, 23), 8, 59)  # run on Monday: it may issue
    assert "不是工作日" not in sunday.detail and "none issued" not in sunday.detail
    for job in ("inventory", "evaluate", "sweep", "deliver"):
        assert len(ok(job)) == len(set(ok(job)))


# -- /metrics, Prometheus, the rules, the dashboard ---------------------------------------------------------

def test_metrics_scraped_by_a_real_prometheus(tmp_path, notify):
    config, depts = _now_city(tmp_path)
    d = DaemonProc(config, tmp_path / "daemon.log", notify)
    try:
        port = d.port()
        wait_until(lambda: any(r.job == "deliver" and r.outcome == "ok" for r in _runs(tmp_path))
                   and any(r.job == "sweep" and "issued" in r.detail and not r.detail.startswith("0 ")
                           for r in _runs(tmp_path)), 60, "a sweep that issued")
        scrape = f"""global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: rightsizer\n    static_configs:
      - targets: ["127.0.0.1:{port}"]\n"""
        with servers.prometheus(tmp_path, scrape) as prom:
            def query(q):
                url = f"{prom}/api/v1/query?" + urllib.parse.urlencode({"query": q})
                return json.loads(urllib.request.urlopen(url, timeout=5).read())["data"]["result"]

            wait_until(lambda: query('up{job="rightsizer"} == 1'), 30, "Prometheus scraping the daemon")
            wait_until(lambda: query("rightsizer_notices"), 30, "the store's series")
            build = query("rightsizer_build_info")[0]["metric"]
            assert build["version"] and build["python"]
            assert float(query('rightsizer_job_last_success_timestamp_seconds{task="deliver"}')[0]["value"][1]) > 0
            assert float(query('rightsizer_job_interval_seconds{task="deliver"}')[0]["value"][1]) == 1
            kinds = {r["metric"]["kind"] for r in query("rightsizer_findings")}
            assert "shrink" in kinds
            assert {r["metric"]["department"] for r in query("rightsizer_monthly_waste_cny > 0")} <= set(depts)
            issued = sum(float(r["value"][1]) for r in query("rightsizer_notices"))
            assert issued >= 1
            assert query('rightsizer_deliveries{channel="console",state="sent"}')
            assert float(query("rightsizer_store_up")[0]["value"][1]) == 1
        status, body = _get(f"http://127.0.0.1:{port}/healthz")
        assert status == 200 and body.startswith("ok")
        assert _get(f"http://127.0.0.1:{port}/")[0] == 404
        assert d.stop() == 0
    finally:
        d.kill()


def test_alert_rules_pass_promtool_check_and_fire_when_they_should():
    promtool = servers.binary("promtool")
    r = subprocess.run([promtool, "check", "rules", str(ROOT / "config" / "rightsizer.rules.yml")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS: 7 rules found" in r.stdout, r.stdout
    r = subprocess.run([promtool, "test", "rules", str(ROOT / "tests" / "integration" / "rules_test.yml")],
                       capture_output=True, text=True, cwd=ROOT / "tests" / "integration")
    assert r.returncode == 0 and "SUCCESS" in r.stdout, r.stdout + r.stderr


def test_every_series_of_the_dashboard_and_the_rules_is_one_the_daemon_serves(tmp_path, notify):
    config, _ = _now_city(tmp_path)
    d = DaemonProc(config, tmp_path / "daemon.log", notify)
    try:
        port = d.port()
        wait_until(lambda: any(r.job == "deliver" and r.outcome == "ok" for r in _runs(tmp_path)), 30, "a relay run")
        body = _get(f"http://127.0.0.1:{port}/metrics")[1]
        assert d.stop() == 0
    finally:
        d.kill()
    served = set(re.findall(r"^# TYPE (\w+) ", body, re.M))
    served |= {n + "_total" for n in served}
    dash = json.loads((ROOT / "config" / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    assert len(exprs) >= 8
    rules = (ROOT / "config" / "rightsizer.rules.yml").read_text()
    exprs += re.findall(r"expr: (.+)", rules)
    used = {m for e in exprs for m in re.findall(r"\b(rightsizer_\w+)", e)}
    assert used and used <= served, used - served


# -- secrets -----------------------------------------------------------------------------------------------

def test_no_secret_in_the_log_or_on_metrics_when_smtp_refuses_the_password(tmp_path, notify):
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            return "250 OK"

    secret = "Zq9-wrong-horse-battery"
    port = servers.free_port()
    ctl = Controller(Handler(), hostname="127.0.0.1", port=port, auth_require_tls=False,
                     authenticator=lambda *a: AuthResult(success=False, handled=False))
    ctl.start()
    try:
        routing = (f'[[notifiers]]\nname = "mail"\ntype = "email"\nhost = "127.0.0.1"\nport = {port}\n'
                   f'security = "none"\nusername = "rs"\npassword = {{ env = "RS_SMTP_PASSWORD" }}\n'
                   f'sender = "rightsizer@example.gov.cn"\ntimeout_seconds = 5\n')
        config, depts = _now_city(tmp_path, routing=None)
        text = config.read_text().split("[[notifiers]]")[0] + routing + "".join(
            f'[departments."{d}"]\nchannels = ["mail"]\nemails = ["it@{i}.example.gov.cn"]\n'
            for i, d in enumerate(depts))
        config.write_text(text)
        d = DaemonProc(config, tmp_path / "daemon.log", notify, env={"RS_SMTP_PASSWORD": secret})
        try:
            port_m = d.port()
            wait_until(lambda: "notice via mail is dead" in d.text() or "notice via mail failed" in d.text(), 60,
                       "a refused delivery logged")
            body = _get(f"http://127.0.0.1:{port_m}/metrics")[1] + _get(f"http://127.0.0.1:{port_m}/healthz")[1]
            assert d.stop() == 0
        finally:
            d.kill()
    finally:
        ctl.stop()
    log = d.text()
    assert secret not in log and secret not in body
    assert re.search(r"^(WARNING|ERROR) job=deliver notice=平大数据调〔\d{4}〕\d+号 notice via mail ", log, re.M)


# -- SIGTERM in the middle of a delivery ---------------------------------------------------------------------

def test_sigterm_lets_the_send_in_flight_finish_and_be_recorded_and_gives_the_rest_back(tmp_path, notify):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import sqlalchemy as sa

    from rightsizer.db.schema import deliveries

    arrived, got = threading.Event(), []

    class Slow(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            arrived.set()
            time.sleep(2)  # the daemon is told to stop while this send is in flight
            got.append(self.headers["Idempotency-Key"])
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    hook = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    try:
        config, depts = _now_city(tmp_path)
        text = config.read_text().split("[[notifiers]]")[0]
        text += f'[[notifiers]]\nname = "hook"\ntype = "webhook"\nurl = "http://127.0.0.1:{hook.server_port}/"\n'
        text += "".join(f'[departments."{d}"]\nchannels = ["hook"]\n' for d in depts)
        config.write_text(text)
        d = DaemonProc(config, tmp_path / "daemon.log", notify)
        try:
            wait_until(arrived.is_set, 60, "the first send", daemon=d)
            t0 = time.monotonic()
            d.signal(signal.SIGTERM)
            assert d.proc.wait(30) == 0
            stopped_in = time.monotonic() - t0
        finally:
            d.kill()
    finally:
        hook.shutdown()
    assert len(got) == 1 and stopped_in < 10
    with Store(f"sqlite:///{tmp_path / 'rightsizer.db'}").read() as conn:
        rows = conn.execute(sa.select(deliveries.c.status, deliveries.c.lease_until)).all()
    assert sorted(r.status for r in rows) == ["pending"] * (len(depts) - 1) + ["sent"]  # the one in flight: recorded
    assert all(r.lease_until == 0 for r in rows)  # the rest given back at once, not left to a lease
    last = [r for r in _runs(tmp_path, "deliver") if r.outcome == "ok"][-1]
    assert "sent 1" in last.detail and "stopped early" in last.detail


def test_the_daemon_runs_under_memory_deny_write_execute_as_the_unit_sets_it(tmp_path, notify):
    """MemoryDenyWriteExecute=yes is the kernel's PR_SET_MDWE (inherited across exec): the whole job —
    numpy, SQLAlchemy, the notice PDF through WeasyPrint's cffi, the relay — must work under it."""
    import ctypes
    import sys

    if ctypes.CDLL(None).prctl(65, 0, 0, 0, 0) != 0 and ctypes.get_errno() == 22:  # PR_GET_MDWE
        pytest.fail("this kernel has no PR_SET_MDWE (Linux >= 6.3), which MemoryDenyWriteExecute= uses")
    config, _ = _now_city(tmp_path)
    wrapper = ("import ctypes, os, sys; assert ctypes.CDLL(None).prctl(65, 1, 0, 0, 0) == 0; "
               "os.execv(sys.argv[1], sys.argv[1:])")
    d = DaemonProc(config, tmp_path / "daemon.log", notify,
                   command=[sys.executable, "-c", wrapper, RIGHTSIZER, "daemon", "--config", str(config)])
    try:
        wait_until(lambda: "notice sent via console" in d.text(), 60, "a notice rendered and delivered", daemon=d)
        assert d.stop() == 0
    finally:
        d.kill()
    assert "Traceback" not in d.text()
