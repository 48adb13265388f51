"""Builders shared by the tests."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from rightsizer.models import Server, Size, UsageSummary

TZ = ZoneInfo("Asia/Shanghai")
AT = datetime(2026, 11, 20, tzinfo=TZ)


def make_server(sid="s1", vcpus=8, ram=16.0, disk=200.0, delivered=AT - timedelta(days=200), dept="市教育和体育局"):
    return Server(sid, sid, dept, "门户网站", Size(vcpus, ram, disk), delivered)


def make_summary(sid="s1", cpu=50.0, mem=50.0, disk=60.0, **kw) -> UsageSummary:
    """A summary well inside 'nothing to do' unless told otherwise."""
    base = UsageSummary(
        server_id=sid, window_start=AT - timedelta(days=30), window_end=AT, effective_start=AT - timedelta(days=30),
        coverage=1.0, coverage_by_metric={"cpu": 1.0, "mem": 1.0, "disk": 1.0}, days_of_data=30.0,
        cpu_p95_pct=cpu, cpu_max_pct=cpu, memory_peak_pct=mem, memory_max_pct=mem, memory_peak_days=30,
        disk_latest_pct=disk, disk_max_pct=disk, recent_cpu_p95_pct=cpu, recent_coverage=1.0,
        delivered_in_window=False,
    )
    return replace(base, **kw)


class FakeSampler:
    """The agent's sampler interface with values set by the test."""

    def __init__(self, cpu=12.5, mem=40.0, disks=None):
        self.cpu, self.mem = cpu, mem
        self.disks = disks if disks is not None else {"/": 30.0, "/data": 75.0}

    def cpu_pct(self):
        return self.cpu

    def memory_pct(self):
        return self.mem

    def disk_pct(self, mountpoint):
        if mountpoint not in self.disks:
            raise FileNotFoundError(2, "No such file or directory")
        return self.disks[mountpoint]


def record_sync(store, source, at, inventory):
    """An inventory sync recorded as `rightsizer inventory sync` records it (without OpenStack)."""
    from rightsizer.db import inventory as db_inventory

    with store.begin() as conn:
        return db_inventory.record_sync(conn, source, at, inventory)


def op(name: str):
    """An operator acting at the CLI (every action takes a viewer)."""
    from rightsizer.lifecycle import Viewer

    return Viewer(name, "operator", signs_as=name)


def notices_of(store) -> list:
    """Every notice of the store, oldest first (records)."""
    from rightsizer.jobs import views

    return [line.notice for line in views.notices(store, op("test"))]


def a_notice(number: str = "N1", department: str = "市教育和体育局", issued_at=None, due=None, notice_id: int = 1,
             state: str = "issued"):
    """A notice record as the store gives it (for rendering a document without a store)."""
    from rightsizer.lifecycle import NoticeState
    from rightsizer.records import Notice

    return Notice(notice_id, number, department, NoticeState(state), None, issued_at or AT, None, due, None)


def days(first, last):
    """Every date from ``first`` to ``last``, both included: the days a replay lives."""
    while first <= last:
        yield first
        first += timedelta(days=1)


def with_stdin(text: str, argv: list[str]) -> int:
    """``rightsizer ARGV`` with ``text`` on its standard input (a password for ``users add``)."""
    import io
    import sys

    from rightsizer.cli import main

    old, sys.stdin = sys.stdin, io.StringIO(text)
    try:
        return main(argv)
    finally:
        sys.stdin = old


def twin_server(inv, samples, row: str, like: str) -> None:
    """Add the inventory ``row`` to ``inv`` and give its server the samples of the server ``like``."""
    sid = row.split(",", 1)[0]
    inv.write_text(inv.read_text(encoding="utf-8") + row + "\n", encoding="utf-8")
    lines = samples.read_text(encoding="utf-8").splitlines()
    samples.write_text("\n".join([*lines, *(r.replace(f"{like},", f"{sid},", 1) for r in lines
                                            if r.startswith(f"{like},"))]) + "\n", encoding="utf-8")
