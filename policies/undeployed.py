"""Deployment (第十三条: deploy within 10 working days of delivery).

* Inside the deployment period (up to and including the deadline day) a server gets no
  ``release``, ``shrink`` or ``undeployed`` finding: the department is still deploying.
* Past it, with no workload since delivery, it is ``undeployed`` (逾期未部署) — never
  ``release``. "No workload" is judged only when the whole time since delivery lies in
  the window; a server already found ``undeployed`` that is still idle stays
  ``undeployed`` (:func:`carry`), so the finding keeps its identity and its notice.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from rightsizer.calendar import WorkCalendar
from rightsizer.models import Finding, Kind, Server, UsageSummary
from rightsizer.settings import Settings


def deploy_deadline(server: Server, settings: Settings, calendar: WorkCalendar):
    delivered = server.delivered_at.astimezone(settings.tz).date()
    return calendar.add_workdays(delivered, settings.policy.undeployed.workdays)


def is_undeployed(server: Server, summary: UsageSummary, at: datetime, settings: Settings,
                  calendar: WorkCalendar) -> bool:
    """Past the deployment deadline with no workload in all that is seen since delivery: the whole time
    since delivery lies in the window, or the deadline does (idle through the deadline and after it)."""
    u = settings.policy.undeployed
    if summary.cpu_p95_pct is None or summary.cpu_p95_pct >= u.workload_cpu_p95_below_pct:
        return False
    if not summary.delivered_in_window and (summary.window_start - server.delivered_at).days > 6 * u.workdays:
        return False  # the deadline lies well before the window: the calendar need not be asked
    # Only now consult the calendar: a year it lacks fails closed with CalendarError.
    deadline = deploy_deadline(server, settings, calendar)
    seen_since = summary.delivered_in_window or deadline >= summary.window_start.astimezone(settings.tz).date()
    return seen_since and at.astimezone(settings.tz).date() > deadline


def in_deployment_period(server: Server, at: datetime, settings: Settings, calendar: WorkCalendar) -> bool:
    """``at`` is on or before the deployment deadline (delivery + N working days)."""
    if (at - server.delivered_at).days > 7 * settings.policy.undeployed.workdays:  # far past: no calendar needed
        return False
    return at.astimezone(settings.tz).date() <= deploy_deadline(server, settings, calendar)


def carry(findings: list[Finding], still_undeployed: set[str]) -> list[Finding]:
    """A ``release`` of a server whose ``undeployed`` finding is open is that same finding, still:
    idle since delivery, it was never deployed (no new finding, no fresh deadline)."""
    out = []
    for f in findings:
        if f.kind is Kind.RELEASE and f.server_id in still_undeployed:
            f = replace(f, kind=Kind.UNDEPLOYED, evidence={**f.evidence, "still_idle_since_delivery": True})
        out.append(f)
    return out
