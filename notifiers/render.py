"""Notice wording: jinja2 templates, Chinese by default (``notifiers/templates/``).

``render(notice, findings, settings)`` returns the subject and a body dict with
``text`` (email text and console), ``markdown`` (IM robots) and ``html`` (email), and
``link`` when ``[notices] link_base`` is set. A centre changes the wording by pointing
``[notices] templates_dir`` at its own copies of the templates.
"""

from __future__ import annotations

import base64
import io
from decimal import Decimal
from pathlib import Path

import jinja2

from rightsizer.format import size_zh
from rightsizer.settings import Settings

from .document import NoticeDoc, build, date_zh

TEMPLATES = Path(__file__).parent / "templates"


def _env(templates_dir: Path | None) -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader([str(p) for p in (templates_dir, TEMPLATES) if p]),
                              undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)


def render(notice: dict, found: list[dict], settings: Settings) -> tuple[str, dict]:
    """Subject and body of a notice: every format from one :class:`~notifiers.document.NoticeDoc`."""
    doc = build(notice, found, settings)
    s = settings.notices
    # ``n`` (the notice as given) stays for centres' own templates written before the document model
    ctx = {"d": doc, "n": notice, "s": s, "size": size_zh, "pct": _pct, "money": _money, "date_zh": date_zh}
    env = _env(s.templates_dir)
    text = env.get_template("notice.txt.j2").render(ctx)
    markdown = env.get_template("notice.md.j2").render(ctx)
    html_env = _env(s.templates_dir)
    html_env.autoescape = True  # server names and department names are data, not markup
    html = html_env.get_template("notice.html.j2").render(ctx)
    subject = f"{doc.number} {doc.title}（{doc.department}）"
    xlsx = base64.b64encode(server_list_xlsx(doc)).decode()
    pdf = base64.b64encode(notice_pdf(doc, settings)).decode()
    return subject, {"text": text, "markdown": markdown, "html": html, "link": doc.link,
                     "xlsx_name": f"{doc.number}-服务器清单.xlsx", "xlsx_b64": xlsx,
                     "pdf_name": f"{doc.number}.pdf", "pdf_b64": pdf, "document": doc.to_json()}


def notice_pdf(doc: NoticeDoc, settings: Settings) -> bytes:
    """The notice as a 红头文件 PDF (WeasyPrint, CJK serif fonts from fonts-noto-cjk)."""
    from weasyprint import HTML

    env = _env(settings.notices.templates_dir)
    env.autoescape = True
    page = env.get_template("notice.pdf.html.j2").render(
        {"d": doc, "s": settings.notices, "size": size_zh, "pct": _pct, "money": _money, "date_zh": date_zh})
    return HTML(string=page).write_pdf()


def _pct(x) -> str:
    return "—" if x is None else f"{x:.1f}%"


def _money(x) -> str:
    return f"{Decimal(x):,.2f}"


def server_list_xlsx(doc: NoticeDoc) -> bytes:
    """附件：服务器清单 — numbers as numbers (percent and ¥ formats), a frozen header, totals by formula."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    ws.title = "服务器清单"
    ws.append([f"{doc.number}  {doc.title}  主送：{doc.department}"
               + (f"  整改期限：{doc.due_zh}" if doc.due else "")])
    ws["A1"].font = Font(bold=True)
    head = ["序号", "系统", "服务器名称", "服务器ID", "问题", "当前vCPU", "当前内存GiB", "当前硬盘GiB", "CPU使用率P95",
            "内存周期峰值", "硬盘使用率", "建议vCPU", "建议内存GiB", "建议硬盘GiB", "每月节约(元)", "交付日期",
            "部署期限"]
    money_fmt, pct_fmt = '"¥"#,##0.00', "0.0%"

    def section(title: str, rows: list, value) -> int | None:
        if not rows:
            return None
        ws.append([title])
        ws.cell(ws.max_row, 1).font = Font(bold=True)
        ws.append(head if value == "saving" else [*head[:14], "每月增加费用(元)", *head[15:]])
        for c in ws[ws.max_row]:
            c.font = Font(bold=True)
            c.alignment = Alignment(wrap_text=True, vertical="center")
        first = ws.max_row + 1
        for k, r in enumerate(rows, 1):
            cur, rec = r.current or {}, r.recommended or {}
            ws.append([k, r.system, r.server_name, r.server_id, "、".join(r.problems), cur.get("vcpus"),
                       cur.get("ram_gib"), cur.get("disk_gib"),
                       *(None if v is None else v / 100 for v in (r.cpu_p95_pct, r.memory_peak_pct, r.disk_pct)),
                       rec.get("vcpus"), rec.get("ram_gib"), rec.get("disk_gib"),
                       float(r.saving if value == "saving" else r.cost), r.delivered or None, r.deploy_deadline or None])
            for col in (9, 10, 11):
                ws.cell(ws.max_row, col).number_format = pct_fmt
            ws.cell(ws.max_row, 15).number_format = money_fmt
        last = ws.max_row
        ws.append(["合计", *[""] * 13, f"=SUM(O{first}:O{last})"])
        ws.cell(ws.max_row, 15).number_format = money_fmt
        ws.cell(ws.max_row, 1).font = Font(bold=True)
        return first

    start = section("一、需整改事项", doc.rows, "saving")
    section("二、扩容建议（不设整改期限）" if doc.rows else "扩容建议（不设整改期限）", doc.advice, "cost")
    ws.freeze_panes = f"A{(start or 4)}"  # the header row of the first section stays in view
    for i, width in enumerate((6, 16, 18, 38, 22, 9, 11, 11, 12, 12, 10, 9, 11, 11, 14, 12, 12), 1):
        ws.column_dimensions[get_column_letter(i)].width = width
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
