"""A held deadline, once known, is told (issue 23, point 4): a notice delivered on 28 December 2026, whose ten
working days run into 2027 before the calendar has that year, is held — "期限待定（节假日安排未发布）" in every
reader, "期限另行通知" in the notice as sent. When the centre adds 2027, the next sweep fixes the date, the
department gets a message stating it with the notice rendered again, and ``notices pdf`` prints the date."""
from __future__ import annotations

import json
import subprocess
from zoneinfo import ZoneInfo

import pytest

import servers
from fake_im import FakeIM
from rightsizer.cli import main

TZ = ZoneInfo("Asia/Shanghai")
YEAR_2027 = "[years.2027]\ncomplete = true\nholidays = [\"2027-01-01\"]\nworkdays = []\n"


@pytest.fixture
def oa(monkeypatch):
    monkeypatch.setenv("RS_WH_SECRET", "oa-secret")
    with FakeIM(webhook_secret="oa-secret") as fake:
        yield fake


def _city(tmp_path, oa, capsys):
    """The archive's findings of 20 November in a store, its notices to its OA webhook; the CLI on them."""
    from test_evaluate_cli import AT, write_inputs

    db, cfg = tmp_path / "rs.db", tmp_path / "rs.toml"
    cfg.write_text(f'[[notifiers]]\nname = "oa"\ntype = "webhook"\nurl = "{oa.url}/webhook"\n'
                   'secret = { env = "RS_WH_SECRET" }\n'
                   '[departments."市档案馆"]\nchannels = ["oa"]\n', encoding="utf-8")
    common = ["--config", str(cfg), "--db", str(db)]

    def cli(*argv: str) -> str:
        capsys.readouterr()
        assert main([*argv, *common]) == 0, capsys.readouterr().err
        return capsys.readouterr().out

    inv, samples = write_inputs(tmp_path)
    cli("evaluate", "--inventory", str(inv), "--samples", str(samples), "--at", AT.isoformat())
    return cli, cfg


def _pdf_text(path) -> str:
    out = subprocess.run([servers.binary("pdftotext"), "-layout", str(path), "-"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.replace(" ", "")


def test_a_held_deadline_is_told_with_its_date_once_the_calendar_has_the_year(tmp_path, oa, capsys):
    cli, cfg = _city(tmp_path, oa, capsys)
    cli("sweep", "--now", "2026-12-28T09:00:00+08:00")  # a Monday of 2026: the notice goes out
    cli("deliver", "--now", "2026-12-28T09:05:00+08:00")
    shown = json.loads(cli("notices", "show", "1", "--format", "json"))
    assert shown["state"] == "delivered" and shown["due_date"] is None
    assert shown["deadline_zh"] == "期限待定（节假日安排未发布）" and "2027" in shown["hold_reason"]
    (platform, first), = oa.received
    assert "期限另行通知" in first["text"] and first["notice"]["deadline_zh"] == "期限待定（节假日安排未发布）"

    cli("sweep", "--now", "2026-12-29T09:00:00+08:00")  # still unknown: still held, nothing told
    cli("deliver", "--now", "2026-12-29T09:05:00+08:00")
    assert len(oa.received) == 1
    # the centre adds 2027 to the calendar
    (tmp_path / "holidays.toml").write_text(YEAR_2027, encoding="utf-8")
    cfg.write_text(cfg.read_text(encoding="utf-8") + '[calendar]\noverrides = "holidays.toml"\n', encoding="utf-8")
    cli("sweep", "--now", "2026-12-30T09:00:00+08:00")
    cli("deliver", "--now", "2026-12-30T09:05:00+08:00")
    shown = json.loads(cli("notices", "show", "1", "--format", "json"))
    # delivered Monday 28 December: 29, 30, 31 December, then 1 January off, 4-8 and 11, 12 January
    assert shown["due_date"] == "2027-01-12" and shown["deadline_zh"] == "2027年1月12日"
    (_, told), = oa.received[1:]
    assert told["subject"] == "【期限确定】平大数据调〔2026〕1号"
    assert "整改期限现已确定：请于2027年1月12日前完成整改" in told["text"]
    assert told["notice"]["due_date"] == "2027-01-12"
    assert told["pdf"]["filename"] == "平大数据调〔2026〕1号.pdf"  # the notice again, as the OA system files it
    # the notice as it stands now: the date, never "期限另行通知"; what was sent first stays as it was sent
    cli("notices", "pdf", "1", "--out", str(tmp_path / "now.pdf"))
    text = _pdf_text(tmp_path / "now.pdf")
    assert "请于2027年1月12日前完成整改" in text and "期限另行通知" not in text
    cli("sweep", "--now", "2026-12-31T09:00:00+08:00")  # told once
    cli("deliver", "--now", "2026-12-31T09:05:00+08:00")
    assert len(oa.received) == 2


def test_a_deadline_held_at_issue_and_known_by_delivery_is_told_too(tmp_path, oa, capsys):
    """The notice went out held; the centre added 2027 before it reached the department: the date is set at
    delivery — and the department is told it (its notice as sent says "期限另行通知")."""
    cli, cfg = _city(tmp_path, oa, capsys)
    cli("sweep", "--now", "2026-12-28T09:00:00+08:00")  # issued held
    (tmp_path / "holidays.toml").write_text(YEAR_2027, encoding="utf-8")
    cfg.write_text(cfg.read_text(encoding="utf-8") + '[calendar]\noverrides = "holidays.toml"\n', encoding="utf-8")
    cli("deliver", "--now", "2026-12-28T09:05:00+08:00")  # delivered: the date is set now
    (_, first), = oa.received
    assert "期限另行通知" in first["text"]
    cli("sweep", "--now", "2026-12-29T09:00:00+08:00")
    cli("deliver", "--now", "2026-12-29T09:05:00+08:00")
    (_, told), = oa.received[1:]
    assert told["subject"].startswith("【期限确定】") and "请于2027年1月12日前完成整改" in told["text"]
