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

from rightsizer.format import DIM_ZH, KIND_ZH, size_zh
from rightsizer.settings import Settings

TEMPLATES = Path(__file__).parent / "templates"
NOTICE_KINDS = ("shrink", "expand", "release", "undeployed", "unregistered")  # the order a notice lists them


def _env(templates_dir: Path | None) -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader([str(p) for p in (templates_dir, TEMPLATES) if p]),
                              undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)


def render(notice: dict, found: list[dict], settings: Settings) -> tuple[str, dict]:
    s = settings.notices
    items = []
    for f in found:
        saving = Decimal(f["monthly_saving_cny"])
        obs = f.get("observed")
        items.append({
            "server_id": f["server_id"], "kind_zh": KIND_ZH.get(f["kind"], f["kind"]),
            "dimension_zh": DIM_ZH.get(f.get("dimension") or "", ""),
            "current": size_zh(f.get("current")), "recommended": size_zh(f.get("recommended")),
            "observed": "—" if obs is None else f"{obs:.1f}%",
            "threshold": "—" if f.get("threshold") is None else f"{f['threshold']:g}%",
            # an expansion costs money: shown as such, never as a negative saving
            "saving": f"{saving:,.2f}" if saving >= 0 else f"增加 {-saving:,.2f}",
            "cost": f"{-saving:,.2f}" if saving < 0 else "",
            "snapping": _snapping(f.get("evidence", {})),
        })
    kinds = [KIND_ZH[k] for k in NOTICE_KINDS if any(f["kind"] == k for f in found)]
    windows = [f.get("evidence", {}).get("window") for f in found if f.get("evidence", {}).get("window")]
    window = f"{windows[0]['start'][:10]} 至 {windows[0]['end'][:10]}" if windows else "—"
    link = f"{s.link_base.rstrip('/')}/{notice['id']}" if s.link_base else ""
    # expansions are advice (建议扩容): their own section, no deadline, never in the saving
    rectify = [i for i, f in zip(items, found) if f["kind"] != "expand"]
    advice = [i for i, f in zip(items, found) if f["kind"] == "expand"]
    total = sum((Decimal(f["monthly_saving_cny"]) for f in found if f["kind"] != "expand"), Decimal(0))
    due = notice.get("due_date")
    ctx = {"undeployed": any(f["kind"] == "undeployed" for f in found), "n": notice, "s": s, "items": rectify,
           "advice": advice, "total": f"{total:,.2f}", "kinds_zh": "、".join(kinds) or "资源调整",
           "title": "整改通知" if rectify else "扩容建议", "window": window, "link": link,
           "issued": notice["issued_at"][:10], "due_zh": _date_zh(due) if due else "",
           # a size not snapped to the cloud's flavors is said to be so
           "unsnapped": any(f["kind"] in ("shrink", "expand") and not f.get("evidence", {}).get("flavor")
                            for f in found)}
    env = _env(s.templates_dir)
    text = env.get_template("notice.txt.j2").render(ctx)
    markdown = env.get_template("notice.md.j2").render(ctx)
    html_env = _env(s.templates_dir)
    html_env.autoescape = True  # server names and department names are data, not markup
    html = html_env.get_template("notice.html.j2").render(ctx)
    subject = f"{notice['number']} 关于{ctx['kinds_zh']}的{ctx['title']}（{notice['department']}）"
    xlsx = base64.b64encode(server_list_xlsx(notice, rectify + advice, ctx["total"])).decode()
    return subject, {"text": text, "markdown": markdown, "html": html, "link": link,
                     "xlsx_name": f"{notice['number']}-服务器清单.xlsx", "xlsx_b64": xlsx}


def server_list_xlsx(notice: dict, items: list[dict], total: str) -> bytes:
    """The notice's servers as a worksheet, for the email attachment."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = "服务器清单"
    ws.append([f"{notice['number']} {notice['department']}"])
    ws["A1"].font = Font(bold=True)
    head = ["序号", "服务器", "问题", "维度", "当前配置", "监测值", "阈值", "建议配置", "每月节约(元)"]
    ws.append(head)
    for c in ws[2]:
        c.font = Font(bold=True)
    for k, i in enumerate(items, 1):
        ws.append([k, i["server_id"], i["kind_zh"], i["dimension_zh"], i["current"], i["observed"], i["threshold"],
                   i["recommended"], i["saving"]])
    ws.append(["合计", "", "", "", "", "", "", "", total])
    for col, width in zip("ABCDEFGHI", (6, 38, 12, 8, 22, 10, 8, 22, 14)):
        ws.column_dimensions[col].width = width
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _snapping(evidence: dict) -> str:
    """What snapping to a flavor did to dimensions without a finding of their own, priced (已计入)."""
    parts = []
    for dim, d in (evidence.get("snapping") or {}).items():
        cost = Decimal(d["cost_cny"])
        unit = "核" if dim == "cpu" else "GiB"
        parts.append(f"{DIM_ZH.get(dim, dim)} {d['from']:g}→{d['to']:g}{unit}，每月"
                     + (f"增加 {cost:,.2f} 元" if cost > 0 else f"减少 {-cost:,.2f} 元"))
    if not parts:
        return ""
    return f"套用规格 {evidence.get('flavor') or ''}：" + "；".join(parts) + "（已计入本项）"


def _date_zh(iso_date: str) -> str:
    y, m, d = (int(x) for x in iso_date[:10].split("-"))
    return f"{y}年{m}月{d}日"
