"""Mainland-China working days: statutory holidays and 调休 make-up working weekends.

The years the State Council has announced come from the ``chinese_calendar``
package; a year it does not know comes from an override TOML::

    [years.2027]
    complete = true            # only a complete year may be used for deadlines
    holidays = ["2027-01-01"]  # days off that would otherwise be working days
    workdays = []              # make-up working days on weekends

Where neither knows a year, deadline arithmetic fails closed with
:class:`CalendarError` naming the year and the override file — it never guesses.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import chinese_calendar

from .errors import CalendarError

__all__ = ["CalendarError", "WorkCalendar"]


@dataclass(frozen=True)
class _YearOverride:
    complete: bool
    holidays: frozenset[date]
    workdays: frozenset[date]


def _package_years() -> frozenset[int]:
    from chinese_calendar import constants

    return frozenset(d.year for d in constants.holidays) | frozenset(d.year for d in constants.workdays)


@dataclass
class WorkCalendar:
    overrides_path: Path | None = None
    _years: dict[int, _YearOverride] = field(default_factory=dict, init=False, repr=False)
    _known: dict[date, bool] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.overrides_path is not None:
            self._years = _load_overrides(Path(self.overrides_path))
        self._package = _package_years()

    def fingerprint(self) -> str:
        """What the calendar knows, as a digest: the package's version and years, and the override file's bytes.
        A run judged with another calendar is another run (its deadlines may differ)."""
        import hashlib

        h = hashlib.sha256(f"{getattr(chinese_calendar, '__version__', '')}:{sorted(self._package)}".encode())
        if self.overrides_path is not None:
            h.update(Path(self.overrides_path).read_bytes())
        return h.hexdigest()

    def knows(self, year: int) -> bool:
        """Whether the calendar covers ``year`` (the package has it, or the override file has it complete)."""
        ov = self._years.get(year)
        return (ov is not None and ov.complete) or year in self._package

    def first_unknown(self, today: date) -> date:
        """The first day from ``today`` on whose year the calendar does not cover (1 January of that year)."""
        year = today.year
        while self.knows(year) and year < today.year + 100:  # bounded: a hundred years of overrides at most
            year += 1
        return today if year == today.year else date(year, 1, 1)

    def _where(self) -> str:
        return str(self.overrides_path) if self.overrides_path else "no override file configured ([calendar] overrides)"

    def is_workday(self, day: date) -> bool:
        """Whether ``day`` is a working day (answers are remembered: a fleet asks about the same days)."""
        known = self._known.get(day)
        if known is None:
            known = self._known[day] = self._is_workday(day)
        return known

    def _is_workday(self, day: date) -> bool:
        ov = self._years.get(day.year)
        if ov is not None and ov.complete:
            if day in ov.holidays:
                return False
            if day in ov.workdays:
                return True
            return day.weekday() < 5
        if day.year in self._package:
            return chinese_calendar.is_workday(day)
        reason = "is marked incomplete" if ov is not None else "is missing"
        raise CalendarError(
            f"working-day calendar has no data for {day.year}: the chinese_calendar package does not cover it "
            f"and year {day.year} {reason} in the override file ({self._where()}); "
            f"add [years.{day.year}] with complete = true once the State Council has announced its holidays"
        )

    def add_workdays(self, start: date, n: int) -> date:
        """The n-th working day after ``start``; the start day itself is not counted (民法典 第二百零一条)."""
        if n < 0:
            raise ValueError("n must be >= 0")
        day, left = start, n
        while left:
            day += timedelta(days=1)
            if self.is_workday(day):
                left -= 1
        return day

    def workdays_between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end`` (0 when end <= start)."""
        count, day = 0, start
        while day < end:
            day += timedelta(days=1)
            count += self.is_workday(day)
        return count


def _parse_days(values: object, where: str) -> frozenset[date]:
    if not isinstance(values, list):
        raise CalendarError(f"{where}: expected a list of dates")
    out = set()
    for v in values:
        if isinstance(v, date):
            out.add(v)
            continue
        try:
            out.add(date.fromisoformat(str(v)))
        except ValueError:
            raise CalendarError(f"{where}: {v!r} is not a date (YYYY-MM-DD)") from None
    return frozenset(out)


def _load_overrides(path: Path) -> dict[int, _YearOverride]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CalendarError(f"{path}: cannot read holiday overrides: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise CalendarError(f"{path}: TOML syntax error: {exc}") from None
    unknown = set(data) - {"years"}
    if unknown:
        raise CalendarError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}; expected [years.YYYY] tables")
    years: dict[int, _YearOverride] = {}
    for key, table in data.get("years", {}).items():
        where = f"{path}: years.{key}"
        if not (isinstance(key, str) and key.isdigit() and len(key) == 4) or not isinstance(table, dict):
            raise CalendarError(f"{where}: expected a table named after a four-digit year")
        extra = set(table) - {"complete", "holidays", "workdays"}
        if extra:
            raise CalendarError(f"{where}: unknown key(s) {', '.join(sorted(extra))}")
        complete = table.get("complete", False)
        if not isinstance(complete, bool):
            raise CalendarError(f"{where}.complete: expected true or false")
        year = int(key)
        hol = _parse_days(table.get("holidays", []), f"{where}.holidays")
        work = _parse_days(table.get("workdays", []), f"{where}.workdays")
        for d in hol | work:
            if d.year != year:
                raise CalendarError(f"{where}: {d} is not in {year}")
        both = hol & work
        if both:
            raise CalendarError(f"{where}: {min(both)} is listed both as holiday and as workday")
        years[year] = _YearOverride(complete, hol, work)
    return years
