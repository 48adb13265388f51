"""Two months of a small city replayed through the CLI, day by day (issue 10).

2026-09-22 to 2026-11-13, across the National Day holiday and its make-up working days:
`evaluate` (CSV inventory and samples), `sweep` and `deliver` every morning with `--now`,
and what departments and operators do on given days. Every department's channel is a
webhook on 127.0.0.1 that records what arrives and when; the test checks what each
department received, on which day, and the state of every notice at the end.

The city (hourly samples, a 14-day window):

* 市教育和体育局 — ``edu-big`` oversized (shrink), resized on 09-25: rectified, verified from the
  inventory; ``edu-new`` delivered 09-28 and never deployed: nothing inside its deployment
  period (stretched by the holiday to 10-16), ``undeployed`` from 10-17, and it stays so.
* 市档案馆 — ``arch-idle`` unused (release), removed on 09-30: rectified; ``arch-exempt``
  oversized but exempted until 10-20: it comes through on 10-21.
* 市卫生健康局 — ``health-lazy`` oversized, and the department does nothing: reminded,
  overdue, escalated exactly once (an acknowledgement after it changes nothing);
  ``health-hot`` overloaded: expansion advice in its own section, never overdue.
"""
from __future__ import annotations

import csv
import json
from datetime import date, datetime, timedelta

import pytest

from rightsizer.calendar import WorkCalendar
from rightsizer.cli import main

from helpers import TZ
from localserver import LocalServer, QuietHandler

START, END = date(2026, 9, 22), date(2026, 11, 13)
EDU, ARCH, HEALTH = "市教育和体育局", "市档案馆", "市卫生健康局"
OLD = "2025-03-01T00:00:00+08:00"


class Inbox(LocalServer):
    """Every channel's webhook: what arrived, on which replayed day."""

    def __init__(self):
        self.got: list[tuple[str, date, str, str]] = []  # (path, day, subject, text)
        self.day = START
        inbox = self

        class H(QuietHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                inbox.got.append((self.path, inbox.day, body["subject"], body["text"]))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        super().__init__(H)

    def to(self, path: str) -> list[tuple[date, str, str]]:
        return [(d, s, t) for p, d, s, t in self.got if p == path]


def servers_on(day: date) -> list[tuple[str, str, str, int, int, int, str]]:
    """(id, department, system, vcpus, ram, disk, delivered_at) as the inventory shows them that day."""
    out = [("edu-big", EDU, "智慧教育平台", *((4, 16, 200) if day >= date(2026, 9, 25) else (16, 64, 500)), OLD),
           ("health-lazy", HEALTH, "卫生信息平台", 16, 64, 500, OLD),
           ("health-hot", HEALTH, "预约挂号", 4, 8, 200, OLD),
           ("arch-exempt", ARCH, "档案管理", 8, 32, 200, OLD)]
    if day < date(2026, 9, 30):
        out.append(("arch-idle", ARCH, "旧门户", 4, 8, 100, OLD))
    if day >= date(2026, 9, 28):
        out.append(("edu-new", EDU, "新系统", 8, 16, 200, "2026-09-28T10:00:00+08:00"))
    return out


def usage(sid: str, size: tuple[int, int, int]) -> tuple[float, float, float]:
    if sid == "edu-big":
        return (35, 45, 50) if size[0] == 4 else (8, 15, 20)
    return {"health-lazy": (8, 15, 20), "health-hot": (90, 85, 60), "arch-exempt": (10, 15, 30),
            "arch-idle": (1, 8, 20), "edu-new": (0.5, 3, 5)}[sid]


def write_day(d, day: date, at: datetime):
    inv, smp = d / f"inv-{day}.csv", d / f"samples-{day}.csv"
    rows = servers_on(day)
    with inv.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["server_id", "name", "department", "system", "vcpus", "ram_gib", "disk_gib", "delivered_at"])
        for sid, dept, system, v, r, k, delivered in rows:
            w.writerow([sid, sid, dept, system, v, r, k, delivered])
    end = int(at.timestamp())
    with smp.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["server_id", "timestamp", "cpu_pct", "mem_pct", "disk_pct"])
        for sid, _, _, v, r, k, delivered in rows:
            since = int(datetime.fromisoformat(delivered).timestamp())
            cpu, mem, disk = usage(sid, (v, r, k))
            for h in range(14 * 24, 0, -1):
                t = end - h * 3600
                if t >= since:
                    w.writerow([sid, t, f"{cpu + (h % 5) * 0.1:.1f}", f"{mem + (h % 3) * 0.1:.1f}", f"{disk:.1f}"])
    return inv, smp


@pytest.fixture(scope="module")
def replay(tmp_path_factory, module_store_url):  # the whole replay on SQLite, then on PostgreSQL
    d = tmp_path_factory.mktemp("city")
    inbox = Inbox().start()
    cfg = d / "rs.toml"
    hook = inbox.url
    cfg.write_text(
        "[window]\ndays = 14\nstep_seconds = 3600\nmin_days_of_data = 7\n"
        "[notices]\ncc_channels = [\"centre\"]\nescalation_channels = [\"leaders\"]\noperator_channels = [\"ops\"]\n"
        + "".join(f'[[notifiers]]\nname = "{n}"\ntype = "webhook"\nurl = "{hook}/{n}"\n'
                  for n in ("edu", "archive", "health", "centre", "leaders", "ops"))
        + f'[departments."{EDU}"]\nchannels = ["edu"]\n[departments."{ARCH}"]\nchannels = ["archive"]\n'
          f'[departments."{HEALTH}"]\nchannels = ["health"]\n', encoding="utf-8")
    common = ["--config", str(cfg), "--db", module_store_url]
    findings_by_day: dict[date, list[dict]] = {}

    def cli(*argv) -> int:
        return main([*argv[:2], *common, *argv[2:]]) if argv[0] == "notices" else main([argv[0], *common, *argv[1:]])

    day = START
    while day <= END:
        inbox.day = day
        at = datetime(day.year, day.month, day.day, 9, tzinfo=TZ)
        inv, smp = write_day(d, day, at)
        assert main(["evaluate", *common, "--inventory", str(inv), "--samples", str(smp), "--at", at.isoformat(),
                     "--format", "json"]) == 0
        if day == START:  # the centre exempts a disaster-recovery standby before the first sweep
            assert cli("notices", "exempt", "--server", "arch-exempt", "--reason", "容灾备机", "--approver",
                       "中心 王五", "--until", "2026-10-20", "--now", at.isoformat()) == 0
        assert cli("sweep", "--now", at.isoformat()) == 0
        assert cli("deliver", "--now", (at + timedelta(minutes=5)).isoformat()) == 0
        if day == date(2026, 10, 15):  # the health bureau finally acknowledges, after the escalation
            assert cli("notices", "ack", _notice_id(cli, HEALTH), "--actor", "卫健局 赵六",
                       "--now", at.isoformat()) == 0
        findings_by_day[day] = _open_findings(module_store_url)
        day += timedelta(days=1)
    yield inbox, cli, findings_by_day, d
    inbox.stop()


def _notice_id(cli, dept: str) -> str:
    import io
    import sys

    buf, old = io.StringIO(), sys.stdout
    sys.stdout = buf
    try:
        assert cli("notices", "list", "--department", dept, "--format", "json") == 0
    finally:
        sys.stdout = old
    return str(json.loads(buf.getvalue())[0]["id"])


def _open_findings(url: str) -> list[dict]:
    import sqlalchemy as sa

    from rightsizer.db import Store
    from rightsizer.db.schema import findings

    with Store(url).read() as c:
        return [{"server_id": s, "kind": k} for s, k in
                c.execute(sa.select(findings.c.server_id, findings.c.kind).where(findings.c.status == "open"))]


def _notices(cli, capsys) -> list[dict]:
    capsys.readouterr()
    assert cli("notices", "list", "--format", "json") == 0
    return json.loads(capsys.readouterr().out)


def test_each_department_hears_only_of_its_own_servers(replay):
    inbox, *_ = replay
    own = {"/edu": ("edu-",), "/archive": ("arch-",), "/health": ("health-",)}
    for path, prefixes in own.items():
        for _, _, text in inbox.to(path):
            others = [sid for sid in ("edu-big", "edu-new", "arch-idle", "arch-exempt", "health-lazy", "health-hot")
                      if sid in text and not sid.startswith(prefixes)]
            assert not others, (path, others)


def test_the_due_date_is_printed_and_stored_and_crosses_the_holiday(replay, capsys):
    inbox, cli, *_ = replay
    (day, subject, text), *_ = inbox.to("/health")
    assert day == START and "整改通知" in subject
    assert "请于2026年10月13日前完成整改" in text  # 2026-09-22 + 10 working days, over National Day
    health = next(n for n in _notices(cli, capsys) if n["department"] == HEALTH)
    assert health["due_date"] == "2026-10-13"
    assert WorkCalendar().add_workdays(START, 10) == date(2026, 10, 13)


def test_expansion_is_advice_in_its_own_section_and_never_overdue(replay, capsys):
    inbox, cli, *_ = replay
    (_, _, text), *_ = inbox.to("/health")
    rectify, advice = text.split("二、扩容建议")
    assert "health-lazy" in rectify and "health-hot" not in rectify
    assert "health-hot" in advice
    capsys.readouterr()
    assert cli("notices", "show", _notice_id(cli, HEALTH), "--format", "json") == 0
    shown = json.loads(capsys.readouterr().out)
    states = {(i["server_id"], i["kind"]): i["state"] for i in shown["items"]}
    assert states[("health-hot", "expand")] == "advice"
    assert {s for (sid, _), s in states.items() if sid == "health-lazy"} == {"open"}
    # the escalation names only the unrectified shrinks, not the advice
    (_, _, escalation), = [m for m in inbox.to("/leaders") if HEALTH in m[1]]
    assert "health-lazy" in escalation and "health-hot" not in escalation


def test_a_department_that_does_nothing_is_reminded_then_escalated_exactly_once(replay, capsys):
    inbox, cli, *_ = replay
    health = [(d, s) for d, s, _ in inbox.to("/health")]
    reminders = [d for d, s in health if s.startswith("【提醒】")]
    assert reminders == [date(2026, 10, 9)]  # 3 working days before 10-13 (10-10 is a make-up Saturday)
    leaders = [(d, s) for d, s, _ in inbox.to("/leaders") if HEALTH in s]
    assert [d for d, _ in leaders] == [date(2026, 10, 14)] and "【逾期】" in leaders[0][1]
    notice = next(n for n in _notices(cli, capsys) if n["department"] == HEALTH)
    assert notice["state"] == "escalated" and notice["state_zh"] == "已督办"  # the ack on 10-15 was recorded, nothing moved back
    capsys.readouterr()
    assert cli("notices", "show", str(notice["id"]), "--format", "json") == 0
    events = json.loads(capsys.readouterr().out)["events"]
    assert [(e["from"], e["to"]) for e in events].count(("overdue", "escalated")) == 1
    assert [e["to"] for e in events if e["from"] != e["to"]] == ["issued", "delivered", "overdue", "escalated"]
    assert any(e["actor"] == "卫健局 赵六" and e["note"].startswith("acknowledged") for e in events)


def test_a_resize_and_a_release_are_verified_from_the_inventory(replay, capsys):
    inbox, cli, *_ = replay
    by_dept = {}
    for n in _notices(cli, capsys):
        by_dept.setdefault(n["department"], []).append(n)
    edu_first, arch_first = by_dept[EDU][0], by_dept[ARCH][0]
    assert edu_first["state"] == "rectified" and edu_first["item_counts"] == {"rectified": 3}
    assert arch_first["state"] == "rectified" and arch_first["item_counts"] == {"rectified": 1}
    capsys.readouterr()
    assert cli("notices", "show", str(edu_first["id"]), "--format", "json") == 0
    items = json.loads(capsys.readouterr().out)["items"]
    assert all(i["realised_saving_cny"] and float(i["realised_saving_cny"]) > 0 for i in items)
    # no reminder reached a department that had already done its part
    assert not [s for _, s, _ in inbox.to("/edu") if s.startswith("【提醒】") and "〔2026〕1号" in s]


def test_a_new_server_is_left_alone_while_deploying_then_undeployed_and_stays_so(replay):
    inbox, _, by_day, _ = replay
    deadline = WorkCalendar().add_workdays(date(2026, 9, 28), 10)
    assert deadline == date(2026, 10, 16)  # the holiday stretches the deployment period
    actionable = {"shrink", "release", "undeployed", "expand"}
    kinds = {day: {f["kind"] for f in fs if f["server_id"] == "edu-new"} for day, fs in by_day.items()}
    assert all(not (k & actionable) for day, k in kinds.items() if day <= deadline)
    assert all(k == {"undeployed"} for day, k in kinds.items() if day > deadline), \
        {day: k for day, k in kinds.items() if day > deadline - timedelta(days=3)}
    notices = [(d, s, t) for d, s, t in inbox.to("/edu") if "edu-new" in t and not s.startswith("【")]
    # found undeployed on Saturday 17 October; told on Monday 19th: nothing is issued on a day off (issue 23)
    assert len(notices) == 1 and notices[0][0] == date(2026, 10, 19) and "逾期未部署" in notices[0][1]
    assert not any("释放" in s for _, s, t in inbox.to("/edu") if "edu-new" in t)


def test_an_exemption_holds_back_a_finding_until_it_ends(replay):
    inbox, *_ = replay
    arrived = [d for d, s, t in inbox.to("/archive") if "arch-exempt" in t and not s.startswith("【")]
    assert arrived == [date(2026, 10, 21)]  # the day after the exemption's last day
