"""Recommended sizes and their price.

A statistic is brought to ``target_pct`` (60 % by default): needed = current ×
statistic / target, rounded up. Memory is never below the observed maximum ×
``memory_headroom`` (1.15). Floors: 1 vCPU, 1 GiB. With a flavor catalogue the
result snaps to the cheapest flavor that covers all three.
"""

from __future__ import annotations

import math
from decimal import Decimal

from rightsizer.models import Dimension, Size
from rightsizer.settings import Flavor, PriceSettings, SizingSettings


def monthly_cost(size: Size, prices: PriceSettings) -> Decimal:
    return (
        prices.cny_per_vcpu_month * size.vcpus
        + prices.cny_per_ram_gib_month * Decimal(str(size.ram_gib))
        + prices.cny_per_disk_gib_month * Decimal(str(size.disk_gib))
    )


def unit_price(dim: Dimension, prices: PriceSettings) -> Decimal:
    return {
        Dimension.CPU: prices.cny_per_vcpu_month,
        Dimension.MEMORY: prices.cny_per_ram_gib_month,
        Dimension.DISK: prices.cny_per_disk_gib_month,
    }[dim]


def needed(dim: Dimension, current: float, stat_pct: float, sizing: SizingSettings, max_pct: float | None = None) -> float:
    """Size that brings ``stat_pct`` of ``current`` to the target utilisation."""
    raw = current * stat_pct / sizing.target_pct
    if dim is Dimension.CPU:
        return max(sizing.min_vcpus, math.ceil(raw - 1e-9))
    if dim is Dimension.MEMORY:
        if max_pct is not None:
            raw = max(raw, current * max_pct / 100 * sizing.memory_headroom)
        return max(sizing.min_ram_gib, math.ceil(raw - 1e-9))
    return max(sizing.min_disk_gib, math.ceil(raw - 1e-9))


_SNAPPED: dict[tuple, tuple] = {}  # memo of snap(): a fleet asks for the same few sizes again and again


def snap(need: Size, flavors: list[Flavor], prices: PriceSettings) -> Flavor | None:
    """Cheapest flavor covering ``need`` in vCPU, RAM and (when the flavor has one) disk."""
    key = (id(flavors), id(prices), need.vcpus, need.ram_gib, need.disk_gib)
    hit = _SNAPPED.get(key)
    if hit is not None and hit[0] is flavors and hit[1] is prices:  # the very same catalogue and prices
        return hit[2]
    if len(_SNAPPED) > 50_000:
        _SNAPPED.clear()
    best = _snap(need, flavors, prices)
    _SNAPPED[key] = (flavors, prices, best)
    return best


def _snap(need: Size, flavors: list[Flavor], prices: PriceSettings) -> Flavor | None:
    fits = [
        f for f in flavors
        if f.vcpus >= need.vcpus and f.ram_gib >= need.ram_gib and (f.disk_gib == 0 or f.disk_gib >= need.disk_gib)
    ]
    if not fits:
        return None
    return min(fits, key=lambda f: (monthly_cost(_flavor_size(f, need), prices), f.vcpus, f.ram_gib, f.name))


def _flavor_size(f: Flavor, need: Size) -> Size:
    # A flavor without disk leaves the disk (a separate volume) as computed.
    return Size(f.vcpus, f.ram_gib, f.disk_gib if f.disk_gib else need.disk_gib)


def recommend(current: Size, changes: dict[Dimension, float], sizing: SizingSettings,
              prices: PriceSettings) -> tuple[Size, str | None]:
    """The whole recommended size given the per-dimension needs; other dimensions keep their size."""
    need = Size(
        int(changes.get(Dimension.CPU, current.vcpus)),
        float(changes.get(Dimension.MEMORY, current.ram_gib)),
        float(changes.get(Dimension.DISK, current.disk_gib)),
    )
    if not sizing.flavors:
        return need, None
    f = snap(need, sizing.flavors, prices)
    if f is None:
        return need, None
    return _flavor_size(f, need), f.name
