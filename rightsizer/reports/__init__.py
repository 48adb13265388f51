"""Read models for finance and the evaluation office (pandas), shared by the CLI, the daemon's
``/metrics`` and the web console, so all three show the same figures.

* :mod:`.history` — the store's history as frames of local days (one read);
* :mod:`.money` — one month's cost, waste, run rate, realised savings and notices;
* :mod:`.monthly` — the monthly waste report (月度资源浪费报告);
* :mod:`.evaluation` — the performance-evaluation export (绩效评价) with its rubric;
* :mod:`.writers` — xlsx (XlsxWriter through pandas), CSV (UTF-8 with BOM), HTML, JSON.
"""

from __future__ import annotations

from . import history
from .history import TRACKED, History
from .money import Month
from .monthly import MonthlyReport, build

__all__ = ["TRACKED", "History", "Month", "MonthlyReport", "build", "history"]
