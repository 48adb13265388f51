from datetime import date

import pytest

from rightsizer.calendar import CalendarError, WorkCalendar
from rightsizer.cli import main


def test_national_day_2026_deadline(calendar):
    # 9-29, 9-30, (10-1..10-7 off), 10-8, 10-9, 10-10 (Saturday make-up), 10-12 .. 10-16
    assert calendar.add_workdays(date(2026, 9, 28), 10) == date(2026, 10, 16)


def test_start_day_is_not_counted(calendar):
    assert calendar.add_workdays(date(2026, 11, 17), 1) == date(2026, 11, 18)
    assert calendar.add_workdays(date(2026, 11, 17), 0) == date(2026, 11, 17)
    # From a Friday, the first working day is the Monday.
    assert calendar.add_workdays(date(2026, 11, 20), 1) == date(2026, 11, 23)


def test_spring_festival_2026(calendar):
    assert not calendar.is_workday(date(2026, 2, 16))  # 除夕 eve, holiday
    assert not calendar.is_workday(date(2026, 2, 23))  # last day of the break, a Monday
    assert calendar.is_workday(date(2026, 2, 14))  # Saturday make-up working day
    assert calendar.is_workday(date(2026, 2, 28))  # Saturday make-up working day
    assert calendar.add_workdays(date(2026, 2, 13), 1) == date(2026, 2, 14)
    assert calendar.add_workdays(date(2026, 2, 14), 1) == date(2026, 2, 24)
    # Delivered on Friday 13 Feb: ten working days run 14, 24, 25, 26, 27, 28 Feb, 2, 3, 4, 5 Mar.
    assert calendar.add_workdays(date(2026, 2, 13), 10) == date(2026, 3, 5)


def test_missing_year_fails_closed_naming_year_and_file(tmp_path):
    with pytest.raises(CalendarError, match="2027.*no override file configured"):
        WorkCalendar().add_workdays(date(2026, 12, 28), 10)
    f = tmp_path / "h.toml"
    f.write_text('[years.2027]\ncomplete = false\nholidays = ["2027-01-01"]\n')
    with pytest.raises(CalendarError) as exc:
        WorkCalendar(f).add_workdays(date(2026, 12, 28), 10)
    assert "2027" in str(exc.value) and str(f) in str(exc.value) and "incomplete" in str(exc.value)


def test_complete_override_year(tmp_path):
    f = tmp_path / "h.toml"
    f.write_text('[years.2027]\ncomplete = true\nholidays = ["2027-01-01"]\nworkdays = ["2027-01-09"]\n')
    cal = WorkCalendar(f)
    assert not cal.is_workday(date(2027, 1, 1))  # Friday, holiday
    assert cal.is_workday(date(2027, 1, 9))  # Saturday, make-up
    assert not cal.is_workday(date(2027, 1, 10))  # plain Sunday
    # 2026-12-31 (Thu) + 3: 1 Jan off, 2-3 weekend, 4, 5, 6 Jan
    assert cal.add_workdays(date(2026, 12, 31), 3) == date(2027, 1, 6)


@pytest.mark.parametrize("text, message", [
    ('[years.2027]\ncomplete = "yes"\n', "complete"),
    ('[years.2027]\nholidays = ["2027-13-01"]\n', "not a date"),
    ('[years.2027]\nholidays = ["2028-01-01"]\n', "not in 2027"),
    ('[years.2027]\nholidayz = []\n', "holidayz"),
    ('[years.27]\n', "four-digit"),
    ('[years.2027\n', "TOML syntax"),
])
def test_bad_override_file_is_a_clear_error(tmp_path, text, message):
    f = tmp_path / "h.toml"
    f.write_text(text)
    with pytest.raises(CalendarError, match=message) as exc:
        WorkCalendar(f)
    assert str(f) in str(exc.value)


def test_cli_add_workdays(capsys):
    assert main(["calendar", "add-workdays", "2026-09-28", "10"]) == 0
    assert capsys.readouterr().out.strip() == "2026-10-16"


def test_cli_missing_year_exits_2(capsys, tmp_path):
    assert main(["calendar", "add-workdays", "2026-12-28", "10"]) == 2
    err = capsys.readouterr().err
    assert "2027" in err and "override" in err
    f = tmp_path / "h.toml"
    f.write_text('[years.2027]\ncomplete = true\nholidays = ["2027-01-01"]\n')
    assert main(["calendar", "add-workdays", "2026-12-28", "10", "--holidays", str(f)]) == 0
    # 29, 30, 31 Dec; 1 Jan off; 4-8, 11, 12 Jan
    assert capsys.readouterr().out.strip() == "2027-01-12"
