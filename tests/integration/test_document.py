"""The notice as a 公文 (issue 11): every format from one view model, checked as a reader would.

A notice with every kind (核减 on three dimensions, 释放, 逾期未部署, 未备案, and 扩容 advice)
is rendered once; the text, HTML, Markdown, xlsx (openpyxl), webhook JSON and PDF
(``pdftotext`` for its text, ``pdftoppm`` for its page) must agree with each other.
"""
from __future__ import annotations

import base64
import io
import json
import re
import subprocess
from datetime import date, datetime
from decimal import Decimal

import pytest

from notifiers.render import render
from rightsizer.models import Finding
from rightsizer.settings import Settings

import servers
from helpers import AT, TZ, a_notice

NOTICE = {"id": 7, "number": "平大数据调〔2026〕12号", "department": "市教育和体育局"}
WINDOW = {"start": "2026-10-21T00:00:00+08:00", "end": "2026-11-20T00:00:00+08:00"}


def _f(sid, kind, dim, saving, current, recommended=None, **ev):
    base = {"server_name": f"{sid}-名称", "system": "智慧教育平台", "cpu_p95_pct": 8.5, "memory_peak_pct": 20.25,
            "disk_latest_pct": 31.0, "window": WINDOW, "flavor": "s2.4g"}
    return {"server_id": sid, "department": NOTICE["department"], "kind": kind, "dimension": dim, "observed": 5.0,
            "threshold": 25.0, "current": current, "recommended": recommended, "monthly_saving_cny": saving,
            "evidence": {**base, **ev}}


BIG = {"vcpus": 16, "ram_gib": 64.0, "disk_gib": 500.0}
SMALL = {"vcpus": 2, "ram_gib": 4.0, "disk_gib": 100.0}
FOUND = [
    _f("big-1", "shrink", "cpu", "1260.00", BIG, SMALL),
    _f("big-1", "shrink", "memory", "1800.00", BIG, SMALL),
    _f("big-1", "shrink", "disk", "200.00", BIG, SMALL),
    _f("idle-1", "release", None, "530.00", SMALL),
    _f("new-1", "undeployed", None, "530.00", SMALL, delivered_at="2026-10-28T10:00:00+08:00",
       deploy_deadline="2026-11-11"),
    _f("ghost-1", "unregistered", None, "0.00", SMALL, system=""),
    _f("hot-1", "expand", "cpu", "-180.00", SMALL, {"vcpus": 4, "ram_gib": 8.0, "disk_gib": 100.0}),
    _f("hot-1", "expand", "memory", "-60.00", SMALL, {"vcpus": 4, "ram_gib": 8.0, "disk_gib": 100.0}),
]
TOTAL, ADVICE = Decimal("4320.00"), Decimal("240.00")


@pytest.fixture(scope="module")
def doc():
    """(subject, body) of the notice, its stored files beside the body as the tests read them."""
    s = Settings.model_validate({"notices": {"contact": "张三 0532-88888888"}})
    notice = a_notice(NOTICE["number"], NOTICE["department"], datetime(2026, 11, 20, 9, tzinfo=TZ),
                      due=date(2026, 12, 4), notice_id=NOTICE["id"])
    out = render(notice, None, [Finding.from_json(f) for f in FOUND], s)
    files = {f.kind: f for f in out.files}
    return out.subject, {**out.body, "pdf_name": files["pdf"].name, "xlsx_name": files["xlsx"].name,
                         "pdf_b64": base64.b64encode(files["pdf"].content).decode(),
                         "xlsx_b64": base64.b64encode(files["xlsx"].content).decode()}


def test_the_number_the_dates_and_the_title_follow_gbt_9704(doc):
    subject, body = doc
    text = body["text"]
    assert subject.startswith("平大数据调〔2026〕12号 关于释放、逾期未部署、核减、未备案、扩容政务云服务器资源的整改通知")
    assert "平大数据调〔2026〕12号" in text and "第0012号" not in text
    assert text.rstrip().endswith("平度市大数据发展中心\n2026年11月20日")  # 署名 and 成文日期
    assert "市教育和体育局：" in text and "附件：服务器清单" in text and "张三 0532-88888888" in text
    assert "请于2026年12月4日前完成整改" in text and "2026-12-04" not in text


def test_each_kind_carries_its_legal_basis_and_what_to_do(doc):
    text = doc[1]["text"]
    law = "《平度市电子政务和政务数据管理办法》"
    for kind, basis, action in (
            ("核减", f"{law}第十三条", "按建议配置核减资源"),
            ("释放", f"{law}第十三条：系统不再使用时", "申请释放资源"),
            ("逾期未部署", f"{law}第十三条：各部门应在云资源交付后10个工作日内完成系统部署", "完成系统部署，或申请释放资源"),
            ("未备案", f"{law}第十条", "办理系统备案，或申请释放服务器"),
            ("扩容", f"{law}第十三条：资源使用率过高时（超过75%）", "不设整改期限")):
        line = next(ln for ln in text.splitlines() if re.match(rf"（\d）{kind}：", ln))
        assert basis in line and action in line, line


def test_one_row_per_server_with_its_problems_listed(doc):
    text = doc[1]["text"]
    assert text.count("（big-1）") == 1
    assert "问题：核减 CPU、核减 内存、核减 硬盘" in text
    assert "监测值：CPU 8.5%，内存周期峰值 20.2%，硬盘 31.0%" in text
    assert "交付日期：2026年10月28日；部署期限：2026年11月11日（已逾期）" in text
    rectify, advice = text.split("二、扩容建议")
    assert "hot-1" not in rectify and "hot-1" in advice and "预计每月增加费用：240.00 元" in advice


def test_totals_are_the_same_in_every_format(doc):
    _, body = doc
    assert f"合计预计每月节约 {TOTAL:,.2f} 元" in body["text"]
    assert f"合计每月节约 **{TOTAL:,.2f} 元**" in body["markdown"]
    assert f"{TOTAL:,.2f}</td></tr>" in body["html"] and f"{ADVICE:,.2f}</td></tr>" in body["html"]
    d = body["document"]
    assert d["total_monthly_saving_cny"] == f"{TOTAL:.2f}" and d["advice_monthly_cost_cny"] == f"{ADVICE:.2f}"
    assert sum(Decimal(i["monthly_saving_cny"]) for i in d["items"]) == TOTAL
    assert [i["server_id"] for i in d["items"]].count("big-1") == 1


def test_the_xlsx_has_numbers_formats_a_frozen_header_and_formula_totals(doc):
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(base64.b64decode(doc[1]["xlsx_b64"])))
    ws = wb["服务器清单"]
    rows = list(ws.iter_rows())
    header = next(r for r in rows if r[0].value == "序号")
    names = [c.value for c in header]
    assert names[:8] == ["序号", "系统", "服务器名称", "服务器ID", "问题", "当前vCPU", "当前内存GiB", "当前硬盘GiB"]
    big = next(r for r in rows if r[3].value == "big-1")
    assert big[5].value == 16 and big[6].value == 64.0 and isinstance(big[14].value, (int, float))
    assert big[8].value == pytest.approx(0.085) and big[8].number_format == "0.0%"
    assert big[14].number_format == '"¥"#,##0.00'
    total = next(r for r in rows if r[0].value == "合计")
    assert total[14].value.startswith("=SUM(O")
    values = [r[14].value for r in rows[rows.index(header) + 1:rows.index(total)]]
    assert Decimal(str(sum(values))).quantize(Decimal("0.01")) == TOTAL
    assert ws.freeze_panes == f"A{rows.index(header) + 2}"


def test_the_pdf_reads_as_the_notice_and_its_page_renders(doc, tmp_path):
    pdf = base64.b64decode(doc[1]["pdf_b64"])
    assert pdf.startswith(b"%PDF") and doc[1]["pdf_name"] == "平大数据调〔2026〕12号.pdf"
    (tmp_path / "n.pdf").write_bytes(pdf)
    text = subprocess.run([servers.binary("pdftotext"), "-layout", str(tmp_path / "n.pdf"), "-"], capture_output=True,
                          text=True, check=True).stdout
    flat = re.sub(r"\s+", "", text)
    for part in ("平度市大数据发展中心", "平大数据调〔2026〕12号", "市教育和体育局：", "请于2026年12月4日前完成整改",
                 "big-1", "核减CPU", f"{TOTAL:,.2f}", "附件：服务器清单", "2026年11月20日"):
        assert part in flat, part
    fonts = subprocess.run([servers.binary("pdffonts"), str(tmp_path / "n.pdf")], capture_output=True, text=True,
                           check=True).stdout
    assert "Noto-Serif-CJK" in fonts  # a Song-style CJK face, embedded
    subprocess.run([servers.binary("pdftoppm"), "-r", "40", "-png", "-f", "1", "-l", "1", str(tmp_path / "n.pdf"),
                    str(tmp_path / "page")], check=True)
    from PIL import Image

    page = Image.open(next(tmp_path.glob("page*.png"))).convert("RGB")
    pixels = [page.getpixel((x, y)) for y in range(page.height) for x in range(page.width)]
    reds = sum(1 for px in pixels if px[0] > 180 and px[1] < 80 and px[2] < 80)
    assert reds > 100  # the red header and the red line are there
    inked = sum(1 for px in pixels if sum(px) < 600)
    assert inked > 3000  # and a page of text


def test_the_webhook_carries_the_structured_notice_and_the_pdf(doc):
    from notifiers.base import Attachment, Message
    from notifiers.config import WebhookSettings
    from notifiers.webhook import WebhookNotifier

    from localserver import LocalServer, QuietHandler

    got = []

    class H(QuietHandler):
        def do_POST(self):
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    _, body = doc
    with LocalServer(H) as srv:
        msg = Message(key="k", subject="s", text=body["text"], document=body["document"],
                      attachments=(Attachment(body["pdf_name"], base64.b64decode(body["pdf_b64"]), "application/pdf"),))
        assert WebhookNotifier(WebhookSettings(name="oa", url=srv.url + "/oa")).send(msg).ok
    (p,) = got
    d = p["document"]
    assert d["number"] == "平大数据调〔2026〕12号" and d["issued_date"] == "2026-11-20" and d["due_date"] == "2026-12-04"
    assert {b["kind"] for b in d["legal_basis"]} == {"释放", "逾期未部署", "核减", "未备案", "扩容"}
    assert base64.b64decode(p["pdf"]["base64"]).startswith(b"%PDF")


def test_an_escalation_is_a_document_with_the_open_items_and_the_original_pdf(tmp_path):
    from datetime import timedelta

    from rightsizer.calendar import WorkCalendar
    from rightsizer.db import Store
    from rightsizer.jobs import notices, relay

    from test_outbox import EDU, LOW, Clock, Recorder, run, settings

    s = settings(notices={"cc_channels": ["centre"], "operator_channels": ["ops"], "escalation_channels": ["leaders"]},
                 notifiers=[*({"name": n, "type": "console"} for n in ("edu-im", "health-im", "centre", "ops")),
                            # the leaders' OA: a webhook, which carries the PDF (an IM robot would carry the link)
                            {"name": "leaders", "type": "webhook", "url": "http://127.0.0.1:9/oa"}])
    store = Store.open(f"sqlite:///{tmp_path / 'rs.db'}")
    run(store, s, [("e1", EDU, LOW), ("e2", EDU, LOW)])
    notices.issue(store, s, AT)
    rec = {n: Recorder(n) for n in ("edu-im", "centre", "ops", "leaders")}
    relay.deliver(store, s, WorkCalendar(), Clock(AT), notifiers=rec)
    notices.sweep(store, s, WorkCalendar(), AT + timedelta(days=16))
    relay.deliver(store, s, WorkCalendar(), Clock(AT + timedelta(days=16)), notifiers=rec)
    (esc,) = rec["leaders"].sent
    assert "整改期限 2026年12月4日 已过" in esc.text and "尚未整改的服务器（2 台）" in esc.text
    assert esc.text.count("（e1）") == 1  # one row per server, its open problems listed
    assert "<table" in esc.html and "<small>e2</small>" in esc.html
    (pdf,) = [a for a in esc.attachments if a.mime == "application/pdf"]
    assert pdf.filename == "平大数据调〔2026〕1号.pdf" and pdf.content.startswith(b"%PDF")
