"""Plain-text tables for operators: findings, the per-department waste summary, notices and exemptions."""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from datetime import date
from decimal import Decimal

from .format import KIND_ZH, money, size_short
from .models import Finding, Kind

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


def notices_table(rows: list[tuple[object, int]]) -> str:
    """``rightsizer notices list``: each notice with its number of items."""
    return table(["#", "文号", "部门", "状态", "送达", "整改期限", "服务器问题数"],
                 [[r.id, r.number, r.department, r.status, (r.delivered_at or "-")[:10],
                   r.due_date or ("暂缓" if r.hold_reason else "-"), n] for r, n in rows])


def notice_text(v) -> str:
    """``rightsizer notices show``: the notice's events, deliveries and text (a jobs.admin.NoticeView)."""
    row = v.notice
    out = [f"{row.number}  {row.department}  status {row.status}  due {row.due_date or '-'}"]
    out += [f"  {e.at}  {e.actor:12}  {e.from_status or '-'} -> {e.to_status}  {e.note}" for e in v.events]
    out += [f"  delivery {d.channel} ({d.purpose}): {d.status}, {d.attempts} attempts"
            + (f", last error: {d.last_error}" if d.last_error else "") for d in v.deliveries]
    return "\n".join(out + (["", v.text] if v.text else []))


def exemptions_table(rows: list, today: date) -> str:
    day = today.isoformat()
    return table(["#", "范围", "对象", "原因", "批准人", "有效期至", "状态"],
                 [[r.id, r.scope, r.target, r.reason, r.approver, r.expires_on,
                   "有效" if r.expires_on >= day else "已过期"] for r in rows])
