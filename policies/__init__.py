"""Policies: pure functions from a server and its usage summary to findings.

No I/O and no clock: the evaluation time ``at`` is passed in. Order of judgement:

1. ``insufficient_data`` — coverage below the floor or too few days: nothing else;
   inside the deployment period (delivery + N working days) only ``expand`` can follow;
2. ``undeployed`` — delivered more than N working days ago, no workload since;
3. ``release`` — idle over the look-back;
4. ``shrink`` / ``expand`` per dimension, with one recommended size for the server.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from rightsizer.calendar import CalendarError, WorkCalendar
from rightsizer.models import Dimension, Finding, Kind, Server, Size, UsageSummary, cny_text
from rightsizer.settings import Settings

from . import idle, pingdu, sizing, undeployed

__all__ = ["evaluate_server"]


def _window(summary: UsageSummary) -> dict:
    return {
        "start": summary.window_start.isoformat(),
        "end": summary.window_end.isoformat(),
        "effective_start": summary.effective_start.isoformat(),
        "coverage": summary.coverage,
        "coverage_by_metric": summary.coverage_by_metric,
        "days_of_data": summary.days_of_data,
    }


def _server_level(server: Server, summary: UsageSummary, kind: Kind, observed, threshold, settings: Settings,
                  **extra) -> Finding:
    saving = Decimal(0)
    if kind in (Kind.RELEASE, Kind.UNDEPLOYED):
        saving = sizing.monthly_cost(server.size, settings.prices)
    return Finding(
        server_id=server.server_id, department=server.department, kind=kind, dimension=None,
        observed=observed, threshold=threshold, current=server.size, recommended=None,
        monthly_saving_cny=saving, evidence={"window": _window(summary), **extra},
    )


def evaluate_server(server: Server, summary: UsageSummary, at: datetime, settings: Settings,
                    calendar: WorkCalendar) -> list[Finding]:
    """The server's findings, each carrying what a notice prints about the server (name, system, the
    measured values) so a finding reads on its own."""
    from dataclasses import replace

    about = {"server_name": server.name, "system": server.system, "cpu_p95_pct": summary.cpu_p95_pct,
             "memory_peak_pct": summary.memory_peak_pct, "disk_latest_pct": summary.disk_latest_pct}
    return [replace(f, evidence={**about, **f.evidence}) for f in _judge(server, summary, at, settings, calendar)]


def _judge(server: Server, summary: UsageSummary, at: datetime, settings: Settings,
           calendar: WorkCalendar) -> list[Finding]:
    w = settings.window
    if server.resized_at and summary.effective_start < server.resized_at:
        # the statistics mix percentages of the old size with the new one (a source that cannot start
        # at the resize): wait until the resize has left the window
        return [_server_level(server, summary, Kind.INSUFFICIENT_DATA, summary.coverage, w.coverage_min, settings,
                              statistic="resized", resized_at=server.resized_at.isoformat())]
    if summary.coverage < w.coverage_min or summary.days_of_data < w.min_days_of_data:
        return [_server_level(server, summary, Kind.INSUFFICIENT_DATA, summary.coverage, w.coverage_min, settings,
                              statistic="coverage", min_days_of_data=w.min_days_of_data,
                              source_error=summary.source_error)]
    try:
        deploying = undeployed.in_deployment_period(server, at, settings, calendar)
        late = not deploying and undeployed.is_undeployed(server, summary, at, settings, calendar)
    except CalendarError:
        # its deployment deadline falls in a year the calendar does not know: that server's deadline is held
        # (judged as still deploying), never the city's run
        deploying, late = True, False
    if deploying:
        # still deploying: no release, shrink or undeployed; an overloaded server may be told to expand
        return [f for f in _resize(server, summary, settings) if f.kind is Kind.EXPAND]
    if late:
        u = settings.policy.undeployed
        return [_server_level(
            server, summary, Kind.UNDEPLOYED, summary.cpu_p95_pct, u.workload_cpu_p95_below_pct, settings,
            statistic="cpu_p95_pct_since_delivery", delivered_at=server.delivered_at.isoformat(),
            deploy_deadline=undeployed.deploy_deadline(server, settings, calendar).isoformat(),
            workdays=u.workdays)]
    if idle.is_idle(summary, settings):
        r = settings.policy.release
        return [_server_level(server, summary, Kind.RELEASE, summary.recent_cpu_p95_pct, r.cpu_p95_below_pct,
                              settings, statistic="cpu_p95_pct", lookback_days=r.days,
                              lookback_coverage=summary.recent_coverage)]
    return _resize(server, summary, settings)


def _resize(server: Server, summary: UsageSummary, settings: Settings) -> list[Finding]:
    """Shrink and expand findings with one whole recommended size for the server.

    Only dimensions that really shrink (or grow) are asked of the catalogue; the snapped size is the
    recommendation of every finding. Costs are whole: together the findings save the price difference
    of the whole current and recommended sizes — a dimension that snapping changed without a finding of
    its own is priced on the first finding and shown there (``snapping``). A shrink that snapping makes
    no cheaper is no recommendation at all."""
    shrink = pingdu.shrink_dimensions(summary, settings.policy)
    expand = pingdu.expand_dimensions(summary, settings.policy)
    if not shrink and not expand:
        return []
    sz = settings.sizing
    changes: dict[Dimension, float] = {}
    for dim in (*shrink, *expand):
        need = sizing.needed(dim, server.size.get(dim), pingdu.sizing_stat(summary, dim), sz,
                             max_pct=summary.memory_max_pct if dim is Dimension.MEMORY else None)
        cur = server.size.get(dim)
        if (need < cur) if dim in shrink else (need > cur):  # at the floor, or the observed maximum forbids it
            changes[dim] = need
    if not changes:
        return []
    rec, flavor = sizing.recommend(server.size, changes, sz, settings.prices)
    findings = []
    for dim, threshold in (*((d, t) for d, t in shrink.items()), *((d, t) for d, t in expand.items())):
        if dim not in changes:
            continue
        kind = Kind.SHRINK if dim in shrink else Kind.EXPAND
        cur, new = server.size.get(dim), rec.get(dim)
        if (new >= cur) if kind is Kind.SHRINK else (new <= cur):
            continue  # snapped back: this dimension does not change after all
        price = sizing.unit_price(dim, settings.prices)
        findings.append(Finding(
            server_id=server.server_id, department=server.department, kind=kind, dimension=dim,
            observed=pingdu.observed(summary, dim), threshold=threshold, current=server.size, recommended=rec,
            monthly_saving_cny=(Decimal(str(cur)) - Decimal(str(new))) * price,
            evidence={
                "statistic": pingdu.STAT_NAME[dim],
                "window": _window(summary),
                "cpu_max_pct": summary.cpu_max_pct,
                "memory_max_pct": summary.memory_max_pct,
                "memory_peak_days": summary.memory_peak_days,
                "disk_max_pct": summary.disk_max_pct,
                "sizing_statistic_pct": pingdu.sizing_stat(summary, dim),
                "target_pct": sz.target_pct,
                "unit_price_cny_month": str(price),
                "flavor": flavor,
                "mode": settings.policy.shrink.mode,
            },
        ))
    whole = sizing.monthly_cost(server.size, settings.prices) - sizing.monthly_cost(rec, settings.prices)
    if findings and all(f.kind is Kind.SHRINK for f in findings) and whole <= 0:
        return []  # the flavor that covers the shrink costs as much as today's size: nothing to save
    return _whole(findings, server, rec, whole, settings)


def _whole(findings: list[Finding], server: Server, rec: Size, whole: Decimal, settings: Settings) -> list[Finding]:
    from dataclasses import replace

    if not findings:
        return findings
    own = {f.dimension for f in findings}
    side, side_cost = {}, Decimal(0)
    for dim in Dimension:
        cur, new = server.size.get(dim), rec.get(dim)
        if dim not in own and new != cur:
            cost = (Decimal(str(new)) - Decimal(str(cur))) * sizing.unit_price(dim, settings.prices)
            side[dim.value] = {"from": cur, "to": new, "cost_cny": cny_text(cost)}
            side_cost += cost
    out = []
    for i, f in enumerate(findings):
        ev = {**f.evidence, "server_saving_cny": cny_text(whole)}
        saving = f.monthly_saving_cny
        if i == 0 and side:
            ev["snapping"] = side
            saving -= side_cost
        out.append(replace(f, monthly_saving_cny=saving, evidence=ev))
    return out
