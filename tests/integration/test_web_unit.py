"""systemd/rightsizer-web.service: verify is clean and `systemd-analyze security --offline` scores ≤ 1.5."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import servers

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "systemd" / "rightsizer-web.service"


def test_the_web_unit_passes_verify_and_scores_at_most_1_5(tmp_path):
    text = UNIT.read_text()
    assert "ExecStart=/opt/rightsizer/bin/rightsizer web --config /etc/rightsizer/rightsizer.toml" in text
    exe = str(Path(sys.executable).with_name("rightsizer"))
    unit = tmp_path / "rightsizer-web.service"
    unit.write_text(text.replace("/opt/rightsizer/bin/rightsizer", exe).replace(
        "/etc/rightsizer/rightsizer.toml", str(ROOT / "config" / "rightsizer.example.toml")))
    tool = servers.binary("systemd-analyze")
    r = subprocess.run([tool, "verify", str(unit)], capture_output=True, text=True)
    assert r.returncode == 0 and r.stderr.strip() == "", r.stderr
    r = subprocess.run([tool, "security", "--offline=true", str(unit)], capture_output=True, text=True)
    level = float(re.search(r"Overall exposure level for \S+: ([\d.]+)", r.stdout).group(1))
    assert level <= 1.5, r.stdout[-3000:]
    for line in ("DynamicUser=yes", "User=rightsizer", "StateDirectory=rightsizer", "ProtectSystem=strict",
                 "NoNewPrivileges=yes", "CapabilityBoundingSet=\n", "MemoryDenyWriteExecute=yes",
                 "SystemCallFilter=@system-service", "MemoryMax="):
        assert line in text, line
