"""``rightsizer calendar import`` (issue 23, point 3): the State Council's notices of six years, as published,
read through the CLI into the override TOML; the calendar it makes agrees with ``chinese_calendar``'s own data
on every day of those years. Both styles, both punctuations, a 元旦 starting in the year before, an
encouragement that is no day off; anything unreadable is an error with its file and line, the file untouched."""
from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import chinese_calendar
from rightsizer.calendar import WorkCalendar
from rightsizer.cli import main

NOTICES = Path(__file__).parent / "data" / "holiday_notices"
YEARS = (2021, 2022, 2023, 2024, 2025, 2026)  # 2020 is left out: a later notice lengthened its 春节 (COVID-19)


def _days(year: int):
    day = date(year, 1, 1)
    while day.year == year:
        yield day
        day += timedelta(days=1)


def test_six_years_of_notices_give_the_calendar_chinese_calendar_has_day_by_day(tmp_path, capsys):
    out = tmp_path / "holidays.toml"
    assert main(["calendar", "import", *(str(NOTICES / f"{y}.txt") for y in YEARS), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "years.2024 added: 28 days off, 8 make-up working days" in err
    assert "warning" not in err  # every imported day agrees with the package
    cal = WorkCalendar(out)
    assert all(cal.knows(y) for y in YEARS)
    # the override decides each day of an imported year (a complete year wins over the package)
    wrong = [d for y in YEARS for d in _days(y) if cal.is_workday(d) != chinese_calendar.is_workday(d)]
    assert wrong == []
    text = out.read_text(encoding="utf-8")
    # 2024's 春节: the encouraged 除夕 (9 February, a Friday) is no day off; the make-up Sundays are working days
    assert '"2024-02-09"' not in text and cal.is_workday(date(2024, 2, 9))
    assert cal.is_workday(date(2024, 2, 4)) and cal.is_workday(date(2024, 2, 18))
    # 2023's 元旦 began on Saturday 31 December 2022: that day goes to 2022's table, which 2022's own notice
    # made complete
    assert '"2022-12-31",  # 元旦 放假' in text and '"2023-01-02",  # 元旦 放假' in text
    assert not cal.is_workday(date(2023, 1, 2))  # a Monday, given off by the 2023 notice


def test_printed_without_out_and_both_punctuations_read(tmp_path, capsys):
    half = NOTICES / "2025.txt"  # as pasted from a news site: half-width punctuation, indented paragraphs
    assert "(周三)" in half.read_text(encoding="utf-8")
    full = tmp_path / "2025-full.txt"
    full.write_text(half.read_text(encoding="utf-8").replace("(", "（").replace(")", "）").replace(":", "：")
                    .replace(",", "，"), encoding="utf-8")
    outs = []
    for f in (half, full):
        assert main(["calendar", "import", str(f)]) == 0
        outs.append(capsys.readouterr().out.replace(f.name, ""))
    assert outs[0] == outs[1] and '"2025-01-28",  # 春节 放假' in outs[0]
    assert '"2025-01-26",  # 春节 调休上班' in outs[0]


def test_the_year_before_stays_incomplete_when_only_the_next_notice_gives_days_of_it(tmp_path, capsys):
    out = tmp_path / "h.toml"
    assert main(["calendar", "import", str(NOTICES / "2023.txt"), "--out", str(out)]) == 0
    assert "years.2022: days the 2023 notice gives were added (2022 itself stays incomplete)" in capsys.readouterr().err
    cal = WorkCalendar(out)
    assert cal.knows(2023) and cal.is_workday(date(2022, 6, 6)) == chinese_calendar.is_workday(date(2022, 6, 6))


def test_an_existing_override_file_keeps_its_other_years_and_is_replaced_atomically(tmp_path, capsys):
    out = tmp_path / "holidays.toml"
    out.write_text('[years.2030]\ncomplete = true\nholidays = ["2030-01-01"]\nworkdays = []\n'
                   '[years.2027]\ncomplete = false\nholidays = ["2027-01-01"]\n', encoding="utf-8")
    assert main(["calendar", "import", str(NOTICES / "2027-fixture.txt"), "--out", str(out)]) == 0
    assert "years.2027 added" in capsys.readouterr().err  # the incomplete placeholder did not count
    cal = WorkCalendar(out)
    assert cal.knows(2027) and cal.knows(2030) and not cal.is_workday(date(2030, 1, 1))
    assert not cal.is_workday(date(2027, 2, 5)) and cal.is_workday(date(2027, 2, 20))
    assert main(["calendar", "import", str(NOTICES / "2027-fixture.txt"), "--out", str(out)]) == 0
    assert "years.2027 replaced" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["holidays.toml"]  # no temporary file left


BAD = """国务院办公厅关于2027年部分节假日安排的通知
一、元旦：1月1日（周四）放假1天，不调休。
二、春节：2月5日至11日放假调休，共8天。2月6日（周六）上班。鼓励各单位安排职工在除夕（2月4日）休息。
三、清明节：4月3日至5日放假，另行通知。
四、劳动节：5月1日至5日放假调休，共5天。4月26日（周一）上班。
"""


def test_what_it_cannot_read_is_an_error_with_the_line_and_the_file_stays_as_it_was(tmp_path, capsys):
    bad = tmp_path / "通知.txt"
    bad.write_text(BAD, encoding="utf-8")
    out = tmp_path / "holidays.toml"
    shutil.copy(NOTICES.parent.parent.parent / "config" / "holidays.example.toml", out)
    before = out.read_bytes()
    assert main(["calendar", "import", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert any(f"{bad}:2:" in e and "2027-01-01 是星期五，与括号里的星期不符" in e for e in err)
    assert any(f"{bad}:3:" in e and "写的是共8天，日期是 7 天" in e for e in err)
    assert any(f"{bad}:3:" in e and "2027-02-06 既是放假日又是上班日" in e for e in err)
    assert any(f"{bad}:4:" in e and "读不懂" in e and "另行通知" in e for e in err)
    assert any(f"{bad}:5:" in e and "2027-04-26 本是工作日" in e for e in err)
    assert not any("2月4日" in e for e in err)  # the encouragement is no day off and no error
    assert out.read_bytes() == before

    nothing = tmp_path / "empty.txt"
    nothing.write_text("各省、自治区、直辖市人民政府：\n", encoding="utf-8")
    assert main(["calendar", "import", str(nothing)]) == 2
    assert f"{nothing}:1: 找不到年份" in capsys.readouterr().err
    gbk = tmp_path / "gbk.txt"
    gbk.write_bytes(BAD.encode("gbk"))
    assert main(["calendar", "import", str(gbk)]) == 2
    assert "不是 UTF-8 文本" in capsys.readouterr().err


def test_a_wrapped_item_is_read_whole_and_a_stray_day_off_is_an_error(tmp_path, capsys):
    text = (NOTICES / "2024.txt").read_text(encoding="utf-8")
    wrapped = tmp_path / "wrapped.txt"
    wrapped.write_text(text.replace("放假调休，共8天。2月4日", "放假调休，共8天。\n2月4日"), encoding="utf-8")
    assert main(["calendar", "import", str(wrapped)]) == 0
    assert '"2024-02-04",  # 春节 调休上班' in capsys.readouterr().out
    stray = tmp_path / "stray.txt"
    stray.write_text(text.replace("七、国庆节：", "国庆节："), encoding="utf-8")
    assert main(["calendar", "import", str(stray)]) == 2
    err = capsys.readouterr().err  # joined to the item before it, where it cannot be read: an error, not dropped
    assert f"{stray}:" in err and "读不懂这一句：“国庆节:10月1日至7日放假调休,共7天”" in err
    after = tmp_path / "after.txt"
    after.write_text(text.replace("\n节假日期间", "\n另：10月8日（星期二）放假。\n\n节假日期间"), encoding="utf-8")
    assert main(["calendar", "import", str(after)]) == 2
    assert "不在“一、元旦：……”这样的条目里" in capsys.readouterr().err


def test_a_year_the_package_knows_otherwise_is_warned_about(tmp_path, capsys):
    notice = tmp_path / "n.txt"  # 2024's notice with 端午 moved by a day: chinese_calendar says otherwise
    notice.write_text((NOTICES / "2024.txt").read_text(encoding="utf-8").replace("6月10日放假", "6月11日放假"),
                      encoding="utf-8")
    assert main(["calendar", "import", str(notice)]) == 0
    err = capsys.readouterr().err
    assert "2024-06-10 is a working day here, a day off in chinese_calendar" in err
    assert "2024-06-11 is a day off here, a working day in chinese_calendar" in err


def test_two_notices_in_one_file_or_a_day_in_two_items_is_an_error(tmp_path, capsys):
    both = tmp_path / "both.txt"
    both.write_text((NOTICES / "2024.txt").read_text(encoding="utf-8") + "\n"
                    + (NOTICES / "2025.txt").read_text(encoding="utf-8"), encoding="utf-8")
    assert main(["calendar", "import", str(both)]) == 2
    assert "一个文件里有多份通知（2024年、2025年）" in capsys.readouterr().err
    twice = tmp_path / "twice.txt"
    text = (NOTICES / "2026.txt").read_text(encoding="utf-8")
    twice.write_text(text.replace("七、国庆节：10月1日", "六、国庆节：10月1日").replace(
        "六、中秋节：9月25日（周五）至27日（周日）", "六、中秋节：9月25日（周五）至10月1日（周四）").replace(
        "放假，共3天。\n六、国庆节", "放假，共7天。\n六、国庆节"), encoding="utf-8")
    assert main(["calendar", "import", str(twice)]) == 2
    err = capsys.readouterr().err
    assert "条目“六、”出现了两次" in err and "2026-10-01 已在“中秋节”中安排，又出现在“国庆节”中" in err


def test_re_importing_a_year_says_which_days_of_the_file_it_drops(tmp_path, capsys):
    out = tmp_path / "h.toml"
    assert main(["calendar", "import", str(NOTICES / "2022.txt"), str(NOTICES / "2023.txt"), "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["calendar", "import", str(NOTICES / "2022.txt"), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "warning: years.2022: 2022-12-31 were in" in err and "import it too" in err
