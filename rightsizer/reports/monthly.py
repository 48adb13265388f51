"""The monthly waste report (月度资源浪费报告) for finance: a view model, rendered by :mod:`.writers`.

Built from the recorded history (:func:`.history.load`), never from a single run: per
department the servers, rented resources and their cost, the waste in the month and the
run rate at its end, waste as a share of cost, notices, realised savings (month and year to
date), the change against the previous month; 未备案 servers and their cost; per-server
detail and per-system subtotals; a 12-month trend; and the notes that state each formula,
the prices and the data coverage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import numpy as np
import pandas as pd

from ..settings import PriceSettings
from .history import History
from .money import MONEY, NOTICE_COUNTS, Month, notices_month, servers_month

ZERO = Decimal("0.00")


@dataclass
class MonthlyReport:
    month: Month
    as_of: datetime
    department: str | None  # the one department asked for, or None for the city
    departments: pd.DataFrame  # one row per department (index): see DEPT_COLUMNS
    servers: pd.DataFrame  # per-server detail
    systems: pd.DataFrame  # per (department, system) subtotals
    unregistered: pd.DataFrame  # unregistered servers
    trend: pd.DataFrame  # the last 12 months: month, cost, waste, realised, run_rate
    trend_by_department: pd.DataFrame  # the same per department (month, label, department, …)
    totals: dict
    coverage: dict
    prices: PriceSettings
    notes: list[tuple[str, str]] = field(default_factory=list)

    def to_json(self) -> dict:
        """For systems that pull: money as decimal strings."""
        def dept(name, r) -> dict:
            def m(v):
                return None if v is None else str(v)

            change = None if r["waste"] is None or r["waste_prev"] is None else str(r["waste"] - r["waste_prev"])
            return {"department": name, "servers": int(r["servers"]),
                    "vcpus": int(r["vcpus"]), "ram_gib": float(r["ram_gib"]), "disk_gib": float(r["disk_gib"]),
                    "monthly_cost_cny": m(r["cost"]), "waste_cny": m(r["waste"]),
                    "run_rate_cny": m(r["run_rate"]), "waste_share": _share(r["waste"], r["cost"]),
                    "realised_cny": str(r["realised"]), "realised_ytd_cny": str(r["realised_ytd"]),
                    "unregistered_servers": int(r["unregistered_servers"]),
                    "unregistered_cny": str(r["unregistered_run_rate"]),
                    "unregistered_in_month_cny": str(r["unregistered"]),
                    "waste_previous_month_cny": m(r["waste_prev"]),
                    "waste_change_cny": change,
                    "insufficient_data_servers": int(r["insufficient_at_end"]),
                    "notices": {k: int(r[k]) for k in NOTICE_COUNTS}}

        t = self.totals
        return {"month": str(self.month), "as_of": self.as_of.isoformat(timespec="seconds"),
                "department": self.department,
                "departments": [dept(name, r) for name, r in self.departments.iterrows()],
                "totals": dept(None, t) | {"department": None},
                "coverage": self.coverage,
                "prices": {"cny_per_vcpu_month": str(self.prices.cny_per_vcpu_month),
                           "cny_per_ram_gib_month": str(self.prices.cny_per_ram_gib_month),
                           "cny_per_disk_gib_month": str(self.prices.cny_per_disk_gib_month)}}


def _share(part: Decimal | None, whole: Decimal | None) -> float | None:
    return None if not whole or part is None else float(round(part / whole, 4))


SUMMED = ("servers", "vcpus", "ram_gib", "disk_gib", *MONEY, "realised_ytd", "waste_prev", "unregistered_servers",
          "insufficient_at_end", "insufficient_all_month", *NOTICE_COUNTS)


def _by_department(srv: pd.DataFrame, notices: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    at_end = srv[srv["present_at_end"]]
    g = srv.groupby("department")
    out = pd.DataFrame(index=pd.Index(sorted(names), name="department"))
    out["servers"] = at_end.groupby("department").size()
    for col in ("vcpus", "ram_gib", "disk_gib"):
        out[col] = at_end.groupby("department")[col].sum()
    for col in (*MONEY, "realised_ytd", "waste_prev"):
        out[col] = g[col].sum() if len(srv) else None
        out[col] = [v if isinstance(v, Decimal) else ZERO for v in out[col]]
    out["unregistered_servers"] = (srv["unregistered_run_rate"] > 0).groupby(srv["department"]).sum()
    out["insufficient_at_end"] = srv["insufficient_at_end"].groupby(srv["department"]).sum()
    out["insufficient_all_month"] = ((srv["insufficient_days"] >= srv["present_days"]) & (srv["present_days"] > 0)
                                     ).groupby(srv["department"]).sum()
    out = out.join(notices, how="left")
    for col in out.columns:
        if col not in (*MONEY, "realised_ytd", "waste_prev"):
            out[col] = out[col].fillna(0)
    out[["servers", "vcpus", "unregistered_servers", "insufficient_at_end", "insufficient_all_month",
         *NOTICE_COUNTS]] = out[["servers", "vcpus", "unregistered_servers", "insufficient_at_end",
                                 "insufficient_all_month", *NOTICE_COUNTS]].astype(int)
    return out


def build(h: History, month: Month, now: datetime, prices: PriceSettings, department: str | None = None
          ) -> MonthlyReport:
    """The report of ``month`` as of ``now`` (a month still running is counted up to today)."""
    today = int(np.datetime64(now.astimezone(h.tz).date(), "D").astype(np.int64))
    cut = min(month.end, today + 1)
    months = [month.shift(k) for k in range(-11, 1)]
    per_month = {m: servers_month(h, m, cut) for m in months}  # the trend's months hold the year's too
    srv = per_month[month].copy()
    srv["waste_prev"] = [per_month[month.shift(-1)]["waste"].get(sid, ZERO) for sid in srv.index]
    ytd = {sid: r for sid, r in srv["realised"].items()}
    for k in range(1, month.month):
        for sid, v in per_month[Month(month.year, k)]["realised"].items():
            if sid in ytd:
                ytd[sid] += v
    srv["realised_ytd"] = [ytd[sid] for sid in srv.index]
    notices = notices_month(h, month, cut)
    names = sorted(set(srv["department"]) | set(notices.index))
    if department is not None:
        srv, names = srv[srv["department"] == department], [department]
        notices = notices[notices.index == department]
    depts = _by_department(srv, notices, names)
    _unknown(depts, srv, per_month[month.shift(-1)])
    totals = {c: (_total(depts[c]) if c in (*MONEY, "realised_ytd", "waste_prev") else depts[c].sum())
              for c in SUMMED}
    if any((p is None) != (n is None) for p, n in zip(depts["waste_prev"], depts["waste"])):
        totals["waste_prev"] = None  # not the same departments both months: the city's 环比 would not compare
    eval_days = [int(d) for d in h.eval_days if month.first <= d < cut]
    coverage = {"days_in_month": month.days, "days_counted": max(0, cut - month.first),
                "days_with_evaluation": len(eval_days),
                "first_evaluation": _date(eval_days[0]) if eval_days else None,
                "last_evaluation": _date(eval_days[-1]) if eval_days else None,
                "servers_insufficient_data_at_end": int(totals["insufficient_at_end"]),
                "servers_insufficient_data_all_month": int(totals["insufficient_all_month"])}
    systems = _systems(srv)
    srv = _unknown_rows(srv)
    report = MonthlyReport(month, now, department, depts, srv, systems, _unregistered(h, srv),
                           _trend(per_month, department), _trend_by_department(per_month, department), totals,
                           coverage, prices)
    report.notes = notes(report)
    return report


UNKNOWN_NOW = ("cost", "waste", "run_rate")  # what a department without a monitored day does not have


def _unknown(depts: pd.DataFrame, srv: pd.DataFrame, prev: pd.DataFrame) -> None:
    """Missing is never zero: a department none of whose servers was monitored this month has no cost, waste or
    run rate for it (``None``, shown "—"); one not monitored the month before has no 上月浪费."""
    now = srv.groupby("department")["monitored_days"].sum()
    before = prev.groupby("department")["monitored_days"].sum()
    for d in depts.index:
        if not now.get(d, 0):
            for c in UNKNOWN_NOW:
                depts.at[d, c] = None
        if not before.get(d, 0):
            depts.at[d, "waste_prev"] = None


def _total(values) -> Decimal | None:
    known = [v for v in values if v is not None]
    return sum(known, ZERO) if known else None


def month_to_date(h: History, now: datetime) -> dict[str, dict[str, Decimal]]:
    """department -> waste, run_rate, realised and unregistered_run_rate of the month of ``now`` so far: the
    figures ``/metrics`` exports, by the same computation as :func:`build` (one month, no trend)."""
    today = int(np.datetime64(now.astimezone(h.tz).date(), "D").astype(np.int64))
    month = Month.of(now.astimezone(h.tz).date())
    srv = servers_month(h, month, today + 1)
    keys = ("waste", "run_rate", "realised", "unregistered_run_rate")
    return {d: {k: sum(g[k], ZERO) for k in keys if k != "waste" or g["monitored_days"].sum()}
            for d, g in srv.groupby("department")}  # a department not monitored this month: no waste series


def _date(day: int) -> str:
    return str(np.datetime64(day, "D"))


def _systems(srv: pd.DataFrame) -> pd.DataFrame:
    g = srv.groupby(["department", "system"])
    out = g.size().to_frame("servers")
    for col in ("cost", "waste", "run_rate", "realised", "monitored_days"):
        out[col] = g[col].sum()
    return _unknown_rows(out.reset_index())


def _unknown_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows (servers, systems) without a monitored day in the month: cost, waste and run rate unknown."""
    out = frame.copy()
    blind = (out["monitored_days"] == 0).to_numpy()
    for c in UNKNOWN_NOW:
        out[c] = [None if b else v for b, v in zip(blind, out[c])]
    return out


def _unregistered(h: History, srv: pd.DataFrame) -> pd.DataFrame:
    u = srv[srv["unregistered"] + srv["unregistered_run_rate"] > 0]
    return u[["name", "department", "system", "vcpus", "ram_gib", "disk_gib", "unregistered_run_rate",
              "unregistered"]]


def _sums(s: pd.DataFrame) -> dict:
    """A trend point: the month's sums; cost, waste and run rate ``None`` (no point) without a monitored day."""
    seen = bool(s["monitored_days"].sum()) if len(s) else False
    return {c: sum(s[c], ZERO) if seen or c == "realised" else None for c in ("cost", "waste", "realised", "run_rate")}


def _trend(per_month: dict[Month, pd.DataFrame], department: str | None) -> pd.DataFrame:
    rows = []
    for m, s in per_month.items():
        if department is not None:
            s = s[s["department"] == department]
        rows.append({"month": str(m), "label": m.label(), **_sums(s)})
    return pd.DataFrame(rows)


def _trend_by_department(per_month: dict[Month, pd.DataFrame], department: str | None) -> pd.DataFrame:
    rows = []
    for m, s in per_month.items():
        if department is not None:
            s = s[s["department"] == department]
        for d, g in s.groupby("department"):
            rows.append({"month": str(m), "label": m.label(), "department": d, **_sums(g)})
    return pd.DataFrame(rows, columns=["month", "label", "department", "cost", "waste", "realised", "run_rate"])


def for_department(r: MonthlyReport, department: str) -> tuple[pd.DataFrame, dict, pd.DataFrame]:
    """One department's rows, totals and trend out of the city's report (what its console overview shows)."""
    rows = r.departments.loc[r.departments.index == department]
    totals = {c: rows[c].iloc[0] if len(rows) else (ZERO if c in (*MONEY, "realised_ytd", "waste_prev") else 0)
              for c in SUMMED}
    t = r.trend_by_department
    mine = t[t["department"] == department].set_index("month")
    trend = r.trend[["month", "label"]].copy()
    for c in ("cost", "waste", "realised", "run_rate"):
        trend[c] = [mine[c].get(m, ZERO if c == "realised" else None) for m in trend["month"]]
    return rows, totals, trend


def notes(r: MonthlyReport) -> list[tuple[str, str]]:
    """What the notes sheet says: each formula, the prices and the data coverage."""
    p, c = r.prices, r.coverage
    return [
        ("报告月份", r.month.label() + (f"（截至 {r.as_of:%Y-%m-%d %H:%M}，尚未结束）"
                                     if c["days_counted"] < c["days_in_month"] else "")),
        ("范围", r.department or "全部使用部门"),
        ("合同单价", f"vCPU {p.cny_per_vcpu_month} 元/核·月；内存 {p.cny_per_ram_gib_month} 元/GiB·月；"
                  f"硬盘 {p.cny_per_disk_gib_month} 元/GiB·月"),
        ("本月费用", "每台服务器各规格的月单价 × 本月持有该规格且在监测期内的天数 ÷ 本月天数（变更规格按变更日拆分）"),
        ("本月浪费", "每项须整改的发现（核减、释放、逾期未部署）的月节约额 × 本月处于未整改状态且未获豁免的天数 ÷ 本月天数；"
                 "发现从首次评估发现之日起计，至评估不再发现、核验整改或服务器下线之日止"),
        ("月末浪费速率", "本月最后一天仍未整改的须整改发现的月节约额合计（下月若不整改将继续发生的浪费）"),
        ("浪费占比", "本月浪费 ÷ 本月费用"),
        ("已实现节约", "每项经核验的整改的月节约额 × 本月自清单核实变更之日起的天数 ÷ 本月天数；年度累计为本年各月之和"),
        ("未备案", "未对应备案系统的服务器的月费用（月末仍未备案者）；本月计 = 月费用 × 本月未备案天数 ÷ 本月天数"),
        ("数据覆盖", f"本月 {c['days_in_month']} 天，计入 {c['days_counted']} 天，其中 {c['days_with_evaluation']} 天有评估"
                 + (f"（{c['first_evaluation']} 至 {c['last_evaluation']}）" if c["first_evaluation"] else
                    "：本月没有任何评估记录，费用、浪费与月末浪费速率无法计算，以“—”表示（不是 0，也不按全月浪费计）")),
        ("监测期", "只计监测期内的天数：服务器自首次评估之日起计入费用与浪费，没有任何评估的月份不计；"
                "尚未监测的部门、系统或服务器，其费用、浪费与浪费速率以“—”表示，不计入合计；上月未监测时“上月浪费”“环比变化”为“—”"),
        ("数据不足", f"月末数据不足的服务器 {c['servers_insufficient_data_at_end']} 台，全月数据不足 "
                 f"{c['servers_insufficient_data_all_month']} 台：数据不足从不视为闲置，不计浪费"),
        ("两次评估之间", "发现保持上一次评估的状态"),
        ("取整", "每台服务器的金额四舍五入到分；小计、合计均为各行取整后之和，各表可逐项核对"),
        ("与上月比较", "本月浪费 − 上月浪费（按同样方法计算）"),
    ]
