"""Notices and their outbox: one per department, numbered, delivered at least once, never lost."""
from __future__ import annotations

import io
import random
from decimal import Decimal
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa

from notifiers.base import SendResult
from notifiers.config import ConsoleSettings
from notifiers.console import ConsoleNotifier
from notifiers.render import render
from rightsizer.db import schema
from rightsizer.jobs import actions, notices, relay
from rightsizer.models import Finding
from rightsizer.calendar import WorkCalendar
from rightsizer.engine import Evaluation
from rightsizer.jobs.evaluate import record
from rightsizer.settings import parse_settings
from rightsizer.db import Store

from helpers import AT, TZ, a_notice, make_server, make_summary, op, record_sync


def settings(**extra):
    base = {
        "notifiers": [{"name": "edu-im", "type": "console"}, {"name": "health-im", "type": "console"},
                      {"name": "centre", "type": "console"}, {"name": "ops", "type": "console"}],
        "departments": {"市教育和体育局": {"channels": ["edu-im"]}, "市卫生健康局": {"channels": ["health-im"]}},
        "notices": {"cc_channels": ["centre"], "operator_channels": ["ops"], "max_attempts": 3,
                    "backoff_base_seconds": 10, "backoff_max_seconds": 60},
    }
    base.update(extra)
    return parse_settings(base)


def run(store, s, servers_usage, at=AT, key="run"):
    from policies import evaluate_server

    cal = WorkCalendar()
    servers = [make_server(sid, dept=dept) for sid, dept, _ in servers_usage]
    sums = [make_summary(sid, **usage) for sid, _, usage in servers_usage]
    found = [f for srv, su in zip(servers, sums) for f in evaluate_server(srv, su, at, s, cal)]
    record(store, Evaluation(at, servers, sums, found), "test", key, s)


class Recorder:
    """A notifier that records what it was asked to send and answers as told."""

    def __init__(self, name, answers=None):
        self.name, self.sent, self.answers = name, [], list(answers or [])

    def send(self, msg):
        self.sent.append(msg)
        return self.answers.pop(0) if self.answers else SendResult(True, detail="ok")


class Clock:
    def __init__(self, t: datetime):
        self.t = t

    def __call__(self):
        return self.t


EDU, HEALTH = "市教育和体育局", "市卫生健康局"
LOW = {"cpu": 5.0, "mem": 10.0, "disk": 20.0}  # shrink in all three


@pytest.fixture
def store(store_url):
    return Store.open(store_url)  # each test on SQLite and on PostgreSQL


def test_one_numbered_notice_per_department_and_recurring_findings_send_nothing_new(store):
    s = settings()
    run(store, s, [("e1", EDU, LOW), ("e2", EDU, LOW), ("h1", HEALTH, LOW), ("ok", EDU, {})])
    issued = notices.issue(store, s, AT)
    assert [(i.number, i.department, i.items) for i in issued] == [  # departments in a stable order
        ("平大数据调〔2026〕1号", HEALTH, 3), ("平大数据调〔2026〕2号", EDU, 6)]
    # the same findings in the next run: no new notice, no new message
    run(store, s, [("e1", EDU, LOW), ("e2", EDU, LOW), ("h1", HEALTH, LOW)], at=AT + timedelta(days=1), key="r2")
    assert notices.issue(store, s, AT + timedelta(days=1)) == []
    # a new finding for education: a follow-up notice, numbered on
    run(store, s, [("e1", EDU, LOW), ("e3", EDU, {"cpu": 90.0})], at=AT + timedelta(days=2), key="r3")
    follow, = notices.issue(store, s, AT + timedelta(days=2))
    assert follow.number == "平大数据调〔2026〕3号" and follow.follows == "平大数据调〔2026〕2号"


def test_numbers_are_never_reused_even_after_a_failed_issue(store, monkeypatch):
    s = settings()
    run(store, s, [("e1", EDU, LOW)])

    def broken(*a):
        raise RuntimeError("template broke")

    with monkeypatch.context() as m, pytest.raises(RuntimeError):
        m.setattr("notifiers.render.render", broken)
        notices.issue(store, s, AT)  # written in one transaction, rendered after it: the render failed
    with store.engine.connect() as c:
        (number,), = c.execute(sa.select(schema.notices.c.number)).all()
        assert {r.status for r in c.execute(sa.select(schema.deliveries))} == {"draft"}
    assert relay.deliver(store, s, WorkCalendar(), Clock(AT), notifiers={}).sent == 0  # a draft is never sent
    assert notices.issue(store, s, AT) == []  # the next run renders the drafts: nothing new, nothing lost
    with store.engine.connect() as c:
        rows = c.execute(sa.select(schema.deliveries)).all()
        assert {r.status for r in rows} == {"pending"} and all(number in r.subject for r in rows)
    assert number.endswith("〕1号")
    run(store, s, [("h1", HEALTH, LOW)], key="r2")
    second, = notices.issue(store, s, AT)
    assert second.number.endswith("〕2号")
    next_year, = (run(store, s, [("h2", HEALTH, LOW)], key="r3"), notices.issue(store, s, AT.replace(year=2027)))[1]
    assert next_year.number == "平大数据调〔2027〕1号"


def test_routing_a_department_only_ever_reaches_its_own_channels(store):
    s = settings()
    run(store, s, [(f"e{i}", EDU, LOW) for i in range(3)] + [(f"h{i}", HEALTH, LOW) for i in range(3)])
    notices.issue(store, s, AT)
    rec = {n: Recorder(n) for n in ("edu-im", "health-im", "centre", "ops")}
    relay.deliver(store, s, WorkCalendar(), Clock(AT), notifiers=rec)
    assert all(EDU in m.subject and "h0" not in m.text for m in rec["edu-im"].sent)
    assert all(HEALTH in m.subject and "e0" not in m.text for m in rec["health-im"].sent)
    assert len(rec["edu-im"].sent) == 1 and len(rec["health-im"].sent) == 1 and len(rec["centre"].sent) == 2


def test_delivery_sets_the_due_date_by_working_days(store):
    s = settings()
    delivered = datetime(2026, 9, 28, 10, 0, tzinfo=TZ)
    run(store, s, [("e1", EDU, LOW)], at=delivered)
    notices.issue(store, s, delivered)
    relay.deliver(store, s, WorkCalendar(), Clock(delivered), notifiers={"edu-im": Recorder("edu-im"), "centre": Recorder("c")})
    with store.engine.connect() as c:
        n = c.execute(sa.select(schema.notices)).first()
        events = c.execute(sa.select(schema.notice_events.c.to_status)).scalars().all()
    assert n.status == "delivered" and n.due_date == date(2026, 10, 16)  # National Day week is not counted
    assert events == ["issued", "delivered"]


def test_a_year_the_calendar_does_not_know_holds_the_deadline_and_alerts(store):
    s = settings()
    late = datetime(2027, 12, 20, 10, 0, tzinfo=TZ)
    run(store, s, [("e1", EDU, LOW)], at=late)
    notices.issue(store, s, late)
    ops = Recorder("ops")
    relay.deliver(store, s, WorkCalendar(), Clock(late), notifiers={"edu-im": Recorder("e"), "centre": Recorder("c"), "ops": ops})
    relay.deliver(store, s, WorkCalendar(), Clock(late), notifiers={"ops": ops})
    with store.engine.connect() as c:
        n = c.execute(sa.select(schema.notices)).first()
    assert n.status == "delivered" and n.due_date is None and "no data for 2027" in n.hold_reason
    assert any("deadline held" in m.text for m in ops.sent)


def test_outage_retries_with_backoff_then_dead_letter_and_alert(store):
    s = settings()
    run(store, s, [("e1", EDU, LOW)])
    notices.issue(store, s, AT)
    down = SendResult(False, True, "edu-im: network error")
    edu, ops = Recorder("edu-im", [down, down, down]), Recorder("ops")
    rec = {"edu-im": edu, "centre": Recorder("c"), "ops": ops}
    clock, rng = Clock(AT), random.Random(1)
    for _ in range(10):  # bounded: the relay runs a few rounds while time passes
        relay.deliver(store, s, WorkCalendar(), clock, notifiers=rec, rng=rng)
        clock.t += timedelta(minutes=5)
    assert len(edu.sent) == 3  # max_attempts, then it stops
    assert len({m.key for m in edu.sent}) == 1  # one idempotency key across retries
    with store.engine.connect() as c:
        d = c.execute(sa.select(schema.deliveries).where(schema.deliveries.c.channel == "edu-im")).first()
    assert d.status == "dead" and "network error" in d.last_error
    assert any("could not be delivered" in m.text for m in ops.sent)


def test_rate_limit_answer_waits_for_the_window_and_config_error_is_dead_at_once(store):
    s = settings()
    run(store, s, [("e1", EDU, LOW), ("h1", HEALTH, LOW)])
    notices.issue(store, s, AT)
    edu = Recorder("edu-im", [SendResult(False, True, "rate limited", retry_after_seconds=60)])
    health = Recorder("health-im", [SendResult(False, False, "configuration error (errcode 310000)")])
    clock = Clock(AT)
    rec = {"edu-im": edu, "health-im": health, "centre": Recorder("c"), "ops": Recorder("ops")}
    relay.deliver(store, s, WorkCalendar(), clock, notifiers=rec)
    clock.t += timedelta(seconds=30)
    relay.deliver(store, s, WorkCalendar(), clock, notifiers=rec)
    assert len(edu.sent) == 1  # not before the window
    clock.t += timedelta(seconds=31)
    relay.deliver(store, s, WorkCalendar(), clock, notifiers=rec)
    assert len(edu.sent) == 2 and len(health.sent) == 1


def test_a_relay_killed_after_sending_resends_with_the_same_key_and_a_restart_sends_nothing_twice(store):
    s = settings()
    run(store, s, [("e1", EDU, LOW)])
    notices.issue(store, s, AT)

    class Crash(BaseException):
        pass

    class DiesAfterSending(Recorder):
        def send(self, msg):
            super().send(msg)
            raise Crash  # the process dies before the result is recorded

    first = DiesAfterSending("edu-im")
    with pytest.raises(Crash):
        relay.deliver(store, s, WorkCalendar(), Clock(AT), notifiers={"edu-im": first, "centre": Recorder("c")})
    again = Recorder("edu-im")
    rec = {"edu-im": again, "centre": Recorder("c")}
    relay.deliver(store, s, WorkCalendar(), Clock(AT + timedelta(seconds=10)), notifiers=rec)
    assert again.sent == []  # the lease still holds: nobody else sends it meanwhile
    relay.deliver(store, s, WorkCalendar(), Clock(AT + timedelta(seconds=s.notices.lease_seconds + 1)), notifiers=rec)
    assert [m.key for m in again.sent] == [first.sent[0].key]  # at most a duplicate, same key
    assert again.sent[0].message_id == first.sent[0].message_id
    later = Recorder("edu-im")
    relay.deliver(store, s, WorkCalendar(), Clock(AT + timedelta(hours=1)), notifiers={"edu-im": later, "centre": Recorder("c")})
    assert later.sent == []  # a restart does not resend what was sent


def test_console_shows_the_formal_notice():
    s = settings(notices={"contact": "张三 0532-8888", "link_base": "https://rs.example/notices"})
    out = render(a_notice("平大数据调〔2026〕12号", EDU, datetime(2026, 11, 20, 9, tzinfo=TZ), notice_id=12), None,
                 [Finding.from_json({"server_id": "e1", "department": EDU, "kind": "shrink", "dimension": "cpu",
                                     "observed": 5.0, "threshold": 25.0,
                                     "current": {"vcpus": 8, "ram_gib": 16.0, "disk_gib": 200.0},
                                     "recommended": {"vcpus": 1, "ram_gib": 16.0, "disk_gib": 200.0},
                                     "monthly_saving_cny": "420", "evidence": {}})], s, files=False)
    subject, body = out.subject, out.body
    out = io.StringIO()
    ConsoleNotifier(ConsoleSettings(name="console"), out).send(
        __import__("notifiers.base").base.Message(key="k", subject=subject, text=body["text"]))
    text = out.getvalue()
    for part in ("平大数据调〔2026〕12号", "市教育和体育局：", "《平度市电子政务和政务数据管理办法》第十三条",
                 "8核/16GiB/200GiB", "1核/16GiB/200GiB", "420.00", "10 个工作日", "张三 0532-8888",
                 "https://rs.example/notices/12"):
        assert part in text, part
    assert "1. **e1**（未登记系统）：核减 CPU" in body["markdown"]


def test_cli_sweep_deliver_list_show_ack_withdraw(tmp_path, capsys):
    from rightsizer.cli import main

    from test_evaluate_cli import write_inputs

    inv, samples = write_inputs(tmp_path)
    cfg = tmp_path / "rs.toml"
    cfg.write_text('[[notifiers]]\nname = "screen"\ntype = "console"\n'
                   '[departments."市档案馆"]\nchannels = ["screen"]\n'
                   '[departments."市行政审批服务局"]\nchannels = ["screen"]\n', encoding="utf-8")
    db = str(tmp_path / "rs.db")
    common = ["--config", str(cfg), "--db", db]
    assert main(["evaluate", "--inventory", str(inv), "--samples", str(samples), "--at", AT.isoformat(), *common]) == 0
    capsys.readouterr()
    assert main(["sweep", *common, "--now", "2026-09-28T09:00:00+08:00"]) == 0
    out = capsys.readouterr().out
    assert "issued 平大数据调〔2026〕1号 to 市档案馆" in out and "2 notices issued" in out
    assert main(["deliver", *common, "--now", "2026-09-28T09:05:00+08:00"]) == 0
    out = capsys.readouterr().out
    assert "sent 2," in out and "市档案馆：" in out  # the console notifier printed the notice
    assert main(["notices", "list", *common]) == 0
    out = capsys.readouterr().out
    assert "2026-10-16" in out and "delivered" in out
    assert main(["notices", "ack", "1", "--actor", "市档案馆 李四", *common]) == 0
    assert main(["notices", "show", "1", *common]) == 0
    out = capsys.readouterr().out
    assert "已送达(delivered) -> 已签收(acknowledged)" in out and "市档案馆 李四" in out
    assert "screen (notice): 已发送" in out
    assert main(["notices", "withdraw", "2", "--actor", "中心 王五", "--note", "误报", *common]) == 0
    assert main(["notices", "ack", "2", "--actor", "x", *common]) == 2
    assert "当前状态为已撤回，签收只适用于：已送达、已逾期、已督办" in capsys.readouterr().err
    assert main(["deliver", *common]) == 0 and "sent 0," in capsys.readouterr().out
    assert main(["notices", "exempt", "--system", "业务审批系统", "--reason", "考试季系统", "--approver", "中心 王五",
                 "--until", "2026-12-31", *common]) == 0
    assert main(["notices", "exemptions", *common]) == 0
    out = capsys.readouterr().out
    assert "业务审批系统" in out and "考试季系统" in out
    assert main(["notices", "exempt", "--server", "x", "--reason", "r", "--approver", "a", "--until", "soon",
                 *common]) == 2


def _deliver_all(store, s, at):
    rec = {n: Recorder(n) for n in ("edu-im", "health-im", "centre", "ops", "leaders")}
    relay.deliver(store, s, WorkCalendar(), Clock(at), notifiers=rec)
    return rec


def test_sweep_verifies_rectification_from_the_inventory_not_from_an_ack(store):
    from dataclasses import replace

    from rightsizer.models import Size

    s = settings()
    day0 = datetime(2026, 9, 28, 10, 0, tzinfo=TZ)
    srv = make_server("e1", vcpus=8, ram=16, dept=EDU)
    gone = make_server("e2", dept=EDU)
    record_sync(store, "cloud", day0, [(srv, "s8.16g", "ACTIVE"), (gone, "s8.16g", "ACTIVE")])
    run(store, s, [("e1", EDU, {"cpu": 5.0}), ("e2", EDU, {"cpu": 0.5, "recent_cpu_p95_pct": 0.5})], at=day0)
    notices.sweep(store, s, WorkCalendar(), day0)
    _deliver_all(store, s, day0)
    # an acknowledgement alone closes nothing
    assert notices.sweep(store, s, WorkCalendar(), day0 + timedelta(days=1)).rectified == 0
    # the department shrinks e1's CPU and releases e2; the next inventory sync shows it
    record_sync(store, "cloud", day0 + timedelta(days=3), [(replace(srv, size=Size(2, 16.0, 200.0)), "s2.16g",
                                                              "ACTIVE")])
    r = notices.sweep(store, s, WorkCalendar(), day0 + timedelta(days=3))
    assert r.rectified == 2 and r.closed == ["平大数据调〔2026〕1号"]
    with store.engine.connect() as c:
        items = {i.server_id: i for i in c.execute(sa.select(schema.notice_items))}
        status = c.execute(sa.select(schema.notices.c.status)).scalar()
    assert status == "rectified"
    assert Decimal(items["e1"].realised_saving_cny) == 360  # (8 - 2) vCPU x 60 CNY
    assert Decimal(items["e2"].realised_saving_cny) == 8 * 60 + 16 * 30 + 200 * Decimal("0.5")  # released
    assert "server gone" in items["e2"].evidence


def test_sweep_reminds_before_the_due_date_then_escalates_once_overdue(store):
    s = settings(notifiers=[{"name": n, "type": "console"} for n in ("edu-im", "health-im", "centre", "ops",
                                                                     "leaders")],
                 notices={"cc_channels": ["centre"], "operator_channels": ["ops"], "escalation_channels": ["leaders"]},
                 departments={EDU: {"channels": ["edu-im"], "head_emails": ["head@edu.example"]}})
    day0 = datetime(2026, 9, 28, 10, 0, tzinfo=TZ)  # due 2026-10-16
    run(store, s, [("e1", EDU, LOW)], at=day0)
    notices.sweep(store, s, WorkCalendar(), day0)
    _deliver_all(store, s, day0)
    assert notices.sweep(store, s, WorkCalendar(), datetime(2026, 10, 12, 9, tzinfo=TZ)).reminded == 0
    r = notices.sweep(store, s, WorkCalendar(), datetime(2026, 10, 13, 9, tzinfo=TZ))
    assert r.reminded == 1  # three working days to go
    assert notices.sweep(store, s, WorkCalendar(), datetime(2026, 10, 14, 9, tzinfo=TZ)).reminded == 0
    rec = _deliver_all(store, s, datetime(2026, 10, 14, 9, tzinfo=TZ))
    assert len(rec["edu-im"].sent) == 1 and rec["edu-im"].sent[0].subject.startswith("【提醒】")
    assert notices.sweep(store, s, WorkCalendar(), datetime(2026, 10, 16, 18, tzinfo=TZ)).overdue == 0
    r = notices.sweep(store, s, WorkCalendar(), datetime(2026, 10, 17, 9, tzinfo=TZ))
    assert r.overdue == 1
    assert notices.sweep(store, s, WorkCalendar(), datetime(2026, 10, 18, 9, tzinfo=TZ)).overdue == 0
    rec = _deliver_all(store, s, datetime(2026, 10, 17, 10, tzinfo=TZ))
    esc, = rec["leaders"].sent
    assert esc.subject.startswith("【逾期】") and esc.recipients == ("head@edu.example",)
    assert rec["edu-im"].sent == [] and rec["health-im"].sent == []
    with store.engine.connect() as c:
        events = c.execute(sa.select(schema.notice_events.c.to_status).order_by(schema.notice_events.c.id)).scalars()
        assert list(events) == ["issued", "delivered", "delivered", "overdue", "escalated"]


def test_a_finding_that_goes_away_by_itself_resolves_the_notice(store):
    s = settings()
    run(store, s, [("e1", EDU, LOW)])
    notices.sweep(store, s, WorkCalendar(), AT)
    _deliver_all(store, s, AT)
    run(store, s, [("e1", EDU, {})], at=AT + timedelta(days=1), key="r2")  # usage rose: nothing to do any more
    r = notices.sweep(store, s, WorkCalendar(), AT + timedelta(days=1))
    assert r.resolved == 3 and r.rectified == 0 and r.closed == ["平大数据调〔2026〕1号"]


def test_exemptions_hold_back_notices_until_they_expire(store):
    s = settings()
    run(store, s, [("e1", EDU, LOW), ("e2", EDU, LOW)])  # both in system 门户网站 (make_server)
    actions.exempt(store, op("中心 王五"), AT, "server", "e1", "容灾备机", date(2026, 11, 30))
    first, = notices.issue(store, s, AT)
    assert first.items == 3  # only e2's three findings
    actions.exempt(store, op("中心 王五"), AT, "system", "门户网站", "考试季系统", date(2026, 12, 31))
    r = notices.sweep(store, s, WorkCalendar(), AT + timedelta(days=1))
    assert r.issued == [] and r.closed == [first.number]  # e2 is exempted now too: the notice closes as exempted
    after = datetime(2027, 1, 1, 9, tzinfo=TZ)  # both exemptions expired: the findings come through again
    again, = notices.issue(store, s, after)
    assert again.items == 6 and again.number == "平大数据调〔2027〕1号"


def test_own_templates_replace_the_wording_and_undeployed_asks_to_deploy_or_release(tmp_path):
    (tmp_path / "tpl").mkdir()
    (tmp_path / "tpl" / "notice.txt.j2").write_text("{{ n.number }} 致 {{ n.department }}：自定义措辞\n", encoding="utf-8")
    cfg = tmp_path / "rs.toml"
    cfg.write_text('[notices]\ntemplates_dir = "tpl"\n', encoding="utf-8")
    from rightsizer.settings import load_settings

    notice = a_notice("平大数据调〔2026〕1号", EDU)
    found = [Finding.from_json({"server_id": "u1", "department": EDU, "kind": "undeployed", "dimension": None,
                                "observed": 0.5, "threshold": 3.0,
                                "current": {"vcpus": 4, "ram_gib": 8.0, "disk_gib": 100.0}, "recommended": None,
                                "monthly_saving_cny": "410", "evidence": {}})]
    own = render(notice, None, found, load_settings(cfg), files=False).body
    assert own["text"] == "平大数据调〔2026〕1号 致 市教育和体育局：自定义措辞\n"
    assert "**u1**（未登记系统）：逾期未部署" in own["markdown"]  # the other templates stay the built-in ones
    builtin = render(notice, None, found, settings(), files=False).body
    assert "逾期未部署：《平度市电子政务和政务数据管理办法》第十三条：各部门应在云资源交付后10个工作日内完成系统部署。" \
           "处理要求：完成系统部署，或申请释放资源。" in builtin["text"]


def test_rate_limits_hold_across_relays_counted_from_the_store(store):
    depts = [f"部门{i:02d}" for i in range(25)]
    s = parse_settings({"notifiers": [{"name": "dt", "type": "dingtalk", "access_token": {"env": "UNUSED"}}],
                        "departments": {d: {"channels": ["dt"]} for d in depts}})
    run(store, s, [(f"s{i}", d, LOW) for i, d in enumerate(depts)])
    assert len(notices.issue(store, s, AT)) == 25
    one, two = Recorder("dt"), Recorder("dt")
    r1 = relay.deliver(store, s, WorkCalendar(), Clock(AT), notifiers={"dt": one}, limit=10)
    r2 = relay.deliver(store, s, WorkCalendar(), Clock(AT + timedelta(seconds=5)), notifiers={"dt": two})  # another process
    assert len(one.sent) + len(two.sent) == 18  # DingTalk allows 20 a minute per robot: we stay at 18
    assert r1.sent + r2.sent == 18 and r2.deferred == 7
    three = Recorder("dt")
    relay.deliver(store, s, WorkCalendar(), Clock(AT + timedelta(seconds=30)), notifiers={"dt": three})
    assert three.sent == []  # deferred rows wait for the window, not counted as attempts
    relay.deliver(store, s, WorkCalendar(), Clock(AT + timedelta(seconds=66)), notifiers={"dt": three})
    assert len(three.sent) == 7
    with store.engine.connect() as c:
        assert c.execute(sa.select(sa.func.max(schema.deliveries.c.attempts))).scalar() == 1


def test_property_no_department_ever_receives_another_departments_notice(tmp_path_factory):
    from hypothesis import HealthCheck, given
    from hypothesis import settings as hsettings
    from hypothesis import strategies as st

    @hsettings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(st.tuples(st.integers(0, 5), st.sampled_from([LOW, {"cpu": 90.0}, {"cpu": 0.5,
                                                                                       "recent_cpu_p95_pct": 0.5}])),
                    min_size=1, max_size=12),
           st.booleans())
    def check(servers, with_cc):
        st_ = Store.open(f"sqlite:///{tmp_path_factory.mktemp('prop') / 'rs.db'}")
        depts = [f"部门{i}" for i in range(6)]
        # every department its own channel (and addresses); the centre's copy on a cc channel or not
        s = parse_settings({
            "notifiers": [{"name": f"ch{i}", "type": "console"} for i in range(6)] + [{"name": "cc", "type": "console"}],
            "departments": {d: {"channels": [f"ch{i}"], "emails": [f"it@d{i}.example"]} for i, d in enumerate(depts)},
            "notices": {"cc_channels": ["cc"] if with_cc else []}})
        run(st_, s, [(f"s{k}-{d}", depts[d], usage) for k, (d, usage) in enumerate(servers)])
        notices.issue(st_, s, AT)
        rec = {f"ch{i}": Recorder(f"ch{i}") for i in range(6)} | {"cc": Recorder("cc")}
        relay.deliver(st_, s, WorkCalendar(), Clock(AT), notifiers=rec)
        for i, d in enumerate(depts):
            for m in rec[f"ch{i}"].sent:
                assert m.subject.endswith(f"（{d}）")  # the department named in the subject
                assert m.recipients == (f"it@d{i}.example",)
                others = [f"s{k}-{j}" for k, (j, _) in enumerate(servers) if j != i]
                assert not any(sid in m.text for sid in others)
            assert len(rec[f"ch{i}"].sent) == (1 if any(j == i for j, _ in servers) else 0)

    check()
