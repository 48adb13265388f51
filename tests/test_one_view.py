"""One notice through its life, read back at each step through the CLI's JSON, the API, the console page and
the webhook's document: the same keys, the same state, the same Chinese label, the same due date; and
``/metrics`` counts every notice in exactly one state, for every state the lifecycle has (issue 22)."""
from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from fake_im import FakeIM
from helpers import TZ, make_server, record_sync
from rightsizer.cli import main
from rightsizer.daemon.metrics import Metrics
from rightsizer.db import Store
from rightsizer.jobs import accounts, views
from rightsizer.lifecycle import NOTICE_LABELS, NoticeState, Viewer
from rightsizer.settings import load_settings
from rightsizer.web.app import create_app
from test_outbox import EDU, LOW, run

FRIDAY = datetime(2026, 11, 20, 9, tzinfo=TZ)
PASSWORD = "Lifecycle-2026-long"


@pytest.fixture
def oa(monkeypatch):
    monkeypatch.setenv("RS_WH_SECRET", "oa-secret")
    with FakeIM(webhook_secret="oa-secret") as fake:
        yield fake


class Life:
    """A store, its configuration and every reader of a notice, at a clock the test moves."""

    def __init__(self, tmp_path, oa):
        self.db = str(tmp_path / "rs.db")
        self.cfg = tmp_path / "rs.toml"
        hook = f'url = "{oa.url}/webhook"\nsecret = {{ env = "RS_WH_SECRET" }}\n'
        self.cfg.write_text(
            f'[[notifiers]]\nname = "edu-oa"\ntype = "webhook"\n{hook}'
            f'[[notifiers]]\nname = "leaders-oa"\ntype = "webhook"\n{hook}'
            '[[notifiers]]\nname = "ops"\ntype = "console"\n'
            f'[departments."{EDU}"]\nchannels = ["edu-oa"]\n'
            '[notices]\nescalation_channels = ["leaders-oa"]\noperator_channels = ["ops"]\n', encoding="utf-8")
        self.settings = load_settings(self.cfg)
        self.store = Store.open(f"sqlite:///{self.db}")
        self.oa = oa
        self.now = FRIDAY
        run(self.store, self.settings, [("e1", EDU, LOW)], at=FRIDAY)
        accounts.add_user(self.store, FRIDAY, "edu-clerk", "department", EDU, PASSWORD)
        self.token = accounts.add_token(self.store, FRIDAY, "edu-oa-pull", "department", EDU)
        self.app = create_app(self.settings, self.store, lambda: self.now)
        self.web = TestClient(self.app, follow_redirects=False)
        self.login()

    def login(self) -> None:
        """The clerk signs in (again: weeks pass in this test, and a session lasts a working day)."""
        form = self.web.get("/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
        assert self.web.post("/login", data={"name": "edu-clerk", "password": PASSWORD, "csrf": csrf}).status_code == 303

    def cli(self, *argv: str, capsys) -> str:
        capsys.readouterr()
        assert main([*argv, "--config", str(self.cfg), "--db", self.db]) == 0, capsys.readouterr().err
        return capsys.readouterr().out

    def at(self, t: datetime) -> str:
        self.now = t
        return t.isoformat()

    def shown(self, capsys) -> dict:
        return json.loads(self.cli("notices", "show", "1", "--format", "json", capsys=capsys))

    def api(self) -> dict:
        r = self.web.get("/api/v1/notices/1", headers={"Authorization": f"Bearer {self.token}"})
        assert r.status_code == 200, r.text
        return r.json()

    def page(self) -> str:
        r = self.web.get("/notices/1")
        if r.status_code == 303 and r.headers["location"].startswith("/login"):
            self.login()
            r = self.web.get("/notices/1")
        assert r.status_code == 200
        return r.text

    def webhook_notices(self) -> list[dict]:
        return [body["notice"] for platform, body in self.oa.received if platform == "webhook"]

    def metrics(self) -> dict[str, float]:
        m = Metrics(self.store, lambda: self.now, self.settings)
        fams = text_string_to_metric_families(generate_latest(m.registry).decode())
        return {s.labels["state"]: s.value for f in fams if f.name == "rightsizer_notices" for s in f.samples}


def _same_notice(a: dict, b: dict) -> None:
    """Two readings of the notice agree: keys, state and its label, due date, items and their states."""
    assert a.keys() == b.keys()
    for key in ("id", "number", "department", "state", "state_zh", "due_date", "deadline_zh"):
        assert a[key] == b[key], key
    assert [(i["id"], i["state"], i["state_zh"]) for i in a["items"]] == \
        [(i["id"], i["state"], i["state_zh"]) for i in b["items"]]
    assert [i.keys() for i in a["items"]] == [i.keys() for i in b["items"]]


def _check(life: Life, capsys, state: NoticeState, due: date | None) -> dict:
    shown = life.shown(capsys)
    assert shown["state"] == state.value and shown["state_zh"] == NOTICE_LABELS[state]
    assert shown["due_date"] == (due.isoformat() if due else None)
    _same_notice(shown, life.api())  # the API is the same JSON (a department's token: no error text)
    page = life.page()
    assert f'<strong id="status">{shown["state_zh"]}</strong>' in page
    assert f'<span id="due">{shown["deadline_zh"]}</span>' in page
    cells = re.findall(r'<td class="item-status">([^<]+)', page)
    assert cells == [i["state_zh"] for i in shown["items"]]
    counts = life.metrics()
    assert set(counts) == {s.value for s in NoticeState}  # every state the store can hold, none more
    assert counts[state.value] == 1 and sum(counts.values()) == 1  # the one notice, in exactly one state
    return shown


def test_one_notice_reads_the_same_everywhere_through_its_life(tmp_path, oa, capsys):
    life = Life(tmp_path, oa)
    due = date(2026, 12, 4)  # Friday 20 November + 10 working days

    life.cli("sweep", "--now", life.at(FRIDAY), capsys=capsys)
    issued = _check(life, capsys, NoticeState.ISSUED, due)
    assert issued["deadline_zh"] == "2026年12月4日"

    life.cli("deliver", "--now", life.at(FRIDAY + timedelta(minutes=5)), capsys=capsys)
    (sent,) = life.webhook_notices()  # the OA system got the notice as it stood when it was sent
    _same_notice(sent, issued)
    _check(life, capsys, NoticeState.DELIVERED, due)

    # the department's clerk answers an item in the console; the centre records its acknowledgement at the CLI
    item = issued["items"][0]["id"]
    csrf = re.search(r'name="csrf" value="([^"]+)"', life.page()).group(1)
    r = life.web.post(f"/notices/1/items/{item}/answer", data={"csrf": csrf, "kind": "done", "note": "已申请核减"})
    assert r.status_code == 303
    life.cli("notices", "ack", "1", "--actor", "市教育和体育局 李四", "--now",
             life.at(FRIDAY + timedelta(hours=2)), capsys=capsys)
    acked = _check(life, capsys, NoticeState.ACKNOWLEDGED, due)
    assert acked["items"][0]["answers"][0]["kind_zh"] == "已整改，待核验"
    audit = [a for a in views.audit_log(life.store, Viewer("centre", "operator"))
             if a.action.startswith(("notice.", "item."))]
    assert [(a.action, a.role) for a in reversed(audit)] == [("item.done", "department"), ("notice.ack", "operator")]
    assert audit[0].actor == "市教育和体育局 李四"  # the CLI's action is audited like the console's

    # three working days before the date: a reminder, which carries the notice as it stands
    life.cli("sweep", "--now", life.at(datetime(2026, 12, 1, 9, tzinfo=TZ)), capsys=capsys)
    before = _check(life, capsys, NoticeState.ACKNOWLEDGED, due)
    life.cli("deliver", "--now", life.at(datetime(2026, 12, 1, 9, 5, tzinfo=TZ)), capsys=capsys)
    _same_notice(life.webhook_notices()[-1], before)

    # the day after the date: overdue, escalated once to the leaders' OA
    life.cli("sweep", "--now", life.at(datetime(2026, 12, 7, 9, tzinfo=TZ)), capsys=capsys)
    escalated = _check(life, capsys, NoticeState.ESCALATED, due)
    life.cli("deliver", "--now", life.at(datetime(2026, 12, 7, 9, 5, tzinfo=TZ)), capsys=capsys)
    _same_notice(life.webhook_notices()[-1], escalated)
    assert len(life.webhook_notices()) == 3  # notice, reminder, escalation: nothing twice

    # the department shrinks the server; the inventory shows it; the notice closes as rectified
    record_sync(life.store, "cloud", datetime(2026, 12, 7, 10, tzinfo=TZ), [(make_server("e1"), "s8", "ACTIVE")])
    small = make_server("e1", vcpus=2, ram=4, disk=50)
    record_sync(life.store, "cloud", datetime(2026, 12, 8, 10, tzinfo=TZ), [(small, "s2", "ACTIVE")])
    life.cli("sweep", "--now", life.at(datetime(2026, 12, 8, 11, tzinfo=TZ)), capsys=capsys)
    done = _check(life, capsys, NoticeState.RECTIFIED, due)
    assert {i["state_zh"] for i in done["items"]} == {"已整改"}
    assert all(i["realised_saving_cny"] for i in done["items"])
