"""Crontab lines for the daemon's schedule, read as crontab means them.

``cron_fields("0 9 * * 1-5")`` gives APScheduler 3's ``CronTrigger`` fields with the weekday as
crontab counts it (0 or 7 = Sunday, 1-5 = Monday-Friday, names, ranges, steps). APScheduler 3's
own ``CronTrigger.from_crontab`` counts 0 as Monday, so "1-5" would mean Tuesday-Saturday.
"""

from __future__ import annotations

_WEEKDAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]


def cron_fields(line: str) -> dict[str, str]:
    """A crontab line as APScheduler 3's CronTrigger fields; ValueError saying what is wrong."""
    parts = line.split()
    if len(parts) != 5:
        raise ValueError(f"{line!r} is not a crontab line (minute hour day month weekday)")
    minute, hour, day, month, dow = parts
    fields = {"minute": minute, "hour": hour, "day": day, "month": month, "day_of_week": _weekdays(dow)}
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger(**fields, timezone="UTC")
    except ValueError as exc:
        raise ValueError(f"{line!r}: {exc}") from None
    return fields


def _weekdays(field: str) -> str:
    if field == "*":
        return "*"
    days: set[int] = set()
    for token in field.lower().split(","):
        rng, _, step = token.partition("/")
        if rng == "*":
            lo, hi = 0, 6
        else:
            a, _, b = rng.partition("-")
            lo, hi = _day(a), _day(b) if b else _day(a)
            if step and not b:
                hi = 6
        if not step.isdigit() and step:
            raise ValueError(f"weekday step {step!r} is not a number")
        if hi < lo and hi == 0:  # 5-7 written 5-0
            hi = 7
        if hi < lo:
            raise ValueError(f"weekday range {rng!r} runs backwards")
        days.update(d % 7 for d in range(lo, hi + 1, int(step or 1)))
    return ",".join(_WEEKDAYS[d] for d in sorted(days))


def _day(text: str) -> int:
    if text in _WEEKDAYS:
        return _WEEKDAYS.index(text)
    if text.isdigit() and int(text) <= 7:
        return int(text)
    raise ValueError(f"weekday {text!r} is not 0-7 or sun-sat")
