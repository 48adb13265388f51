"""A store made by the previous release itself (the last before Alembic: ``schema_version`` 8).

The release's code comes out of this repository's history (``git archive``) into a
temporary directory and runs in a subprocess, against SQLite or PostgreSQL, through its
own CLI: two weeks of a small city evaluated, exempted, swept, delivered and one server
resized — so every table the upgrade converts holds rows written by the old code.
"""
from __future__ import annotations

import subprocess
import sys
import tarfile
import io
from pathlib import Path

import pytest

PREVIOUS_RELEASE = "d031744"  # issue 14, the web console: schema_version 8, times and money as text
ROOT = Path(__file__).resolve().parents[1]

_SCRIPT = r'''
import csv, sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from rightsizer.cli import main

url, work = sys.argv[1], Path(sys.argv[2])
tz = timezone(timedelta(hours=8))
cfg = work / "rs.toml"
cfg.write_text(
    f'[store]\nurl = "{url}"\n[window]\ndays = 14\nstep_seconds = 3600\nmin_days_of_data = 7\n'
    '[[notifiers]]\nname = "im"\ntype = "console"\n'
    '[departments."市教育和体育局"]\nchannels = ["im"]\n[departments."市档案馆"]\nchannels = ["im"]\n',
    encoding="utf-8")
servers = {"edu-big": ("市教育和体育局", "智慧教育平台", 16, 64, 500, 8.0),
           "arch-idle": ("市档案馆", "旧门户", 4, 8, 100, 1.0),
           "arch-dr": ("市档案馆", "档案管理", 8, 32, 200, 10.0)}
def day(at, sizes):
    inv, smp = work / "inv.csv", work / "smp.csv"
    with inv.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["server_id", "name", "department", "system", "vcpus", "ram_gib", "disk_gib", "delivered_at"])
        for sid, (dept, system, v, r, d, _) in servers.items():
            w.writerow([sid, sid, dept, system, *sizes.get(sid, (v, r, d)), "2025-03-01T00:00:00+08:00"])
    end = int(at.timestamp())
    with smp.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["server_id", "timestamp", "cpu_pct", "mem_pct", "disk_pct"])
        for sid, (*_, cpu) in servers.items():
            for h in range(14 * 24, 0, -1):
                w.writerow([sid, end - h * 3600, cpu, 10 + h % 3, 20])
    return inv, smp
common = ["--config", str(cfg)]
at = datetime(2026, 9, 22, 9, tzinfo=tz)
inv, smp = day(at, {})
assert main(["evaluate", *common, "--inventory", str(inv), "--samples", str(smp), "--at", at.isoformat()]) == 0
assert main(["notices", "exempt", *common, "--server", "arch-dr", "--reason", "容灾备机", "--approver", "中心 王五",
             "--until", "2026-10-20", "--now", at.isoformat()]) == 0
assert main(["sweep", *common, "--now", at.isoformat()]) == 0
assert main(["deliver", *common, "--now", (at + timedelta(minutes=5)).isoformat()]) == 0
at = datetime(2026, 9, 25, 9, tzinfo=tz)  # the education bureau shrank its server
inv, smp = day(at, {"edu-big": (4, 16, 200)})
assert main(["evaluate", *common, "--inventory", str(inv), "--samples", str(smp), "--at", at.isoformat()]) == 0
assert main(["sweep", *common, "--now", at.isoformat()]) == 0
assert main(["deliver", *common, "--now", (at + timedelta(minutes=5)).isoformat()]) == 0
'''


def checkout(dest: Path) -> Path:
    """The previous release's packages under ``dest``."""
    out = subprocess.run(["git", "-C", str(ROOT), "archive", PREVIOUS_RELEASE, "rightsizer", "collectors",
                          "policies", "notifiers"], capture_output=True)
    if out.returncode != 0:
        pytest.fail(f"cannot read the previous release {PREVIOUS_RELEASE} from git history "
                    f"(a full clone is needed): {out.stderr.decode()[-500:]}")
    with tarfile.open(fileobj=io.BytesIO(out.stdout)) as tar:
        tar.extractall(dest)
    return dest


def make_store(code: Path, url: str, work: Path) -> None:
    """Run the previous release on ``url`` (an empty store) until it holds a fortnight of a small city."""
    work.mkdir(parents=True, exist_ok=True)
    out = subprocess.run([sys.executable, "-c", _SCRIPT, url, str(work)], capture_output=True, text=True,
                         env={"PYTHONPATH": str(code), "PATH": "/usr/bin:/bin", "HOME": str(work)}, timeout=300,
                         cwd=work)  # not the checkout: "" on sys.path would import today's code
    if out.returncode != 0:
        pytest.fail(f"the previous release failed to make its store: {out.stderr[-3000:]}")
