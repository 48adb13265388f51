"""OpenStack inventory through openstacksdk against the fake Keystone+Nova+Cinder on 127.0.0.1.

The fake is not a real OpenStack (none can run here); it follows the published API
for what rightsizer reads — see tests/fake_openstack.py.
"""
from __future__ import annotations

import csv
import json

import pytest

from collectors.openstack import OpenStackSettings, connect, read_inventory
from rightsizer.cli import main
from rightsizer.settings import Settings

from fake_openstack import FakeCloud, FakeOpenStack
from helpers import AT


def _cloud(n_servers=2500, max_microversion="2.79", max_limit=1000) -> FakeCloud:
    c = FakeCloud(max_microversion=max_microversion, max_limit=max_limit)
    c.domains = {"d-edu": "市教育和体育局", "d-health": "市卫生健康局", "default": "Default"}
    c.projects = {"p-edu": {"name": "edu-portal", "domain_id": "d-edu"},
                  "p-health": {"name": "health-hub", "domain_id": "d-health"},
                  "p-lost": {"name": "orphan", "domain_id": "d-gone"},
                  "p-admin": {"name": "admin", "domain_id": "default"}}
    c.flavors = {"f-s": {"name": "s2.4g", "vcpus": 2, "ram": 4096, "disk": 40},
                 "f-m": {"name": "s8.16g", "vcpus": 8, "ram": 16384, "disk": 0}}
    for i in range(n_servers):
        proj = ("p-edu", "p-health")[i % 2]
        c.add_server(f"srv-{i:05d}", f"web-{i}", proj, "f-m" if i % 5 == 0 else "f-s",
                     launched_at="2026-03-02T01:00:00.000000", metadata={"system": f"SYS-{i % 7}"},
                     tags=[f"dept:部门{i % 3}"])
    c.add_server("srv-orphan", "orphan-1", "p-lost", "f-s")
    c.volumes = [{"id": "v-boot", "size": 100, "server_id": "srv-00000", "project": "p-edu"},
                 {"id": "v-data", "size": 500, "server_id": "srv-00000", "project": "p-edu"},
                 {"id": "v-free", "size": 50, "server_id": None, "project": "p-health"}]
    return c


@pytest.fixture
def clouds_yaml(tmp_path, monkeypatch):
    def make(fake: FakeOpenStack) -> str:
        f = tmp_path / "clouds.yaml"
        name = fake.clouds_yaml(f)
        monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(f))
        return name
    return make


@pytest.mark.parametrize("microversion", ["2.1", "2.79"])
def test_all_servers_across_pages_with_sizes_volumes_and_departments(clouds_yaml, microversion):
    cloud = _cloud(max_microversion=microversion)
    with FakeOpenStack(cloud) as fake:
        cfg = OpenStackSettings(cloud=clouds_yaml(fake), department_from="domain")
        inv = read_inventory(connect(cfg), cfg, Settings().tz)
    by_id = {c.server.server_id: c for c in inv.servers}
    assert len(by_id) == 2501  # three pages of at most 1,000, none lost, none twice
    pages = [p for m, p, _ in cloud.requests if m == "GET" and p.startswith("/compute/v2.1/servers/detail")]
    assert len(pages) >= 3 and all("all_tenants" in p for p in pages)
    big = by_id["srv-00000"]
    assert big.server.size.vcpus == 8 and big.server.size.ram_gib == 16.0
    assert big.server.size.disk_gib == 600.0  # boot-from-volume: flavor disk 0 + attached volumes
    assert big.flavor_name == "s8.16g"
    assert by_id["srv-00001"].server.department == "市卫生健康局"
    assert by_id["srv-00002"].server.system == "SYS-2"
    assert by_id["srv-00002"].server.delivered_at == AT.replace(year=2026, month=3, day=2, hour=9)
    # the orphan's domain is unknown: kept, named, warned about
    assert by_id["srv-orphan"].server.department == "未明确部门"
    assert any("srv-orphan" in w for w in inv.warnings)
    # every request after the token carried it; the secret never left the token request
    for method, path, headers in cloud.requests:
        if path.startswith(("/compute/v2.1/", "/volume/v3/p-admin/", "/identity/v3/p", "/identity/v3/d")):
            assert headers.get("X-Auth-Token"), path


def test_department_by_tag_and_explicit_table(clouds_yaml):
    cloud = _cloud(n_servers=10)
    with FakeOpenStack(cloud) as fake:
        name = clouds_yaml(fake)
        cfg = OpenStackSettings(cloud=name, department_from="tag", departments={"health-hub": "市卫生健康局"})
        inv = read_inventory(connect(cfg), cfg, Settings().tz)
    depts = {c.server.server_id: c.server.department for c in inv.servers}
    assert depts["srv-00000"] == "部门0" and depts["srv-00004"] == "部门1"  # edu: from the tag
    assert depts["srv-00001"] == "市卫生健康局"  # health: the explicit table wins over the tag


def test_wrong_secret_is_a_clear_error_without_the_secret(clouds_yaml, tmp_path, capsys):
    cloud = _cloud(n_servers=3)
    with FakeOpenStack(cloud) as fake:
        clouds_yaml(fake)
        f = tmp_path / "clouds.yaml"
        f.write_text(f.read_text().replace("app-cred-secret", "s3cr3t-wrong-value"))
        rc = main(["inventory", "sync", "--openstack", "--cloud", "gov-cloud", "--db", str(tmp_path / "rs.db")])
    err = capsys.readouterr().err
    assert rc == 1 and "error: openstack:" in err
    assert "s3cr3t-wrong-value" not in err


def test_sync_reports_flavor_changes_and_evaluate_reads_the_cloud(clouds_yaml, tmp_path, capsys):
    cloud = _cloud(n_servers=20)
    db = str(tmp_path / "rs.db")
    with FakeOpenStack(cloud) as fake:
        name = clouds_yaml(fake)
        out = tmp_path / "inv.csv"
        assert main(["inventory", "sync", "--openstack", "--cloud", name, "--db", db, "--out", str(out)]) == 0
        assert capsys.readouterr().out.startswith("21 servers from openstack:gov-cloud: 21 new, 0 resized, 0 gone")
        rows = list(csv.DictReader(out.open(encoding="utf-8")))
        assert len(rows) == 21 and rows[0]["server_id"] == "srv-00000"
        # srv-00005 (s8.16g) idles at 5 % CPU for 30 days: a shrink notice goes to its department
        samples = tmp_path / "samples.csv"
        start = int(AT.timestamp()) - 30 * 86400
        samples.write_text("server_id,timestamp,cpu_pct,mem_pct,disk_pct\n" + "".join(
            f"srv-00005,{start + 300 * i + 150},5,50,60\n" for i in range(30 * 288)))
        cfg = tmp_path / "rs.toml"
        cfg.write_text('[[notifiers]]\nname = "screen"\ntype = "console"\n'
                       '[departments."health-hub"]\nchannels = ["screen"]\n', encoding="utf-8")
        conf = ["--config", str(cfg), "--db", db]
        assert main(["evaluate", "--inventory", str(out), "--samples", str(samples), "--at", AT.isoformat(),
                     *conf]) == 0
        assert main(["sweep", *conf, "--now", AT.isoformat()]) == 0
        assert main(["deliver", *conf, "--now", AT.isoformat()]) == 0
        assert "sent 1," in capsys.readouterr().out
        # the department shrinks srv-00005 (s8.16g -> s2.4g) and releases srv-00007
        next(s for s in cloud.servers if s["id"] == "srv-00005")["flavor"] = "f-s"
        cloud.servers = [s for s in cloud.servers if s["id"] != "srv-00007"]
        assert main(["inventory", "sync", "--openstack", "--cloud", name, "--db", db]) == 0
        text = capsys.readouterr().out
        assert "20 servers from openstack:gov-cloud: 0 new, 1 resized, 1 gone" in text
        assert "resized  srv-00005  s8.16g 8C/16G/0G -> s2.4g 2C/4G/40G" in text
        assert "removed  srv-00007" in text
        assert "1 finding on open notices verified as rectified; closed: 平大数据调〔2026〕1号" in text
        # evaluate straight from the cloud: samples for none of them -> insufficient data, never idle
        samples.write_text("server_id,timestamp,cpu_pct,mem_pct,disk_pct\n")
        assert main(["evaluate", "--openstack", "--cloud", name, "--samples", str(samples), "--db", db,
                     "--at", AT.isoformat(), "--format", "json"]) == 0
        found = json.loads(capsys.readouterr().out)["findings"]
        assert {f["kind"] for f in found} == {"insufficient_data"} and len(found) == 20


def test_gnocchi_cpu_and_memory_from_the_cloud_disk_unknown_never_zero(clouds_yaml, tmp_path, capsys):
    import numpy as np

    cloud = _cloud(n_servers=0)
    cloud.add_server("g-idle", "g-idle", "p-edu", "f-s", launched_at="2026-01-05T02:00:00.000000")
    cloud.add_server("g-small", "g-small", "p-edu", "f-m", launched_at="2026-01-05T02:00:00.000000")
    cloud.add_server("g-dark", "g-dark", "p-edu", "f-m", launched_at="2026-01-05T02:00:00.000000")
    g = cloud.granularity
    t = int(AT.timestamp()) - 31 * 86400 + g * np.arange(31 * 86400 // g)
    rng = np.random.default_rng(5)
    for sid, vcpus, ram_mb, cpu_pct, mem_pct in (("g-idle", 2, 4096, 0.8, 40), ("g-small", 8, 16384, 10, 20)):
        busy_ns = cpu_pct / 100 * vcpus * g * 1e9 * rng.uniform(0.9, 1.1, len(t))
        cloud.measures[(sid, "cpu")] = (t.tolist(), np.cumsum(busy_ns).tolist())  # a cumulative counter
        cloud.measures[(sid, "memory.usage")] = (t.tolist(), (mem_pct / 100 * ram_mb * rng.uniform(0.95, 1.05,
                                                                                                 len(t))).tolist())
    with FakeOpenStack(cloud) as fake:
        name = clouds_yaml(fake)
        assert main(["evaluate", "--openstack", "--cloud", name, "--gnocchi", "--at", AT.isoformat(),
                     "--db", str(tmp_path / "rs.db"), "--format", "json"]) == 0
        found = json.loads(capsys.readouterr().out)["findings"]
        cloud.gnocchi_status = 503  # Gnocchi down: everyone unknown, with the error; nobody idle
        assert main(["evaluate", "--openstack", "--cloud", name, "--gnocchi", "--at", AT.isoformat(),
                     "--db", str(tmp_path / "rs2.db"), "--format", "json"]) == 0
        out = capsys.readouterr()
        down = json.loads(out.out)["findings"]
        assert {f["kind"] for f in down} == {"insufficient_data"} and len(down) == 4
        assert all("HTTP 503" in f["evidence"]["source_error"] for f in down)
        assert "warning: gnocchi: HTTP 503 from /v1/aggregates" in out.err
    got = {(f["server_id"], f["kind"], f["dimension"]) for f in found}
    assert got == {("g-idle", "release", None), ("g-small", "shrink", "cpu"), ("g-small", "shrink", "memory"),
                   ("g-dark", "insufficient_data", None), ("srv-orphan", "insufficient_data", None)}
    # ^ no disk decision for anyone: Gnocchi cannot see disk use; servers without measures are unknown, not idle
    small = next(f for f in found if f["server_id"] == "g-small" and f["dimension"] == "cpu")
    assert small["observed"] == pytest.approx(11, abs=0.5)  # p95 of ~10 % +-10 %
    assert set(small["evidence"]["window"]["coverage_by_metric"]) == {"cpu", "mem"}
    posts = [p for m, p, _ in cloud.requests if m == "POST" and p.startswith("/metric/v1/aggregates")]
    assert len(posts) == 2 + 1 and all("groupby=id" in p for p in posts)  # one per metric per shard (+ the 503)
