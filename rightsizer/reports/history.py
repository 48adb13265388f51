"""The store's history as frames of whole local days, ready for month arithmetic.

Every time becomes a day number (days since 1970-01-01 in the configured time zone) and
every interval is half-open ``[start, end)``: a finding first seen on the 3rd and found
gone on the 10th was open on the 3rd to the 9th. A missing end is :data:`FOREVER`.

What ends a compulsory finding's days of waste, whichever comes first:

* the run that found it gone (the usage changed, or the server was resized);
* a verified rectification of it (the day the inventory saw the change);
* the server's removal from the cloud.

Exempted days (an approved exemption of the server or its system, until it expires or is
revoked) are not waste either; :func:`exempt_days` counts them.

Only monitored time counts: a server is monitored from the day of its first evaluation
(``watched``), and only in a month with at least one evaluation (:meth:`History.monitored`).
Its cost and waste before that, or in a month nobody evaluated, are unknown — never zero,
never a month of full waste.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from ..lifecycle import CLOSED as CLOSED_STATES
from ..settings import PriceSettings

FOREVER = 10**7  # a day number far beyond any report
NEVER = -FOREVER
COMPULSORY = ("shrink", "release", "undeployed")  # what a department must rectify: the waste
TRACKED = (*COMPULSORY, "unregistered", "insufficient_data")
CLOSED = tuple(s.value for s in CLOSED_STATES)  # a notice's final states


def days(values, tz: ZoneInfo, missing: int) -> np.ndarray:
    """Aware times (their day where the centre is) or dates -> local day numbers; ``None`` -> ``missing``."""
    s = pd.Series(list(values), dtype=object)
    out = np.full(len(s), missing, dtype=np.int64)
    if not len(s):
        return out
    known = s.notna().to_numpy(dtype=bool)  # None and NaT (a datetime column with gaps) are "no time"
    is_time = known & s.map(lambda v: isinstance(v, datetime)).to_numpy(dtype=bool)
    is_day = known & s.map(lambda v: isinstance(v, date) and not isinstance(v, datetime)).to_numpy(dtype=bool)
    other = known & ~is_time & ~is_day
    if other.any():
        raise TypeError(f"not a time or a date: {s[other].iloc[0]!r}")
    if is_time.any():
        t = pd.to_datetime(s[is_time], utc=True).dt.tz_convert(tz).dt.tz_localize(None)
        out[is_time] = t.to_numpy().astype("datetime64[D]").astype(np.int64)
    if is_day.any():
        out[is_day] = np.array(s[is_day].tolist(), dtype="datetime64[D]").astype(np.int64)
    return out


def money(values) -> list[Decimal]:
    """Amounts as ``Decimal`` (a missing amount counts as nothing realised: ``0``)."""
    return [Decimal(v) if v is not None else Decimal(0) for v in values]


def monthly_cost(vcpus, ram_gib, disk_gib, prices: PriceSettings) -> list[Decimal]:
    """The contract price of each size a month (the same formula as :func:`policies.sizing.monthly_cost`)."""
    return [prices.cny_per_vcpu_month * int(v) + prices.cny_per_ram_gib_month * Decimal(str(r))
            + prices.cny_per_disk_gib_month * Decimal(str(d)) for v, r, d in zip(vcpus, ram_gib, disk_gib)]


@dataclass
class History:
    tz: ZoneInfo
    servers: pd.DataFrame  # index server_id: name, department, system, vcpus, ram_gib, disk_gib, start, end, cost,
    #                        watched (the day of its first evaluation; FOREVER: never evaluated)
    segments: pd.DataFrame  # server_id, start, end, cost: the server's size over time (resizes split it)
    findings: pd.DataFrame  # id, server_id, department, kind, dimension, status, saving, start, end
    items: pd.DataFrame  # id, notice_id, finding_id, server_id, kind, status, closed, realised, department, due
    notices: pd.DataFrame  # id, number, department, status, issued, due, closed, overdue, escalated
    eval_days: np.ndarray  # sorted distinct days with an evaluation
    exemptions: list[tuple[str, str, int, int, str | None]] = field(default_factory=list)
    #  scope, target, start, end, department (a system's exemption holds for that department's system only)

    def monitored(self, lo: int, hi: int) -> bool:
        """Whether any evaluation ran on a day of ``[lo, hi)``."""
        i = np.searchsorted(self.eval_days, lo)
        return bool(i < len(self.eval_days) and self.eval_days[i] < hi)

    def exempt_days(self, server_ids, starts, ends) -> np.ndarray:
        """Days of each ``[start, end)`` on which an exemption covered the server (or its system)."""
        out = np.zeros(len(server_ids), dtype=np.int64)
        if not self.exemptions:
            return out
        system, dept = self.servers["system"], self.servers["department"]
        for i, (sid, lo, hi) in enumerate(zip(server_ids, starts, ends)):
            covered: set[int] = set()
            for scope, target, a, b, owner in self.exemptions:
                if target == (sid if scope == "server" else system.get(sid)) and (
                        scope == "server" or owner is None or owner == dept.get(sid)):
                    covered.update(range(max(lo, a), min(hi, b)))
            out[i] = len(covered)
        return out


def _frame(rows: tuple[list[str], list[tuple]]) -> pd.DataFrame:
    cols, data = rows
    return pd.DataFrame.from_records(data, columns=cols)


def build(rows: dict, tz: ZoneInfo, prices: PriceSettings) -> History:
    """The frames from the store's rows (:func:`rightsizer.jobs.reports.load` reads them with :data:`TRACKED`)."""
    srv = _frame(rows["servers"]).set_index("server_id")
    srv["start"] = days(srv["delivered_at"], tz, NEVER)
    srv["end"] = FOREVER
    gone = _frame(rows["removals"])
    if len(gone):
        srv.loc[gone["server_id"], "end"] = days(gone["at"], tz, FOREVER)
    srv["cost"] = monthly_cost(srv["vcpus"], srv["ram_gib"], srv["disk_gib"], prices)
    watched = _frame(rows["watched"]) if "watched" in rows else pd.DataFrame(columns=["server_id", "first_at"])
    first = pd.Series(days(watched["first_at"], tz, FOREVER), index=watched["server_id"], dtype=np.int64)
    srv["watched"] = first.reindex(srv.index).fillna(FOREVER).astype(np.int64)
    segments = _segments(srv, _frame(rows["resizes"]), tz, prices)

    f = _frame(rows["findings"])
    f["saving"] = money(f["monthly_saving_cny"])
    f["start"] = days(f["first_at"], tz, NEVER)
    f["end"] = np.where(f["status"] == "gone", days(f["last_at"], tz, FOREVER), FOREVER)
    items = _frame(rows["items"])
    items["closed"] = days(items["closed_at"], tz, FOREVER)
    items["due"] = days(items["due_date"], tz, FOREVER)
    items["realised"] = money(items["realised_saving_cny"])
    rect = items[items["status"] == "rectified"].groupby("finding_id")["closed"].min()
    f["end"] = np.minimum(f["end"], f["id"].map(rect).fillna(FOREVER).astype(np.int64))
    f["end"] = np.minimum(f["end"], f["server_id"].map(srv["end"]).fillna(FOREVER).astype(np.int64))

    f = _priced(f, _frame(rows["values"]), tz)

    nts = _frame(rows["notices"])
    nts["issued"] = days(nts["issued_at"], tz, FOREVER)
    nts["due"] = days(nts["due_date"], tz, FOREVER)
    ev = _frame(rows["events"])
    ev["day"] = days(ev["at"], tz, FOREVER)
    for name, states in (("closed", CLOSED), ("overdue", ("overdue",)), ("escalated", ("escalated",))):
        first = ev[ev["to_status"].isin(states)].groupby("notice_id")["day"].min()
        nts[name] = nts["id"].map(first).fillna(FOREVER).astype(np.int64)

    ex = _frame(rows["exemptions"])
    exemptions = []
    if len(ex):
        start = days(ex["created_at"], tz, NEVER)
        until = days(ex["expires_on"], tz, FOREVER) + 1  # the last day it holds is exempt
        revoked = days(ex["revoked_at"], tz, FOREVER)
        owner = ex["department"] if "department" in ex else [None] * len(ex)
        exemptions = [(s, t, int(a), int(min(b, r)), o if isinstance(o, str) else None) for s, t, a, b, r, o in
                      zip(ex["scope"], ex["target"], start, until, revoked, owner)]
    eval_days = np.unique(days(rows["runs"], tz, FOREVER))
    return History(tz, srv, segments, f, items, nts, eval_days, exemptions)


def _priced(f: pd.DataFrame, values: pd.DataFrame, tz: ZoneInfo) -> pd.DataFrame:
    """One row per finding and saving: a finding whose saving a later run changed is split at that run's day,
    so each day is priced at the saving in force then. A finding without recorded values keeps its own."""
    if not len(values):
        return f
    values = values[values["finding_id"].isin(f["id"])].copy()
    values["day"] = days(values["at"], tz, NEVER)
    values["saving"] = money(values["monthly_saving_cny"])
    nxt = values.groupby("finding_id")["day"].shift(-1)
    first = values.groupby("finding_id").cumcount() == 0
    values["seg_start"], values["seg_end"] = values["day"], nxt.fillna(FOREVER).astype(np.int64)
    split = f[f["id"].isin(values["finding_id"])].drop(columns=["saving"]).merge(
        values[["finding_id", "saving", "seg_start", "seg_end"]].assign(first=first.to_numpy()),
        left_on="id", right_on="finding_id")
    split["start"] = np.where(split["first"], split["start"], np.maximum(split["start"], split["seg_start"]))
    split["end"] = np.minimum(split["end"], split["seg_end"])
    split = split[(split["end"] > split["start"]) | split["first"]]
    rest = f[~f["id"].isin(values["finding_id"])]
    return pd.concat([rest, split[f.columns]], ignore_index=True)


def _segments(srv: pd.DataFrame, resizes: pd.DataFrame, tz: ZoneInfo, prices: PriceSettings) -> pd.DataFrame:
    """One row per server and size: the whole life at today's size, unless a sync saw it resized."""
    plain = srv.index.difference(resizes["server_id"].unique()) if len(resizes) else srv.index
    seg = pd.DataFrame({"server_id": plain, "start": srv.loc[plain, "start"].to_numpy(),
                        "end": srv.loc[plain, "end"].to_numpy(), "cost": srv.loc[plain, "cost"].to_numpy()})
    if not len(resizes):
        return seg
    resizes = resizes[resizes["server_id"].isin(srv.index)].copy()
    resizes["day"] = days(resizes["at"], tz, NEVER)
    rows = []
    for sid, ch in resizes.groupby("server_id", sort=False):
        start, end = int(srv.at[sid, "start"]), int(srv.at[sid, "end"])
        sizes = [ch["old_size"].iloc[0], *ch["new_size"]]
        bounds = [start, *ch["day"], end]
        for size, a, b in zip(sizes, bounds, bounds[1:]):
            v, r, d = size.split("/")
            rows.append((sid, max(a, start), min(b, end), monthly_cost([v], [float(r)], [float(d)], prices)[0]))
    return pd.concat([seg, pd.DataFrame(rows, columns=["server_id", "start", "end", "cost"])], ignore_index=True)
