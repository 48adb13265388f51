"""The in-guest agent with a replaceable sampler (no psutil, no network)."""
from __future__ import annotations

import pytest

from collectors.psutil_local import Agent, AgentError, AgentSettings, PsutilSampler, load_agent_settings
from rightsizer.cli import main

from helpers import FakeSampler


def value(agent, name, **labels):
    return agent.registry.get_sample_value(name, labels)


def test_gauges_carry_server_id_and_mountpoint():
    a = Agent(AgentSettings(server_id="vm-1", mountpoints=["/", "/data"]), FakeSampler())
    a.sample()
    assert value(a, "rightsizer_cpu_utilization_pct", server_id="vm-1") == 12.5
    assert value(a, "rightsizer_memory_utilization_pct", server_id="vm-1") == 40.0
    assert value(a, "rightsizer_disk_utilization_pct", server_id="vm-1", mountpoint="/data") == 75.0
    assert value(a, "rightsizer_agent_samples_total") == 1


def test_unreadable_mount_is_left_out_not_zero_and_comes_back():
    fake = FakeSampler(disks={"/": 30.0})
    a = Agent(AgentSettings(server_id="vm-1", mountpoints=["/", "/data"]), fake)
    a.sample()
    assert value(a, "rightsizer_disk_utilization_pct", server_id="vm-1", mountpoint="/data") is None
    assert value(a, "rightsizer_agent_sample_errors_total", metric="disk") == 1
    fake.disks["/data"] = 55.0
    a.sample()
    assert value(a, "rightsizer_disk_utilization_pct", server_id="vm-1", mountpoint="/data") == 55.0
    del fake.disks["/data"]  # unmounted again: the old value must not linger
    a.sample()
    assert value(a, "rightsizer_disk_utilization_pct", server_id="vm-1", mountpoint="/data") is None


def test_values_are_clamped_to_0_100():
    a = Agent(AgentSettings(server_id="vm-1"), FakeSampler(cpu=100.4, mem=-0.1, disks={"/": 30}))
    assert a.sample() == {"cpu": 100.0, "memory": 0.0, "disk:/": 30.0}


def test_psutil_sampler_reads_this_machine():
    s = PsutilSampler()
    for v in (s.cpu_pct(), s.memory_pct(), s.disk_pct("/")):
        assert 0.0 <= v <= 100.0
    with pytest.raises(OSError):
        s.disk_pct("/no/such/mount")


def test_line_protocol_is_escaped_and_buffered_while_the_server_is_down(monkeypatch):
    cfg = AgentSettings(server_id="vm 1,a=b", mountpoints=["/"], influxdb={
        "url": "http://127.0.0.1:9", "bucket": "rightsizer", "buffer_lines": 100, "timeout_seconds": 1})
    a = Agent(cfg, FakeSampler(disks={"/": 30.0}))
    a.sample(now=1_700_000_000)
    assert list(a._buffer) == [
        r"rightsizer,server_id=vm\ 1\,a\=b cpu_utilization_pct=12.500,memory_utilization_pct=40.000 1700000000",
        r"rightsizer,server_id=vm\ 1\,a\=b,mountpoint=/ disk_utilization_pct=30.000 1700000000",
    ]
    for i in range(60):  # nothing listens on port 9: lines pile up to the bound, the oldest dropped and counted
        a.sample(now=1_700_000_015 + 15 * i)
    assert len(a._buffer) == 100
    assert value(a, "rightsizer_agent_influx_dropped_lines_total") == 2 * 61 - 100


def test_settings_errors_name_the_key(tmp_path):
    f = tmp_path / "agent.toml"
    f.write_text('server_id = "x"\nmountpoints = ["data"]\nintervall = 3\n')
    with pytest.raises(AgentError) as e:
        load_agent_settings(str(f))
    assert f"{f}: intervall: unknown key (typo?)" in str(e.value)
    assert "mountpoints must be absolute" in str(e.value)


def test_agent_cli_without_server_id_is_a_clear_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("collectors.psutil_local.INSTANCE_ID_FILES", (tmp_path / "instance-id",))
    assert main(["agent", "--port", "0", "--listen", "127.0.0.1", "--rounds", "1"]) == 2
    assert "no server_id: give --server-id" in capsys.readouterr().err


def test_the_agent_starts_without_numpy_or_sqlalchemy():
    """The agent runs in every guest: the CLI path to it must not import the server-side stack."""
    import subprocess
    import sys

    code = ("import sys, rightsizer.cli, collectors.psutil_local; "
            "print(sorted(m for m in ('numpy', 'sqlalchemy', 'openstack', 'influxdb_client') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
