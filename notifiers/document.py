"""The notice as a document (公文): one view model that every format is rendered from.

:func:`build` turns a notice and its findings into a :class:`NoticeDoc` — 发文字号, 成文日期,
title (关于……的通知), 主送机关, the legal basis for each kind of problem and what the
department must do about it, **one row per server** (its problems as a list, the measured
values, the whole recommended size and the monthly saving), expansion advice in its own
section, totals, the due date, 附件说明, 署名 and contact. The text, the HTML email, the
Markdown for IM robots, the PDF, the xlsx and the webhook JSON are all rendered from it,
so they cannot disagree (``notifiers.render``).

Layout conventions follow GB/T 9704-2012《党政机关公文格式》: the number as
``平大数据调〔2026〕1号``, dates as ``2026年11月20日``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from decimal import Decimal

from rightsizer.format import DIM_ZH, KIND_ZH, date_zh, local_date, size_json
from rightsizer.models import Finding
from rightsizer.records import Notice
from rightsizer.settings import Settings

RECTIFY_ORDER = ("release", "undeployed", "shrink", "unregistered")


def _evidence_day(value, tz: tzinfo) -> date | None:
    """A day recorded in a finding's evidence (an ISO time with its offset, or an ISO date)."""
    if not value:
        return None
    if "T" in value or " " in value:
        return local_date(datetime.fromisoformat(value), tz)
    return date.fromisoformat(value)


def _basis(settings: Settings) -> dict[str, tuple[str, str]]:
    """kind -> (legal basis, what the department must do)."""
    s = settings.notices
    law = s.regulation
    return {
        "shrink": (f"{law}{s.article}：资源使用率不高时（CPU使用率未超过25%，内存周期性峰值未超过30%，硬盘使用率不到50%），"
                   "由市大数据发展中心向使用部门通知资源核减",
                   "按建议配置核减资源（可申请调整为建议规格）"),
        "release": (f"{law}{s.article}：系统不再使用时，使用部门应当及时通知市大数据发展中心释放资源",
                    "确认系统不再使用的，申请释放资源；仍在使用的，说明情况"),
        "undeployed": (f"{law}{s.article}：各部门应在云资源交付后10个工作日内完成系统部署",
                       "完成系统部署，或申请释放资源"),
        "unregistered": (f"{law}第十条：已开发部署的电子政务和政务数据项目，应当向市大数据发展中心进行全口径备案",
                         "办理系统备案，或申请释放服务器"),
        "expand": (f"{law}{s.article}：资源使用率过高时（超过75%），由市大数据发展中心向使用部门提出资源扩容建议",
                   "结合业务需要自行决定是否申请扩容（不设整改期限）"),
    }


@dataclass
class Row:
    """One server of a notice."""

    system: str
    server_name: str
    server_id: str
    current: dict  # vcpus, ram_gib, disk_gib
    recommended: dict | None
    cpu_p95_pct: float | None
    memory_peak_pct: float | None
    disk_pct: float | None
    problems: list[str] = field(default_factory=list)  # 核减 CPU、核减 内存 …
    kinds: list[str] = field(default_factory=list)
    saving: Decimal = Decimal(0)  # monthly; an expansion's added cost is positive in ``cost``
    cost: Decimal = Decimal(0)
    delivered: date | None = None  # undeployed: delivery date and the deadline that passed
    deploy_deadline: date | None = None
    note: str = ""  # e.g. what snapping to a flavor did


@dataclass
class NoticeDoc:
    number: str
    department: str
    issuer: str
    issued: date
    title: str
    kinds_zh: str
    follows: str | None
    window: str
    due: date | None  # None: advice only, or the deadline is held
    workdays: int
    basis: list[tuple[str, str, str]]  # (kind in Chinese, legal basis, what to do), in the order of the notice
    rows: list[Row]
    advice: list[Row]
    total: Decimal
    advice_total: Decimal
    contact: str
    link: str
    unsnapped: bool

    @property
    def issued_zh(self) -> str:
        return date_zh(self.issued)

    @property
    def due_zh(self) -> str:
        return date_zh(self.due)

    def to_json(self) -> dict:
        """The structured notice for OA systems (the webhook's ``document``)."""
        def row(r: Row) -> dict:
            return {"system": r.system, "server_name": r.server_name, "server_id": r.server_id,
                    "current": r.current, "recommended": r.recommended, "cpu_p95_pct": r.cpu_p95_pct,
                    "memory_peak_pct": r.memory_peak_pct, "disk_pct": r.disk_pct, "problems": r.problems,
                    "kinds": r.kinds, "monthly_saving_cny": f"{r.saving:.2f}", "monthly_cost_cny": f"{r.cost:.2f}",
                    "delivered_at": r.delivered.isoformat() if r.delivered else None,
                    "deploy_deadline": r.deploy_deadline.isoformat() if r.deploy_deadline else None,
                    "note": r.note or None}

        return {"number": self.number, "title": self.title, "department": self.department, "issuer": self.issuer,
                "issued_date": self.issued.isoformat(), "due_date": self.due.isoformat() if self.due else None,
                "workdays_to_rectify": self.workdays,
                "follows": self.follows, "monitoring_window": self.window,
                "legal_basis": [{"kind": k, "basis": b, "action": a} for k, b, a in self.basis],
                "items": [row(r) for r in self.rows], "advice": [row(r) for r in self.advice],
                "total_monthly_saving_cny": f"{self.total:.2f}",
                "advice_monthly_cost_cny": f"{self.advice_total:.2f}", "contact": self.contact or None,
                "link": self.link or None}


def _q(x: Decimal) -> Decimal:
    return Decimal(x).quantize(Decimal("0.01"))


def build(notice: Notice, follows: str | None, found: list[Finding], settings: Settings) -> NoticeDoc:
    """The document of ``notice`` (a follow-up of ``follows``, if given) and its findings."""
    s = settings.notices
    tz = settings.tz
    rows: dict[str, Row] = {}
    advice: dict[str, Row] = {}
    for f in found:
        ev = f.evidence
        target = advice if f.kind == "expand" else rows
        r = target.get(f.server_id)
        if r is None:
            r = target[f.server_id] = Row(
                system=f.system, server_name=f.server_name, server_id=f.server_id,
                current=size_json(f.current) or {}, recommended=size_json(f.recommended),
                cpu_p95_pct=ev.get("cpu_p95_pct"), memory_peak_pct=ev.get("memory_peak_pct"),
                disk_pct=ev.get("disk_latest_pct"))
        dim = DIM_ZH.get(f.dimension.value if f.dimension else "", "")
        r.problems.append(KIND_ZH.get(f.kind, f.kind) + (f" {dim}" if dim else ""))
        if f.kind not in r.kinds:
            r.kinds.append(f.kind.value)
        if f.kind == "expand":
            r.cost += -f.monthly_saving_cny
        else:
            r.saving += f.monthly_saving_cny
        if f.kind == "undeployed":
            r.delivered = _evidence_day(ev.get("delivered_at"), tz)
            r.deploy_deadline = _evidence_day(ev.get("deploy_deadline"), tz)
        if ev.get("snapping"):
            parts = []
            for d, v in ev["snapping"].items():
                cost = Decimal(v["cost_cny"])
                parts.append(f"{DIM_ZH.get(d, d)} {v['from']:g}→{v['to']:g}{'核' if d == 'cpu' else 'GiB'}，每月"
                             + (f"增加 {cost:,.2f} 元" if cost > 0 else f"减少 {-cost:,.2f} 元"))
            r.note = f"套用规格 {ev.get('flavor') or ''}：" + "；".join(parts) + "（已计入本项）"
        if ev.get("no_flavor_fits") and "规格目录" not in r.note:
            r.note = _join(r.note, "规格目录中没有容纳该配置的规格，建议配置未按规格取整")
        if ev.get("undoes_shrink") and "核减要求" not in r.note:
            dims = "、".join(DIM_ZH.get(d, d) for d in ev["undoes_shrink"])
            r.note = _join(r.note, f"容纳该配置的规格会使{dims}不低于现配置，与上文的核减要求冲突，扩容前请与市大数据发展中心确认规格")
    order = {k: i for i, k in enumerate(RECTIFY_ORDER)}
    row_list = sorted(rows.values(), key=lambda r: (min(order.get(k, 9) for k in r.kinds), r.system, r.server_id))
    advice_list = sorted(advice.values(), key=lambda r: (r.system, r.server_id))
    kinds_present = [k for k in (*RECTIFY_ORDER, "expand") if any(k in r.kinds for r in (*row_list, *advice_list))]
    kinds_zh = "、".join(KIND_ZH[k] for k in kinds_present) or "资源调整"
    basis = _basis(settings)
    windows = [f.evidence["window"] for f in found if f.evidence.get("window")]
    window = (f"{date_zh(_evidence_day(windows[0]['start'], tz))}至{date_zh(_evidence_day(windows[0]['end'], tz))}"
              if windows else "")
    title = f"关于{kinds_zh}政务云服务器资源的{'整改通知' if row_list else '扩容建议'}"
    return NoticeDoc(
        number=notice.number, department=notice.department, issuer=s.sender,
        issued=local_date(notice.issued_at, tz), title=title, kinds_zh=kinds_zh,
        follows=follows, window=window, due=notice.due_date if row_list else None,
        workdays=s.workdays_to_rectify,
        basis=[(KIND_ZH[k], *basis[k]) for k in kinds_present],
        rows=row_list, advice=advice_list,
        total=_q(sum((r.saving for r in row_list), Decimal(0))),
        advice_total=_q(sum((r.cost for r in advice_list), Decimal(0))),
        contact=s.contact, link=f"{s.link_base.rstrip('/')}/{notice.id}" if s.link_base else "",
        unsnapped=not settings.sizing.flavors and any(f.kind in ("shrink", "expand") for f in found))


def _join(note: str, more: str) -> str:
    return f"{note}；{more}" if note else more
