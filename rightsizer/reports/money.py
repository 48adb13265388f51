"""One month's money and notices, per server and per department, from a :class:`History`.

The formulas (also printed on the report's notes sheet):

* **cost** — each size's contract price a month × days the server had it in the month, under
  monitoring (from its first evaluation, in a month with an evaluation), ÷ days in the month;
* **waste** — each compulsory finding (shrink, release, undeployed): its monthly saving ×
  days it was open and not exempted in the month ÷ days in the month;
* **run rate** — the monthly saving of the compulsory findings open on the month's last day;
* **realised** — each verified rectification's monthly saving × days in the month from the
  day the inventory saw the change ÷ days in the month;
* **unregistered** — an unregistered server's monthly cost × days it was unregistered ÷ days.

Each server's amounts are rounded to the fen (half up); every subtotal and total is the
sum of the rounded rows, so every sheet adds up exactly. A month still running is counted
up to ``cut`` (the day after "now"); its denominator stays the whole month.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd

from ..lifecycle import NoticeState
from .history import COMPULSORY, FOREVER, History

FEN = Decimal("0.01")
MONEY = ("cost", "waste", "run_rate", "realised", "unregistered", "unregistered_run_rate")


@dataclass(frozen=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        y, m = text.split("-")
        if len(y) != 4 or not 1 <= int(m) <= 12 or len(m) != 2:
            raise ValueError(text)
        return cls(int(y), int(m))

    @classmethod
    def of(cls, day: date) -> Month:
        return cls(day.year, day.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def shift(self, n: int) -> Month:
        k = self.year * 12 + self.month - 1 + n
        return Month(k // 12, k % 12 + 1)

    @property
    def first(self) -> int:
        return int(np.datetime64(f"{self}-01", "D").astype(np.int64))

    @property
    def end(self) -> int:
        return self.shift(1).first

    @property
    def days(self) -> int:
        return self.end - self.first

    def label(self) -> str:
        return f"{self.year}年{self.month}月"


def overlap(start, end, lo: int, hi: int) -> np.ndarray:
    return np.clip(np.minimum(np.asarray(end), hi) - np.maximum(np.asarray(start), lo), 0, None)


def fen(x: Decimal) -> Decimal:
    return x.quantize(FEN, rounding=ROUND_HALF_UP)


def _per_server(ids, amounts) -> dict[str, Decimal]:
    out: dict[str, Decimal] = defaultdict(Decimal)
    for sid, a in zip(ids, amounts):
        if a:
            out[sid] += a
    return out


def servers_month(h: History, m: Month, cut: int) -> pd.DataFrame:
    """Per server: cost, waste, run_rate, realised, unregistered(_run_rate) (Decimal, rounded to the fen),
    present_days, monitored_days (cost and waste count only these), present_at_end, insufficient_days, insufficient_at_end, kinds_at_end. ``cut`` ends the
    counted days (exclusive; at most the month's end)."""
    lo, dim = m.first, Decimal(m.days)
    cut = min(cut, m.end)
    last = cut - 1
    s = h.servers
    seg = h.segments
    mon = h.monitored(lo, cut)  # a month nobody evaluated: no day of it is known
    watched = seg["server_id"].map(s["watched"]).fillna(FOREVER).to_numpy(dtype=np.int64)
    d = overlap(np.maximum(seg["start"], watched), seg["end"], lo, cut) * mon  # cost: monitored days only
    cost = _per_server(seg["server_id"], (c * int(n) / dim if n else 0 for c, n in zip(seg["cost"], d)))

    f = h.findings
    fd = overlap(f["start"], f["end"], lo, cut)
    on_last = ((f["start"] <= last) & (f["end"] > last)).to_numpy() & (cut > lo)
    comp = f["kind"].isin(COMPULSORY).to_numpy() & ((fd > 0) | on_last)
    fc = f[comp]
    fdc = (fd[comp] - h.exempt_days(fc["server_id"], np.maximum(fc["start"], lo), np.minimum(fc["end"], cut))) * mon
    # (the run rate is the open findings' saving: known without an evaluation this month; the waste is not)
    exempt_last = h.exempt_days(fc["server_id"], np.full(len(fc), last), np.full(len(fc), cut)) > 0
    waste = _per_server(fc["server_id"], (v * int(n) / dim for v, n in zip(fc["saving"], fdc)))
    run = _per_server(fc["server_id"], (v if o and not x else 0
                                        for v, o, x in zip(fc["saving"], on_last[comp], exempt_last)))
    un = (f["kind"] == "unregistered").to_numpy()
    fu = f[un]
    ucost = fu["server_id"].map(s["cost"])
    unreg = _per_server(fu["server_id"], (c * int(n) / dim if n else 0 for c, n in zip(ucost, fd[un])))
    unreg_run = _per_server(fu["server_id"], (c if o else 0 for c, o in zip(ucost, on_last[un])))
    ins = (f["kind"] == "insufficient_data").to_numpy()
    ins_days = pd.Series(fd[ins], index=f.loc[ins, "server_id"]).groupby(level=0).sum()
    ins_end = set(f.loc[ins & on_last, "server_id"])
    kinds_end = f[on_last & ~ins].groupby("server_id")["kind"].agg(lambda k: ",".join(sorted(set(k))))

    it = h.items[h.items["status"] == "rectified"]
    realised = _per_server(it["server_id"], (v * int(n) / dim if n else 0
                                             for v, n in zip(it["realised"], overlap(it["closed"], 10**7, lo, cut))))

    present = overlap(s["start"], s["end"], lo, cut)
    keep = set(s.index[present > 0]) | cost.keys() | waste.keys() | realised.keys() | unreg.keys()
    out = s.loc[s.index.isin(keep), ["name", "department", "system", "vcpus", "ram_gib", "disk_gib"]].copy()
    out["present_days"] = pd.Series(present, index=s.index).reindex(out.index).astype(int)
    seen = overlap(np.maximum(s["start"], s["watched"]), s["end"], lo, cut) * mon
    out["monitored_days"] = pd.Series(seen, index=s.index).reindex(out.index).astype(int)
    out["present_at_end"] = ((s["start"] <= last) & (s["end"] > last)).reindex(out.index)
    for name, values in (("cost", cost), ("waste", waste), ("run_rate", run), ("realised", realised),
                         ("unregistered", unreg), ("unregistered_run_rate", unreg_run)):
        out[name] = [fen(values.get(sid, Decimal(0))) for sid in out.index]
    out["insufficient_days"] = ins_days.reindex(out.index).fillna(0).astype(int)
    out["insufficient_at_end"] = out.index.isin(list(ins_end))
    out["kinds_at_end"] = kinds_end.reindex(out.index).fillna("")
    return out.sort_values(["department", "system", "name"])


NOTICE_COUNTS = ("issued", "closed_in_time", "overdue", "escalated", "open_at_end", "overdue_open_at_end")


def notices_month(h: History, m: Month, cut: int) -> pd.DataFrame:
    """Per department: notices issued in the month, closed in it without having gone overdue, gone overdue in
    it, escalated in it, open at its end, and of those overdue."""
    lo, cut = m.first, min(cut, m.end)
    n = h.notices
    inside = lambda col: (n[col] >= lo) & (n[col] < cut)  # noqa: E731
    open_end = (n["issued"] < cut) & (n["closed"] >= cut)
    frame = pd.DataFrame({
        "department": n["department"],
        "issued": inside("issued"),
        "closed_in_time": inside("closed") & (n["overdue"] > n["closed"])
        & ~n["status"].isin((NoticeState.WITHDRAWN, NoticeState.ADVISED)),
        "overdue": inside("overdue"),
        "escalated": inside("escalated"),
        "open_at_end": open_end,
        "overdue_open_at_end": open_end & (n["overdue"] < cut),
    })
    return frame.groupby("department")[list(NOTICE_COUNTS)].sum().astype(int)
