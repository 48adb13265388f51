"""The Prometheus collector against a real Prometheus (Debian package `prometheus`).

The test back-fills 30 days of history with `promtool tsdb create-blocks-from
openmetrics`, starts Prometheus on 127.0.0.1, and checks that the decisions from
the pushed-down queries equal the decisions from the CSV path for the same data.
`make test` installs the package; a missing binary fails the test, never skips it.
"""

from __future__ import annotations

import json
import subprocess
from collections import defaultdict
from datetime import timedelta

import numpy as np
import pytest

from collectors.prometheus import PrometheusCollector, PrometheusSettings
from rightsizer.cli import main

import servers
from helpers import AT

STEP = 300
N = 30 * 86400 // STEP
WS = int(AT.timestamp()) - N * STEP
T = WS + STEP // 2 + STEP * np.arange(N)  # half a step off every boundary
INV = "server_id,name,department,system,vcpus,ram_gib,disk_gib,delivered_at\n"
FLEET = {  # id: (delivered days before AT, cpu level, mem level, disk level, shape)
    "idle-1": (300, 1.0, 8, 20, "flat"),
    "big-1": (300, 10.0, 20, 30, "office"),
    "hot-1": (300, 88.0, 86, 60, "flat"),
    "batch-1": (300, 6.0, 15, 40, "nightly"),
    "gap-1": (300, 2.0, 10, 20, "gap"),
    "new-1": (20, 0.5, 5, 10, "flat"),
    "mid-1": (300, 40.0, 50, 60, "office"),
}


def _series():
    rng = np.random.default_rng(11)
    hour = ((T + 8 * 3600) % 86400) / 3600
    for sid, (age, cpu, mem, disk, shape) in FLEET.items():
        keep = T >= int(AT.timestamp()) - age * 86400
        c = cpu + rng.uniform(0, 2, N)
        m = mem + rng.uniform(0, 2, N)
        d = np.full(N, float(disk))
        if shape == "office":
            c += 15 * np.clip(np.sin((hour - 8) / 10 * np.pi), 0, None)
        if shape == "nightly":
            m[(hour >= 2) & (hour < 2.5)] = 80 + rng.uniform(0, 5)
        if shape == "gap":
            keep &= np.arange(N) >= N // 2
        # values that float32 (the CSV path's grid) holds exactly, so both paths see the same numbers
        yield sid, T[keep], *(np.round(x[keep] * 64) / 64 for x in (c, m, d))


def write_fleet_inventory(path):
    """The inventory CSV of FLEET; shared with the InfluxDB tests."""
    path.write_text(INV + "".join(
        f"{sid},{sid},市测试局,系统{sid},8,16,200,{(AT - timedelta(days=age)).isoformat()}\n"
        for sid, (age, *_rest) in FLEET.items()), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("prom")
    inv = write_fleet_inventory(d / "inv.csv")
    samples = d / "samples.csv"
    series = list(_series())
    with samples.open("w") as fh:
        fh.write("server_id,timestamp,cpu_pct,mem_pct,disk_pct\n")
        for sid, t, c, m, k in series:
            fh.writelines(f"{sid},{a},{b},{e},{f}\n" for a, b, e, f in zip(t, c, m, k))
    om = d / "fleet.om"
    with om.open("w") as fh:
        for i, metric in enumerate(("cpu", "memory", "disk")):
            name = f"rightsizer_{metric}_utilization_pct"
            fh.write(f"# HELP {name} {metric} use in percent\n# TYPE {name} gauge\n")
            for sid, t, *vals in series:
                label = f'server_id="{sid}"' + (',mountpoint="/"' if metric == "disk" else "")
                fh.writelines(f"{name}{{{label}}} {v} {ts}\n" for ts, v in zip(t, vals[i]))
        fh.write("# EOF\n")
    return d, inv, samples, om


@pytest.fixture(scope="module")
def prometheus(data):
    d, _, _, om = data
    tsdb = d / "tsdb"
    subprocess.run([servers.binary("promtool"), "tsdb", "create-blocks-from", "openmetrics", str(om), str(tsdb)],
                   check=True, capture_output=True)
    with servers.prometheus(d, "global:\n  scrape_interval: 1m\n", tsdb) as url:
        yield url


def _decisions(out: str) -> dict:
    res = defaultdict(set)
    for f in json.loads(out)["findings"]:
        res[f["server_id"]].add((f["kind"], f["dimension"]))
    return dict(res)


def test_prometheus_path_agrees_with_csv_path(data, prometheus, capsys, tmp_path):
    _, inv, samples, _ = data
    at = AT.isoformat()
    assert main(["evaluate", "--inventory", str(inv), "--samples", str(samples), "--at", at,
                 "--db", str(tmp_path / "a.db"), "--format", "json"]) == 0
    from_csv = json.loads(capsys.readouterr().out)
    assert main(["evaluate", "--inventory", str(inv), "--prometheus", prometheus, "--at", at,
                 "--db", str(tmp_path / "b.db"), "--format", "json"]) == 0
    from_prom = json.loads(capsys.readouterr().out)
    csv_d, prom_d = _decisions(json.dumps(from_csv)), _decisions(json.dumps(from_prom))
    assert prom_d == csv_d
    assert csv_d["idle-1"] == {("release", None)}
    assert csv_d["gap-1"] == {("insufficient_data", None)}
    assert csv_d["new-1"] == {("undeployed", None)}
    assert ("expand", "cpu") in csv_d["hot-1"]
    assert ("shrink", "memory") not in csv_d["batch-1"]  # the nightly peak is seen through the TSDB too
    assert "mid-1" not in csv_d
    key = lambda f: (f["server_id"], f["kind"], f["dimension"])  # noqa: E731
    for a, b in zip(sorted(from_csv["findings"], key=key), sorted(from_prom["findings"], key=key)):
        assert a["observed"] == pytest.approx(b["observed"], abs=1e-3), key(a)
        assert a["recommended"] == b["recommended"] and a["monthly_saving_cny"] == b["monthly_saving_cny"]


def test_sharding_gives_the_same_summaries(data, prometheus):
    from collectors.csv_import import read_inventory
    from rightsizer.settings import Settings

    s = Settings()
    servers = read_inventory(data[1], s.tz)
    one = PrometheusCollector(PrometheusSettings(url=prometheus, shard_size=1000)).summaries(servers, AT, s)
    many = PrometheusCollector(PrometheusSettings(url=prometheus, shard_size=2, concurrency=3))
    assert many.summaries(servers, AT, s) == one
    assert many.stats.requests == 4 * 11  # 4 shards x (10 instant + 1 range) queries
    assert many.stats.bytes_received > 0 and not many.stats.errors


def test_unreachable_source_is_insufficient_data_never_idle(data, capsys, tmp_path):
    dead = f"http://127.0.0.1:{servers.free_port()}"  # nothing listens once the socket closes
    assert main(["evaluate", "--inventory", str(data[1]), "--prometheus", dead, "--at", AT.isoformat(),
                 "--db", str(tmp_path / "c.db"), "--format", "json"]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert {f["kind"] for f in out["findings"]} == {"insufficient_data"}
    assert len(out["findings"]) == len(FLEET)
    assert all(f["evidence"]["source_error"] for f in out["findings"])
    assert "warning: prometheus:" in captured.err
