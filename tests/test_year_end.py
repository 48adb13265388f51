"""The year's end (issue 23, point 1): an unknown day is not a working day. With 2027 not yet in the calendar,
nothing is issued on 1 January 2027, on a weekend or on any 2027 day, through the CLI as through the daemon,
and the output says why in Chinese; the evaluation goes on for the whole city when a server's deployment
deadline falls in 2027. Once the year is in the calendar, the notices go out on its first working day."""
from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from rightsizer import demo
from rightsizer.calendar import WorkCalendar
from rightsizer.cli import main
from rightsizer.daemon.scheduler import Runner
from rightsizer.db import Store
from rightsizer.jobs import relay
from rightsizer.settings import load_settings

from helpers import AT, notices_of

TZ = ZoneInfo("Asia/Shanghai")
YEAR_2027 = "[years.2027]\ncomplete = true\nholidays = [\"2027-01-01\"]\nworkdays = []\n"  # enough for January


def _notices(db) -> list[tuple[str, str]]:
    con = sqlite3.connect(db)
    try:
        return con.execute("select number, department from notices order by id").fetchall()
    finally:
        con.close()


def test_the_cli_issues_nothing_on_an_unknown_or_a_free_day_and_says_why(tmp_path, capsys):
    from test_evaluate_cli import write_inputs

    db = tmp_path / "rs.db"
    cfg = tmp_path / "rs.toml"
    cfg.write_text('[[notifiers]]\nname = "im"\ntype = "console"\n[departments."市档案馆"]\nchannels = ["im"]\n'
                   '[departments."市行政审批服务局"]\nchannels = ["im"]\n', encoding="utf-8")
    common = ["--config", str(cfg), "--db", str(db)]
    inv, samples = write_inputs(tmp_path)  # findings of 20 November, still open at the year's end
    assert main(["evaluate", "--inventory", str(inv), "--samples", str(samples), "--at", AT.isoformat(), *common]) == 0
    capsys.readouterr()
    for day in ("2026-12-27T09:00:00+08:00",):  # a Sunday of a year the calendar knows
        assert main(["sweep", *common, "--now", day]) == 0
        out = capsys.readouterr().out
        assert "0 notices issued" in out and "2026年12月27日不是工作日，今天不下发新通知" in out
    assert _notices(db) == []
    # 2027 is not in the calendar: not on New Year's Day, not on the Sunday, not on Monday 4 January
    for day in ("2027-01-01T09:00:00+08:00", "2027-01-03T09:00:00+08:00", "2027-01-04T09:00:00+08:00"):
        assert main(["sweep", *common, "--now", day]) == 0
        out = capsys.readouterr().out
        assert "0 notices issued" in out and "是否工作日未知（日历尚无2027年的节假日安排），今天不下发新通知" in out
    assert _notices(db) == []
    # the centre adds 2027 to the calendar: Monday 4 January is a working day, the notices go out
    (tmp_path / "holidays.toml").write_text(YEAR_2027, encoding="utf-8")
    cfg.write_text(cfg.read_text(encoding="utf-8") + '[calendar]\noverrides = "holidays.toml"\n', encoding="utf-8")
    assert main(["sweep", *common, "--now", "2027-01-04T09:00:00+08:00"]) == 0
    out = capsys.readouterr().out
    assert "2 notices issued" in out and "不下发" not in out
    assert [n for n, _ in _notices(db)] == ["平大数据调〔2027〕1号", "平大数据调〔2027〕2号"]


@pytest.fixture
def year_end_city(tmp_path, monkeypatch):
    """A daemon on a daily schedule over the year's end; some servers delivered days before it (their
    deployment deadline falls in 2027)."""
    known = tmp_path / "simulation-calendar.toml"  # the simulated offices keep their hours into 2027
    known.write_text(YEAR_2027, encoding="utf-8")
    depts = demo.write_city(tmp_path, 40, 23, datetime(2027, 1, 5, tzinfo=TZ), departments=4, days=45,
                            calendar=WorkCalendar(known))
    # a server delivered on 21 December: its deployment deadline (10 working days) falls in 2027
    inv = tmp_path / "servers.csv"
    head, first, *rest = inv.read_text(encoding="utf-8").splitlines()
    inv.write_text("\n".join([head, first.rsplit(",", 1)[0] + ",2026-12-21T10:00:00+08:00", *rest]) + "\n",
                   encoding="utf-8")
    routing = '[[notifiers]]\nname = "im"\ntype = "console"\n' + "".join(
        f'[departments."{d}"]\nchannels = ["im"]\n' for d in depts)
    cfg = demo.daemon_config(tmp_path, routing, schedule={})
    cfg.write_text(cfg.read_text() + '[schedule.evaluate]\ncron = "30 6 * * *"\n[schedule.sweep]\ncron = "0 9 * * *"\n')
    sent = []

    class Inbox:
        name = "im"

        def send(self, msg):
            from notifiers.base import SendResult

            sent.append(msg.subject)
            return SendResult(True, detail="ok")

    monkeypatch.setattr(relay, "build_notifiers", lambda s: {"im": Inbox()})
    return cfg, tmp_path


def _live(cfg, start: datetime, until: datetime) -> tuple[Runner, Store]:
    """What ``rightsizer daemon`` does from ``start`` to ``until``, hour by hour on an injected clock: at start
    each unfinished period once, then each job when the clock passes one of its times."""
    from rightsizer.daemon.scheduler import enabled

    settings = load_settings(cfg)
    store = Store.open(settings.store.resolved_url())
    clock = [start]
    runner = Runner(store, settings, WorkCalendar(settings.calendar.overrides), lambda: clock[0])
    for job in runner.missed():
        runner.run(job)
    last = start
    while clock[0] < until:
        clock[0] += timedelta(hours=1)
        for job in enabled(settings)[0]:
            p = runner.period(job, clock[0])
            if p is not None and p > last:
                runner.run(job)
        last = clock[0]
    return runner, store


def test_the_daemon_issues_nothing_in_an_unknown_year_then_issues_once_it_is_known(year_end_city):
    from rightsizer.db import jobruns

    cfg, workdir = year_end_city
    runner, store = _live(cfg, datetime(2027, 1, 1, 5, tzinfo=TZ), datetime(2027, 1, 4, 12, tzinfo=TZ))
    with store.read() as conn:
        runs = jobruns.history(conn)
    evaluations = [r for r in runs if r.job == "evaluate"]
    assert evaluations and all(r.outcome == "ok" for r in evaluations)  # a 2027 deadline never stops the city
    sweeps = {r.period.astimezone(TZ).date().isoformat(): r.detail for r in runs if r.job == "sweep"}
    assert set(sweeps) >= {"2027-01-01", "2027-01-02", "2027-01-03", "2027-01-04"}
    for day in ("2027-01-01", "2027-01-02", "2027-01-03", "2027-01-04"):
        assert sweeps[day].startswith("0 issued (none issued: ") and "日历尚无2027年的节假日安排" in sweeps[day]
    assert _notices(workdir / "rightsizer.db") == []
    # the operator adds 2027 to the calendar (the daemon reloads it); Tuesday's sweep issues
    (workdir / "holidays.toml").write_text(YEAR_2027, encoding="utf-8")
    cfg.write_text(cfg.read_text() + '[calendar]\noverrides = "holidays.toml"\n', encoding="utf-8")
    runner, store = _live(cfg, datetime(2027, 1, 4, 12, tzinfo=TZ), datetime(2027, 1, 5, 10, tzinfo=TZ))
    issued = notices_of(store)
    assert issued and all(n.number.startswith("平大数据调〔2027〕") for n in issued)
    assert {n.issued_at.astimezone(TZ).date().isoformat() for n in issued} == {"2027-01-05"}


def test_from_45_days_before_the_calendar_ends_every_sweep_warns_and_the_operators_are_told_once(tmp_path, capsys,
                                                                                                 caplog):
    """Issue 23, point 2: the sweep's stderr, the daemon's log at WARNING, /metrics and the operators' channel
    say which year is missing, from which day deadlines are held and nothing is issued, and what to do."""
    from prometheus_client import generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    from rightsizer.daemon.metrics import Metrics
    from rightsizer.daemon.scheduler import JOBS, Context, Observer
    from test_evaluate_cli import write_inputs

    db, cfg = tmp_path / "rs.db", tmp_path / "rs.toml"
    cfg.write_text('[[notifiers]]\nname = "ops"\ntype = "console"\n[notices]\noperator_channels = ["ops"]\n',
                   encoding="utf-8")
    common = ["--config", str(cfg), "--db", str(db)]
    inv, samples = write_inputs(tmp_path)
    assert main(["evaluate", "--inventory", str(inv), "--samples", str(samples), "--at", AT.isoformat(), *common]) == 0
    capsys.readouterr()
    assert main(["sweep", *common, "--now", "2026-11-16T09:00:00+08:00"]) == 0  # 46 days before: quiet
    assert "日历尚无" not in capsys.readouterr().err
    said = "日历尚无2027年的节假日安排：自2026年12月18日起新下发通知的整改期限将暂缓，自2027年1月1日起不再下发新通知"
    for day in ("2026-11-17T09:00:00+08:00", "2026-11-18T09:00:00+08:00"):
        assert main(["sweep", *common, "--now", day]) == 0
        err = capsys.readouterr().err
        assert said in err and "rightsizer calendar import 通知.txt --out /etc/rightsizer/holidays.toml" in err
    con = sqlite3.connect(db)
    alerts = con.execute("select subject from deliveries where purpose = 'alert' and subject like '%日历%'").fetchall()
    con.close()
    assert alerts == [("[rightsizer 告警] 日历缺少2027年节假日安排",)]  # once, and a whole subject
    # the daemon's sweep says it at WARNING; /metrics has the calendar's end
    settings = load_settings(cfg)
    now = datetime(2026, 12, 1, 9, tzinfo=TZ)
    store = Store.open(f"sqlite:///{db}")
    with caplog.at_level("WARNING", logger="rightsizer.jobs"):
        JOBS["sweep"](Context(store, settings, WorkCalendar(), lambda: now, lambda: False, Observer()), now)
    assert any(r.levelname == "WARNING" and said in r.getMessage() for r in caplog.records)
    m = Metrics(store, lambda: now, settings)
    values = {s.name: s.value for f in text_string_to_metric_families(generate_latest(m.registry).decode())
              for s in f.samples}
    assert values["rightsizer_calendar_covered_until"] == datetime(2027, 1, 1, tzinfo=TZ).timestamp()
