"""InfluxDB collector: Flux pushed down, annotated CSV read back (fake /api/v2/query on 127.0.0.1)."""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from collectors.csv_import import read_inventory
from collectors.influxdb import InfluxDBCollector, InfluxDBSettings, InfluxError, flux_for_shard, parse_annotated_csv
from rightsizer.cli import main
from rightsizer.errors import ConfigError
from rightsizer.secrets import SecretRef
from rightsizer.settings import Settings

from fake_influxdb import FakeInflux
from helpers import AT
from test_prometheus_real import _series, write_fleet_inventory

DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    d = tmp_path_factory.mktemp("influx")
    inv = write_fleet_inventory(d / "inv.csv")
    samples = d / "samples.csv"
    points = {}
    with samples.open("w") as fh:
        fh.write("server_id,timestamp,cpu_pct,mem_pct,disk_pct\n")
        for sid, t, c, m, k in _series():
            fh.writelines(f"{sid},{a},{b},{e},{f}\n" for a, b, e, f in zip(t, c, m, k))
            points[(sid, "cpu_utilization_pct", "")] = (t, c)
            points[(sid, "memory_utilization_pct", "")] = (t, m)
            points[(sid, "disk_utilization_pct", "/")] = (t, k)
    return inv, samples, points


def test_recorded_responses_parse_with_defaults_and_error_tables():
    got = parse_annotated_csv((DATA / "influx_recorded.csv").read_text(), "server_id")
    assert got == {"cpu_n": {"idle-1": [8640.0], "gap-1": [4320.0]}, "daily": {"idle-1": [41.5, 40.25]}}
    with pytest.raises(InfluxError, match='unsupported method'):
        parse_annotated_csv((DATA / "influx_error.csv").read_text(), "server_id")


def test_the_query_pushes_every_statistic_down():
    flux = flux_for_shard(InfluxDBSettings(), ["a", 'b"x'], AT, Settings())
    assert 'ids = ["a", "b\\"x"]' in flux  # ids are Flux string literals, quotes escaped
    for fn in ('quantile(q: 0.95, method: "exact_mean")', "max()", "count()", "last()",
               "aggregateWindow(every: 1d, offset: 57600s, fn: max, createEmpty: false)"):
        assert fn in flux
    assert "pivot" not in flux and "yield(name: \"raw" not in flux  # no raw points come back


def _decisions(findings):
    res = defaultdict(set)
    for f in findings:
        res[f["server_id"]].add((f["kind"], f["dimension"]))
    return dict(res)


def test_influx_path_agrees_with_csv_path(fleet, tmp_path, capsys, monkeypatch):
    inv, samples, points = fleet
    monkeypatch.setenv("TEST_INFLUX_TOKEN", "tok-123")
    with FakeInflux(points, token="tok-123", org="bigdata", bucket="rightsizer") as fake:
        cfg = tmp_path / "rs.toml"
        cfg.write_text(f'[metrics]\nsource = "influxdb"\n[metrics.influxdb]\nurl = "{fake.url}"\norg = "bigdata"\n'
                       'token_env = "TEST_INFLUX_TOKEN"\nshard_size = 3\n')
        base = ["evaluate", "--inventory", str(inv), "--at", AT.isoformat(), "--format", "json"]
        assert main([*base, "--samples", str(samples), "--db", str(tmp_path / "a.db")]) == 0
        from_csv = json.loads(capsys.readouterr().out)["findings"]
        assert main([*base, "--config", str(cfg), "--db", str(tmp_path / "b.db")]) == 0
        from_influx = json.loads(capsys.readouterr().out)["findings"]
        assert len(fake.queries) == 3  # 7 servers in shards of 3: one Flux script each
    assert _decisions(from_influx) == _decisions(from_csv)
    assert _decisions(from_csv)["idle-1"] == {("release", None)}
    key = lambda f: (f["server_id"], f["kind"], f["dimension"])  # noqa: E731
    for a, b in zip(sorted(from_csv, key=key), sorted(from_influx, key=key)):
        tol = 0.5 if a["dimension"] == "cpu" else 1e-3  # exact_mean vs linear interpolation for the p95
        assert a["observed"] == pytest.approx(b["observed"], abs=tol), key(a)


def test_v18_compat_bad_token_and_failed_shard_are_insufficient_data_never_idle(fleet, tmp_path, monkeypatch):
    inv, _, points = fleet
    s = Settings()
    servers = read_inventory(inv, s.tz)
    tok = tmp_path / "token"
    tok.write_text("rightsizer:pa55word\n")
    with FakeInflux(points, token="rightsizer:pa55word", org="-", bucket="telegraf/autogen") as fake:
        cfg = InfluxDBSettings(url=fake.url, org="-", bucket="telegraf/autogen", token_file=tok, shard_size=4)
        sums = InfluxDBCollector(cfg).summaries(servers, AT, s)
        assert all(x.source_error is None for x in sums) and sums[0].cpu_max_pct is not None
        fake.fail_ids = {"idle-1"}
        c = InfluxDBCollector(cfg)
        sums = {x.server_id: x for x in c.summaries(servers, AT, s)}
        assert sums["idle-1"].coverage == 0 and sums["idle-1"].cpu_p95_pct is None
        assert "HTTP 500" in sums["idle-1"].source_error
        assert sums["mid-1"].source_error is None  # the other shard still counts
        wrong = tmp_path / "wrong-token"
        wrong.write_text("rightsizer:not-the-pa55word\n")
        bad = InfluxDBCollector(cfg.model_copy(update={"token": SecretRef(file=wrong)}))
        out = bad.summaries(servers[:1], AT, s)
        assert "HTTP 401" in out[0].source_error and "pa55word" not in out[0].source_error
        # a token that is not there is a configuration error naming the key, before any request
        with pytest.raises(ConfigError, match=r"metrics\.influxdb\.token: environment variable NOPE_UNSET"):
            InfluxDBCollector(cfg.model_copy(update={"token": SecretRef(env="NOPE_UNSET")}))
    assert np.isfinite(sums["mid-1"].cpu_p95_pct)
