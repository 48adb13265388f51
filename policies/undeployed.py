"""Deployment overdue (逾期未部署): more than 10 working days since delivery, no workload since.

"No workload" is judged only when the whole time since delivery lies in the window
(otherwise the server is judged idle or not by :mod:`policies.idle`).
"""

from __future__ import annotations

from datetime import datetime

from rightsizer.calendar import WorkCalendar
from rightsizer.models import Server, UsageSummary
from rightsizer.settings import Settings


def deploy_deadline(server: Server, settings: Settings, calendar: WorkCalendar):
    delivered = server.delivered_at.astimezone(settings.tz).date()
    return calendar.add_workdays(delivered, settings.policy.undeployed.workdays)


def is_undeployed(server: Server, summary: UsageSummary, at: datetime, settings: Settings,
                  calendar: WorkCalendar) -> bool:
    u = settings.policy.undeployed
    if not summary.delivered_in_window or summary.cpu_p95_pct is None:
        return False
    if summary.cpu_p95_pct >= u.workload_cpu_p95_below_pct:
        return False
    # Only now consult the calendar: a year it lacks fails closed with CalendarError.
    return at.astimezone(settings.tz).date() > deploy_deadline(server, settings, calendar)
