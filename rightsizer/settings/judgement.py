"""What changes the judgement: the window, the policies' thresholds, the flavor catalogue, the prices.

Read by :mod:`policies`, :mod:`rightsizer.summaries`, the engine and the evaluation's run key (a change
here is a new judgement; nothing else in the configuration is).
"""

from __future__ import annotations

from decimal import Decimal

from typing import Literal

from pydantic import Field

from .base import _Model


class WindowSettings(_Model):
    days: int = Field(30, ge=1, le=400)
    step_seconds: int = Field(300, ge=10, le=3600)
    coverage_min: float = Field(0.8, gt=0, le=1)
    min_days_of_data: float = Field(7, ge=0)
    cpu_quantile: float = Field(0.95, gt=0, le=1)
    memory_peak_quantile: float = Field(0.9, gt=0, le=1)


class ShrinkSettings(_Model):
    mode: Literal["any", "all"] = "any"
    cpu_p95_max_pct: float = Field(25, ge=0, le=100)  # 未超过25%: at or below
    memory_peak_max_pct: float = Field(30, ge=0, le=100)  # 未超过30%: at or below
    disk_used_below_pct: float = Field(50, ge=0, le=100)  # 不到50%: strictly below


class ExpandSettings(_Model):
    above_pct: float = Field(75, ge=0, le=100)  # 超过75%: strictly above


class ReleaseSettings(_Model):
    cpu_p95_below_pct: float = Field(3, ge=0, le=100)
    days: int = Field(14, ge=1)


class UndeployedSettings(_Model):
    workdays: int = Field(10, ge=1)
    # "No workload": CPU p95 since delivery below this.
    workload_cpu_p95_below_pct: float = Field(3, ge=0, le=100)


class Flavor(_Model):
    name: str
    vcpus: int = Field(ge=1)
    ram_gib: float = Field(gt=0)
    disk_gib: float = Field(0, ge=0)


class SizingSettings(_Model):
    target_pct: float = Field(60, gt=0, le=100)
    memory_headroom: float = Field(1.15, ge=1)
    min_vcpus: int = Field(1, ge=1)
    min_ram_gib: float = Field(1, gt=0)
    min_disk_gib: float = Field(1, gt=0)
    flavors: list[Flavor] = []


class PolicySettings(_Model):
    shrink: ShrinkSettings = ShrinkSettings()
    expand: ExpandSettings = ExpandSettings()
    release: ReleaseSettings = ReleaseSettings()
    undeployed: UndeployedSettings = UndeployedSettings()


class PriceSettings(_Model):
    """Monthly price list in CNY. The defaults are placeholders: set the centre's contract prices."""

    cny_per_vcpu_month: Decimal = Field(Decimal("60"), ge=0)
    cny_per_ram_gib_month: Decimal = Field(Decimal("30"), ge=0)
    cny_per_disk_gib_month: Decimal = Field(Decimal("0.5"), ge=0)
