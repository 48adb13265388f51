"""Core records: servers, usage summaries and findings.

Plain frozen dataclasses: cheap to build for 10,000 servers, easy to compare in
tests. Sizes carry their unit in the name; money is ``Decimal`` CNY.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    SHRINK = "shrink"
    EXPAND = "expand"
    RELEASE = "release"
    UNDEPLOYED = "undeployed"
    INSUFFICIENT_DATA = "insufficient_data"
    UNREGISTERED = "unregistered"


class Dimension(StrEnum):
    CPU = "cpu"
    MEMORY = "memory"
    DISK = "disk"


@dataclass(frozen=True)
class Size:
    vcpus: int
    ram_gib: float
    disk_gib: float

    def get(self, dim: Dimension) -> float:
        return {Dimension.CPU: self.vcpus, Dimension.MEMORY: self.ram_gib, Dimension.DISK: self.disk_gib}[dim]


def cny_text(x) -> str:
    """Money as stored and exchanged: yuan with exactly two decimals (``"1230.00"``), rounded half up."""
    from decimal import ROUND_HALF_UP

    return str(Decimal(str(x)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class Server:
    server_id: str
    name: str
    department: str
    system: str
    size: Size
    delivered_at: datetime  # timezone-aware
    # When the server last got its current size (inventory diff, CSV resized_at); None = since delivery.
    # Utilisation is a percentage of the size at the time: only samples from here on are judged.
    resized_at: datetime | None = None

    @property
    def measured_from(self) -> datetime:
        """The first moment whose samples are percentages of the current size."""
        return max(self.delivered_at, self.resized_at) if self.resized_at else self.delivered_at


@dataclass(frozen=True)
class RegisteredSystem:
    """A system in the registered-system catalogue (备案)."""

    system_id: str
    name: str
    department: str
    filing_no: str  # 备案号


@dataclass(frozen=True)
class UsageSummary:
    """Statistics of one server over one window. ``None`` means "no data", never zero."""

    server_id: str
    window_start: datetime
    window_end: datetime
    effective_start: datetime  # later of window start and delivery
    coverage: float  # 0..1, the lowest of the three metrics
    coverage_by_metric: dict[str, float]
    days_of_data: float
    cpu_p95_pct: float | None
    cpu_max_pct: float | None
    memory_peak_pct: float | None  # quantile of the daily maxima
    memory_max_pct: float | None
    memory_peak_days: int  # number of calendar days with a memory maximum
    disk_latest_pct: float | None
    disk_max_pct: float | None
    recent_cpu_p95_pct: float | None  # over the release look-back (last N days)
    recent_coverage: float
    # Delivered inside the window: the window then shows everything since delivery.
    delivered_in_window: bool
    # Why a source could not deliver this server's data (recorded in the finding's evidence).
    source_error: str | None = None

    def to_json(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        for k in ("window_start", "window_end", "effective_start"):
            d[k] = d[k].isoformat()
        return d


@dataclass(frozen=True)
class Finding:
    server_id: str
    department: str
    kind: Kind
    dimension: Dimension | None
    observed: float | None
    threshold: float | None
    current: Size | None  # the whole server, so a finding reads on its own
    recommended: Size | None  # None for release / undeployed (give it back) and insufficient_data
    monthly_saving_cny: Decimal
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, str]:
        """Identity of a finding across runs: the same server, kind and dimension."""
        return (self.server_id, self.kind.value, self.dimension.value if self.dimension else "")

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (``asdict`` deep-copies the evidence and is 10x slower for a fleet)."""
        return {
            "server_id": self.server_id,
            "department": self.department,
            "kind": self.kind.value,
            "dimension": self.dimension.value if self.dimension else None,
            "observed": self.observed,
            "threshold": self.threshold,
            "current": _size_json(self.current),
            "recommended": _size_json(self.recommended),
            "monthly_saving_cny": cny_text(self.monthly_saving_cny),
            "evidence": self.evidence,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Finding:
        """The finding as :meth:`to_json` stored it: the only reader of a stored finding."""
        return cls(server_id=d["server_id"], department=d["department"], kind=Kind(d["kind"]),
                   dimension=Dimension(d["dimension"]) if d.get("dimension") else None,
                   observed=d.get("observed"), threshold=d.get("threshold"),
                   current=_size_of(d.get("current")), recommended=_size_of(d.get("recommended")),
                   monthly_saving_cny=Decimal(str(d["monthly_saving_cny"])), evidence=d.get("evidence") or {})

    @property
    def server_name(self) -> str:
        return self.evidence.get("server_name") or self.server_id

    @property
    def system(self) -> str:
        return self.evidence.get("system") or ""


def _size_json(size: Size | None) -> dict[str, float] | None:
    return None if size is None else {"vcpus": size.vcpus, "ram_gib": size.ram_gib, "disk_gib": size.disk_gib}


def _size_of(d: dict[str, float] | None) -> Size | None:
    return None if not d else Size(int(d["vcpus"]), float(d["ram_gib"]), float(d["disk_gib"]))
