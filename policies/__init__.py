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
        return _resize(server, summary, settings, expand_only=True)
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


def _resize(server: Server, summary: UsageSummary, settings: Settings, expand_only: bool = False) -> list[Finding]:
    """Shrink and expand findings, each section with its own whole recommended size.

    A shrink is compulsory and stands on its own: the catalogue is asked for the shrinking dimensions only,
    and the shrinks together save the price difference of today's size and that one (≥ 0; a shrink that
    snapping makes no cheaper is no recommendation at all). What the snap changed elsewhere is carried by
    the shrinks, each at most its own saving, so that no compulsory item ever costs money. An expansion is
    advice on top of that: the catalogue is asked for the shrinks and the expansions together, and the
    expansions carry the whole difference from the compulsory size — what the snap forced included."""
    shrink = {} if expand_only else pingdu.shrink_dimensions(summary, settings.policy)  # deploying: advice only
    expand = pingdu.expand_dimensions(summary, settings.policy)
    if not shrink and not expand:
        return []
    sz = settings.sizing
    cut: dict[Dimension, float] = {}
    grow: dict[Dimension, float] = {}
    for dim in (*shrink, *expand):
        need = sizing.needed(dim, server.size.get(dim), pingdu.sizing_stat(summary, dim), sz,
                             max_pct=summary.memory_max_pct if dim is Dimension.MEMORY else None)
        cur = server.size.get(dim)
        if dim in shrink and need < cur:  # else at the floor, or the observed maximum forbids it
            cut[dim] = need
        elif dim in expand and need > cur:
            grow[dim] = need
    from dataclasses import replace

    out: list[Finding] = []
    base = server.size
    if cut:
        rec, flavor = sizing.recommend(server.size, cut, sz, settings.prices)
        made = _findings(server, summary, settings, Kind.SHRINK, shrink, rec, flavor)
        whole = sizing.monthly_cost(server.size, settings.prices) - sizing.monthly_cost(rec, settings.prices)
        if made and whole > 0:
            out += _priced(made, server.size, rec, whole, settings)
            base = rec
        else:
            cut = {}  # the flavor that covers the shrink costs as much as today's size: nothing to save
    if grow:
        rec, flavor = sizing.recommend(server.size, {**cut, **grow}, sz, settings.prices)
        made = _findings(server, summary, settings, Kind.EXPAND, expand, rec, flavor)
        undone = [f.dimension.value for f in out if rec.get(f.dimension) >= server.size.get(f.dimension)]
        if made and undone:
            made = [replace(f, evidence={**f.evidence, "undoes_shrink": undone}) for f in made]
        if made:
            whole = sizing.monthly_cost(base, settings.prices) - sizing.monthly_cost(rec, settings.prices)
            out += _priced(made, base, rec, whole, settings)
    return out


def _findings(server: Server, summary: UsageSummary, settings: Settings, kind: Kind, thresholds: dict,
              rec: Size, flavor: str | None) -> list[Finding]:
    """One finding per dimension of ``kind`` that ``rec`` really moves, priced on its own dimension."""
    sz = settings.sizing
    out = []
    for dim, threshold in thresholds.items():
        cur, new = server.size.get(dim), rec.get(dim)
        if (new >= cur) if kind is Kind.SHRINK else (new <= cur):
            continue  # snapped back: this dimension does not change after all
        price = sizing.unit_price(dim, settings.prices)
        out.append(Finding(
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
                # a catalogue is configured, yet no flavor holds this size: said on the item, not "no catalogue"
                **({"no_flavor_fits": True} if sz.flavors and flavor is None else {}),
                "mode": settings.policy.shrink.mode,
            },
        ))
    return out


def _priced(findings: list[Finding], base: Size, rec: Size, whole: Decimal, settings: Settings) -> list[Finding]:
    """``findings`` (one section of one server, ``base`` → ``rec``) priced to add up to ``whole``.

    What the snap changed in a dimension without a finding (``snapping``) is shown on the item that carries
    its cost: for expansions the first (the advice forced it); for shrinks the items with the largest
    savings first, none beyond its own saving (their sum, ``whole``, is positive)."""
    from dataclasses import replace

    own = {f.dimension for f in findings}
    side: dict[str, dict] = {}
    for dim in Dimension:
        cur, new = base.get(dim), rec.get(dim)
        if dim not in own and new != cur:
            cost = (Decimal(str(new)) - Decimal(str(cur))) * sizing.unit_price(dim, settings.prices)
            side[dim.value] = {"from": cur, "to": new, "cost_cny": cny_text(cost)}
    savings = [f.monthly_saving_cny for f in findings]
    for i, f in enumerate(findings):  # an expansion's own change is counted from ``base`` (the compulsory size)
        if f.kind is Kind.EXPAND:
            savings[i] = (Decimal(str(base.get(f.dimension))) - Decimal(str(rec.get(f.dimension)))) * \
                sizing.unit_price(f.dimension, settings.prices)
    left = sum(savings, Decimal(0)) - whole  # what the snap costs (< 0: what it saves)
    if findings[0].kind is Kind.EXPAND or left < 0:
        order = list(range(len(findings)))  # the first item takes it all
    else:
        order = sorted(range(len(findings)), key=lambda i: -savings[i])
    carrier = order[0]
    for i in order:
        if not left:
            break
        take = left if findings[i].kind is Kind.EXPAND or left < 0 else min(left, savings[i])
        savings[i] -= take
        left -= take
    out = []
    for i, f in enumerate(findings):
        ev = {**f.evidence, "server_saving_cny": cny_text(whole)}
        if i == carrier and side:
            ev["snapping"] = side
        out.append(replace(f, monthly_saving_cny=savings[i], evidence=ev))
    return out
