"""Only monitored time counts (issue 23, points 7 and 8), through the CLI over a quarter of a city.

The centre starts evaluating on 1 October 2026 (the servers were delivered in 2025); the daemon is down all of
November; 市档案馆's servers join the monitoring on 1 December. Then:

* the year's evaluation of each department equals its fourth quarter's (the months before monitoring add no
  cost): the archive, monitored in December only, has December's waste rate, not a rate diluted by a year of
  unmonitored rent;
* November's report says it has no evaluation — on stderr, in the summary, on the 说明 sheet — and shows "—",
  never 0 and never a month of full waste;
* December's 上月浪费 and 环比 are "—"; the trend has no value for November or for the months before October,
  in the workbook (blank cells, a gap in the line) and on the page;
* in October the archive (not yet monitored) has "—" for its cost and waste, and the city's total is the
  monitored departments' sum.
"""
from __future__ import annotations

import csv
import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

import numpy as np
import openpyxl
import pytest

from rightsizer.cli import main

from helpers import days

TZ = ZoneInfo("Asia/Shanghai")
HEAD = "server_id,name,department,system,vcpus,ram_gib,disk_gib,delivered_at"
SERVERS = [  # id, department, system, size, (cpu, mem, disk) %
    ("idle-1", "市教育和体育局", "旧网站", (4, 8, 100), (1, 8, 20)),
    ("big-1", "市教育和体育局", "审批库", (16, 64, 500), (10, 20, 30)),
    ("ok-1", "市教育和体育局", "办公系统", (4, 8, 100), (45, 50, 60)),
    ("arch-1", "市档案馆", "档案库", (8, 32, 200), (1, 6, 20)),
    ("arch-2", "市档案馆", "影像库", (8, 16, 300), (40, 55, 60)),
]


@pytest.fixture(scope="module")
def quarter(tmp_path_factory):
    d = tmp_path_factory.mktemp("quarter")
    samples = d / "samples.csv"
    rng = np.random.default_rng(11)
    start = int(datetime(2026, 8, 25, tzinfo=TZ).timestamp())
    end = int(datetime(2027, 1, 1, 6, tzinfo=TZ).timestamp())
    with samples.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["server_id", "timestamp", "cpu_pct", "mem_pct", "disk_pct"])
        for sid, _, _, _, (cpu, mem, disk) in SERVERS:
            for t in range(start, end, 3600):
                w.writerow([sid, t, f"{cpu + rng.uniform(0, 1):.2f}", f"{mem + rng.uniform(0, 1):.2f}", disk])
    db, cfg = d / "rs.db", d / "rs.toml"
    cfg.write_text("[window]\nstep_seconds = 3600\n", encoding="utf-8")  # hourly samples, as a TSDB keeps them
    common = ["--db", str(db), "--config", str(cfg)]
    for day in (*days(date(2026, 10, 1), date(2026, 10, 31)), *days(date(2026, 12, 1), date(2026, 12, 31))):
        inv = d / "inv.csv"
        rows = [f"{sid},{sid},{dept},{system},{v},{r},{k},2025-03-01T09:00:00+08:00"
                for sid, dept, system, (v, r, k), _ in SERVERS if dept != "市档案馆" or day.month == 12]
        inv.write_text(HEAD + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
        at = datetime(day.year, day.month, day.day, 6, tzinfo=TZ).isoformat()
        assert main(["evaluate", "--inventory", str(inv), "--samples", str(samples), "--at", at, *common]) == 0
    return d, common


def _evaluation(d, common, capsys, *period) -> dict[str, dict]:
    out = d / f"ev{'-'.join(period)}.xlsx"
    assert main(["report", "evaluation", *common, "--year", "2026", *period, "--out", str(out),
                 "--now", "2027-01-05T09:00:00+08:00"]) == 0
    capsys.readouterr()
    rows = list(openpyxl.load_workbook(out, data_only=True)["绩效评价"].iter_rows(values_only=True))
    return {r[0]: dict(zip(rows[0], r)) for r in rows[1:]}


def test_the_year_of_a_department_monitored_in_q4_is_its_q4(quarter, capsys):
    d, common = quarter
    year, q4 = _evaluation(d, common, capsys), _evaluation(d, common, capsys, "--quarter", "4")
    assert set(year) == set(q4) == {"市教育和体育局", "市档案馆"}
    for dept in year:
        for col in ("期间费用（元）", "期间浪费（元）", "平均浪费率", "总分", "等级", "监测天数（台·天）"):
            assert year[dept][col] == q4[dept][col], (dept, col)
    # the archive: two servers monitored 31 days each; half its money idle in December, not a year's rent
    arch = year["市档案馆"]
    assert arch["监测天数（台·天）"] == 62 and arch["平均浪费率"] > 0.4 and arch["等级"] != "优秀"
    q3 = _evaluation(d, common, capsys, "--quarter", "3")  # nobody was monitored: no score, never full marks
    assert all(r["总分"] is None and r["等级"] == "未监测" and r["期间费用（元）"] == "—" for r in q3.values())


def _monthly(d, common, capsys, month: str, fmt: str = "xlsx"):
    out = d / f"{month}.{fmt}"
    assert main(["report", "monthly", *common, "--month", month, "--format", fmt, "--out", str(out),
                 "--now", "2027-01-05T09:00:00+08:00"]) == 0
    return out, capsys.readouterr()


def _sheet(path, name) -> list[dict]:
    rows = list(openpyxl.load_workbook(path, data_only=True)[name].iter_rows(values_only=True))
    return [dict(zip(rows[0], r)) for r in rows[1:]]


def test_a_month_nobody_evaluated_is_reported_as_such(quarter, capsys):
    d, common = quarter
    out, said = _monthly(d, common, capsys, "2026-11")
    assert "2026年11月没有任何评估记录" in said.err and "2026年11月没有任何评估记录" in said.out
    summary = _sheet(out, "汇总")
    for r in summary:
        assert r["本月费用（元）"] == r["本月浪费（元）"] == r["月末浪费速率（元/月）"] == "—", r
    notes = {r["项目"]: r["说明"] for r in _sheet(out, "说明")}
    assert "本月没有任何评估记录" in notes["数据覆盖"] and "不按全月浪费计" in notes["数据覆盖"]


def test_after_an_unmonitored_month_last_months_waste_and_the_change_are_dashes(quarter, capsys):
    d, common = quarter
    out, _ = _monthly(d, common, capsys, "2026-12")
    for r in _sheet(out, "汇总"):
        assert r["上月浪费（元）"] == "—" and r["环比变化（元）"] == "—", r
        assert isinstance(r["本月浪费（元）"], (int, float)) and r["本月浪费（元）"] > 0
    trend = {r["月份"]: r for r in _sheet(out, "趋势")}
    assert trend["2026年11月"]["浪费（元）"] is None and trend["2026年9月"]["浪费（元）"] is None
    assert trend["2026年10月"]["浪费（元）"] > 0 and trend["2026年12月"]["浪费（元）"] > 0
    page, _ = _monthly(d, common, capsys, "2026-12", "html")
    html = page.read_text(encoding="utf-8")
    row = re.search(r"<tr><td[^>]*>2026年11月</td>(.*?)</tr>", html).group(1)
    cost, waste, realised, run_rate = re.findall(r">([^<]*)</td>", row)
    assert cost == waste == run_rate == "—" and realised == "0.00"  # nothing was rectified: that is known
    # the waste line has a point for October and one for December, nothing in between or before (no ¥0)
    chart = html[html.index('aria-label="近12个月资源浪费与节约（元）"'):]
    chart = chart[:chart.index("</svg>")]
    assert len(re.findall(r'<circle [^>]*fill="#c0392b"', chart)) == 2
    assert not re.findall(r'<polyline [^>]*stroke="#c0392b"', chart)  # two lone months: no line across the gap


def test_a_department_not_yet_monitored_has_dashes_and_stays_out_of_the_total(quarter, capsys):
    d, common = quarter
    out, said = _monthly(d, common, capsys, "2026-10")
    rows = {r["部门"]: r for r in _sheet(out, "汇总")}
    assert rows["市档案馆"]["本月费用（元）"] == "—" and rows["市档案馆"]["本月浪费（元）"] == "—"
    assert rows["合计"]["本月费用（元）"] == pytest.approx(rows["市教育和体育局"]["本月费用（元）"])
    assert "尚未监测的部门 1 个（市档案馆）" in said.err
