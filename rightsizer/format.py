"""Shared wording and formatting: sizes, money, and the Chinese names of kinds and dimensions.

One helper each, used by the CLI tables, the notices and the reports alike.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .models import Size

KIND_ZH = {"shrink": "核减", "expand": "扩容", "release": "释放", "undeployed": "逾期未部署",
           "insufficient_data": "数据不足", "unregistered": "未备案"}
DIM_ZH = {"cpu": "CPU", "memory": "内存", "disk": "硬盘", "": ""}


def _parts(size: Size | dict[str, Any] | None) -> tuple[int, float, float] | None:
    if size is None or size == {}:
        return None
    if isinstance(size, Size):
        return size.vcpus, size.ram_gib, size.disk_gib
    return size["vcpus"], size["ram_gib"], size["disk_gib"]


def size_short(size: Size | dict[str, Any] | None, missing: str = "-") -> str:
    """``8C/16G/200G`` for operators' tables."""
    p = _parts(size)
    return missing if p is None else f"{p[0]}C/{p[1]:g}G/{p[2]:g}G"


def size_zh(size: Size | dict[str, Any] | None, missing: str = "—") -> str:
    """``8核/16GiB/200GiB`` for notices."""
    p = _parts(size)
    return missing if p is None else f"{p[0]}核/{p[1]:g}GiB/{p[2]:g}GiB"


def money(x: Decimal) -> str:
    """CNY with two decimals and thousands separators: ``12,345.60``."""
    return f"{Decimal(x).quantize(Decimal('0.01')):,}"
