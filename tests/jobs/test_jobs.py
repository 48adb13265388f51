"""The jobs without the CLI: what a daemon or the web console will call. They print nothing and
read no clock — the time is passed in, so a replay with an injected time is exact."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from notifiers.base import SendResult
from rightsizer.calendar import WorkCalendar
from rightsizer.db import Store
from rightsizer.errors import NotFoundError, StateError, UsageError
from rightsizer.jobs import actions, evaluate, notices, relay, views
from rightsizer.settings import parse_settings

from helpers import AT, record_sync, notices_of, op
from test_evaluate_cli import write_inputs


class Recorder:
    def __init__(self, name):
        self.name, self.sent = name, []

    def send(self, msg):
        self.sent.append(msg)
        return SendResult(True, detail="ok")


def test_evaluate_issue_deliver_verify_through_jobs_alone(tmp_path, store_url, capsys, monkeypatch):
    import datetime as dt_module

    class NoClock(dt_module.datetime):  # any read of the real clock inside a job fails the test
        @classmethod
        def now(cls, tz=None):
            raise AssertionError("a job read the clock")

    inv, samples = write_inputs(tmp_path)
    s = parse_settings({"notifiers": [{"name": "im", "type": "console"}],
                        "departments": {"市行政审批服务局": {"channels": ["im"]}, "市档案馆": {"channels": ["im"]}}})
    store, cal = Store.open(store_url), WorkCalendar()
    for mod in (evaluate, notices, relay, actions, views):
        monkeypatch.setattr(mod, "datetime", NoClock, raising=False)
    r = evaluate.evaluate(store, s, cal, AT, evaluate.Sources(inventory=inv, samples=samples))
    assert {(f.server_id, f.kind.value) for f in r.evaluation.findings} >= {("idle-1", "release"), ("big-1", "shrink")}
    assert r.warnings == []
    again = evaluate.evaluate(store, s, cal, AT, evaluate.Sources(inventory=inv, samples=samples))
    assert again.run_id == r.run_id  # the same input, time and settings: the same run

    swept = notices.sweep(store, s, cal, AT)
    assert sorted(i.department for i in swept.issued) == ["市档案馆", "市行政审批服务局"]
    im = Recorder("im")
    sent = relay.deliver(store, s, cal, lambda: AT, notifiers={"im": im})
    assert sent.sent == 2 and len(im.sent) == 2
    listed = notices_of(store)
    assert {row.state for row in listed} == {"delivered"}
    assert {row.due_date for row in listed} == {date(2026, 12, 4)}  # 2026-11-20 + 10 working days

    archive = next(row for row in listed if row.department == "市档案馆")
    assert actions.ack(store, op("市档案馆 李四"), AT, archive.id).new == "acknowledged"
    with pytest.raises(StateError):
        actions.ack(store, op("again"), AT, archive.id)
    with pytest.raises(NotFoundError):
        actions.withdraw(store, op("x"), AT, 999)
    with pytest.raises(UsageError):
        actions.exempt(store, op("a"), AT, "department", "x", "r", date(2026, 12, 1))

    # the idle server is released: the next sweep verifies it from the inventory, with its saving
    from helpers import make_server

    big = make_server("big-1", vcpus=16, ram=64, disk=500, dept="市行政审批服务局")  # as in the CSV
    idle = make_server("idle-1", vcpus=4, ram=8, disk=100, dept="市档案馆")
    record_sync(store, "cloud", AT, [(big, "s16", "ACTIVE"), (idle, "s4", "ACTIVE")])
    record_sync(store, "cloud", AT + timedelta(days=2), [(big, "s16", "ACTIVE")])
    later = notices.sweep(store, s, cal, AT + timedelta(days=2))
    assert later.rectified == 1 and later.closed == [archive.number]
    assert views.notice(store, op('t'), archive.id).notice.state == "rectified"
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""  # no job prints
