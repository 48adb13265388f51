"""The performance-evaluation export (绩效评价): per department over a year or a quarter.

Seeds 000 第二十三、二十四条 and 001 第二十二、二十四条 make the evaluation result the basis of
next year's O&M budget; seed 002 第十八条(四) counts unreasonable server use against a
department. Per department: servers at the period's end, the average waste rate (waste ÷
cost over the period), notices received, the share closed by their deadline, notices gone
overdue and escalated, unregistered systems, realised savings, and a score from the
``[evaluation]`` rubric (weights and bands; the README documents the default).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import numpy as np
import pandas as pd

from ..settings import EvaluationSettings
from .history import History
from .money import Month, notices_month, servers_month

INDICATORS = ("waste_rate", "rectified_in_time", "overdue", "unregistered")


@dataclass
class EvaluationReport:
    year: int
    quarter: int | None
    as_of: datetime
    rows: pd.DataFrame  # one row per department (index)
    rubric: EvaluationSettings

    @property
    def period(self) -> str:
        return f"{self.year}年" + (f"第{self.quarter}季度" if self.quarter else "度")


def band(value: float, bands: list[tuple[float, float]]) -> float:
    """The share of an indicator's points: the first band whose bound ``value`` does not exceed."""
    for bound, share in bands:
        if value <= bound + 1e-12:
            return share
    return 0.0


UNSCORED = "未监测"  # the grade of a department with no monitored day in the period: no score, never full marks


def score(r, rubric: EvaluationSettings) -> tuple[dict[str, float | None], float | None, str]:
    """Points per indicator, the score out of 100 and its grade; a department whose waste rate is not known
    (no monitored day in the period) is not scored."""
    if r["waste_rate"] is None:
        return {k: None for k in INDICATORS}, None, UNSCORED
    w = rubric.weights.model_dump()
    share = {
        "waste_rate": band(r["waste_rate"], rubric.waste_rate_bands),
        "rectified_in_time": 1.0 if r["in_time_share"] is None else r["in_time_share"],
        "overdue": band(r["overdue"], rubric.overdue_bands),
        "unregistered": band(r["unregistered_systems"], rubric.unregistered_bands),
    }
    total = sum(w.values())
    points = {k: round(100 * w[k] * share[k] / total, 2) for k in INDICATORS}
    value = round(sum(points.values()), 1)
    grade = next(name for lowest, name in rubric.grades if value >= lowest)
    return points, value, grade


def build(h: History, year: int, quarter: int | None, now: datetime, rubric: EvaluationSettings) -> EvaluationReport:
    months = [Month(year, m) for m in (range(3 * quarter - 2, 3 * quarter + 1) if quarter else range(1, 13))]
    today = int(np.datetime64(now.astimezone(h.tz).date(), "D").astype(np.int64))
    cut = today + 1
    months = [m for m in months if m.first < cut] or months[:1]
    per = [servers_month(h, m, cut) for m in months]  # only monitored days count: a month nobody evaluated adds none
    notes = [notices_month(h, m, cut) for m in months]
    depts = sorted(set().union(*(set(p["department"]) for p in per), *(set(n.index) for n in notes)))
    rows = []
    for d in depts:
        mine = [p[p["department"] == d] for p in per]
        cost = sum((sum(m["cost"], Decimal(0)) for m in mine), Decimal(0))
        waste = sum((sum(m["waste"], Decimal(0)) for m in mine), Decimal(0))
        counts = {k: int(sum(n.loc[d, k] if d in n.index else 0 for n in notes))
                  for k in ("issued", "closed_in_time", "overdue", "escalated")}
        judged = counts["closed_in_time"] + counts["overdue"]
        unreg = pd.concat([m[m["unregistered"] > 0] for m in mine])
        seen = sum(int(m["monitored_days"].sum()) for m in mine)
        r = {"department": d, "servers": int(mine[-1]["present_at_end"].sum()), "monitored_days": seen,
             "cost": cost if seen else None, "waste": waste if seen else None,
             "waste_rate": float(waste / cost) if seen and cost else None,
             **counts, "in_time_share": counts["closed_in_time"] / judged if judged else None,
             "unregistered_servers": unreg.index.nunique(),
             "unregistered_systems": unreg["system"].where(unreg["system"] != "", unreg["name"]).nunique(),
             "realised": sum((sum(m["realised"], Decimal(0)) for m in mine), Decimal(0))}
        points, r["score"], r["grade"] = score(r, rubric)
        r.update({f"points_{k}": v for k, v in points.items()})
        rows.append(r)
    frame = pd.DataFrame(rows).set_index("department") if rows else pd.DataFrame()
    return EvaluationReport(year, quarter, now, frame, rubric)
