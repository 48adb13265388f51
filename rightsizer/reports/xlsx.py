"""The reports as workbooks: XlsxWriter through ``pandas.ExcelWriter``.

Chinese sheet and column names; numbers are numeric cells with ¥ and percent formats;
headers frozen; a totals row of ``SUM`` formulas (with their values cached, so a reader
that does not recalculate sees them too); native Excel charts — waste by department as
bars, the last 12 months as lines.
"""

from __future__ import annotations

import io

import pandas as pd

from . import columns as C
from .evaluation import EvaluationReport
from .monthly import MonthlyReport

MONEY_FMT = '"¥"#,##0.00'
PCT_FMT = "0.00%"


class _Book:
    def __init__(self, buf: io.BytesIO):
        # names come from tenants (OpenStack project and VM names): a text cell is text, never a formula or a link
        self.writer = pd.ExcelWriter(buf, engine="xlsxwriter", engine_kwargs={"options": {
            "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}})
        wb = self.writer.book
        self.wb = wb
        self.fmt = {
            "money": wb.add_format({"num_format": MONEY_FMT}),
            "pct": wb.add_format({"num_format": PCT_FMT}),
            "int": wb.add_format({"num_format": "0"}),
            "num": wb.add_format({"num_format": "0.##"}),
            "text": wb.add_format({}),
        }
        self.head = wb.add_format({"bold": True, "text_wrap": True, "valign": "vcenter", "bg_color": "#DDEBF7",
                                   "border": 1})
        self.bold = {k: wb.add_format({"bold": True, "num_format": f.num_format, "top": 2})
                     for k, f in (("money", self.fmt["money"]), ("pct", self.fmt["pct"]), ("int", self.fmt["int"]),
                                  ("num", self.fmt["num"]), ("text", self.fmt["text"]))}

    def table(self, sheet: str, frame: pd.DataFrame, cols: list[C.Column], totals: dict | None = None,
              missing: str | None = C.MISSING):
        """Write ``frame``'s ``cols`` with Chinese headers, formats and frozen headers; a totals row of
        SUM formulas when ``totals`` (the values to cache) is given. An unknown amount or share is the text
        ``missing`` ("—"; a chart's table leaves it blank, a gap in the line). Returns the worksheet."""
        def put(v, kind):
            c = C.cell(v, kind)
            return missing if c is None and kind in ("money", "pct") else c

        body = pd.DataFrame({head: [put(v, kind) for v in (frame[key] if key in frame else [None] * len(frame))]
                             for key, head, kind in cols})
        body.to_excel(self.writer, sheet_name=sheet, index=False)
        ws = self.writer.sheets[sheet]
        for j, (key, head, kind) in enumerate(cols):
            ws.write(0, j, head, self.head)
            width = max(10, min(40, 2 * len(head) + 2, max([len(str(v)) * 2 for v in body[head].head(200)] + [0])))
            ws.set_column(j, j, width, self.fmt[kind])
        ws.set_row(0, 32)
        ws.freeze_panes(1, 1)
        if totals is not None:
            self._totals(ws, len(body), cols, totals)
        return ws

    def _totals(self, ws, n: int, cols: list[C.Column], totals: dict) -> None:
        row = n + 1  # 0-based: header, n rows, then the totals
        for j, (key, _, kind) in enumerate(cols):
            value = C.cell(totals.get(key), kind)
            if j == 0:
                ws.write_string(row, j, "合计", self.bold["text"])
            elif value is None and kind in ("money", "pct") and key in totals:
                ws.write_string(row, j, C.MISSING, self.bold["text"])  # not known: never a SUM of nothing
            elif key == "waste_share":
                cost, waste = _col(cols, "cost"), _col(cols, "waste")
                ws.write_formula(row, j, f"=IF({cost}{row + 1}=0,0,{waste}{row + 1}/{cost}{row + 1})",
                                 self.bold[kind], value or 0)
            elif kind in ("money", "int", "num") and value is not None:
                letter = _letter(j)
                ws.write_formula(row, j, f"=SUM({letter}2:{letter}{n + 1})", self.bold[kind], value)
            else:
                ws.write_blank(row, j, None, self.bold[kind])

    def close(self) -> None:
        self.writer.close()


def _letter(j: int) -> str:
    out = ""
    j += 1
    while j:
        j, r = divmod(j - 1, 26)
        out = chr(65 + r) + out
    return out


def _col(cols: list[C.Column], key: str) -> str:
    return _letter([k for k, _, _ in cols].index(key))


def monthly(r: MonthlyReport) -> bytes:
    buf = io.BytesIO()
    b = _Book(buf)
    summary = C.summary_rows(r)
    ws = b.table("汇总", summary, C.SUMMARY, C.totals_row(r))
    n = len(summary)
    if n:
        chart = b.wb.add_chart({"type": "bar"})
        chart.add_series({"name": "本月浪费（元）", "categories": ["汇总", 1, 0, n, 0],
                          "values": ["汇总", 1, _index(C.SUMMARY, "waste"), n, _index(C.SUMMARY, "waste")],
                          "data_labels": {"value": True, "num_format": MONEY_FMT}})
        chart.set_title({"name": f"{r.month.label()} 各部门资源浪费"})
        chart.set_x_axis({"num_format": MONEY_FMT})
        chart.set_y_axis({"reverse": True})
        chart.set_legend({"none": True})
        chart.set_size({"width": 720, "height": max(288, 24 * n + 96)})
        ws.insert_chart(n + 4, 0, chart)
    trend = b.table("趋势", r.trend, C.TREND, missing=None)  # a month not monitored: no point, a gap
    line = b.wb.add_chart({"type": "line"})
    line.show_blanks_as("gap")
    for key, name in (("waste", "浪费"), ("realised", "已实现节约"), ("run_rate", "月末浪费速率")):
        j = _index(C.TREND, key)
        line.add_series({"name": name, "categories": ["趋势", 1, 0, len(r.trend), 0],
                         "values": ["趋势", 1, j, len(r.trend), j], "marker": {"type": "circle"}})
    line.set_title({"name": "近12个月资源浪费与节约"})
    line.set_y_axis({"num_format": MONEY_FMT})
    line.set_size({"width": 720, "height": 320})
    trend.insert_chart(len(r.trend) + 3, 0, line)
    unreg = C.unregistered_rows(r)
    b.table("未备案", unreg, C.UNREGISTERED, {k: sum(unreg[k]) if len(unreg) else 0
                                              for k in ("unregistered_run_rate", "unregistered")})
    srv = C.server_rows(r)
    b.table("服务器明细", srv, C.SERVERS, {k: _known_sum(srv[k])
                                        for k in ("cost", "waste", "run_rate", "realised", "unregistered")})
    b.table("系统小计", r.systems, C.SYSTEMS, {k: _known_sum(r.systems[k])
                                          for k in ("servers", "cost", "waste", "run_rate", "realised")})
    notes = pd.DataFrame(r.notes, columns=["item", "text"])
    ws = b.table("说明", notes, [("item", "项目", "text"), ("text", "说明", "text")])
    ws.set_column(1, 1, 110, b.wb.add_format({"text_wrap": True}))
    b.close()
    return buf.getvalue()


def _known_sum(values):
    """The sum of the known values; ``None`` when none is known (or there are none)."""
    known = [v for v in values if v is not None]
    return sum(known) if known else (0 if not len(values) else None)


def _index(cols: list[C.Column], key: str) -> int:
    return [k for k, _, _ in cols].index(key)


def evaluation(e: EvaluationReport) -> bytes:
    buf = io.BytesIO()
    b = _Book(buf)
    b.table("绩效评价", C.evaluation_rows(e), C.EVALUATION)
    rubric = e.rubric
    w = rubric.weights
    rules = [("计算期间", e.period), ("权重", f"浪费率 {w.waste_rate:g}，按期整改率 {w.rectified_in_time:g}，"
                                          f"逾期 {w.overdue:g}，未备案 {w.unregistered:g}（按比例折算为100分）"),
             ("浪费率分档", _bands(rubric.waste_rate_bands, pct=True)),
             ("按期整改率", "按期整改的通知 ÷（按期整改 + 逾期）的通知，按比例得分；期间无此类通知得满分"),
             ("逾期分档", _bands(rubric.overdue_bands)), ("未备案分档", _bands(rubric.unregistered_bands)),
             ("等级", "；".join(f"{name} ≥ {lowest:g}" for lowest, name in rubric.grades)),
             ("监测期", "费用与浪费只计监测期：各服务器自首次评估之日起、且当月有评估的天数；"
                     "期间没有监测天数的部门不评分（等级“未监测”），从不按满分或零分计")]
    ws = b.table("评分规则", pd.DataFrame(rules, columns=["item", "text"]),
                 [("item", "项目", "text"), ("text", "说明", "text")])
    ws.set_column(1, 1, 100, b.wb.add_format({"text_wrap": True}))
    b.close()
    return buf.getvalue()


def _bands(bands, pct: bool = False) -> str:
    show = (lambda v: f"{v * 100:g}%") if pct else (lambda v: f"{v:g}")
    return "；".join(f"≤ {show(b)} 得 {s * 100:g}%" for b, s in bands) + "；其余不得分"
