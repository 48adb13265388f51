"""Shrink (核减) and expand (扩容) per dimension, as 平度 第十三条 sets them.

* shrink: CPU p95 at or below 25 %, memory periodic peak at or below 30 %, disk
  below 50 % (``mode = "any"``: each dimension on its own; ``"all"``: all three);
* expand: any dimension above 75 %.
"""

from __future__ import annotations

from rightsizer.models import Dimension, UsageSummary
from rightsizer.settings import PolicySettings


def observed(summary: UsageSummary, dim: Dimension) -> float | None:
    """The statistic that decides a dimension."""
    return {
        Dimension.CPU: summary.cpu_p95_pct,
        Dimension.MEMORY: summary.memory_peak_pct,
        Dimension.DISK: summary.disk_latest_pct,
    }[dim]


STAT_NAME = {Dimension.CPU: "cpu_p95_pct", Dimension.MEMORY: "memory_peak_pct", Dimension.DISK: "disk_latest_pct"}


def shrink_dimensions(summary: UsageSummary, policy: PolicySettings) -> dict[Dimension, float]:
    """Dimensions under the shrink thresholds, with the threshold each one met."""
    s = policy.shrink
    rules = {
        Dimension.CPU: (s.cpu_p95_max_pct, lambda v, t: v <= t),
        Dimension.MEMORY: (s.memory_peak_max_pct, lambda v, t: v <= t),
        Dimension.DISK: (s.disk_used_below_pct, lambda v, t: v < t),
    }
    hits = {}
    for dim, (threshold, ok) in rules.items():
        v = observed(summary, dim)
        if v is not None and ok(v, threshold):
            hits[dim] = threshold
    if s.mode == "all" and len(hits) < len(rules):
        return {}
    return hits


def expand_dimensions(summary: UsageSummary, policy: PolicySettings) -> dict[Dimension, float]:
    t = policy.expand.above_pct
    return {d: t for d in Dimension if (v := observed(summary, d)) is not None and v > t}



def sizing_stat(summary: UsageSummary, dim: Dimension) -> float:
    """The statistic a recommended size is computed from (the disk uses its window maximum)."""
    if dim is Dimension.DISK:
        return max(v for v in (summary.disk_latest_pct, summary.disk_max_pct) if v is not None)
    return observed(summary, dim)  # type: ignore[return-value]

