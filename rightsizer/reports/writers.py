"""The reports in each format: xlsx (:mod:`.xlsx`), CSV (UTF-8 with BOM, which Excel on Chinese
Windows opens as UTF-8), an email-ready HTML page with inline SVG charts, and JSON.

:func:`monthly` and :func:`evaluation` return bytes; the CLI writes them, the daemon attaches
them to an outbox row.
"""

from __future__ import annotations

import csv
import io
import json
from html import escape

import pandas as pd

from . import columns as C
from . import svg, xlsx
from .evaluation import EvaluationReport
from .monthly import MonthlyReport

MONTHLY_FORMATS = ("xlsx", "csv", "html", "json")
EVALUATION_FORMATS = ("xlsx", "csv")


def monthly(r: MonthlyReport, fmt: str) -> bytes:
    if fmt == "xlsx":
        return xlsx.monthly(r)
    if fmt == "csv":
        return _csv(C.summary_rows(r), C.SUMMARY, C.totals_row(r))
    if fmt == "json":
        return (json.dumps(r.to_json(), ensure_ascii=False, indent=2) + "\n").encode()
    if fmt == "html":
        return html(r).encode()
    raise ValueError(fmt)


def evaluation(e: EvaluationReport, fmt: str) -> bytes:
    if fmt == "xlsx":
        return xlsx.evaluation(e)
    if fmt == "csv":
        return _csv(C.evaluation_rows(e), C.EVALUATION)
    raise ValueError(fmt)


def _csv(frame: pd.DataFrame, cols: list[C.Column], totals: dict | None = None) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([head for _, head, _ in cols])
    rows = list(frame.to_dict("records"))
    if totals is not None:
        rows.append(totals)
    for row in rows:
        w.writerow([_cell(C.text(row.get(key), kind), kind) for key, _, kind in cols])
    return buf.getvalue().encode("utf-8-sig")


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: str, kind: str) -> str:
    """A CSV cell as Excel reads it: a text cell that would start a formula (= + - @, tab, CR — a tenant's name)
    gets a leading apostrophe, as OWASP recommends; numbers, dates and shares stay as they are."""
    return "'" + value if kind == "text" and value.startswith(FORMULA_START) else value


def _table(frame: pd.DataFrame, cols: list[C.Column], totals: dict | None = None, limit: int | None = None) -> str:
    rows = list(frame.to_dict("records"))
    more = 0
    if limit is not None and len(rows) > limit:
        rows, more = rows[:limit], len(rows) - limit
    head = "".join(f'<th style="{_TH}">{escape(h)}</th>' for _, h, _ in cols)
    body = []
    for row in rows + ([totals] if totals else []):
        bold = "font-weight:bold;" if row is totals else ""
        body.append("<tr>" + "".join(
            f'<td style="{_TD}{bold}{"text-align:right;" if kind != "text" else ""}">'
            f'{escape(C.text(row.get(key), kind))}</td>' for key, _, kind in cols) + "</tr>")
    tail = f"<p>（另有 {more} 行，见 xlsx 附件）</p>" if more else ""
    return (f'<table style="border-collapse:collapse;font-size:13px"><tr>{head}</tr>{"".join(body)}</table>'
            + tail)


_TH = "border:1px solid #999;padding:4px 6px;background:#ddebf7;"
_TD = "border:1px solid #ccc;padding:3px 6px;"


def _floats(values) -> list[float | None]:
    return [None if v is None else float(v) for v in values]


def html(r: MonthlyReport) -> str:
    """One self-contained page: the summary, the charts, 未备案, the systems, notes (server detail: the xlsx)."""
    summary = C.summary_rows(r)
    t = C.totals_row(r)
    chart_bars = svg.bars(list(summary["department"]), _floats(summary["waste"]),
                          f"{r.month.label()} 各部门资源浪费（元）")
    chart_lines = svg.lines(list(r.trend["label"].str.replace(r"^\d+年", "", regex=True)),
                            {"浪费": _floats(r.trend["waste"]), "已实现节约": _floats(r.trend["realised"]),
                             "月末浪费速率": _floats(r.trend["run_rate"])}, "近12个月资源浪费与节约（元）")
    scope = r.department or "全市各使用部门"
    lead = (f"{r.month.label()}，{scope}云服务器本月费用 {C.text(t['cost'], 'money')} 元，其中资源浪费 "
            f"{C.text(t['waste'], 'money')} 元（占 {C.text(t['waste_share'], 'pct')}），月末浪费速率 "
            f"{C.text(t['run_rate'], 'money')} 元/月；经核验的整改本月实现节约 {C.text(t['realised'], 'money')} 元，"
            f"本年累计 {C.text(t['realised_ytd'], 'money')} 元；未备案服务器 {t['unregistered_servers']} 台，"
            f"月费用 {C.text(t['unregistered_run_rate'], 'money')} 元。")
    notes = "".join(f"<tr><td style=\"{_TD}white-space:nowrap\">{escape(k)}</td><td style=\"{_TD}\">{escape(v)}</td></tr>"
                    for k, v in r.notes)
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{escape(r.month.label())}云资源浪费报告</title></head>
<body style="font-family:'Noto Sans CJK SC','Microsoft YaHei',sans-serif;color:#222;max-width:1100px">
<h1 style="font-size:20px">{escape(r.month.label())}政务云资源浪费报告（{escape(scope)}）</h1>
<p>{escape(lead)}</p>
<h2 style="font-size:16px">一、各部门汇总</h2>
{_table(summary, C.SUMMARY, t)}
<div>{chart_bars}</div>
<h2 style="font-size:16px">二、近12个月趋势</h2>
<div>{chart_lines}</div>
{_table(r.trend, C.TREND)}
<h2 style="font-size:16px">三、未备案服务器（依规应停止拨付）</h2>
{_table(C.unregistered_rows(r), C.UNREGISTERED, limit=200) if len(r.unregistered) else "<p>无。</p>"}
<h2 style="font-size:16px">四、系统小计</h2>
{_table(r.systems, C.SYSTEMS, limit=300)}
<h2 style="font-size:16px">五、说明</h2>
<table style="border-collapse:collapse;font-size:13px">{notes}</table>
</body></html>
"""
