"""The State Council's holiday notice, read as published, into the calendar's override TOML.

Each November 国务院办公厅 publishes 《关于20XX年部分节假日安排的通知》; pasted as text it reads::

    一、元旦：1月1日（周三）放假1天，不调休。
    二、春节：1月28日（农历除夕、周二）至2月4日（农历正月初七、周二）放假调休，共8天。1月26日（周日）、2月8日（周六）上班。

(earlier years write ``（星期日）`` or no weekday at all, and a 元旦 may start in the year before:
``2022年12月31日至2023年1月2日``). :func:`read` turns one notice into its days off and make-up
working days; :func:`to_toml` writes them as ``[years.YYYY]`` tables that :mod:`rightsizer.calendar`
loads. Full-width and half-width punctuation are both read (the text is NFKC-normalised).

What it checks, because a typo here moves every deadline of the year: each weekday note against
its date, each ``共N天`` against the span, each make-up day is a weekend day, no day is both off and
on. A sentence it does not know is an error naming the file and line — never skipped. A sentence
that only encourages (``鼓励……安排职工在除夕（2月9日）休息``) gives nobody a day off and is left out.

Stdlib only.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from .errors import InputError

__all__ = ["Notice", "read", "read_files", "to_toml", "merge"]

_NUM = "一二三四五六七八九十"
_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_DATE = r"(?:(\d{4})年)?(?:(\d{1,2})月)?(\d{1,2})日"
_NOTE = r"(?:\(([^()]*)\))?"
_TITLE = re.compile(r"关于\s*(\d{4})\s*年\s*部分节假日安排|现将\s*(\d{4})\s*年\s*元旦")
_ITEM = re.compile(rf"^\s*([{_NUM}]+)、\s*([^:]{{1,20}}):(.*)$")
_SPAN = re.compile(rf"^{_DATE}{_NOTE}(?:至{_DATE}{_NOTE})?放假(?:调休)?(?:(\d+)天)?(?:,(.*))?$")
_REST = re.compile(r"^(?:共(\d+)天|不调休|与周[末六日]连休)$")
_WORK = re.compile(rf"^((?:{_DATE}{_NOTE}、?)+)上班$")
_ONE = re.compile(rf"{_DATE}{_NOTE}")


@dataclass
class Notice:
    """One year's notice: the days off and the make-up working days, each with its holiday's name."""

    year: int
    source: str
    holidays: dict[date, str] = field(default_factory=dict)
    workdays: dict[date, str] = field(default_factory=dict)


class _Reader:
    def __init__(self, source: str):
        self.source = source
        self.problems: list[str] = []

    def fail(self, line: int, msg: str) -> None:
        self.problems.append(f"{self.source}:{line}: {msg}")


def _weekday_of(note: str | None) -> int | None:
    if not note:
        return None
    m = re.search(r"(?:星期|周)([一二三四五六日天])", note)
    return _WEEKDAYS[m.group(1)] if m else None


def _day(r: _Reader, line: int, groups: tuple, year: int, month: int | None, text: str) -> date | None:
    y, mo, d, note = groups
    y = int(y) if y else year
    mo = int(mo) if mo else month
    if mo is None:
        r.fail(line, f"{text!r}: 日期缺少月份")
        return None
    try:
        day = date(y, mo, int(d))
    except ValueError:
        r.fail(line, f"{text!r}: {y}年{mo}月{d}日不是有效日期")
        return None
    wd = _weekday_of(note)
    if wd is not None and wd != day.weekday():
        r.fail(line, f"{text!r}: {day.isoformat()} 是星期{'一二三四五六日'[day.weekday()]}，与括号里的星期不符")
    return day


def read(text: str, source: str = "<text>") -> Notice:
    """One notice's text → :class:`Notice`; :class:`InputError` with every unreadable line (file:line)."""
    r = _Reader(source)
    lines = unicodedata.normalize("NFKC", text).splitlines()
    flat = re.sub(r"\s+", "", "".join(lines))
    m = _TITLE.search(flat)
    years = {int(t.group(1) or t.group(2)) for t in _TITLE.finditer(flat)}
    if len(years) > 1:
        raise InputError(f"{source}:1: 一个文件里有多份通知（{'、'.join(f'{y}年' for y in sorted(years))}）：每份通知存一个文件")
    if m is None:
        raise InputError(f"{source}:1: 找不到年份：应含《国务院办公厅关于20XX年部分节假日安排的通知》的标题，"
                         f"或“现将20XX年元旦……”一句")
    notice = Notice(int(m.group(1) or m.group(2)), source)
    items, n, numbers = 0, 0, set()
    given: dict[date, str] = {}  # each day, by the item that gave it: a day in two items is an error
    while n < len(lines):
        line, first = re.sub(r"\s+", "", lines[n]), n + 1
        n += 1
        m = _ITEM.match(line)
        if not m:
            if items and _ONE.search(line) and re.search("放假|上班", line) and not line.startswith(
                    ("鼓励", "节假日期间")):  # after the first item, a day off outside an item is not silently dropped
                r.fail(first, f"这一句不在“一、元旦：……”这样的条目里：“{line}”")
            continue
        items += 1
        if m.group(1) in numbers:
            r.fail(first, f"条目“{m.group(1)}、”出现了两次（是否粘贴了两份通知？）")
        numbers.add(m.group(1))
        name, body = m.group(2).strip(), m.group(3)
        while n < len(lines) and _continues(body, re.sub(r"\s+", "", lines[n])):
            body += re.sub(r"\s+", "", lines[n])  # an item the paste wrapped onto the next line
            n += 1
        mine: dict[date, str] = {}
        for sentence in filter(None, body.split("。")):
            _sentence(r, first, name, sentence, notice, mine)
        for d in sorted(set(mine) & set(given)):
            r.fail(first, f"{d.isoformat()} 已在“{given[d]}”中安排，又出现在“{name}”中")
        given.update({d: name for d in mine})
    if not items:
        r.fail(len(lines) or 1, "没有找到“一、元旦：……”这样的安排条目")
    if r.problems:
        raise InputError(r.problems)
    return notice


def _continues(body: str, line: str) -> bool:
    """Whether ``line`` (no blank line between) goes on the item ``body``: it is cut mid-sentence, or the
    line gives days off or make-up days, or encourages."""
    if not line or _ITEM.match(line):
        return False
    return not body.endswith("。") or bool(_ONE.search(line) and re.search("放假|上班", line)) or line.startswith("鼓励")


def _sentence(r: _Reader, n: int, name: str, sentence: str, notice: Notice, mine: dict[date, str]) -> None:
    if sentence.startswith("鼓励"):  # encouragement: nobody is given the day off
        return
    m = _SPAN.match(sentence)
    if m:
        g = m.groups()
        start = _day(r, n, g[0:4], notice.year, None, sentence)
        if start is None:
            return
        end = start
        if g[6] is not None:
            end = _day(r, n, g[4:8], start.year, start.month, sentence)
            if end is None:
                return
        if end < start or (end - start).days > 31:
            r.fail(n, f"{sentence!r}: {start.isoformat()} 至 {end.isoformat()} 不是一段假期")
            return
        span = (end - start).days + 1
        if g[8] is not None and int(g[8]) != span:
            r.fail(n, f"{sentence!r}: 写的是放假{g[8]}天，日期是 {span} 天")
        for rest in filter(None, (g[9] or "").split(",")):
            k = _REST.match(rest)
            if not k:
                r.fail(n, f"{sentence!r}: 读不懂“{rest}”")
            elif k.group(1) and int(k.group(1)) != span:
                r.fail(n, f"{sentence!r}: 写的是共{k.group(1)}天，日期是 {span} 天")
        for i in range(span):
            day = start + timedelta(days=i)
            if day in notice.workdays:
                r.fail(n, f"{sentence!r}: {day.isoformat()} 既是放假日又是上班日")
            notice.holidays[day] = mine[day] = name
        return
    m = _WORK.match(sentence)
    if m:
        month = None
        for one in _ONE.finditer(m.group(1)):
            day = _day(r, n, one.groups(), notice.year, month, sentence)
            if day is None:
                continue
            month = day.month
            if day.weekday() < 5:
                r.fail(n, f"{sentence!r}: {day.isoformat()} 本是工作日，不是调休上班的周末")
            if day in notice.holidays:
                r.fail(n, f"{sentence!r}: {day.isoformat()} 既是放假日又是上班日")
            notice.workdays[day] = mine[day] = name
        return
    r.fail(n, f"读不懂这一句：“{sentence}”（{name}）")


def read_files(paths: list[Path]) -> list[Notice]:
    """Each file one notice; every problem of every file at once; two notices of one year is an error."""
    notices: list[Notice] = []
    problems: list[str] = []
    for p in paths:
        try:
            text = Path(p).read_text(encoding="utf-8-sig")
        except UnicodeDecodeError:
            problems.append(f"{p}: 不是 UTF-8 文本（请把通知另存为 UTF-8）")
            continue
        except OSError as exc:
            problems.append(f"{p}: 无法读取：{exc.strerror}")
            continue
        try:
            notices.append(read(text, str(p)))
        except InputError as exc:
            problems.extend(exc.problems)
    seen: dict[int, str] = {}
    for nt in notices:
        if nt.year in seen:
            problems.append(f"{nt.source}: {nt.year}年的通知已由 {seen[nt.year]} 给出")
        seen[nt.year] = nt.source
    if problems:
        raise InputError(problems)
    return notices


@dataclass
class _Year:
    complete: bool
    holidays: dict[date, str]
    workdays: dict[date, str]
    source: str = ""


def merge(existing: dict, notices: list[Notice]) -> dict[int, _Year]:
    """The override file's ``years`` (as :mod:`tomllib` read them) with the notices laid over.

    A notice makes its own year complete and replaces that year's days; days it gives in another
    year (a 元旦 that starts on 31 December) are added to that year, which stays as complete as it was.
    """
    years: dict[int, _Year] = {}
    for key, table in (existing.get("years") or {}).items():
        years[int(key)] = _Year(bool(table.get("complete", False)),
                                {date.fromisoformat(str(d)): "" for d in table.get("holidays", [])},
                                {date.fromisoformat(str(d)): "" for d in table.get("workdays", [])})
    for nt in notices:
        years[nt.year] = _Year(True, {}, {}, nt.source)
    for nt in notices:
        for d, name in nt.holidays.items():
            y = years.setdefault(d.year, _Year(False, {}, {}))
            y.holidays[d] = name
            y.workdays.pop(d, None)
        for d, name in nt.workdays.items():
            y = years.setdefault(d.year, _Year(False, {}, {}))
            y.workdays[d] = name
            y.holidays.pop(d, None)
    return years


def _days(key: str, days: dict[date, str], what: str) -> list[str]:
    if not days:
        return [f"{key} = []"]
    out = [f"{key} = ["]
    for d in sorted(days):
        note = f"  # {days[d]}{what}" if days[d] else ""
        out.append(f'  "{d.isoformat()}",{note}')
    out.append("]")
    return out


def to_toml(years: dict[int, _Year]) -> str:
    """The override file's text: one ``[years.YYYY]`` table a year, each day with its holiday's name."""
    out = ["# Working-day overrides for the rightsizer calendar (see config/holidays.example.toml).",
           "# Written by `rightsizer calendar import` from the State Council's notices; check each day",
           "# against the notice before the service uses it.", ""]
    for year in sorted(years):
        y = years[year]
        out.append(f"[years.{year}]")
        if y.source:
            out.append(f"# 国务院办公厅关于{year}年部分节假日安排的通知 ({Path(y.source).name})")
        elif not y.complete:
            out.append(f"# only the days another year's notice gives; {year}'s own notice is not imported")
        out.append(f"complete = {'true' if y.complete else 'false'}")
        out.extend(_days("holidays", y.holidays, " 放假"))
        out.extend(_days("workdays", y.workdays, " 调休上班"))
        out.append("")
    return "\n".join(out)


def compare_with_package(notices: list[Notice]) -> list[str]:
    """Where an imported year the ``chinese_calendar`` package also knows says otherwise, day by day."""
    import chinese_calendar

    from .calendar import _package_years

    known = _package_years()
    out = []
    for nt in notices:
        if nt.year not in known:
            continue
        day = date(nt.year, 1, 1)
        while day.year == nt.year:
            ours = day not in nt.holidays and (day in nt.workdays or day.weekday() < 5)
            if ours != chinese_calendar.is_workday(day):
                out.append(f"{nt.source}: {day.isoformat()} is a {'working day' if ours else 'day off'} here, "
                           f"a {'day off' if ours else 'working day'} in chinese_calendar (a later notice?)")
            day += timedelta(days=1)
    return out


def write(notices: list[Notice], out: Path | None) -> tuple[str, list[str]]:
    """The override file's text with ``notices`` laid over ``out``'s years (when it exists), and what changed.

    With ``out`` the file is replaced atomically, and only after the new text has loaded as a calendar;
    a broken existing file is an error and stays as it was.
    """
    import os
    import tempfile
    import tomllib

    from .calendar import _load_overrides

    existing: dict = {}
    if out is not None and out.exists():
        _load_overrides(out)  # a broken file is reported as the calendar reports it, and not overwritten
        existing = tomllib.loads(out.read_text(encoding="utf-8"))
    before = {int(k) for k, t in (existing.get("years") or {}).items() if t.get("complete")}
    old = merge(existing, [])
    years = merge(existing, notices)
    text = to_toml(years)
    said = []
    for nt in sorted(notices, key=lambda n: n.year):
        verb = "replaced" if nt.year in before else "added"
        y = years[nt.year]
        said.append(f"years.{nt.year} {verb}: {len(y.holidays)} days off, {len(y.workdays)} make-up working days "
                    f"(from {nt.source})")
    for nt in notices:  # a day the file had that this notice does not give: said, never lost unseen
        was = old.get(nt.year)
        if was is None:
            continue
        lost = sorted((set(was.holidays) - set(years[nt.year].holidays)) | (set(was.workdays) - set(years[nt.year].workdays)))
        if lost:
            said.append(f"warning: years.{nt.year}: {', '.join(d.isoformat() for d in lost)} were in {out} but not in "
                        f"the {nt.year} notice and are gone (a day the next year's notice gave? import it too)")
    for year in sorted(set(years) - {nt.year for nt in notices}):
        if any(d.year == year for nt in notices for d in (*nt.holidays, *nt.workdays)):
            said.append(f"years.{year}: days the {year + 1} notice gives were added"
                        + ("" if years[year].complete else f" ({year} itself stays incomplete)"))
    if out is not None:
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent or Path("."))
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            _load_overrides(Path(tmp))
            os.replace(tmp, out)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return text, said
