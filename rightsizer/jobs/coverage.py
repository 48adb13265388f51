"""The calendar's horizon: warn the centre in time that the next year's holidays are not in the calendar yet.

The State Council publishes the next year's 节假日安排 around November; ``chinese_calendar`` follows later.
From ``WARN_DAYS`` days before the first day the calendar does not cover, every sweep says — on the CLI's
stderr, in the daemon's log at WARNING, to the operators' channels once per missing year — which year is
missing, from which day the deadlines of new notices will be held (their ten working days run into it),
from which day nothing will be issued, and how to fix it. ``/metrics`` has the horizon itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from ..calendar import WorkCalendar
from ..errors import CalendarError
from ..format import date_zh

WARN_DAYS = 45


def fix_zh(calendar: WorkCalendar, year: int) -> str:
    """The one command that gives the calendar ``year``, in the words an operator follows."""
    out = calendar.overrides_path or "/etc/rightsizer/holidays.toml"
    tail = "" if calendar.overrides_path else f"，并在配置的 [calendar] overrides 中填上 {out}"
    return (f"国务院办公厅发布《关于{year}年部分节假日安排的通知》后，把通知全文存为文本文件，运行 "
            f"rightsizer calendar import 通知.txt --out {out}{tail}，再 systemctl reload rightsizer")


@dataclass(frozen=True)
class Horizon:
    year: int  # the first year the calendar does not cover
    held_from: date  # a notice issued from this day on has its deadline held
    none_from: date  # nothing is issued from this day on
    days_left: int
    fix: str  # the command that fixes it (:func:`fix_zh`)

    def text(self) -> str:
        """What an operator reads (Chinese, then the one thing to do)."""
        return (f"日历尚无{self.year}年的节假日安排：自{date_zh(self.held_from)}起新下发通知的整改期限将暂缓，"
                f"自{date_zh(self.none_from)}起不再下发新通知（还有 {self.days_left} 天）。"
                f"请在{self.fix}。")

    def subject(self) -> str:
        return f"日历缺少{self.year}年节假日安排"


def horizon(calendar: WorkCalendar, today: date, workdays: int, warn_days: int = WARN_DAYS) -> Horizon | None:
    """The coming end of the calendar, once it is within ``warn_days`` of ``today``; else ``None``."""
    end = calendar.first_unknown(today)
    left = (end - today).days
    if left > warn_days:
        return None
    held = end
    day = today
    while day < end:  # the first issue day whose deadline would cross into the unknown year (bounded by warn_days)
        try:
            calendar.add_workdays(day, workdays)
        except CalendarError:
            held = day
            break
        day += timedelta(days=1)
    return Horizon(end.year, held, end, left, fix_zh(calendar, end.year))
