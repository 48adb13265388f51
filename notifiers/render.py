"""Notice wording: jinja2 templates, Chinese by default (``notifiers/templates/``).

``render(notice, follows, findings, settings)`` returns a :class:`Rendered`: the subject, a
body with ``text`` (email text and console), ``markdown`` (IM robots), ``html`` (email),
``document`` (the structured notice for OA systems) and ``link`` when ``[notices] link_base``
is set; and the files — the PDF as signed and the server list — which the store keeps once
(``notice_documents``) and each delivery refers to as its notifier declares (``attaches``).
A centre changes the wording by pointing ``[notices] templates_dir`` at its own copies.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import jinja2

from rightsizer.format import date_zh, size_zh
from rightsizer.models import Finding
from rightsizer.records import Notice
from rightsizer.settings import Settings

from .document import NoticeDoc, build

TEMPLATES = Path(__file__).parent / "templates"


@functools.lru_cache(maxsize=16)
def _env(templates_dir: Path | None, autoescape: bool = False) -> jinja2.Environment:
    """One environment per templates directory and escaping: each template is compiled once (and again
    only when its file changes: jinja2's auto_reload), not at every notice."""
    from rightsizer.format import md_safe

    env = jinja2.Environment(loader=jinja2.FileSystemLoader([str(p) for p in (templates_dir, TEMPLATES) if p]),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=autoescape)
    env.filters["md"] = md_safe  # a tenant's name in Markdown: shown, never acted on
    return env


@dataclass(frozen=True)
class File:
    kind: str  # pdf | xlsx: what a notifier's ``attaches`` names
    name: str
    content: bytes
    mime: str


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: dict  # text, markdown, html, link, document
    files: list[File]


PDF_MIME = "application/pdf"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def render(notice: Notice, follows: str | None, found: list[Finding], settings: Settings,
           files: bool = True) -> Rendered:
    """Subject, body and files of a notice: every format from one :class:`~notifiers.document.NoticeDoc`."""
    doc = build(notice, follows, found, settings)
    s = settings.notices
    # ``n`` (the notice) stays for centres' own templates written before the document model
    ctx = {"d": doc, "n": notice, "s": s, "size": size_zh, "pct": _pct, "money": _money, "date_zh": date_zh}
    env = _env(s.templates_dir)
    text = env.get_template("notice.txt.j2").render(ctx)
    markdown = env.get_template("notice.md.j2").render(ctx)
    html_env = _env(s.templates_dir, autoescape=True)  # server and department names are data, not markup
    html = html_env.get_template("notice.html.j2").render(ctx)
    subject = f"{doc.number} {doc.title}（{doc.department}）"
    out = [File("pdf", f"{doc.number}.pdf", notice_pdf(doc, settings), PDF_MIME),
           File("xlsx", f"{doc.number}-服务器清单.xlsx", server_list_xlsx(doc), XLSX_MIME)] if files else []
    return Rendered(subject, {"text": text, "markdown": markdown, "html": html, "link": doc.link,
                              "document": doc.to_json()}, out)


def notice_pdf(doc: NoticeDoc, settings: Settings) -> bytes:
    """The notice as a 红头文件 PDF (WeasyPrint, CJK serif fonts from fonts-noto-cjk)."""
    from weasyprint import HTML

    env = _env(settings.notices.templates_dir, autoescape=True)
    page = env.get_template("notice.pdf.html.j2").render(
        {"d": doc, "s": settings.notices, "size": size_zh, "pct": _pct, "money": _money, "date_zh": date_zh})
    return HTML(string=page).write_pdf()


def _pct(x) -> str:
    return "—" if x is None else f"{x:.1f}%"


def _money(x) -> str:
    return f"{Decimal(x):,.2f}"


def server_list_xlsx(doc: NoticeDoc) -> bytes:
    """附件：服务器清单 — numbers as numbers (percent and ¥ formats), a frozen header, totals by formula.

    XlsxWriter, row by row: a department's list of thousands of servers takes a fraction of a second. Text
    is written as text (``write_string``): a server named ``=HYPERLINK(…)`` is a name, never a formula."""
    import xlsxwriter

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    ws = wb.add_worksheet("服务器清单")
    bold = wb.add_format({"bold": True})
    head_fmt = wb.add_format({"bold": True, "text_wrap": True, "valign": "vcenter"})
    money_fmt, pct_fmt = wb.add_format({"num_format": '"¥"#,##0.00'}), wb.add_format({"num_format": "0.0%"})
    ws.write_string(0, 0, f"{doc.number}  {doc.title}  主送：{doc.department}"
                    + (f"  整改期限：{doc.due_zh}" if doc.due else ""), bold)
    head = ["序号", "系统", "服务器名称", "服务器ID", "问题", "当前vCPU", "当前内存GiB", "当前硬盘GiB", "CPU使用率P95",
            "内存周期峰值", "硬盘使用率", "建议vCPU", "建议内存GiB", "建议硬盘GiB", "每月节约(元)", "交付日期",
            "部署期限"]
    at = [1]  # the next row (0-based)

    def put(values: list, fmt=None, formats: dict | None = None) -> int:
        row = at[0]
        for col, v in enumerate(values):
            f = (formats or {}).get(col, fmt)
            if v is None:
                continue
            if isinstance(v, str):
                ws.write_string(row, col, v, f)
            else:
                ws.write_number(row, col, v, f)
        at[0] += 1
        return row

    def section(title: str, rows: list, value) -> int | None:
        if not rows:
            return None
        put([title], bold)
        put(head if value == "saving" else [*head[:14], "每月增加费用(元)", *head[15:]], head_fmt)
        first = at[0]
        cells = {8: pct_fmt, 9: pct_fmt, 10: pct_fmt, 14: money_fmt}
        for k, r in enumerate(rows, 1):
            cur, rec = r.current or {}, r.recommended or {}
            put([k, r.system, r.server_name, r.server_id, "、".join(r.problems), cur.get("vcpus"),
                 cur.get("ram_gib"), cur.get("disk_gib"),
                 *(None if v is None else v / 100 for v in (r.cpu_p95_pct, r.memory_peak_pct, r.disk_pct)),
                 rec.get("vcpus"), rec.get("ram_gib"), rec.get("disk_gib"),
                 float(r.saving if value == "saving" else r.cost),
                 r.delivered.isoformat() if r.delivered else None,
                 r.deploy_deadline.isoformat() if r.deploy_deadline else None],
                formats=cells)
        total = put(["合计"], bold)
        ws.write_formula(total, 14, f"=SUM(O{first + 1}:O{total})", money_fmt)
        return first

    start = section("一、需整改事项", doc.rows, "saving")
    section("二、扩容建议（不设整改期限）" if doc.rows else "扩容建议（不设整改期限）", doc.advice, "cost")
    ws.freeze_panes(start if start is not None else 3, 0)  # the header row of the first section stays in view
    for i, width in enumerate((6, 16, 18, 38, 22, 9, 11, 11, 12, 12, 10, 9, 11, 11, 14, 12, 12)):
        ws.set_column(i, i, width)
    wb.close()
    return buf.getvalue()
