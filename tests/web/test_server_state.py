"""What the console says of a server (issue 23, point 9), after a city lived through the CLI: a server given back
shows as released — the day verified, the saving realised — with no open finding and no exemption form; an
exempted one "已豁免至 …" instead of its findings and the request form; one on an overdue notice "已逾期"; and
``/api/v1/servers/{id}`` carries the same state."""
from __future__ import annotations

import io
import re
import sys

import pytest
from starlette.testclient import TestClient

from rightsizer.cli import main
from rightsizer.db import Store
from rightsizer.settings import load_settings
from rightsizer.web.app import create_app

from helpers import AT, twin_server
from test_evaluate_cli import write_inputs

from webcity import PASSWORD, _with_stdin

ARCHIVE, APPROVAL, EDU = "市档案馆", "市行政审批服务局", "市教育和体育局"


@pytest.fixture(scope="module")
def lived(tmp_path_factory):
    d = tmp_path_factory.mktemp("server-state")
    inv, samples = write_inputs(d)
    # a server of 市教育和体育局 as oversized as big-1, whose department does nothing
    twin_server(inv, samples, "lazy-1,教务库,市教育和体育局,教务系统,16,64,500,2025-03-01", like="big-1")
    cfg = d / "rs.toml"
    cfg.write_text(f'[store]\nstate_dir = "{d}"\n[[notifiers]]\nname = "console"\ntype = "console"\n'
                   + "".join(f'[departments."{x}"]\nchannels = ["console"]\n' for x in (ARCHIVE, APPROVAL, EDU)),
                   encoding="utf-8")
    common = ["--config", str(cfg)]

    def cli(*argv):
        assert main([*argv, *common]) == 0

    cli("inventory", "sync", "--csv", str(inv), "--now", "2026-11-20T08:00:00+08:00")
    cli("evaluate", "--inventory", str(inv), "--samples", str(samples), "--at", AT.isoformat())
    cli("sweep", "--now", "2026-11-23T09:00:00+08:00")
    cli("deliver", "--now", "2026-11-23T09:05:00+08:00")
    # the archive gives its idle server back; the next sync sees it gone and the sweep verifies it
    gone = d / "inv-after.csv"
    gone.write_text("\n".join(r for r in inv.read_text(encoding="utf-8").splitlines() if not r.startswith("idle-1,"))
                    + "\n", encoding="utf-8")
    cli("inventory", "sync", "--csv", str(gone), "--now", "2026-11-25T08:00:00+08:00")
    cli("sweep", "--now", "2026-11-25T09:00:00+08:00")
    # the approval bureau's big server is a disaster-recovery standby: exempted until the year's end
    cli("notices", "exempt", "--server", "big-1", "--reason", "容灾备机", "--approver", "张主任", "--until", "2026-12-31")
    cli("sweep", "--now", "2026-12-08T09:00:00+08:00")  # the due date (7 December) has passed: overdue
    for name, dept in (("arch", ARCHIVE), ("approval", APPROVAL), ("edu", EDU)):
        assert _with_stdin(PASSWORD + "\n", ["users", "add", name, "--role", "department", "--department", dept,
                                             *common]) == 0
    buf, old = io.StringIO(), sys.stdout
    sys.stdout = buf
    try:
        cli("tokens", "add", "ops-api", "--role", "operator")
    finally:
        sys.stdout = old
    settings = load_settings(cfg)
    from datetime import datetime
    from zoneinfo import ZoneInfo

    now = datetime(2026, 12, 8, 10, tzinfo=ZoneInfo("Asia/Shanghai"))
    return create_app(settings, Store.open(settings.store.resolved_url()), lambda: now), buf.getvalue().strip()


def _as(app, name: str) -> TestClient:
    c = TestClient(app, client=("127.0.0.1", 50000), follow_redirects=False)
    csrf = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text).group(1)
    assert c.post("/login", data={"name": name, "password": PASSWORD, "csrf": csrf, "next": "/"}).status_code == 303
    return c


def test_a_server_given_back_shows_as_released_with_its_saving_and_no_form(lived):
    app, _ = lived
    page = _as(app, "arch").get("/servers/idle-1").text
    state = re.search(r'<p id="server-state"[^>]*>(.*?)</p>', page, re.S).group(1)
    assert "已释放" in state and "2026年11月25日核实已从云平台释放" in state and "已实现节约每月" in state
    assert 'id="findings"' not in page and "request-exemption" not in page
    assert "已整改" in page  # the notice's release item, verified


def test_an_exempted_server_says_until_when_instead_of_its_findings(lived):
    app, _ = lived
    page = _as(app, "approval").get("/servers/big-1").text
    assert "已豁免至 2026年12月31日（本服务器经 张主任 批准豁免：容灾备机），豁免期内不下发整改通知" in page
    assert 'id="findings"' not in page and "request-exemption" not in page


def test_a_server_on_an_overdue_notice_says_so(lived):
    app, _ = lived
    page = _as(app, "edu").get("/servers/lazy-1").text
    row = re.search(r'<table id="server-notices">(.*?)</table>', page, re.S).group(1)
    assert "已逾期" in row and "2026年12月7日" in row
    assert 'id="findings"' in page and "request-exemption" in page  # still to rectify: findings and the form
    assert "待整改" in re.search(r'<p id="server-state"[^>]*>(.*?)</p>', page, re.S).group(1)


def test_the_api_carries_the_servers_state(lived):
    app, token = lived
    c = TestClient(app, client=("127.0.0.1", 50000))
    get = lambda sid: c.get(f"/api/v1/servers/{sid}", headers={"Authorization": f"Bearer {token}"}).json()  # noqa
    idle, big, lazy = get("idle-1"), get("big-1"), get("lazy-1")
    assert idle["status"]["state"] == "released" and idle["status"]["released_at"].startswith("2026-11-25T08:00")
    assert float(idle["status"]["realised_saving_cny"]) > 0 and idle["findings"] == []
    assert big["status"]["state"] == "exempted" and big["status"]["exempted_until"] == "2026-12-31"
    assert big["findings"] == []
    assert lazy["status"]["state"] == "to_rectify" and lazy["status"]["state_zh"] == "待整改"
    # expansion advice only, and too little data: neither is "to rectify"
    assert get("hot-1")["status"]["state"] == "advised" and get("hot-1")["status"]["state_zh"] == "有扩容建议"
    gap = get("gap-1")
    assert [f["kind"] for f in gap["findings"]] == ["insufficient_data"] and gap["status"]["state"] == "clear"
    (n,) = lazy["status"]["notices"]
    assert n["overdue"] and n["state_zh"].startswith("已逾期") and n["due_date"] == "2026-12-07"


def test_the_departments_notice_page_tells_each_event_in_chinese(lived):
    app, _ = lived
    c = _as(app, "edu")
    nid = re.search(r'<a href="/notices/(\d+)">', c.get("/servers/lazy-1").text).group(1)
    page = c.get(f"/notices/{nid}").text
    events = re.search(r'<table id="events">(.*?)</table>', page, re.S).group(1)
    notes = [re.findall(r"<td>(.*?)</td>", row, re.S)[-1] for row in re.findall(r"<tr><td>(.*?)</tr>", events, re.S)]
    assert len(notes) >= 4  # issued, delivered, overdue, escalated
    for note in notes:
        assert re.search(r"[\u4e00-\u9fff]", note) and not re.search(r"[A-Za-z]{3,}", note), note
    assert any("已逾期：整改期限2026年12月7日" in n for n in notes)
    assert any(n.startswith("已送达；整改期限2026年12月7日") for n in notes)
