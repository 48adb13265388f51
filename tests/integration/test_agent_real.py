"""The agent for real: its systemd unit, scraped by a real Prometheus, writing to a real VictoriaMetrics.

No systemd runs as PID 1 here, so the unit is checked with `systemd-analyze verify`
and `security --offline`, and its ExecStart is run the way a Type=notify unit runs it:
with a NOTIFY_SOCKET that must receive READY=1, stopped by SIGTERM.
"""
from __future__ import annotations

import json
import re
import shlex
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from collectors.prometheus import PrometheusCollector, PrometheusSettings
from collectors.psutil_local import Agent, AgentSettings
from rightsizer.calendar import WorkCalendar
from rightsizer.engine import evaluate_summaries
from rightsizer.models import Server, Size
from rightsizer.settings import Settings

import servers
from helpers import FakeSampler

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "systemd" / "rightsizer-agent.service"
RIGHTSIZER = str(Path(sys.executable).parent / "rightsizer")


def _unit_for_here(tmp_path: Path, config: Path) -> Path:
    """The shipped unit with ExecStart pointing at this checkout's venv and a test config."""
    text = UNIT.read_text()
    assert "ExecStart=/opt/rightsizer/bin/rightsizer agent --config /etc/rightsizer/agent.toml" in text
    text = text.replace("/opt/rightsizer/bin/rightsizer", RIGHTSIZER).replace("/etc/rightsizer/agent.toml", str(config))
    out = tmp_path / "rightsizer-agent.service"
    out.write_text(text)
    return out


def _agent_toml(tmp_path: Path, port: int, sid: str = "guest-1") -> Path:
    cfg = tmp_path / "agent.toml"
    cfg.write_text(f'server_id = "{sid}"\nlisten = "127.0.0.1"\nport = {port}\ninterval_seconds = 1\n'
                   f'mountpoints = ["/", "{tmp_path}"]\n')
    return cfg


def test_unit_file_passes_systemd_analyze(tmp_path):
    unit = _unit_for_here(tmp_path, _agent_toml(tmp_path, 9464))
    tool = servers.binary("systemd-analyze")
    r = subprocess.run([tool, "verify", str(unit)], capture_output=True, text=True)
    assert r.returncode == 0 and r.stderr.strip() == "", r.stderr  # warnings count as failures
    r = subprocess.run([tool, "security", "--offline=true", str(unit)], capture_output=True, text=True)
    level = float(re.search(r"Overall exposure level for \S+: ([\d.]+)", r.stdout).group(1))
    assert level <= 2.0, r.stdout[-3000:]


def test_unit_exec_start_notifies_ready_serves_metrics_and_stops_on_sigterm(tmp_path):
    port = servers.free_port()
    unit = _unit_for_here(tmp_path, _agent_toml(tmp_path, port))
    exec_start = next(line for line in unit.read_text().splitlines() if line.startswith("ExecStart="))
    notify = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(notify))
    sock.settimeout(20)
    proc = subprocess.Popen(shlex.split(exec_start.removeprefix("ExecStart=")), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env={"NOTIFY_SOCKET": str(notify), "PATH": "/usr/bin:/bin"})
    try:
        assert sock.recv(256) == b"READY=1"
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        assert re.search(r'rightsizer_cpu_utilization_pct\{server_id="guest-1"\} [\d.]+', body)
        assert re.search(r'rightsizer_memory_utilization_pct\{server_id="guest-1"\} [\d.]+', body)
        assert f'rightsizer_disk_utilization_pct{{mountpoint="{tmp_path}",server_id="guest-1"}}' in body
        proc.terminate()  # what `systemctl stop` sends
        assert proc.wait(15) == 0
        assert sock.recv(256) == b"STOPPING=1"
    finally:
        if proc.poll() is None:
            proc.kill()
        sock.close()


def _query(base: str, expr: str) -> list[dict]:
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    return json.loads(urllib.request.urlopen(url, timeout=5).read())["data"]["result"]


def test_real_prometheus_scrapes_the_agent_and_a_day_old_agent_is_not_idle(tmp_path):
    port = servers.free_port()
    proc = subprocess.Popen([RIGHTSIZER, "agent", "--config", str(_agent_toml(tmp_path, port))],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    config = ("global:\n  scrape_interval: 1s\n  evaluation_interval: 1m\nscrape_configs:\n"
              f"  - job_name: rightsizer-agent\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n")
    try:
        with servers.prometheus(tmp_path, config) as prom:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                counts = _query(prom, 'count_over_time(rightsizer_cpu_utilization_pct{server_id="guest-1"}[1m])')
                if counts and float(counts[0]["value"][1]) >= 3:
                    break
                time.sleep(0.5)
            else:
                pytest.fail("Prometheus never scraped the agent three times")
            disk = _query(prom, "rightsizer_disk_utilization_pct")
            assert {r["metric"]["mountpoint"] for r in disk} == {"/", str(tmp_path)}
            assert all(r["metric"]["job"] == "rightsizer-agent" for r in disk)
            # Our collector over this Prometheus: a few seconds of data out of a 30-day window.
            s = Settings()
            at = datetime.now(timezone.utc)
            server = Server("guest-1", "guest-1", "市测试局", "测试系统", Size(4, 8, 100), at - timedelta(days=100))
            summary, = PrometheusCollector(PrometheusSettings(url=prom)).summaries([server], at, s)
            assert summary.cpu_max_pct is not None and summary.memory_max_pct is not None
            assert 0 < summary.coverage < 0.01
            ev = evaluate_summaries([server], [summary], at, s, WorkCalendar())
            assert [f.kind for f in ev.findings] == ["insufficient_data"]
    finally:
        proc.terminate()
        assert proc.wait(15) == 0


def _vm_series(vm: str, expr: str) -> dict[tuple, list[tuple[int, float]]]:
    url = f"{vm}/api/v1/export?" + urllib.parse.urlencode({"match[]": expr})
    out = {}
    for line in urllib.request.urlopen(url, timeout=5).read().decode().splitlines():
        doc = json.loads(line)
        key = tuple(sorted(doc["metric"].items()))
        out[key] = [(ts // 1000, v) for ts, v in zip(doc["timestamps"], doc["values"])]
    return out


def test_agent_line_protocol_reaches_victoria_metrics_and_an_outage_loses_nothing(tmp_path):
    port = servers.free_port()
    cfg = AgentSettings(server_id="guest-2", mountpoints=["/", "/data"], influxdb={
        "url": f"http://127.0.0.1:{port}", "bucket": "rightsizer", "org": "bigdata", "timeout_seconds": 2})
    fake = FakeSampler(cpu=10.0, mem=20.0, disks={"/": 30.0, "/data": 40.0})
    agent = Agent(cfg, fake)
    t0 = int(time.time()) // 60 * 60 - 3600
    agent.sample(now=t0)  # VictoriaMetrics is not up yet: kept, not lost
    fake.cpu = 11.0
    agent.sample(now=t0 + 60)
    assert len(agent._buffer) == 6
    with servers.victoria_metrics(tmp_path, port=port) as vm:
        fake.cpu = 12.0
        agent.sample(now=t0 + 120)
        assert not agent._buffer
        urllib.request.urlopen(f"{vm}/internal/force_flush", timeout=5).read()
        got = _vm_series(vm, '{__name__=~"rightsizer_.*_utilization_pct"}')
        by_name = {dict(k)["__name__"] + dict(k).get("mountpoint", ""): v for k, v in got.items()}
        assert by_name["rightsizer_cpu_utilization_pct"] == [(t0, 10.0), (t0 + 60, 11.0), (t0 + 120, 12.0)]
        assert [v for _, v in by_name["rightsizer_disk_utilization_pct/data"]] == [40.0] * 3
        assert all(dict(k)["server_id"] == "guest-2" for k in got)
        # The Prometheus collector reads VictoriaMetrics through the same API.
        server = Server("guest-2", "guest-2", "市测试局", "测试系统", Size(4, 8, 100), datetime.now(timezone.utc))
        at = datetime.fromtimestamp(t0 + 180, timezone.utc)
        summary, = PrometheusCollector(PrometheusSettings(url=vm)).summaries([server], at, Settings())
        assert summary.cpu_max_pct == 12.0 and summary.disk_max_pct == 40.0
    agent.close()
