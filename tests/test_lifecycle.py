"""The notice lifecycle, point by point (issue 10): each test fails without its fix."""
from __future__ import annotations

import json
import sqlite3
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa

from notifiers.render import render
from rightsizer.calendar import WorkCalendar
from rightsizer.cli import build_parser, main
from rightsizer.db import Store, schema
from rightsizer.errors import NotFoundError, UsageError
from rightsizer.jobs import actions, notices, relay

from helpers import AT, TZ, a_notice, make_server, op, record_sync
from test_outbox import EDU, HEALTH, LOW, Clock, Recorder, run, settings

HOT = {"cpu": 90.0, "mem": 85.0, "disk": 60.0}


@pytest.fixture
def store(store_url):
    return Store.open(store_url)  # each test on SQLite and on PostgreSQL


def _all(store, table):
    with store.read() as c:
        return c.execute(sa.select(table).order_by(table.c.id)).all()


def _deliver(store, s, at, cal=None):
    rec = {n: Recorder(n) for n in ("edu-im", "health-im", "centre", "ops", "leaders")}
    relay.deliver(store, s, cal or WorkCalendar(), Clock(at), notifiers=rec)
    return rec


# -- 7: a concrete due date, moved if delivery is late ----------------------------------------------


def test_the_printed_due_date_is_the_stored_one_and_moves_if_delivery_is_late(store):
    s = settings()
    run(store, s, [("e1", EDU, LOW)])
    (n,) = notices.issue(store, s, AT)  # Friday 2026-11-20
    (first,) = [r for r in _all(store, schema.deliveries) if r.purpose == "notice"]
    assert "请于2026年12月4日前完成整改" in json.loads(first.body)["text"]
    assert _all(store, schema.notices)[0].due_date == date(2026, 12, 4)
    # on time: delivered the same day, the printed date stands
    _deliver(store, s, AT + timedelta(minutes=5))
    assert _all(store, schema.notices)[0].due_date == date(2026, 12, 4)
    # a second department's notice reaches it three days late: its date moves and it is told
    run(store, s, [("h1", HEALTH, LOW)], key="r2")
    (late,) = notices.issue(store, s, AT)
    rec = _deliver(store, s, AT + timedelta(days=3))  # Monday 2026-11-23
    row = next(r for r in _all(store, schema.notices) if r.id == late.notice_id)
    assert row.due_date == date(2026, 12, 7)  # 10 working days from the day it arrived, not from issue
    moved = [m for m in rec["health-im"].sent if m.subject.startswith("【期限调整】")]
    assert len(moved) == 1 and "调整为2026年12月7日" in moved[0].text
    assert not any(m.subject.startswith("【期限调整】") for m in rec["edu-im"].sent)


# -- 8: held deadlines resume ----------------------------------------------------------------------


def test_a_held_deadline_resumes_when_the_calendar_gains_the_year(store, tmp_path):
    s = settings()
    at = datetime(2026, 12, 28, 9, tzinfo=TZ)
    run(store, s, [("e1", EDU, LOW)], at=at)
    notices.issue(store, s, at)
    rec = _deliver(store, s, at + timedelta(minutes=5))
    row = _all(store, schema.notices)[0]
    assert row.due_date is None and "2027" in row.hold_reason
    assert any("deadline held" in m.text for m in rec["ops"].sent)
    notices.sweep(store, s, WorkCalendar(), at + timedelta(days=1))  # still unknown: still held
    assert _all(store, schema.notices)[0].due_date is None
    overrides = tmp_path / "holidays.toml"
    overrides.write_text("[years.2027]\ncomplete = true\nholidays = [\"2027-01-01\"]\nworkdays = []\n",
                         encoding="utf-8")
    notices.sweep(store, s, WorkCalendar(overrides), at + timedelta(days=2))
    row = _all(store, schema.notices)[0]
    assert row.due_date == date(2027, 1, 12) and row.hold_reason is None  # 12-28 + 10 working days, 01-01 off
    events = [e.note for e in _all(store, schema.notice_events)]
    assert any(e.startswith("deadline resumed: due 2027-01-12") for e in events)
    # and it goes on: overdue after the date
    notices.sweep(store, s, WorkCalendar(overrides), datetime(2027, 1, 13, 9, tzinfo=TZ))
    assert _all(store, schema.notices)[0].status == "escalated"


# -- 9: nothing gets stuck -------------------------------------------------------------------------


def test_a_notice_held_for_want_of_a_channel_goes_out_once_there_is_one(store):
    s = settings(departments={})  # no department has a channel yet
    run(store, s, [("e1", EDU, LOW)])
    notices.issue(store, s, AT)
    rec = _deliver(store, s, AT)
    assert rec["edu-im"].sent == [] and _all(store, schema.notices)[0].status == "issued"
    s2 = settings()  # the operator adds [departments."市教育和体育局"]
    notices.sweep(store, s2, WorkCalendar(), AT + timedelta(hours=1))
    rec = _deliver(store, s2, AT + timedelta(hours=1))
    assert len(rec["edu-im"].sent) == 1 and "e1" in rec["edu-im"].sent[0].text
    assert _all(store, schema.notices)[0].status == "delivered"
    notices.sweep(store, s2, WorkCalendar(), AT + timedelta(hours=2))
    assert _deliver(store, s2, AT + timedelta(hours=2))["edu-im"].sent == []  # once


def test_resend_requeues_a_dead_delivery_with_the_same_key(store, tmp_path, capsys):
    from notifiers.base import SendResult

    s = settings()
    run(store, s, [("e1", EDU, LOW)])
    notices.issue(store, s, AT)
    broken = Recorder("edu-im", [SendResult(False, False, "310000 keyword not matched")])
    relay.deliver(store, s, WorkCalendar(), Clock(AT), notifiers={"edu-im": broken, "centre": Recorder("centre"),
                                                                    "ops": Recorder("ops")})
    dead = next(r for r in _all(store, schema.deliveries) if r.status == "dead")
    # the platform's error text is the centre's: a department's reading of the notice (its OA's copy) has none
    from rightsizer.jobs.views import notice_view

    with store.read() as conn:
        centre = notice_view(conn, dead.notice_id, operator=True).to_json(TZ)["deliveries"]
        department = notice_view(conn, dead.notice_id, operator=False).to_json(TZ)["deliveries"]
    assert any(d["last_error"] and "310000" in d["last_error"] for d in centre)
    assert all(d["last_error"] is None for d in department)
    with pytest.raises(Exception, match="没有投递失败"):
        actions.resend(store, op("x"), AT, dead.notice_id, channel="centre")
    assert actions.resend(store, op("中心 王五"), AT, dead.notice_id) == ["edu-im"]
    fixed = Recorder("edu-im")
    relay.deliver(store, s, WorkCalendar(), Clock(AT + timedelta(hours=1)), notifiers={"edu-im": fixed,
                                                                                        "ops": Recorder("ops")})
    assert [m.key for m in fixed.sent] == [dead.idempotency_key]
    assert _all(store, schema.notices)[0].status == "delivered"


def test_after_withdraw_the_findings_are_open_again_and_the_next_sweep_issues_a_new_notice(store):
    s = settings()
    run(store, s, [("e1", EDU, LOW)])
    (first,) = notices.issue(store, s, AT)
    actions.withdraw(store, op("中心 王五"), AT, first.notice_id, "发错了部门联系人")
    rep = notices.sweep(store, s, WorkCalendar(), AT + timedelta(hours=1))
    (again,) = rep.issued
    assert again.number != first.number and again.items == first.items and again.follows is None


# -- 10: exemptions are checked and consistent ------------------------------------------------------


def test_an_exemption_of_an_unknown_target_or_in_the_past_is_refused(store):
    s = settings()
    run(store, s, [("e1", EDU, LOW)])
    with pytest.raises(NotFoundError, match="没有服务器 'nope'"):
        actions.exempt(store, op("王五"), AT, "server", "nope", "容灾", date(2026, 12, 31))
    with pytest.raises(NotFoundError, match="没有系统"):
        actions.exempt(store, op("王五"), AT, "system", "没有的系统", "容灾", date(2026, 12, 31))
    with pytest.raises(UsageError, match="已经过去"):
        actions.exempt(store, op("王五"), AT, "server", "e1", "容灾", date(2026, 11, 19))
    assert actions.exempt(store, op("王五"), AT, "server", "e1", "容灾", date(2026, 11, 20)) == 1


def test_an_ended_exemption_returns_its_finding_to_the_still_open_notice(store):
    s = settings()
    run(store, s, [("e1", EDU, LOW), ("e2", EDU, LOW)])
    (n,) = notices.issue(store, s, AT)
    _deliver(store, s, AT)
    eid = actions.exempt(store, op("王五"), AT, "server", "e2", "考试季系统", date(2026, 12, 31))
    notices.sweep(store, s, WorkCalendar(), AT + timedelta(days=1))
    items = {(i.server_id, i.status) for i in _all(store, schema.notice_items)}
    assert ("e2", "exempted") in items and ("e1", "open") in items
    # a reminder lists only what is still open: e1, not the exempted e2
    rec = None
    for day in range(2, 13):
        notices.sweep(store, s, WorkCalendar(), AT + timedelta(days=day))
        got = _deliver(store, s, AT + timedelta(days=day))
        if any(m.subject.startswith("【提醒】") for m in got["edu-im"].sent):
            rec = got
            break
    (reminder,) = [m for m in rec["edu-im"].sent if m.subject.startswith("【提醒】")]
    assert "e1" in reminder.text and "e2" not in reminder.text
    # revoked (or ended): e2 goes back onto the same notice, no follow-up notice
    actions.unexempt(store, op("中心 王五"), AT + timedelta(days=day), eid)
    rep = notices.sweep(store, s, WorkCalendar(), AT + timedelta(days=day, hours=1))
    assert rep.issued == []
    assert {(i.server_id, i.status) for i in _all(store, schema.notice_items)} == {("e1", "open"), ("e2", "open")}
    assert len(_all(store, schema.notices)) == 1


# -- 11: see test_timeline (escalated once; an ack afterwards changes nothing) -----------------------


def test_acknowledging_an_escalated_notice_records_it_and_escalates_nothing_more(store):
    s = settings(notices={"cc_channels": ["centre"], "operator_channels": ["ops"],
                          "escalation_channels": ["leaders"]},
                 notifiers=[{"name": n, "type": "console"} for n in ("edu-im", "health-im", "centre", "ops",
                                                                      "leaders")])
    run(store, s, [("e1", EDU, LOW)])
    (n,) = notices.issue(store, s, AT)
    _deliver(store, s, AT)
    after_due = AT + timedelta(days=16)  # 2026-12-06, past 12-04
    notices.sweep(store, s, WorkCalendar(), after_due)
    assert actions.ack(store, op("教体局 李四"), after_due, n.notice_id).new == "escalated"
    for day in range(1, 5):
        notices.sweep(store, s, WorkCalendar(), after_due + timedelta(days=day))
    assert _all(store, schema.notices)[0].status == "escalated"
    assert len([r for r in _all(store, schema.deliveries) if r.purpose == "escalation"]) == 1


# -- 12: operators replay time and see state ------------------------------------------------------


@pytest.mark.parametrize("argv", [["sweep"], ["deliver"], ["notices", "ack"], ["notices", "exempt"],
                                  ["notices", "withdraw"], ["inventory", "sync"]])
def test_now_is_in_the_help_of_every_time_dependent_command(argv, capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args([*argv, "--help"])
    assert "--now ISO" in capsys.readouterr().out


def test_notices_list_filters_and_shows_item_states_as_json(store, tmp_path, capsys):
    db = store.url  # --db takes the store's URL: SQLite or PostgreSQL
    s = settings()
    run(store, s, [("e1", EDU, LOW), ("h1", HEALTH, LOW), ("h2", HEALTH, HOT)])
    notices.issue(store, s, AT)
    _deliver(store, s, AT)
    capsys.readouterr()
    assert main(["notices", "list", "--db", db, "--department", HEALTH, "--format", "json"]) == 0
    (h,) = json.loads(capsys.readouterr().out)
    assert h["department"] == HEALTH and h["due_date"] == "2026-12-04"
    assert h["item_counts"] == {"advice": 2, "open": 3}  # h2's CPU and memory expansions are advice
    assert main(["notices", "list", "--db", db, "--overdue", "--now", "2026-12-07T09:00:00+08:00",
                 "--format", "json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2
    assert main(["notices", "list", "--db", db, "--status", "rectified", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["notices", "show", str(h["id"]), "--db", db]) == 0
    text = capsys.readouterr().out
    assert "待整改" in text and "扩容建议" in text and "状态 已送达(delivered)" in text


# -- 13, 14 ---------------------------------------------------------------------------------------


def test_check_config_reports_every_delivery_problem_at_once(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("RS_NO_SUCH_TOKEN", raising=False)
    cfg = tmp_path / "rs.toml"
    cfg.write_text('[[notifiers]]\nname = "dt"\ntype = "dingtalk"\naccess_token = { env = "RS_NO_SUCH_TOKEN" }\n'
                   '[[notifiers]]\nname = "mail"\ntype = "email"\nhost = "h"\nsender = "s"\nto = ["o@x"]\n'
                   f'password = {{ file = "{tmp_path}/missing-password" }}\n'
                   '[store]\nurl = { file = "/nonexistent/db-url" }\n', encoding="utf-8")
    assert main(["check-config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "store.url: cannot read secret file /nonexistent/db-url" in err
    assert "notifiers.dt.access_token: environment variable RS_NO_SUCH_TOKEN is not set" in err
    assert "notifiers.mail.password: cannot read secret file" in err


def test_money_has_two_decimals_in_json_the_store_and_documents(store, tmp_path, capsys):
    s = settings()
    run(store, s, [("e1", EDU, LOW)])
    notices.issue(store, s, AT)
    for f in _all(store, schema.findings):
        assert str(f.monthly_saving_cny).split(".")[1].__len__() == 2, f.monthly_saving_cny
        assert json.loads(f.detail)["monthly_saving_cny"] == str(f.monthly_saving_cny)
    body = json.loads(_all(store, schema.deliveries)[0].body)
    import re
    amounts = re.findall(r"预计每月节约：([0-9,.]+) 元", body["text"])
    assert amounts and all(re.fullmatch(r"[0-9,]+\.[0-9]{2}", a) for a in amounts)
    record_sync(store, "cloud", AT, [(make_server("e1"), "s8", "ACTIVE")])
    _deliver(store, s, AT)
    record_sync(store, "cloud", AT + timedelta(days=1), [(make_server("e1", vcpus=2, ram=4, disk=50), "s2",
                                                          "ACTIVE")])
    notices.sweep(store, s, WorkCalendar(), AT + timedelta(days=1))
    realised = [i.realised_saving_cny for i in _all(store, schema.notice_items)]
    assert realised and all(r is not None and r.as_tuple().exponent == -2 for r in realised), realised


# -- 2, 4, 5 ----------------------------------------------------------------------------------------


def test_after_a_resize_only_samples_since_are_judged(tmp_path, capsys):
    from test_evaluate_cli import INV_HEADER, SAMPLE_HEADER

    at = datetime(2026, 11, 20, tzinfo=TZ)
    end = int(at.timestamp())
    inv = tmp_path / "inv.csv"
    samples = tmp_path / "samples.csv"
    # 30 days at 10 % of 16 vCPUs; resized to 4 vCPUs 3 days ago, since at 40 % of the new size
    resized = end - 3 * 86400
    rows = [f"big-1,{t},{10 if t < resized else 40},50,60\n" for t in range(end - 30 * 86400, end, 300)]
    samples.write_text(SAMPLE_HEADER + "".join(rows), encoding="utf-8")
    inv.write_text(INV_HEADER + ",resized_at\nbig-1,审批库,市行政审批服务局,业务审批系统,4,64,500,2025-03-01,"
                   f"{datetime.fromtimestamp(resized, TZ).isoformat()}\n", encoding="utf-8")
    db = tmp_path / "rs.db"
    assert main(["evaluate", "--inventory", str(inv), "--samples", str(samples), "--at", at.isoformat(),
                 "--db", str(db), "--format", "json"]) == 0
    (f,) = json.loads(capsys.readouterr().out)["findings"]
    # not "shrink CPU at 10 %" of the old size: three days at the new size are not enough to judge
    assert f["kind"] == "insufficient_data" and f["evidence"]["window"]["days_of_data"] < 7
    # the same from an inventory diff: the CSV of a week ago had 16 vCPUs
    db2 = tmp_path / "diff.db"
    old_inv = tmp_path / "old.csv"
    old_inv.write_text(INV_HEADER + "\nbig-1,审批库,市行政审批服务局,业务审批系统,16,64,500,2025-03-01\n",
                       encoding="utf-8")
    assert main(["inventory", "sync", "--csv", str(old_inv), "--db", str(db2),
                 "--now", (at - timedelta(days=7)).isoformat()]) == 0
    plain = tmp_path / "plain.csv"
    plain.write_text(INV_HEADER + "\nbig-1,审批库,市行政审批服务局,业务审批系统,4,64,500,2025-03-01\n",
                     encoding="utf-8")
    capsys.readouterr()
    assert main(["evaluate", "--inventory", str(plain), "--samples", str(samples), "--at", at.isoformat(),
                 "--db", str(db2), "--format", "json"]) == 0
    (f,) = json.loads(capsys.readouterr().out)["findings"]
    assert f["kind"] == "insufficient_data"
    con = sqlite3.connect(db2)
    assert con.execute("select change, old_size, new_size from inventory_changes where change = 'resized'"
                       ).fetchall() == [("resized", "16/64/500", "4/64/500")]


def test_a_source_that_cannot_start_at_the_resize_says_insufficient_data(calendar):
    from dataclasses import replace

    from policies import evaluate_server
    from rightsizer.settings import Settings

    from helpers import make_summary

    server = replace(make_server(vcpus=16), resized_at=AT - timedelta(days=10))
    summary = make_summary(cpu=5.0)  # a TSDB summary over the whole window, before and after the resize
    (f,) = evaluate_server(server, summary, AT, Settings(), calendar)
    assert f.kind.value == "insufficient_data" and f.evidence["statistic"] == "resized"


def test_snapping_that_grows_a_dimension_is_priced_and_shown(calendar):
    from policies import evaluate_server
    from rightsizer.settings import Settings

    from helpers import make_summary

    s = Settings.model_validate({"sizing": {"flavors": [{"name": "s2.8g", "vcpus": 2, "ram_gib": 8},
                                                        {"name": "s16.32g", "vcpus": 16, "ram_gib": 32}]}})
    server = make_server(vcpus=16, ram=4, disk=200)  # a CPU shrink to 2 vCPUs snaps RAM from 4 up to 8 GiB
    found = evaluate_server(server, make_summary(cpu=5.0, mem=60.0, disk=60.0), AT, s, calendar)
    (cpu,) = [f for f in found if f.dimension and f.dimension.value == "cpu"]
    assert cpu.recommended.ram_gib == 8 and cpu.evidence["snapping"]["memory"]["to"] == 8
    grown = s.prices.cny_per_ram_gib_month * 4  # 4 GiB more
    assert cpu.evidence["snapping"]["memory"]["cost_cny"] == f"{grown:.2f}"
    from policies.sizing import monthly_cost
    assert sum(f.monthly_saving_cny for f in found) == monthly_cost(server.size, s.prices) - monthly_cost(
        cpu.recommended, s.prices)
    body = render(a_notice(department=EDU, due=date(2026, 12, 4)), None, found, s, files=False).body
    assert f"套用规格 s2.8g：内存 4→8GiB，每月增加 {grown:,.2f} 元（已计入本项）" in body["text"]
    plain = render(a_notice(department=EDU, due=date(2026, 12, 4)), None,
                   evaluate_server(server, make_summary(cpu=5.0, mem=60.0, disk=60.0), AT, Settings(), calendar),
                   Settings(), files=False).body
    assert "未配置云平台规格目录" in plain["text"]
