"""The monthly report and the evaluation export, from six weeks of a small city replayed
through the CLI (issue 13).

2026-09-24 to 2026-11-02, every morning: `evaluate` (CSV inventory and hourly samples, a
catalogue of registered systems), `sweep`, `deliver` (console), with `--now`. October is
the month reported; it holds the National Day holiday.

* 市教育和体育局 — ``edu-big`` oversized, resized on 10-16 (after its deadline): waste 10-01..10-15,
  realised saving from 10-16; ``edu-nodata`` sends no samples at all: insufficient data all
  month, never waste; ``edu-rogue`` belongs to no registered system: 未备案.
* 市档案馆 — ``arch-idle`` unused, removed on 10-12 (in time): waste 10-01..10-11, the whole cost
  realised from 10-12; ``arch-exempt`` oversized, exempted until 10-20: waste 10-21..10-31.
* 市卫生健康局 — ``health-lazy`` oversized and nothing done: waste all month, overdue;
  ``health-hot`` overloaded: expansion advice, never waste.

Every total is checked against an independent computation over the store in this file
(sqlite3 and ``datetime``, no code of the reports package), and the prorated amounts of
``edu-big`` and ``arch-idle`` by hand.
"""
from __future__ import annotations

import csv
import io
import json
import sqlite3
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from rightsizer.cli import main

TZ = ZoneInfo("Asia/Shanghai")
START, END = date(2026, 9, 24), date(2026, 11, 2)
EDU, ARCH, HEALTH = "市教育和体育局", "市档案馆", "市卫生健康局"
OLD = "2025-03-01T00:00:00+08:00"
OCT = [date(2026, 10, 1) + timedelta(days=i) for i in range(31)]
PRICE = {"vcpus": Decimal(60), "ram": Decimal(30), "disk": Decimal("0.5")}


def servers_on(day: date):
    out = [("edu-big", EDU, "智慧教育平台", *((4, 16, 200) if day >= date(2026, 10, 16) else (16, 64, 500))),
           ("edu-nodata", EDU, "教育资源库", 8, 32, 200),
           ("edu-rogue", EDU, "私建系统", 4, 8, 100),
           ("health-lazy", HEALTH, "卫生信息平台", 16, 64, 500),
           ("health-hot", HEALTH, "预约挂号", 4, 8, 200),
           ("arch-exempt", ARCH, "档案管理", 8, 32, 200)]
    if day < date(2026, 10, 12):
        out.append(("arch-idle", ARCH, "旧门户", 4, 8, 100))
    return out


def usage(sid: str, vcpus: int):
    if sid == "edu-big":
        return (35, 45, 50) if vcpus == 4 else (8, 15, 20)
    return {"health-lazy": (8, 15, 20), "health-hot": (90, 85, 60), "arch-exempt": (10, 15, 30),
            "arch-idle": (1, 8, 20), "edu-rogue": (40, 50, 60)}.get(sid)


def write_day(d, day: date, at: datetime):
    inv, smp = d / "inv.csv", d / "samples.csv"
    rows = servers_on(day)
    with inv.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["server_id", "name", "department", "system", "vcpus", "ram_gib", "disk_gib", "delivered_at"])
        for sid, dept, system, v, r, k in rows:
            w.writerow([sid, sid, dept, system, v, r, k, OLD])
    end = int(at.timestamp())
    with smp.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["server_id", "timestamp", "cpu_pct", "mem_pct", "disk_pct"])
        for sid, _, _, v, _, _ in rows:
            u = usage(sid, v)
            if u is None:
                continue  # edu-nodata: no agent, no data
            for h in range(14 * 24, 0, -1):
                w.writerow([sid, end - h * 3600, f"{u[0] + (h % 5) * 0.1:.1f}", f"{u[1] + (h % 3) * 0.1:.1f}",
                            f"{u[2]:.1f}"])
    return inv, smp


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    d = tmp_path_factory.mktemp("city")
    cfg = d / "rs.toml"
    cfg.write_text("[window]\ndays = 14\nstep_seconds = 3600\nmin_days_of_data = 7\n"
                   "[[notifiers]]\nname = \"console\"\ntype = \"console\"\n"
                   + "".join(f'[departments."{x}"]\nchannels = ["console"]\n' for x in (EDU, ARCH, HEALTH)),
                   encoding="utf-8")
    cat = d / "systems.csv"
    cat.write_text("system_id,name,department,filing_no\n" + "".join(
        f"S{i},{name},{dept},平备〔2025〕{i:03d}号\n" for i, (name, dept) in enumerate([
            ("智慧教育平台", EDU), ("教育资源库", EDU), ("卫生信息平台", HEALTH), ("预约挂号", HEALTH),
            ("档案管理", ARCH), ("旧门户", ARCH)], 1)), encoding="utf-8")
    db = d / "rs.db"
    common = ["--config", str(cfg), "--db", str(db)]
    day = START
    while day <= END:
        at = datetime(day.year, day.month, day.day, 9, tzinfo=TZ)
        inv, smp = write_day(d, day, at)
        assert main(["evaluate", *common, "--inventory", str(inv), "--samples", str(smp), "--catalogue", str(cat),
                     "--at", at.isoformat(), "--format", "json"]) == 0
        if day == START:
            assert main(["notices", "exempt", *common, "--server", "arch-exempt", "--reason", "容灾备机",
                         "--approver", "中心 王五", "--until", "2026-10-20", "--now", at.isoformat()]) == 0
        assert main(["sweep", *common, "--now", at.isoformat()]) == 0
        assert main(["deliver", *common, "--now", (at + timedelta(minutes=5)).isoformat()]) == 0
        day += timedelta(days=1)
    return d, common, db


def report(city, capsysbinary, *extra, fmt="json") -> bytes:
    d, common, _ = city
    capsysbinary.readouterr()
    assert main(["report", "monthly", *common, "--month", "2026-10", "--format", fmt, "--out", "-",
                 "--now", "2026-11-02T10:00:00+08:00", *extra]) == 0
    return capsysbinary.readouterr().out


# -- an independent computation over the store ----------------------------------------------------

def _day(text: str) -> date:
    return datetime.fromisoformat(text).astimezone(TZ).date()


def _fen(x: Decimal) -> Decimal:
    return x.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def independent(db) -> dict[str, dict[str, Decimal]]:
    """department -> waste, realised, run_rate and cost of October, straight from the tables."""
    con = sqlite3.connect(db)
    runs = {i: _day(at) for i, at in con.execute("select id, at from runs")}
    removed = {s: _day(at) for s, at in con.execute(
        "select c.server_id, max(c.at) from inventory_changes c join cloud_servers s using (server_id) "
        "where c.change = 'removed' and not s.present group by c.server_id")}
    rectified = {}
    for fid, closed in con.execute("select finding_id, closed_at from notice_items where status = 'rectified'"):
        rectified[fid] = min(rectified.get(fid, date.max), _day(closed))
    exempt = [(t, _day(c), date.fromisoformat(e)) for t, c, e in
              con.execute("select target, created_at, expires_on from exemptions where scope = 'server'")]
    dept = {s: n for s, n in con.execute(
        "select s.server_id, d.name from servers s join departments d on d.id = s.department_id")}
    out: dict[str, dict[str, Decimal]] = {}
    per_server: dict[tuple[str, str], Decimal] = {}

    def add(what, sid, amount):
        per_server[(what, sid)] = per_server.get((what, sid), Decimal(0)) + amount

    values: dict[int, list[tuple[date, Decimal]]] = {}
    for fid, run, money in con.execute("select finding_id, run_id, monthly_saving_cny from finding_values"):
        values.setdefault(fid, []).append((runs[run], Decimal(money)))

    def saving_on(fid, x, current):  # the saving in force on day x: the latest value set on or before it
        vs = sorted(values.get(fid, []))
        return next((v for when, v in reversed(vs) if when <= x), vs[0][1] if vs else current)

    for fid, sid, kind, status, saving, first, last in con.execute(
            "select id, server_id, kind, status, monthly_saving_cny, first_run_id, last_run_id from findings "
            "where kind in ('shrink', 'release', 'undeployed')"):
        start = runs[first]
        end = min(runs[last] if status == "gone" else date.max, rectified.get(fid, date.max),
                  removed.get(sid, date.max))
        open_days = [x for x in OCT if start <= x < end
                     and not any(t == sid and a <= x <= b for t, a, b in exempt)]
        add("waste", sid, sum((saving_on(fid, x, Decimal(saving)) for x in open_days), Decimal(0)) / 31)
        if start <= OCT[-1] < end and not any(t == sid and a <= OCT[-1] <= b for t, a, b in exempt):
            add("run_rate", sid, saving_on(fid, OCT[-1], Decimal(saving)))
    for sid, closed, saving in con.execute(
            "select server_id, closed_at, realised_saving_cny from notice_items where status = 'rectified'"):
        add("realised", sid, Decimal(saving) * len([x for x in OCT if x >= _day(closed)]) / 31)
    sizes = {}
    for sid, at, old, new in con.execute(
            "select server_id, at, old_size, new_size from inventory_changes where change = 'resized' order by id"):
        sizes.setdefault(sid, []).append((_day(at), old, new))
    for sid, v, r, k in con.execute("select server_id, vcpus, ram_gib, disk_gib from servers"):
        for x in OCT:
            if x >= removed.get(sid, date.max):
                continue
            size = (v, r, k)
            for when, old, new in reversed(sizes.get(sid, [])):
                if x < when:
                    size = tuple(float(p) for p in old.split("/"))
            cost = PRICE["vcpus"] * int(size[0]) + PRICE["ram"] * Decimal(str(size[1])) \
                + PRICE["disk"] * Decimal(str(size[2]))
            add("cost", sid, cost / 31)
    for (what, sid), amount in per_server.items():
        row = out.setdefault(dept[sid], {})
        row[what] = row.get(what, Decimal(0)) + _fen(amount)
    return out


def test_the_totals_equal_an_independent_computation_from_the_store(city, capsysbinary):
    data = json.loads(report(city, capsysbinary))
    mine = independent(city[2])
    assert data["month"] == "2026-10"
    for row in data["departments"]:
        want = mine.get(row["department"], {})
        for what, key in (("waste", "waste_cny"), ("realised", "realised_cny"), ("run_rate", "run_rate_cny"),
                          ("cost", "monthly_cost_cny")):
            assert Decimal(row[key]) == want.get(what, Decimal("0.00")), (row["department"], what)
    for what, key in (("waste", "waste_cny"), ("realised", "realised_cny"), ("cost", "monthly_cost_cny")):
        assert Decimal(data["totals"][key]) == sum((m.get(what, Decimal(0)) for m in mine.values()), Decimal(0))
    assert Decimal(data["totals"]["waste_cny"]) > 0 and Decimal(data["totals"]["realised_cny"]) > 0


def test_a_mid_month_rectification_prorates_both_the_waste_and_the_realised_saving(city, capsysbinary):
    con = sqlite3.connect(city[2])
    saving = sum(Decimal(s) for s, in con.execute(
        "select monthly_saving_cny from findings where server_id = 'edu-big' and kind = 'shrink' "
        "and first_run_id = (select min(first_run_id) from findings where server_id = 'edu-big')"))
    realised = sum(Decimal(s) for s, in con.execute(
        "select realised_saving_cny from notice_items where server_id = 'edu-big' and status = 'rectified'"))
    closed = {c[:10] for c, in con.execute("select closed_at from notice_items where server_id = 'edu-big' "
                                           "and status = 'rectified'")}
    assert closed == {"2026-10-16"}  # the day the inventory saw the resize
    assert saving > 0 and realised > 0
    rows = _xlsx_rows(city, capsysbinary, "服务器明细")
    edu_big = next(r for r in rows if r["服务器ID"] == "edu-big")
    assert edu_big["本月浪费（元）"] == pytest.approx(float(_fen(saving * 15 / 31)))  # 10-01 .. 10-15
    assert edu_big["本月已实现节约（元）"] == pytest.approx(float(_fen(realised * 16 / 31)))  # 10-16 .. 10-31
    idle = next(r for r in rows if r["服务器ID"] == "arch-idle")
    assert idle["本月浪费（元）"] == pytest.approx(float(_fen(Decimal(530) * 11 / 31)))  # 10-01 .. 10-11
    assert idle["本月已实现节约（元）"] == pytest.approx(float(_fen(Decimal(530) * 20 / 31)))  # from 10-12
    cost_big = Decimal(3130) * 15 / 31 + Decimal(820) * 16 / 31  # 16C/64G/500G, then 4C/16G/200G
    assert edu_big["本月费用（元）"] == pytest.approx(float(_fen(cost_big)))
    exempt = next(r for r in rows if r["服务器ID"] == "arch-exempt")
    lazy = next(r for r in rows if r["服务器ID"] == "health-lazy")
    s_exempt, s_lazy = (sum(Decimal(s) for s, in con.execute(
        "select monthly_saving_cny from findings where server_id = ? and kind = 'shrink' and status = 'open'", (sid,)))
        for sid in ("arch-exempt", "health-lazy"))
    assert exempt["本月浪费（元）"] == pytest.approx(float(_fen(s_exempt * 11 / 31)))  # exempt until 10-20
    assert lazy["本月浪费（元）"] == pytest.approx(float(_fen(s_lazy)))  # every day of the month


def test_a_server_with_insufficient_data_all_month_has_no_waste(city, capsysbinary):
    rows = _xlsx_rows(city, capsysbinary, "服务器明细")
    nodata = next(r for r in rows if r["服务器ID"] == "edu-nodata")
    assert nodata["本月浪费（元）"] == 0 and nodata["月末浪费速率（元/月）"] == 0
    assert nodata["数据不足天数"] == 31 and nodata["本月费用（元）"] > 0
    data = json.loads(report(city, capsysbinary))
    edu = next(r for r in data["departments"] if r["department"] == EDU)
    assert edu["insufficient_data_servers"] == 1
    assert data["coverage"]["servers_insufficient_data_all_month"] == 1
    assert data["coverage"]["days_with_evaluation"] == 31


def test_unregistered_servers_and_their_cost_per_department(city, capsysbinary):
    data = json.loads(report(city, capsysbinary))
    edu = next(r for r in data["departments"] if r["department"] == EDU)
    assert edu["unregistered_servers"] == 1 and edu["unregistered_cny"] == "530.00"
    assert all(r["unregistered_cny"] == "0.00" for r in data["departments"] if r["department"] != EDU)
    rows = _xlsx_rows(city, capsysbinary, "未备案")
    assert [(r["服务器ID"], r["登记的系统"], r["月费用（元）"]) for r in rows if r["服务器ID"]] == [
        ("edu-rogue", "私建系统", 530)]


def test_notices_are_counted_per_department_in_the_month(city, capsysbinary):
    data = json.loads(report(city, capsysbinary))
    by = {r["department"]: r["notices"] for r in data["departments"]}
    assert by[ARCH]["closed_in_time"] == 1 and by[ARCH]["overdue"] == 0  # arch-idle gone before its deadline
    assert by[HEALTH]["overdue"] == 1 and by[HEALTH]["escalated"] == 1 and by[HEALTH]["open_at_end"] == 1
    assert by[EDU]["overdue"] == 1  # edu-big resized after its deadline; edu-rogue never registered
    con = sqlite3.connect(city[2])
    overdue = con.execute("select count(distinct notice_id) from notice_events where to_status = 'overdue' "
                          "and substr(at, 1, 7) = '2026-10'").fetchone()[0]
    assert sum(n["overdue"] for n in by.values()) == overdue == data["totals"]["notices"]["overdue"]


def test_one_department_sees_only_its_own_servers_and_the_same_figures(city, capsysbinary):
    whole = json.loads(report(city, capsysbinary))
    mine = json.loads(report(city, capsysbinary, "--department", HEALTH))
    assert [r["department"] for r in mine["departments"]] == [HEALTH]
    assert mine["departments"][0] == next(r for r in whole["departments"] if r["department"] == HEALTH)
    assert mine["totals"]["waste_cny"] == mine["departments"][0]["waste_cny"]


def _xlsx(city, capsysbinary, *extra) -> openpyxl.Workbook:
    d, common, _ = city
    out = d / "report.xlsx"
    assert main(["report", "monthly", *common, "--month", "2026-10", "--format", "xlsx", "--out", str(out),
                 "--now", "2026-11-02T10:00:00+08:00", *extra]) == 0
    return openpyxl.load_workbook(out)


def _xlsx_rows(city, capsysbinary, sheet: str) -> list[dict]:
    ws = _xlsx(city, capsysbinary)[sheet]
    rows = list(ws.iter_rows(values_only=True))
    return [dict(zip(rows[0], r)) for r in rows[1:]]


def test_the_workbook_has_numeric_cells_formats_frozen_headers_totals_and_charts(city, capsysbinary):
    wb = _xlsx(city, capsysbinary)
    assert wb.sheetnames == ["汇总", "趋势", "未备案", "服务器明细", "系统小计", "说明"]
    ws = wb["汇总"]
    head = [c.value for c in ws[1]]
    assert head[:3] == ["部门", "服务器（台）", "vCPU（核）"] and ws.freeze_panes == "B2"
    waste = head.index("本月浪费（元）") + 1
    share = head.index("浪费占比") + 1
    first = ws.cell(2, waste)
    assert isinstance(first.value, float) and "¥" in first.number_format
    assert ws.cell(2, share).number_format == "0.00%"
    last = ws.max_row
    assert ws.cell(last, 1).value == "合计"
    letter = openpyxl.utils.get_column_letter(waste)
    assert ws.cell(last, waste).value == f"=SUM({letter}2:{letter}{last - 1})"
    assert len(ws._charts) == 1 and type(ws._charts[0]).__name__ == "BarChart"
    assert len(wb["趋势"]._charts) == 1 and type(wb["趋势"]._charts[0]).__name__ == "LineChart"
    notes = {r[0]: r[1] for r in wb["说明"].iter_rows(min_row=2, values_only=True)}
    assert "60" in notes["合同单价"] and "31 天有评估" in notes["数据覆盖"] and "不计浪费" in notes["数据不足"]


def test_csv_starts_with_a_bom_and_html_has_the_tables_and_inline_svg(city, capsysbinary):
    raw = report(city, capsysbinary, fmt="csv")
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0][0] == "部门" and rows[-1][0] == "合计" and len(rows) == 5
    page = report(city, capsysbinary, fmt="html").decode()
    assert page.count("<svg") == 2 and "<script" not in page and "http" not in page.replace(
        'xmlns="http://www.w3.org/2000/svg"', "")
    assert "2026年10月" in page and HEALTH in page and "未备案" in page


def test_the_evaluation_export_scores_each_department_by_the_rubric(city, capsysbinary):
    d, common, _ = city
    capsysbinary.readouterr()
    assert main(["report", "evaluation", *common, "--year", "2026", "--quarter", "4", "--format", "csv",
                 "--out", "-", "--now", "2026-11-02T10:00:00+08:00"]) == 0
    raw = capsysbinary.readouterr().out
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = {r["部门"]: r for r in csv.DictReader(io.StringIO(raw.decode("utf-8-sig")))}
    assert set(rows) == {EDU, ARCH, HEALTH}
    # 档案馆: its notice closed in time, nothing overdue, nothing unregistered: every point but the waste rate's
    assert rows[ARCH]["已逾期"] == "0" and rows[ARCH]["按期整改率"] == "100.00%" and rows[ARCH]["未备案系统"] == "0"
    assert float(rows[ARCH]["总分"]) > float(rows[HEALTH]["总分"])
    assert rows[EDU]["未备案系统"] == "1" and float(rows[EDU]["未备案得分"]) < 15
    for r in rows.values():
        parts = sum(float(r[k]) for k in ("浪费率得分", "按期整改得分", "逾期得分", "未备案得分"))
        assert float(r["总分"]) == pytest.approx(parts, abs=0.06)
    out = d / "eval.xlsx"
    assert main(["report", "evaluation", *common, "--year", "2026", "--out", str(out),
                 "--now", "2026-11-02T10:00:00+08:00"]) == 0
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["绩效评价", "评分规则"]


def test_bad_arguments_are_clear_errors(city, capsys):
    d, common, _ = city
    assert main(["report", "monthly", *common, "--month", "2026-13", "--format", "json"]) == 2
    assert "--month: '2026-13' is not a month" in capsys.readouterr().err
    assert main(["report", "monthly", *common, "--month", "2026-10", "--department", "不存在的局"]) == 2
    assert "no department named '不存在的局'" in capsys.readouterr().err
    assert main(["report", "monthly", "--db", str(d / "none.db"), "--month", "2026-10"]) == 2
    assert "no store at" in capsys.readouterr().err and not (d / "none.db").exists()


def test_metrics_export_the_same_figures_as_the_report(city, capsysbinary):
    """/metrics and the report are one computation: this month so far, per department."""
    from prometheus_client import generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    from rightsizer.db import Store
    from rightsizer.daemon.metrics import Metrics
    from rightsizer.settings import load_settings

    d, common, db = city
    now = datetime(2026, 11, 2, 10, tzinfo=TZ)
    metrics = Metrics(Store.open(f"sqlite:///{db}"), lambda: now, load_settings(d / "rs.toml"))
    got = {}
    for fam in text_string_to_metric_families(generate_latest(metrics.registry).decode()):
        for sample in fam.samples:
            if "department" in sample.labels and fam.name.endswith("_cny"):
                got[(fam.name, sample.labels["department"])] = sample.value
    capsysbinary.readouterr()
    assert main(["report", "monthly", *common, "--month", "2026-11", "--format", "json", "--out", "-",
                 "--now", now.isoformat()]) == 0
    data = json.loads(capsysbinary.readouterr().out)
    assert len(data["departments"]) == 3
    for row in data["departments"]:
        dept = row["department"]
        assert got[("rightsizer_monthly_waste_cny", dept)] == float(row["run_rate_cny"])
        assert got[("rightsizer_waste_month_to_date_cny", dept)] == float(row["waste_cny"])
        assert got[("rightsizer_realised_savings_month_to_date_cny", dept)] == float(row["realised_cny"])
        assert got[("rightsizer_unregistered_monthly_cost_cny", dept)] == float(row["unregistered_cny"])
    assert got[("rightsizer_waste_month_to_date_cny", HEALTH)] > 0
    assert got[("rightsizer_realised_savings_month_to_date_cny", ARCH)] > 0


@pytest.mark.parametrize("block, where", [
    ({"evaluation": {"waste_rate_bands": [[0.3, 1.0], [0.1, 0.5]]}}, "evaluation.waste_rate_bands"),
    ({"evaluation": {"overdue_bands": [[0, 1.5]]}}, "evaluation.overdue_bands"),
    ({"evaluation": {"grades": [[90, "优秀"], [60, "合格"]]}}, "evaluation.grades"),
    ({"evaluation": {"weights": {"waste_rate": 0, "rectified_in_time": 0, "overdue": 0, "unregistered": 0}}},
     "evaluation"),
    ({"evaluation": {"weights": {"wastage": 10}}}, "evaluation.weights.wastage"),
    ({"reports": {"channels": ["finance"]}}, "reports.channels: no notifier named 'finance'"),
    ({"reports": {"channels": ["m"]}, "notifiers": [{"name": "m", "type": "email", "host": "h", "sender": "s@x"}]},
     "reports.emails"),
])
def test_a_bad_rubric_or_report_routing_is_a_configuration_error_naming_the_key(block, where):
    from rightsizer.errors import ConfigError
    from rightsizer.settings import parse_settings

    with pytest.raises(ConfigError) as e:
        parse_settings(block)
    assert any(where in line for line in e.value.lines()), e.value.lines()


def test_the_rubric_bands_and_grades():
    from rightsizer.reports.evaluation import band, score
    from rightsizer.settings import EvaluationSettings

    r = EvaluationSettings()
    assert [band(v, r.waste_rate_bands) for v in (0, 0.05, 0.0501, 0.15, 0.3, 0.31)] == [1, 1, 0.6, 0.6, 0.3, 0]
    perfect = {"waste_rate": 0.0, "in_time_share": None, "overdue": 0, "unregistered_systems": 0}
    assert score(perfect, r)[1:] == (100.0, "优秀")
    poor = {"waste_rate": 0.4, "in_time_share": 0.5, "overdue": 5, "unregistered_systems": 4}
    assert score(poor, r)[1:] == (20.0, "不合格")  # 40 × 0.5


def test_a_column_of_times_with_gaps_counts_the_gaps_as_no_time():
    """A revoked exemption beside live ones: the store's rows become a datetime column with NaT, which is no
    time at all — never the smallest day number (it made every live exemption cover no day)."""
    import pandas as pd

    from rightsizer.reports.history import FOREVER, days

    frame = pd.DataFrame.from_records([(datetime(2026, 10, 5, 1, tzinfo=TZ),), (None,)], columns=["revoked_at"])
    got = days(frame["revoked_at"], TZ, FOREVER)
    assert list(got) == [(date(2026, 10, 5) - date(1970, 1, 1)).days, FOREVER]
