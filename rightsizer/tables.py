"""Plain-text tables for operators: findings, the per-department waste summary, notices and exemptions."""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from datetime import date
from decimal import Decimal

from .format import KIND_ZH, money, size_short
from .models import Finding, Kind, cny_text

WASTE_KINDS = (Kind.SHRINK, Kind.RELEASE, Kind.UNDEPLOYED)


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int, right: bool) -> str:
    gap = " " * (width - _width(text))
    return gap + text if right else text + gap


def table(headers: list[str], rows: list[list[str]], right: set[int] = frozenset()) -> str:
    widths = [max(_width(str(c)) for c in col) for col in zip(headers, *rows)]
    line = lambda cells: "  ".join(_pad(str(c), w, i in right) for i, (c, w) in enumerate(zip(cells, widths)))  # noqa: E731
    return "\n".join([line(headers), "  ".join("-" * w for w in widths), *(line(r) for r in rows)])


def findings_table(found: list[Finding]) -> str:
    rows = [[f.server_id, f.department, f"{f.kind.value}({KIND_ZH[f.kind]})", f.dimension.value if f.dimension else "-",
             "-" if f.observed is None else f"{f.observed:.1f}", "-" if f.threshold is None else f"{f.threshold:g}",
             size_short(f.current), size_short(f.recommended), money(f.monthly_saving_cny)] for f in found]
    return table(["server_id", "department", "kind", "dim", "observed", "threshold", "current", "recommended",
                  "saving CNY/month"], rows, right={4, 5, 8}) + f"\n{len(found)} findings"


def monthly_waste(found: list[Finding]) -> Decimal:
    """Money wasted each month: the savings of every shrink, release and undeployed finding."""
    return sum((f.monthly_saving_cny for f in found if f.kind in WASTE_KINDS), Decimal(0))


def department_table(found: list[Finding], servers_per_department: dict[str, int]) -> str:
    per: dict[str, dict] = defaultdict(lambda: defaultdict(set))
    waste: dict[str, Decimal] = defaultdict(Decimal)
    for f in found:
        per[f.department][f.kind].add(f.server_id)
        if f.kind in WASTE_KINDS:
            waste[f.department] += f.monthly_saving_cny
    kinds = list(Kind)
    order = sorted(servers_per_department, key=lambda d: (-waste[d], d))
    rows = [[d, str(servers_per_department[d]), *(str(len(per[d][k])) for k in kinds), money(waste[d])]
            for d in order]
    total = [str(sum(servers_per_department.values())),
             *(str(sum(len(per[d][k]) for d in per)) for k in kinds), money(monthly_waste(found))]
    rows.append(["合计", *total])
    headers = ["部门", "服务器", *(KIND_ZH[k] for k in kinds), "每月浪费(元)"]
    return table(headers, rows, right=set(range(1, len(headers))))


STATUS_ZH = {"issued": "已发出", "delivered": "已送达", "acknowledged": "已确认", "overdue": "逾期", "escalated": "已上报",
             "rectified": "已整改", "resolved": "已消除", "exempted": "已豁免", "withdrawn": "已撤回",
             "advised": "已建议"}
ITEM_ZH = {"open": "待整改", "advice": "扩容建议", "rectified": "已整改", "resolved": "已自行消除",
           "exempted": "已豁免", "withdrawn": "已撤回"}


def _state(status: str) -> str:
    return f"{STATUS_ZH.get(status, status)}({status})"


def notices_table(rows: list[tuple[object, dict[str, int]]]) -> str:
    """``rightsizer notices list``: each notice with its items counted by state."""
    def counts(c: dict[str, int]) -> str:
        return " ".join(f"{ITEM_ZH.get(k, k)}{n}" for k, n in sorted(c.items())) or "-"

    return table(["#", "文号", "部门", "状态", "送达", "整改期限", "事项"],
                 [[r.id, r.number, r.department, _state(r.status), (r.delivered_at or "-")[:10],
                   r.due_date or ("暂缓" if r.hold_reason else "-"), counts(c)] for r, c in rows])


def notices_json(rows: list[tuple[object, dict[str, int]]]) -> list[dict]:
    return [{"id": r.id, "number": r.number, "department": r.department, "status": r.status,
             "delivered_at": r.delivered_at, "due_date": r.due_date, "hold_reason": r.hold_reason,
             "items": dict(sorted(c.items()))} for r, c in rows]


def _item_json(it) -> dict:
    import json

    f = json.loads(it.detail)
    return {"id": it.id, "server_id": it.server_id, "kind": it.kind, "dimension": it.dimension or None,
            "state": it.status, "closed_at": it.closed_at, "evidence": it.evidence,
            "realised_saving_cny": None if it.realised_saving_cny is None else cny_text(it.realised_saving_cny),
            "current": f.get("current"), "recommended": f.get("recommended"),
            "monthly_saving_cny": cny_text(f["monthly_saving_cny"])}


def notice_json(v) -> dict:
    """``rightsizer notices show --format json`` (a jobs.admin.NoticeView)."""
    row = v.notice
    return {"id": row.id, "number": row.number, "department": row.department, "status": row.status,
            "issued_at": row.issued_at, "delivered_at": row.delivered_at, "due_date": row.due_date,
            "hold_reason": row.hold_reason, "items": [_item_json(it) for it in v.items],
            "events": [{"at": e.at, "actor": e.actor, "from": e.from_status, "to": e.to_status, "note": e.note}
                       for e in v.events],
            "deliveries": [{"channel": d.channel, "purpose": d.purpose, "status": d.status, "attempts": d.attempts,
                            "last_error": d.last_error or None} for d in v.deliveries]}


def notice_text(v) -> str:
    """``rightsizer notices show``: items with their state, events, deliveries and the text (a NoticeView)."""
    row = v.notice
    out = [f"{row.number}  {row.department}  状态 {_state(row.status)}  整改期限 {row.due_date or '-'}"]
    out.append("事项：")
    for it in v.items:
        j = _item_json(it)
        what = f"{KIND_ZH.get(it.kind, it.kind)}{'·' + it.dimension if it.dimension else ''}"
        line = f"  {it.server_id:14} {what:12} {ITEM_ZH.get(it.status, it.status)}"
        if it.status == "rectified" and j["realised_saving_cny"] is not None:
            line += f"，每月实际节约 {money(Decimal(j['realised_saving_cny']))} 元"
        if it.evidence:
            line += f"（{it.evidence}）"
        out.append(line)
    out.append("记录：")
    out += [f"  {e.at}  {e.actor:12}  {e.from_status or '-'} -> {e.to_status}  {e.note}" for e in v.events]
    out.append("投递：")
    out += [f"  {d.channel} ({d.purpose}): {d.status}，尝试 {d.attempts} 次"
            + (f"，最后错误：{d.last_error}" if d.last_error else "") for d in v.deliveries]
    return "\n".join(out + (["", v.text] if v.text else []))


def exemptions_table(rows: list, today: date) -> str:
    day = today.isoformat()

    def state(r) -> str:
        if r.revoked_at:
            return f"已撤销（{r.revoked_by}）"
        return "有效" if r.expires_on >= day else "已过期"

    return table(["#", "范围", "对象", "原因", "批准人", "有效期至", "状态"],
                 [[r.id, r.scope, r.target, r.reason, r.approver, r.expires_on, state(r)] for r in rows])
