"""Shared wording and formatting: times, sizes, money, and the Chinese names of kinds and dimensions.

One helper each, used by the CLI tables, the pages, the notices and the reports alike. The store
gives aware times in UTC; this is the one place that turns them into text, in the zone the
settings name (``timezone``), so a time is never sliced or compared as a string.
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo
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


def size_json(size: Size | None) -> dict[str, float] | None:
    """A size as JSON: ``{"vcpus": 8, "ram_gib": 16.0, "disk_gib": 200.0}``."""
    return None if size is None else {"vcpus": size.vcpus, "ram_gib": size.ram_gib, "disk_gib": size.disk_gib}


def cny(x: Decimal | None) -> str | None:
    """Money as exchanged in JSON: ``"1230.00"`` (exact, never a float); ``None`` stays ``None``."""
    return None if x is None else str(Decimal(x).quantize(Decimal("0.01")))


def count(n: int, word: str, plural: str | None = None) -> str:
    """``n`` and the English noun agreeing with it: "1 finding", "2 findings", "1,204 samples"."""
    return f"{n:,} {word if n == 1 else (plural or word + 's')}"


def money(x: Decimal | None) -> str:
    """CNY with two decimals and thousands separators: ``12,345.60``; an amount not known "—" (never 0)."""
    return "—" if x is None else f"{Decimal(x).quantize(Decimal('0.01')):,}"


def local(t: datetime, tz: tzinfo) -> datetime:
    """An aware time in the settings' zone."""
    if t.tzinfo is None:
        raise ValueError(f"a naive time ({t.isoformat()}) has no zone")
    return t.astimezone(tz)


def local_date(t: datetime, tz: tzinfo) -> date:
    """The calendar day of an instant where the centre is (a delivery at 01:00 Beijing time is that day)."""
    return local(t, tz).date()


def iso_time(t: datetime | None, tz: tzinfo) -> str | None:
    """ISO 8601 with the zone's offset, to the second (the JSON of the CLI, the API and the webhook)."""
    return None if t is None else local(t, tz).isoformat(timespec="seconds")


def minute(t: datetime | None, tz: tzinfo, missing: str = "") -> str:
    """``2026-12-04 09:30`` for tables and pages."""
    return missing if t is None else local(t, tz).strftime("%Y-%m-%d %H:%M")


def day(t: datetime | date | None, tz: tzinfo | None = None, missing: str = "") -> str:
    """``2026-12-04``: a date, or the local day of an instant."""
    if t is None:
        return missing
    if isinstance(t, datetime):
        return local_date(t, tz).isoformat()
    return t.isoformat()


def date_zh(d: date | None) -> str:
    """``2026年11月20日`` (成文日期 style: no leading zeros); "" for none."""
    return "" if d is None else f"{d.year}年{d.month}月{d.day}日"


_MD_ACTIVE = str.maketrans({"[": "［", "]": "］", "(": "（", ")": "）", "*": "＊", "_": "＿", "`": "｀", "#": "＃",
                            "<": "＜", ">": "＞", "|": "｜", "!": "！", "~": "～", "\\": "＼", "\r": " ", "\n": " "})


def md_safe(name: object) -> str:
    """A tenant's name (department, system, server) as it goes into an IM robot's Markdown: what Markdown would act
    on becomes its full-width look-alike, and a URL loses its "://" — so ``[点此核对](http://evil)`` is shown,
    never a link. The console's own links are written by us, never through this."""
    import re

    text = str(name).translate(_MD_ACTIVE).replace("://", "：//")
    text = re.sub(r"(?i)(www)\.", r"\1．", text)
    return re.sub(r"(?i)(mailto|tel|dingtalk|weixin|lark):", r"\1：", text)

