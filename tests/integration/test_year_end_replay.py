"""The year's end as a centre lives it (issue 23, "done when"): a city of four departments replayed day by day
from 1 December 2026 to 15 January 2027, once through the CLI (what cron would run) and once through the
daemon's runner on an hourly clock. 2027 is not in the calendar at first; on 22 December the operator imports
the State Council's notice (``rightsizer calendar import``) and reloads.

Both must show: the calendar warning on every sweep until the import, to the operators once; nothing issued on
a weekend or on New Year's Day; a notice issued on 18 December, whose deadline ran into 2027, held and then told
with its date on the day of the import; a server delivered on 21 December whose deployment deadline was held
judged undeployed once 2027 is known; every PDF with its due date and none with "期限另行通知"."""
from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import servers
from collectors.csv_import import read_inventory, write_inventory
from fake_im import FakeIM
from helpers import days
from rightsizer import demo
from rightsizer.calendar import WorkCalendar
from rightsizer.cli import main
from rightsizer.format import date_zh

TZ = ZoneInfo("Asia/Shanghai")
START, END, IMPORT_DAY = date(2026, 12, 1), date(2027, 1, 15), date(2026, 12, 22)
NOTICE_2027 = Path(__file__).parents[1] / "data" / "holiday_notices" / "2027-fixture.txt"
EXAMPLE = Path(__file__).parents[2] / "config" / "holidays.example.toml"
EARLY = datetime(2026, 12, 3, 10, tzinfo=TZ)  # undeployed from 18 December: its notice's deadline runs into 2027
LATE = datetime(2026, 12, 21, 10, tzinfo=TZ)  # its deployment deadline falls in 2027: held until the import


def _days():
    return days(START, END)


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    """The city's samples up to 16 January (offices keep 2027's hours) and its servers with their deliveries."""
    d = tmp_path_factory.mktemp("city")
    known = d / "simulation-calendar.toml"
    assert main(["calendar", "import", str(NOTICE_2027), "--out", str(known)]) == 0
    demo.write_city(d, 30, 29, datetime(2027, 1, 16, tzinfo=TZ), departments=4, days=80, calendar=WorkCalendar(known))
    fleet = read_inventory(d / "servers.csv", TZ)
    never = [s for s in fleet if s.server_id in _archetype(d, "undeployed", "idle")]  # no workload at all
    assert len(never) >= 2, "the simulated city has fewer than two never-deployed servers"
    early, late = never[0].server_id, never[1].server_id
    fleet = [dataclasses.replace(s, delivered_at=EARLY if s.server_id == early else LATE)
             if s.server_id in (early, late) else s for s in fleet]
    return d, fleet, early, late


def _archetype(d: Path, *kinds: str) -> list[str]:
    from collectors.simulate import simulate_city

    settings = demo.load_settings(None)
    sim = simulate_city(29, 30, datetime(2027, 1, 16, tzinfo=TZ), days=1, step=settings.window.step_seconds,
                        tz=TZ, calendar=WorkCalendar(d / "simulation-calendar.toml"), departments=4)
    return sorted(sid for sid, k in sim.archetype.items() if k in kinds)


@pytest.fixture
def oa(monkeypatch):
    monkeypatch.setenv("RS_WH_SECRET", "oa-secret")
    with FakeIM(webhook_secret="oa-secret") as fake:
        yield fake


def _config(tmp_path: Path, city_dir: Path, fleet, oa) -> Path:
    shutil.copy(EXAMPLE, tmp_path / "holidays.toml")  # as installed: 2027 there, not complete
    depts = sorted({s.department for s in fleet})
    routing = (f'[[notifiers]]\nname = "oa"\ntype = "webhook"\nurl = "{oa.url}/webhook"\n'
               'secret = { env = "RS_WH_SECRET" }\n'
               '[notices]\noperator_channels = ["oa"]\n'
               + "".join(f'[departments."{d}"]\nchannels = ["oa"]\n' for d in depts))
    cfg = demo.daemon_config(tmp_path, routing, schedule={})
    cfg.write_text(cfg.read_text(encoding="utf-8") + f'[metrics.local]\ndir = "{city_dir / "samples"}"\n'
                   '[calendar]\noverrides = "holidays.toml"\n'
                   '[schedule.inventory]\ncron = "0 6 * * *"\n[schedule.evaluate]\ncron = "30 6 * * *"\n'
                   '[schedule.sweep]\ncron = "0 9 * * *"\n[schedule.deliver]\ncron = "5 * * * *"\n',
                   encoding="utf-8")
    return cfg


def _inventory_of(day: date, path: Path, fleet) -> None:
    """The cloud's servers on ``day``: those delivered by then."""
    write_inventory(path, [s for s in fleet if s.delivered_at <= datetime.combine(day, time(6), TZ)])


@dataclass
class Lived:
    warned: dict[date, bool] = field(default_factory=dict)  # the sweep's day → it warned of the calendar's end
    told: list[tuple[date, dict]] = field(default_factory=list)  # what reached the webhook, by day


def _imports(cfg: Path) -> None:
    assert main(["calendar", "import", str(NOTICE_2027), "--out", str(cfg.parent / "holidays.toml")]) == 0


def _check(lived: Lived, cfg: Path, capsys, tmp_path: Path, fleet, early: str, late: str) -> None:
    common = ["--config", str(cfg)]
    capsys.readouterr()
    assert main(["notices", "list", "--format", "json", *common]) == 0
    notices = json.loads(capsys.readouterr().out)
    cal = WorkCalendar(cfg.parent / "holidays.toml")
    issued = {date.fromisoformat(n["issued_at"][:10]) for n in notices}
    assert all(cal.is_workday(d) for d in issued), sorted(issued)  # never a weekend, never 1 January
    # the warning, every day until the import, then no more; told to the operators once
    assert all(lived.warned[d] for d in _days() if d < IMPORT_DAY)
    assert not any(lived.warned[d] for d in _days() if d >= IMPORT_DAY)
    alerts = [b for _, b in lived.told if "日历缺少" in b.get("subject", "")]
    assert [a["subject"] for a in alerts] == ["[rightsizer 告警] 日历缺少2027年节假日安排"]
    # every notice, as it stands, has its date; its PDF says it and never "期限另行通知"
    shown = {}
    for n in notices:
        assert main(["notices", "show", str(n["id"]), "--format", "json", *common]) == 0
        shown[n["id"]] = json.loads(capsys.readouterr().out)
    compulsory = [s for s in shown.values() if s.get("due_date")]
    assert len(compulsory) == len([s for s in shown.values() if s["deadline_zh"] != "无整改期限（建议）"])
    for s in compulsory:
        pdf = tmp_path / f"{s['id']}.pdf"
        assert main(["notices", "pdf", str(s["id"]), "--out", str(pdf), *common]) == 0
        text = _pdf_text(pdf)
        assert f"请于{date_zh(date.fromisoformat(s['due_date']))}前完成整改" in text and "期限另行通知" not in text
    # the notice of 18 December: held when delivered, told on the day of the import, due Monday 4 January
    by_server = {it["server_id"]: s for s in shown.values() for it in s["items"]}
    first = by_server[early]
    assert first["issued_at"][:10] == "2026-12-18" and first["due_date"] == "2027-01-04"
    held = [b for _, b in lived.told if (b.get("notice") or {}).get("number") == first["number"]
            and not b["subject"].startswith("【期限确定】")]
    assert "期限另行通知" in held[0]["text"]
    told = [(d, b) for d, b in lived.told if b.get("subject") == f"【期限确定】{first['number']}"]
    assert [d for d, _ in told] == [IMPORT_DAY]
    assert "整改期限现已确定：请于2027年1月4日前完成整改" in told[0][1]["text"]
    assert told[0][1]["pdf"]["filename"] == f"{first['number']}.pdf"
    # every notice held at delivery was told, once
    held_numbers = {b["notice"]["number"] for _, b in lived.told
                    if b.get("notice") and "期限另行通知" in b["text"] and not b["subject"].startswith("【期限确定】")}
    told_numbers = [b["notice"]["number"] for _, b in lived.told if b.get("subject", "").startswith("【期限确定】")]
    assert held_numbers and sorted(told_numbers) == sorted(held_numbers)
    # delivered 21 December, deployment deadline held; with 2027 known: ten working days to 5 January, so
    # judged undeployed on Wednesday 6 January and told that day
    assert by_server[late]["issued_at"][:10] == "2027-01-06"
    assert [it["kind"] for it in by_server[late]["items"] if it["server_id"] == late] == ["undeployed"]


def _pdf_text(path) -> str:
    out = subprocess.run([servers.binary("pdftotext"), "-layout", str(path), "-"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return re.sub(r"\s+", "", out.stdout)


def test_the_cli_over_the_years_end(tmp_path, city, oa, capsys):
    city_dir, fleet, early, late = city
    cfg = _config(tmp_path, city_dir, fleet, oa)
    common = ["--config", str(cfg)]
    inv = tmp_path / "servers.csv"
    lived = Lived()

    def cli(*argv: str) -> tuple[str, str]:
        capsys.readouterr()
        rc = main([*argv, *common])
        out, err = capsys.readouterr()
        assert rc == 0, err
        return out, err

    for day in _days():
        at = lambda h, m=0: datetime.combine(day, time(h, m), TZ).isoformat()  # noqa: E731
        _inventory_of(day, inv, fleet)
        cli("inventory", "sync", "--csv", str(inv), "--now", at(6))
        cli("evaluate", "--inventory", str(inv), "--at", at(6, 30))
        if day == IMPORT_DAY:
            _imports(cfg)
        seen = len(oa.received)
        _, err = cli("sweep", "--now", at(9))
        lived.warned[day] = "日历尚无2027年的节假日安排" in err and "rightsizer calendar import" in err
        cli("deliver", "--now", at(9, 5))
        lived.told += [(day, b) for _, b in oa.received[seen:]]
    _check(lived, cfg, capsys, tmp_path, fleet, early, late)


def test_the_daemon_over_the_years_end(tmp_path, city, oa, capsys, caplog):
    from rightsizer.daemon.scheduler import Runner, enabled
    from rightsizer.daemon.service import load
    from rightsizer.db import Store

    city_dir, fleet, early, late = city
    cfg = _config(tmp_path, city_dir, fleet, oa)
    settings, calendar = load(str(cfg))
    store = Store.open(settings.store.resolved_url())
    clock = [datetime.combine(START, time(5), TZ)]
    runner = Runner(store, settings, calendar, lambda: clock[0])
    lived = Lived()
    last = clock[0]
    _inventory_of(START, tmp_path / "servers.csv", fleet)
    with caplog.at_level("WARNING", logger="rightsizer.jobs"):
        while clock[0] < datetime.combine(END, time(12), TZ):
            clock[0] += timedelta(hours=1)
            now = clock[0]
            if now.hour == 5:
                _inventory_of(now.date(), tmp_path / "servers.csv", fleet)
            if now.date() == IMPORT_DAY and now.hour == 8:
                _imports(cfg)
                runner.swap(*load(str(cfg)))  # systemctl reload rightsizer
            seen, logged = len(oa.received), len(caplog.records)
            for job in enabled(runner.settings)[0]:
                p = runner.period(job, now)
                if p is not None and p > last:
                    runner.run(job)
            last = now
            if now.hour == 9:
                lived.warned[now.date()] = any(
                    r.levelname == "WARNING" and "日历尚无2027年的节假日安排" in r.getMessage()
                    and "rightsizer calendar import" in r.getMessage() for r in caplog.records[logged:])
            lived.told += [(now.date(), b) for _, b in oa.received[seen:]]
    _check(lived, cfg, capsys, tmp_path, fleet, early, late)
