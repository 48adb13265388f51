"""The daemon's schedule without the daemon: periods, job_runs, catch-up — and two weeks of a city
replayed through the Runner with an injected clock, the way the daemon drives it (the scheduler fires
what falls due; a restart runs each unfinished period once)."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from notifiers.base import SendResult
from rightsizer import demo
from rightsizer.calendar import WorkCalendar
from rightsizer.db import Store, jobruns
from helpers import notices_of, op
from rightsizer.jobs import actions, relay
from rightsizer.daemon.scheduler import JOBS, Runner, enabled, previous_fire
from rightsizer.settings import JobSchedule, load_settings, parse_settings

TZ = ZoneInfo("Asia/Shanghai")


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


@pytest.mark.parametrize("spec, now, period", [
    (JobSchedule(cron="30 6 * * *"), "2026-10-12T06:29:59", "2026-10-11T06:30:00"),
    (JobSchedule(cron="30 6 * * *"), "2026-10-12T06:30:00", "2026-10-12T06:30:00"),
    (JobSchedule(cron="0 9 * * 1-5"), "2026-10-12T08:00:00", "2026-10-09T09:00:00"),  # Monday morning: Friday's
    (JobSchedule(cron="0 8 1 * *"), "2026-11-23T10:00:00", "2026-11-01T08:00:00"),  # monthly
    (JobSchedule(cron="* * * * *"), "2026-11-23T10:00:59", "2026-11-23T10:00:00"),
    (JobSchedule(every_seconds=60), "2026-11-23T10:00:59", "2026-11-23T10:00:00"),
    (JobSchedule(every_seconds=3600), "2026-11-23T10:59:59", "2026-11-23T10:00:00"),  # on the hour, every start
    (JobSchedule(every_seconds=7), "2026-11-23T10:00:00", None),
])
def test_a_run_belongs_to_the_latest_scheduled_time_at_or_before_it(spec, now, period):
    got = previous_fire(spec, TZ, t(now))
    if period is None:  # an interval that does not divide the day: still the same periods across restarts
        assert got <= t(now) < got + timedelta(seconds=7)
        assert previous_fire(spec, TZ, got + timedelta(seconds=3)) == got
    else:
        assert got == t(period)


def test_schedule_errors_name_the_key():
    from rightsizer.errors import ConfigError

    with pytest.raises(ConfigError) as e:
        parse_settings({"schedule": {"evaluate": {"cron": "61 6 * * *"}}})
    assert "schedule.evaluate.cron" in str(e.value.lines())
    with pytest.raises(ConfigError) as e:
        parse_settings({"schedule": {"sweep": {"cron": "0 9 * * *", "every_seconds": 60}}})
    assert "schedule.sweep" in str(e.value.lines()) and "either cron or every_seconds" in str(e.value.lines())
    with pytest.raises(ConfigError) as e:
        parse_settings({"daemon": {"listen": "9465"}})
    assert "daemon.listen" in str(e.value.lines())


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Inbox:
    """Every department's IM robot: what each receives, and when."""

    def __init__(self, clock: Clock):
        self.clock, self.got = clock, []
        self.name = "im"

    def send(self, msg):
        self.got.append((self.clock.now, msg.subject, msg.key))
        return SendResult(True, detail="ok")


class Daemon:
    """What ``rightsizer daemon`` does with its Runner: at start, each unfinished period once; then each job
    when the clock passes one of its scheduled times (coalesced: one run however many were passed)."""

    def __init__(self, runner: Runner, clock: Clock):
        self.runner, self.clock = runner, clock
        self.last = None

    def start(self) -> list[str]:
        missed = self.runner.missed()
        for job in missed:
            self.runner.run(job)
        self.last = self.clock.now
        return missed

    def advance(self, to: datetime) -> None:
        self.clock.now = to
        for job in enabled(self.runner.settings)[0]:
            p = self.runner.period(job, to)
            if p is not None and p > self.last:
                self.runner.run(job)
        self.last = to


@pytest.fixture
def city(tmp_path, monkeypatch):
    """40 servers of 4 departments with samples through 2026-10-13; departments 0-2 on an IM robot; a daily
    schedule (inventory 06:00, evaluate 06:30, sweep 09:00, the relay every minute)."""
    depts = demo.write_city(tmp_path, 40, 11, t("2026-10-13T00:00:00"), departments=4, days=45)
    routing = '[[notifiers]]\nname = "im"\ntype = "console"\n' + "".join(
        f'[departments."{d}"]\nchannels = ["im"]\n' for d in depts)
    cfg = demo.daemon_config(tmp_path, routing, schedule={})
    text = cfg.read_text() + ('[schedule.inventory]\ncron = "0 6 * * *"\n[schedule.evaluate]\ncron = "30 6 * * *"\n'
                              '[schedule.sweep]\ncron = "0 9 * * *"\n[schedule.deliver]\nevery_seconds = 60\n')
    cfg.write_text(text)
    settings = load_settings(cfg)
    clock = Clock(t("2026-10-01T05:00:00"))  # 国庆 (National Day): a holiday
    inbox = Inbox(clock)
    monkeypatch.setattr(relay, "build_notifiers", lambda s: {"im": inbox})
    store = Store.open(settings.store.resolved_url())
    runner = Runner(store, settings, WorkCalendar(), clock)
    return Daemon(runner, clock), store, inbox, depts, tmp_path


def _issued(store) -> dict[str, tuple[str, date]]:
    return {nt.department: (nt.number, nt.issued_at.astimezone(TZ).date()) for nt in notices_of(store)}


def _runs(store, job: str) -> list:
    with store.read() as conn:
        return jobruns.history(conn, job)


def _ok_periods(store, job: str) -> list[datetime]:
    with store.read() as conn:
        return [r.period for r in jobruns.history(conn, job) if r.outcome == "ok"]


def test_two_weeks_of_a_city_on_the_daemons_schedule(city):
    daemon, store, inbox, depts, workdir = city
    cal = WorkCalendar()
    assert daemon.start() == ["inventory", "evaluate", "sweep", "deliver"]  # a new store: every job once
    # Department 3's servers are exempt until 9 October (a system busy only in exam season).
    with store.read() as conn:
        import sqlalchemy as sa

        from rightsizer.db.schema import departments, servers
        d3 = [r.server_id for r in conn.execute(sa.select(servers.c.server_id).join(departments).where(
            departments.c.name == depts[3]))]
    for sid in d3:
        actions.exempt(store, op("张主任"), daemon.clock.now, "server", sid, "考试季系统", date(2026, 10, 9))

    hour = timedelta(hours=1)
    now = daemon.clock.now
    while now < t("2026-10-09T08:00:00"):
        now += hour
        daemon.advance(now)
    # National Day (1-7 October) issues nothing; the first working day's 09:00 sweep issues to departments 0-2.
    issued = _issued(store)
    assert sorted(issued) == sorted(depts[:3])
    assert {d for _, d in issued.values()} == {date(2026, 10, 8)}
    assert len(inbox.got) == 3 and all(when.date() == date(2026, 10, 8) for when, _, _ in inbox.got)

    # The daemon is down from Friday 08:00 to Saturday 10:30 (a 调休 working day): at start-up each job runs
    # once for its latest period — not once per missed period — and department 3 (exemption over) gets its notice.
    daemon.clock.now = t("2026-10-10T10:30:00")
    assert daemon.start() == ["inventory", "evaluate", "sweep", "deliver"]
    issued = _issued(store)
    assert issued[depts[3]][1] == date(2026, 10, 10) and cal.is_workday(date(2026, 10, 10))
    assert t("2026-10-09T09:00:00") not in _ok_periods(store, "sweep")  # coalesced, not replayed
    assert t("2026-10-10T09:00:00") in _ok_periods(store, "sweep")

    # Monday 12 October: the inventory file is broken at 05:30 and mended at 07:00. The two jobs that read it
    # fail, are recorded failed, and are not retried before their next period; the relay goes on.
    now = daemon.clock.now
    while now < t("2026-10-12T05:00:00"):
        now += hour
        daemon.advance(now)
    inv = workdir / "servers.csv"
    good = inv.read_bytes()
    inv.write_bytes(good.replace(b"server_id", b"server_idd", 1))
    for h in ("06:00", "07:00"):
        daemon.advance(t(f"2026-10-12T{h}:00"))
    inv.write_bytes(good)
    for h in ("08:00", "09:00", "10:00", "11:00"):
        daemon.advance(t(f"2026-10-12T{h}:00"))
    with store.read() as conn:
        runs = jobruns.history(conn)
    failed = [(r.job, r.period) for r in runs if r.outcome == "failed"]
    assert failed == [("inventory", t("2026-10-12T06:00:00")), ("evaluate", t("2026-10-12T06:30:00"))]
    assert "servers.csv:1: header: missing column(s) server_id" in next(
        r.detail for r in runs if r.job == "inventory" and r.outcome == "failed")  # file, line and field
    assert _ok_periods(store, "deliver")[-1] == t("2026-10-12T11:00:00")
    # A restart runs the failed periods again (they did not complete), and only those.
    assert daemon.start() == ["inventory", "evaluate"]
    assert _ok_periods(store, "inventory")[-1] == t("2026-10-12T06:00:00")

    # Monday's sweep sends department 0 a follow-up (补充通知): one of its servers has meanwhile passed its
    # 10 working days after delivery (National Day not counted) without being deployed.
    rows = [nt for nt in notices_of(store)]
    assert [(nt.department, nt.issued_at.astimezone(TZ).date().isoformat(), nt.follows_id is not None)
            for nt in rows] == [
        (depts[0], "2026-10-08", False), (depts[1], "2026-10-08", False), (depts[2], "2026-10-08", False),
        (depts[3], "2026-10-10", False), (depts[0], "2026-10-12", True)]
    assert "逾期未部署" in inbox.got[-1][1]
    # Nothing was issued on a holiday or a Sunday; no period of any job ever completed twice; each notice was
    # received exactly once, on its issue day, and its deadline is 10 working days after delivery.
    assert all(cal.is_workday(nt.issued_at.astimezone(TZ).date()) for nt in rows)
    for job in JOBS:
        periods = _ok_periods(store, job)
        assert len(periods) == len(set(periods)), job
    notices_sent = [k for _, subject, k in inbox.got if "整改通知" in subject or "扩容建议" in subject]
    assert len(notices_sent) == len(set(notices_sent)) == len(rows)
    for nt in notices_of(store):
        if nt.due_date:
            delivered = nt.delivered_at.astimezone(TZ).date()
            assert nt.due_date == cal.add_workdays(delivered, 10)


def test_a_run_that_died_is_not_done_and_a_done_period_never_runs_again(city):
    daemon, store, _, _, _ = city
    daemon.start()
    runner = daemon.runner
    # Another process (or this one before a SIGKILL) started the next sweep period and never finished it.
    daemon.clock.now = t("2026-10-02T09:00:05")
    with store.begin() as conn:
        jobruns.start(conn, "sweep", "2026-10-02T09:00:00+08:00", "2026-10-02T09:00:01+08:00", 999999)
    assert "sweep" in runner.missed()
    assert runner.run("sweep").outcome == "ok"
    assert runner.run("sweep").outcome == "skipped"  # the same period, asked again
    assert "sweep" not in runner.missed()


def test_a_job_that_raises_a_bug_is_recorded_and_the_runner_goes_on(city, monkeypatch, caplog):
    from rightsizer.daemon import scheduler as schedule

    daemon, store, _, _, _ = city
    monkeypatch.setitem(schedule.JOBS, "sweep", lambda ctx, now: 1 / 0)
    out = daemon.runner.run("sweep")
    assert out.outcome == "failed" and "ZeroDivisionError" in out.detail
    assert "Traceback" in caplog.text  # a bug keeps its traceback in the log
    assert daemon.runner.run("deliver").outcome == "ok"
    assert daemon.runner.busy() == []


@pytest.mark.parametrize("dow, days", [
    ("1-5", "mon,tue,wed,thu,fri"),  # APScheduler 3's own from_crontab would read this as Tuesday-Saturday
    ("0", "sun"), ("7", "sun"), ("6,0", "sun,sat"), ("5-7", "sun,fri,sat"), ("*/2", "sun,tue,thu,sat"),
    ("MON-fri", "mon,tue,wed,thu,fri"), ("*", "*"),
])
def test_crontab_weekdays_mean_what_crontab_says(dow, days):
    from rightsizer.crontab import cron_fields

    assert cron_fields(f"0 9 * * {dow}")["day_of_week"] == days


@pytest.mark.parametrize("line", ["0 9 * * 8", "0 9 * *", "0 9 * * fri-mon", "0 9 * * 1/x", "0 25 * * *"])
def test_a_bad_crontab_line_is_refused(line):
    from rightsizer.crontab import cron_fields

    with pytest.raises(ValueError):
        cron_fields(line)


def test_metrics_count_runs_and_failures_and_old_runs_are_pruned_but_each_jobs_newest_success_kept(city, monkeypatch):
    from prometheus_client import generate_latest

    from rightsizer.daemon import scheduler as schedule
    from rightsizer.daemon.metrics import Metrics

    daemon, store, _, _, _ = city
    metrics = Metrics(store, daemon.clock)
    daemon.runner.observer = metrics
    daemon.start()
    monkeypatch.setitem(schedule.JOBS, "sweep", lambda ctx, now: 1 / 0)
    daemon.advance(t("2026-10-01T09:00:00"))
    body = generate_latest(metrics.registry).decode()
    assert 'rightsizer_job_failures_total{task="sweep"} 1.0' in body
    assert 'rightsizer_job_runs_total{outcome="ok",task="deliver"} 2.0' in body
    assert 'rightsizer_notices{state="issued"} 0.0' in body and "rightsizer_store_up 1.0" in body
    # 100 days on: everything older than 90 days goes, except each job's newest successful period.
    daemon.clock.now = t("2027-01-09T09:00:00")
    with store.read() as conn:
        before = jobruns.history(conn)
    assert daemon.runner.prune() == len(before) - 4  # each job keeps its newest ok row (sweep: the one at start)
    with store.read() as conn:
        kept = jobruns.history(conn)
    assert sorted(r.job for r in kept) == sorted(enabled(daemon.runner.settings)[0]) and all(r.outcome == "ok" for r in kept)
    assert not any(r.job == "sweep" and r.period == t("2026-10-01T09:00:00") for r in kept)  # the failure: gone
    assert daemon.runner.missed() == ["inventory", "evaluate", "sweep", "deliver"]
    # Restarted, the metrics start from the store: the last success survives the restart.
    fresh = Metrics(store, daemon.clock)
    fresh.seed()
    assert 'rightsizer_job_last_success_timestamp_seconds{task="inventory"}' in generate_latest(fresh.registry).decode()


def test_the_monthly_report_goes_once_on_the_first_working_day_after_national_day_across_restarts(
        tmp_path, monkeypatch):
    """September's report waits through the National Day holiday (1-7 October) and goes on Thursday 8 October —
    by email with the workbook, by IM with a summary and the link — once, although the daemon dies after
    queueing it, restarts, and the job runs every day after."""
    import base64
    import io

    import openpyxl

    from rightsizer.jobs import reports

    depts = demo.write_city(tmp_path, 40, 11, t("2026-10-13T00:00:00"), departments=4, days=60)
    routing = ('[[notifiers]]\nname = "im"\ntype = "console"\n[[notifiers]]\nname = "finance"\ntype = "email"\n'
               'host = "127.0.0.1"\nsender = "rightsizer@city.gov.cn"\n'
               '[[notifiers]]\nname = "finance-im"\ntype = "console"\n'
               + "".join(f'[departments."{d}"]\nchannels = ["im"]\n' for d in depts)
               + '[reports]\nchannels = ["finance", "finance-im"]\nemails = ["czj@city.gov.cn"]\n'
                 'link_base = "https://rightsizer.city.gov.cn"\n')
    cfg = demo.daemon_config(tmp_path, routing, schedule={})
    cfg.write_text(cfg.read_text() + '[schedule.inventory]\ncron = "0 6 * * *"\n[schedule.evaluate]\n'
                   'cron = "30 6 * * *"\n[schedule.sweep]\ncron = "0 9 * * *"\n[schedule.deliver]\n'
                   'every_seconds = 600\n')
    settings = load_settings(cfg)
    assert settings.schedule.reports.cron == "0 8 * * *" and "reports" in enabled(settings)[0]
    clock = Clock(t("2026-09-20T05:00:00"))
    got = []

    class Inbox:
        def send(self, msg):
            got.append((clock.now, msg))
            return SendResult(True, detail="ok")

    inbox = Inbox()
    monkeypatch.setattr(relay, "build_notifiers", lambda s: {"im": inbox, "finance": inbox, "finance-im": inbox})
    store = Store.open(settings.store.resolved_url())
    daemon = Daemon(Runner(store, settings, WorkCalendar(), clock), clock)
    daemon.start()
    assert "no evaluation was recorded in 2026-08" in _runs(store, "reports")[-1].detail  # before the centre began
    now = clock.now
    while now < t("2026-10-08T07:00:00"):
        now += timedelta(hours=1)
        daemon.advance(now)
    assert [m for _, m in got if m.key.startswith("report:")] == []  # 1-7 October: a holiday, nothing yet
    assert t("2026-10-07T08:00:00") in _ok_periods(store, "reports")  # it ran, and found it not due
    daemon.advance(t("2026-10-08T08:00:00"))
    import sqlalchemy as sa

    from rightsizer.db.schema import job_runs
    with store.begin() as conn:  # queued, then the daemon dies before it records the period done
        conn.execute(job_runs.delete().where(job_runs.c.job == "reports", job_runs.c.period >= t("2026-10-08T00:00:00"),
                                           job_runs.c.period < t("2026-10-09T00:00:00")))
    # restarted at 08:30: the reports period is not done, so it runs again — and queues nothing new
    clock.now = t("2026-10-08T08:30:00")
    daemon = Daemon(Runner(store, settings, WorkCalendar(), clock), clock)
    assert "reports" in daemon.start()
    now = clock.now
    while now < t("2026-10-12T10:00:00"):
        now += timedelta(hours=1)
        daemon.advance(now)
    sent = [(when, m) for when, m in got if m.key.startswith("report:")]
    assert sorted(m.key for _, m in sent) == ["report:monthly:2026-09:finance", "report:monthly:2026-09:finance-im"]
    assert {when.date() for when, _ in sent} == {date(2026, 10, 8)}
    with store.read() as conn:
        keys = conn.execute(sa.text("select idempotency_key from deliveries where purpose = 'report'")).scalars().all()
    assert sorted(keys) == ["report:monthly:2026-09:finance", "report:monthly:2026-09:finance-im"]
    mail = next(m for _, m in sent if m.key.endswith(":finance"))
    assert mail.subject == "2026年9月政务云资源浪费报告" and mail.recipients == ("czj@city.gov.cn",)
    assert "<svg" in mail.html and mail.attachments[0].filename == "2026-09-云资源浪费报告.xlsx"
    wb = openpyxl.load_workbook(io.BytesIO(mail.attachments[0].content), data_only=True)  # the cached totals
    expected = reports.monthly(store, settings, reports.Month(2026, 9), t("2026-10-08T08:00:00"))
    summary = wb["汇总"]
    total = [c.value for c in summary[summary.max_row]]
    head = [c.value for c in summary[1]]
    assert total[0] == "合计"
    assert total[head.index("本月浪费（元）")] == float(expected.totals["waste"]) > 0
    im = next(m for _, m in sent if m.key.endswith(":finance-im"))
    assert "https://rightsizer.city.gov.cn/reports/monthly?month=2026-09" in im.markdown
    assert f"资源浪费 {expected.totals['waste']:,.2f} 元" in im.text
