"""Release (释放): a system no longer used — CPU p95 below 3 % over the last 14 days.

The look-back must itself be covered (``window.coverage_min``): an outage at the
end of the window never makes a server look idle.
"""

from __future__ import annotations

from rightsizer.models import UsageSummary
from rightsizer.settings import Settings


def is_idle(summary: UsageSummary, settings: Settings) -> bool:
    r = settings.policy.release
    return (
        summary.recent_cpu_p95_pct is not None
        and summary.recent_coverage >= settings.window.coverage_min
        and summary.recent_cpu_p95_pct < r.cpu_p95_below_pct
    )
