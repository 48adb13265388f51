import re
import sqlite3
from collections import defaultdict
from decimal import Decimal

import openpyxl
import pytest

from collectors.simulate import DEMO_FLAVORS, simulate_city
from rightsizer.calendar import WorkCalendar
from rightsizer.cli import main
from rightsizer.engine import evaluate
from rightsizer.samplestore import SampleStore
from rightsizer.settings import Settings

from helpers import AT


def test_simulated_shapes_get_the_right_decisions():
    cal = WorkCalendar()
    city = simulate_city(seed=5, servers=600, at=AT, calendar=cal)
    s = Settings.model_validate({"sizing": {"flavors": [f.model_dump() for f in DEMO_FLAVORS]}})
    ev = evaluate(city.servers, city.grid, AT, s, cal)
    kinds = defaultdict(set)
    for f in ev.findings:
        kinds[f.server_id].add((f.kind.value, f.dimension.value if f.dimension else None))
    by_type = defaultdict(list)
    for sid, t in city.archetype.items():
        by_type[t].append(kinds[sid])
    assert all(k == {("release", None)} for k in by_type["idle"])
    assert all(k == {("undeployed", None)} for k in by_type["undeployed"])
    assert all(k == {("insufficient_data", None)} for k in by_type["outage"])
    assert all(k == {("insufficient_data", None)} for k in by_type["new"])  # 3 days of data
    # Nightly batch peaks: memory is never shrunk, though its plain p95 is low.
    assert by_type["batch"] and not any(("shrink", "memory") in k for k in by_type["batch"])
    assert all(("expand", "cpu") in k for k in by_type["hot"])
    assert all(("expand", "disk") in k for k in by_type["filling"])
    # The fleet-wide six-hour outage leaves every other server judged, none idle by it.
    assert not any(("insufficient_data", None) in k for k in by_type["office"] + by_type["oversized"])
    assert not any(("release", None) in k for k in by_type["office"])


def test_sample_store_round_trip(tmp_path):
    city = simulate_city(seed=2, servers=50, at=AT)
    store = SampleStore(tmp_path)
    store.write(city.grid, "a")
    ids = [s.server_id for s in city.servers]
    same = store.read(ids, city.grid.start, city.grid.step, city.grid.slots)
    assert (same.cpu == city.grid.cpu).sum() == (~__import__("numpy").isnan(city.grid.cpu)).sum()
    # A shifted, reordered, partial read assembles the same values.
    sub = store.read(ids[::-1][:10], city.grid.start + 3600, city.grid.step, 100)
    import numpy as np
    np.testing.assert_array_equal(sub.mem, city.grid.mem[::-1][:10, 12:112])


def test_demo_command(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--servers", "300"]) == 0
    text = capsys.readouterr().out
    assert "total monthly waste:" in text and "合计" in text and "市" in text
    con = sqlite3.connect(out / "rightsizer.db")
    assert con.execute("select count(*) from servers").fetchone()[0] == 300
    n = con.execute("select count(*) from findings").fetchone()[0]
    assert n > 0
    # notices: one per department with actionable findings, one shown in full, all delivered to the file
    notices = con.execute("select count(*), count(distinct department) from notices").fetchone()
    assert notices[0] == notices[1] > 0
    assert "平大数据调〔2026〕1号" in text and "整改通知" in text and "请于2026年12月4日前完成整改" in text
    assert (out / "notices.txt").read_text(encoding="utf-8").count("平大数据调〔2026〕") >= notices[0]
    assert con.execute("select count(*) from deliveries where status != 'sent'").fetchone()[0] == 0
    # The month before, lived day by day in its own store, and finance's report of it, whose totals are the
    # store's own: every October evaluation day, money that adds up, savings from the servers given back.
    assert "2026年10月 lived day by day (31 daily evaluations" in text
    month = sqlite3.connect(out / "month" / "rightsizer.db")
    assert month.execute("select count(distinct substr(at, 1, 10)) from runs").fetchone()[0] == 31
    wb = openpyxl.load_workbook(out / "2026-10-云资源浪费报告.xlsx", data_only=True)
    rows = list(wb["汇总"].iter_rows(values_only=True))
    head, body, total = rows[0], rows[1:-1], rows[-1]
    assert total[0] == "合计" and len(body) == len({r[0] for r in body}) > 5
    for col in ("本月浪费（元）", "本月费用（元）", "本月已实现节约（元）"):
        j = head.index(col)
        assert total[j] == pytest.approx(sum(r[j] for r in body)) and total[j] > 0, col
    # no compulsory item costs money, in either store, in the notices or in finance's report (issue 23.5)
    for db in (con, month):
        savings = db.execute("select kind, monthly_saving_cny from findings").fetchall()
        assert [k for k, v in savings if k in ("shrink", "release", "undeployed") and Decimal(v) < 0] == []
        assert any(k == "expand" and Decimal(v) < 0 for k, v in savings)  # advice does cost: its own money
    for txt in (out / "notices.txt", out / "month" / "notices.txt"):
        notice_text = txt.read_text(encoding="utf-8")
        assert "预计每月节约" in notice_text and "预计每月节约：-" not in notice_text
    servers_sheet = list(wb["服务器明细"].iter_rows(values_only=True))
    j = servers_sheet[0].index("本月浪费（元）")
    waste = [r[j] for r in servers_sheet[1:] if r[j] != "—"]  # "—": a server not monitored this month
    assert waste and all(isinstance(w, (int, float)) and w >= 0 for w in waste)
    assert (out / "2026-10-云资源浪费报告.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert "<svg" in (out / "2026-10-云资源浪费报告.html").read_text(encoding="utf-8")
    # Running the demo again does not duplicate anything, and sends nothing new.
    assert main(["demo", "--out", str(out), "--servers", "300"]) == 0
    assert con.execute("select count(*) from findings").fetchone()[0] == n
    assert con.execute("select count(*) from runs").fetchone()[0] == 1
    assert con.execute("select count(*) from notices").fetchone()[0] == notices[0]
    assert "0 rectification notices (整改通知) issued" in capsys.readouterr().out


def test_demo_daemon_runs_the_daemon_and_shows_the_notices_it_sent(tmp_path, capfd):
    from rightsizer import demo

    assert demo.run_daemon(tmp_path / "d", 12, servers=60, seed=4, listen="127.0.0.1:0") == 0
    out, err = capfd.readouterr()
    assert "INFO ready:" in err and re.search(r"INFO job=deliver notice=平大数据调〔\d{4}〕1号 notice sent via console", err)
    assert "[console] to: console" in out  # the notices going out, printed by the console notifier
    assert re.search(r"job runs: .*deliver ok \d+", out) and "平大数据调" in out.split("job runs:")[0][-2000:]


def test_demo_web_serves_the_month_with_a_login_per_role(tmp_path):
    """`make demo-web`: the demo, then the console on the month's store until interrupted."""
    import re
    import signal
    import subprocess
    import sys
    import time
    import urllib.parse
    import urllib.request
    from http.cookiejar import CookieJar

    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent / "integration"))
    from servers import free_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "rightsizer.cli", "demo", "--out", str(tmp_path / "d"),
                             "--servers", "80", "--web", f"127.0.0.1:{port}"], stdout=subprocess.PIPE, text=True)
    try:
        lines, deadline = [], time.monotonic() + 240
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if line.strip().startswith("department dept /"):
                break
        text = "".join(lines)
        assert f"the console: http://127.0.0.1:{port}/" in text and "centre / rightsizer-demo" in text
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        for _ in range(100):
            try:
                page = opener.open(f"http://127.0.0.1:{port}/login", timeout=5).read().decode()
                break
            except OSError:
                time.sleep(0.1)
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        form = urllib.parse.urlencode({"name": "finance", "password": "rightsizer-demo", "csrf": csrf, "next": "/"})
        home = opener.open(f"http://127.0.0.1:{port}/login", data=form.encode(), timeout=30).read().decode()
        assert "总览" in home and "2026年10月" in home and "财政局 finance" in home
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    assert proc.returncode == 0
