"""The reports' tables as finance reads them: Chinese column names and each column's kind.

One list per table, shared by the xlsx, CSV and HTML writers, so the three never disagree.
A kind is ``money`` (CNY, ¥ with two decimals), ``pct`` (a share, shown as a percentage),
``int``, ``num`` or ``text``.
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd

from ..lifecycle import NoticeState

from .evaluation import EvaluationReport
from .monthly import MonthlyReport

Column = tuple[str, str, str]  # key, header, kind

SUMMARY: list[Column] = [
    ("department", "部门", "text"), ("servers", "服务器（台）", "int"), ("vcpus", "vCPU（核）", "int"),
    ("ram_gib", "内存（GiB）", "num"), ("disk_gib", "硬盘（GiB）", "num"),
    ("cost", "本月费用（元）", "money"), ("waste", "本月浪费（元）", "money"), ("waste_share", "浪费占比", "pct"),
    ("run_rate", "月末浪费速率（元/月）", "money"), ("waste_prev", "上月浪费（元）", "money"),
    ("waste_change", "环比变化（元）", "money"), ("realised", "本月已实现节约（元）", "money"),
    ("realised_ytd", "本年已实现节约（元）", "money"), ("unregistered_servers", "未备案服务器（台）", "int"),
    ("unregistered_run_rate", "未备案月费用（元）", "money"), ("insufficient_at_end", "数据不足（台）", "int"),
    ("issued", "下发通知", "int"), ("closed_in_time", "按期整改", "int"), ("overdue", NoticeState.OVERDUE.label, "int"),
    ("escalated", NoticeState.ESCALATED.label, "int"), ("open_at_end", "月末未结", "int"),
]
SERVERS: list[Column] = [
    ("department", "部门", "text"), ("system", "系统", "text"), ("name", "服务器", "text"),
    ("server_id", "服务器ID", "text"), ("vcpus", "vCPU（核）", "int"), ("ram_gib", "内存（GiB）", "num"),
    ("disk_gib", "硬盘（GiB）", "num"), ("present_days", "本月在网天数", "int"),
    ("monitored_days", "本月监测天数", "int"), ("cost", "本月费用（元）", "money"),
    ("waste", "本月浪费（元）", "money"), ("run_rate", "月末浪费速率（元/月）", "money"),
    ("realised", "本月已实现节约（元）", "money"), ("unregistered", "未备案本月计（元）", "money"),
    ("insufficient_days", "数据不足天数", "int"), ("kinds_at_end", "月末发现", "text"),
]
SYSTEMS: list[Column] = [
    ("department", "部门", "text"), ("system", "系统", "text"), ("servers", "服务器（台）", "int"),
    ("cost", "本月费用（元）", "money"), ("waste", "本月浪费（元）", "money"),
    ("run_rate", "月末浪费速率（元/月）", "money"), ("realised", "本月已实现节约（元）", "money"),
]
UNREGISTERED: list[Column] = [
    ("department", "部门", "text"), ("system", "登记的系统", "text"), ("name", "服务器", "text"),
    ("server_id", "服务器ID", "text"), ("vcpus", "vCPU（核）", "int"), ("ram_gib", "内存（GiB）", "num"),
    ("disk_gib", "硬盘（GiB）", "num"), ("unregistered_run_rate", "月费用（元）", "money"),
    ("unregistered", "本月计（元）", "money"),
]
TREND: list[Column] = [
    ("label", "月份", "text"), ("cost", "费用（元）", "money"), ("waste", "浪费（元）", "money"),
    ("realised", "已实现节约（元）", "money"), ("run_rate", "月末浪费速率（元/月）", "money"),
]
EVALUATION: list[Column] = [
    ("department", "部门", "text"), ("servers", "服务器（台）", "int"), ("monitored_days", "监测天数（台·天）", "int"),
    ("cost", "期间费用（元）", "money"), ("waste", "期间浪费（元）", "money"), ("waste_rate", "平均浪费率", "pct"), ("issued", "收到通知", "int"),
    ("closed_in_time", "按期整改", "int"), ("in_time_share", "按期整改率", "pct"), ("overdue", NoticeState.OVERDUE.label, "int"),
    ("escalated", NoticeState.ESCALATED.label, "int"), ("unregistered_systems", "未备案系统", "int"),
    ("realised", "已实现节约（元）", "money"), ("points_waste_rate", "浪费率得分", "num"),
    ("points_rectified_in_time", "按期整改得分", "num"), ("points_overdue", "逾期得分", "num"),
    ("points_unregistered", "未备案得分", "num"), ("score", "总分", "num"), ("grade", "等级", "text"),
]


def _share(part: Decimal | None, whole: Decimal | None) -> float | None:
    return None if not whole or part is None else float(part / whole)


def _change(now: Decimal | None, before: Decimal | None) -> Decimal | None:
    return None if now is None or before is None else now - before


def summary_rows(r: MonthlyReport) -> pd.DataFrame:
    d = r.departments.reset_index()
    d["waste_share"] = [_share(w, c) for w, c in zip(d["waste"], d["cost"])]
    d["waste_change"] = [_change(w, p) for w, p in zip(d["waste"], d["waste_prev"])]
    return d


def totals_row(r: MonthlyReport) -> dict:
    t = dict(r.totals, department="合计")
    t["waste_share"] = _share(t["waste"], t["cost"])
    t["waste_change"] = _change(t["waste"], t["waste_prev"])
    return t


def server_rows(r: MonthlyReport) -> pd.DataFrame:
    return r.servers.reset_index()


def unregistered_rows(r: MonthlyReport) -> pd.DataFrame:
    return r.unregistered.reset_index()


def evaluation_rows(e: EvaluationReport) -> pd.DataFrame:
    return e.rows.reset_index() if len(e.rows) else pd.DataFrame(columns=[k for k, _, _ in EVALUATION])


def cell(value, kind: str):
    """A value as it goes into a spreadsheet cell: numbers stay numbers."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    if kind == "money":
        return float(value)
    if kind == "int":
        return int(value)
    if kind in ("num", "pct"):
        return float(value)
    return str(value)


MISSING = "—"  # an amount or a share that is not known (no monitored day): never shown as 0


def text(value, kind: str) -> str:
    """A value as CSV and HTML show it: money with two decimals, a share as a percentage; an unknown amount
    or share "—"."""
    if value is None or (isinstance(value, float) and value != value):
        return MISSING if kind in ("money", "pct") else ""
    if kind == "money":
        return f"{Decimal(value):.2f}"
    if kind == "pct":
        return f"{float(value) * 100:.2f}%"
    if kind == "num":
        return f"{float(value):g}"
    return str(value)
