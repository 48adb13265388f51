"""Plain-text tables for operators: findings, the per-department waste summary, notices and exemptions."""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from datetime import date, tzinfo
from decimal import Decimal

from .format import KIND_ZH, count, day, minute, money, size_short
from .lifecycle import label
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
                  "saving CNY/month"], rows, right={4, 5, 8}) + f"\n{count(len(found), 'finding')}"


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


def _state(state) -> str:
    return f"{state.label}({state.value})"


def notices_table(rows: list, tz: tzinfo) -> str:
    """``rightsizer notices list``: each notice with its items counted by state (a list of
    :class:`~rightsizer.jobs.views.NoticeLine`)."""
    def counts(c: dict[str, int]) -> str:
        return " ".join(f"{label(k)}{n}" for k, n in sorted(c.items())) or "-"

    return table(["#", "文号", "部门", "状态", "送达", "整改期限", "事项"],
                 [[r.notice.id, r.notice.number, r.notice.department, _state(r.notice.state),
                   day(r.notice.delivered_at, tz, "-"), _due(r.notice), counts(r.item_counts)] for r in rows])


def _named(state: str | None) -> str:
    """A state with its label, ``已送达(delivered)``; an event of its own as it is; ``-`` for none."""
    if not state:
        return "-"
    zh = label(state)
    return f"{zh}({state})" if zh != state else state


def _due(n) -> str:
    return n.due_date.isoformat() if n.due_date else ("待定" if n.hold_reason else "-")


def notice_text(v, tz: tzinfo) -> str:
    """``rightsizer notices show``: items with their state, events, deliveries and the text (a NoticeView)."""
    n = v.notice
    out = [f"{n.number}  {n.department}  状态 {_state(n.state)}  整改期限 {_due(n)}"]
    out.append("事项：")
    for it in v.items:
        what = f"{KIND_ZH.get(it.kind, it.kind)}{'·' + it.dimension if it.dimension else ''}"
        line = f"  {it.server_id:14} {what:12} {it.state.label}"
        if it.realised_saving_cny is not None:
            line += f"，每月实际节约 {money(it.realised_saving_cny)} 元"
        if it.evidence:
            line += f"（{it.evidence}）"
        out.append(line)
    out.append("记录：")
    out += [f"  {minute(e.at, tz)}  {e.actor:12}  {_named(e.from_state)} -> {_named(e.to_state)}  {e.note}"
            for e in v.events]
    out.append("投递：")
    out += [f"  {d.channel} ({d.purpose}): {d.state.label}，尝试 {d.attempts} 次"
            + (f"，最后错误：{d.last_error}" if d.last_error else "") for d in v.deliveries]
    return "\n".join(out + (["", v.text] if v.text else []))


def exemptions_table(rows: list, today: date) -> str:
    def state(r) -> str:
        if r.revoked_at:
            return f"已撤销（{r.revoked_by}）"
        return "有效" if r.expires_on >= today else "已过期"

    return table(["#", "范围", "对象", "原因", "批准人", "有效期至", "状态"],
                 [[r.id, r.scope, r.target, r.reason, r.approver, r.expires_on.isoformat(), state(r)] for r in rows])
