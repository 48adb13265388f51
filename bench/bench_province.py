"""A province end to end: 100,000 servers, 30 days of hourly samples in VictoriaMetrics, the inventory
from the (fake) OpenStack, the state in PostgreSQL.

    .venv/bin/python bench/bench_province.py [--servers 100000] [--per-server-sample 2000] [--out bench-out/province]
                                             [--reuse]   # keep the samples a previous run imported

Setup (timed apart, not part of the figure): a temporary PostgreSQL cluster (Debian's postgresql,
``tests/pgserver.py``); Debian's ``victoria-metrics`` on 127.0.0.1, fed through its CSV import API
(``/api/v1/import/csv``: one row per server and hour with CPU, memory and disk — 3 x 720 samples a
server; the values come from 1,000 day-shaped templates, so generating them costs nothing next to the
import); ``tests/fake_openstack.py`` serving every server through Keystone and Nova (pages of 1,000),
80 departments as OpenStack domains.

Then, in one process, each stage timed with its own peak RSS (``/proc/self/clear_refs`` resets the
high-water mark between stages):

1. **inventory**: ``jobs.inventory.sync`` — every server from Nova through openstacksdk, recorded in
   PostgreSQL with what changed;
2. **statistics**: ``PrometheusCollector`` as shipped against VictoriaMetrics — sharded pushdown
   (200 servers a query, 4 in flight), no raw series pulled;
3. **policies**: ``engine.evaluate_summaries`` — the findings;
4. **findings**: ``jobs.evaluate.record`` — the run, summaries, findings and their values in PostgreSQL;
5. **notices**: ``jobs.notices.issue`` — one numbered notice per department with its items, the outbox
   rows written and rendered (text, HTML, Markdown, the xlsx server list) — without the PDFs, which
   WeasyPrint lays out per department whatever the size of the store; **one-pdf** times the first
   department's PDF on its own (the figure to multiply by the departments).

Beside it, the same statistics asked **one server at a time** (what OpenStack Watcher does:
``shard_size=1, concurrency=1``) for ``--per-server-sample`` servers, and the ratio of the rates
(the whole 100,000 that way would take hours; the sample's rate is measured, the total is that rate
times 100,000, and is labelled as such). Target (issue 15): under 60 s and 2 GiB in all.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from procstat import victoria_metrics  # noqa: E402

TZ = ZoneInfo("Asia/Shanghai")
AT = datetime(2026, 11, 20, tzinfo=TZ)
DAYS, STEP, TEMPLATES, DEPTS = 30, 3600, 1000, 80


def _hwm_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _reset_hwm() -> None:
    Path("/proc/self/clear_refs").write_text("5")


class Stages:
    def __init__(self):
        self.rows: list[dict] = []

    def run(self, name: str, fn, *a, **k):
        _reset_hwm()
        t = time.perf_counter()
        out = fn(*a, **k)
        self.rows.append({"stage": name, "wall_s": round(time.perf_counter() - t, 2), "peak_rss_mib": round(_hwm_mib())})
        print(f"  {name:<12} {self.rows[-1]['wall_s']:>7.2f} s  {self.rows[-1]['peak_rss_mib']:>6} MiB", flush=True)
        return out


def server_id(i: int) -> str:
    return f"srv-{i:06d}"


def import_vm(url: str, n: int) -> tuple[int, float]:
    """The fleet's samples through VictoriaMetrics' CSV import; (samples, seconds)."""
    rng = np.random.default_rng(11)
    slots = DAYS * 86400 // STEP
    ts = int(AT.timestamp()) - slots * STEP + STEP // 2 + STEP * np.arange(slots)
    hour = ((ts + 8 * 3600) % 86400) / 3600
    office = np.clip(np.sin((hour - 8) / 10 * np.pi), 0, None)
    base = {"cpu": rng.uniform(0.5, 60, TEMPLATES), "mem": rng.uniform(5, 80, TEMPLATES),
            "disk": rng.uniform(10, 90, TEMPLATES)}
    amp = rng.uniform(0, 30, TEMPLATES)
    vals = {m: np.clip(np.round(base[m][:, None] + (amp[:, None] * office if m != "disk" else 0)
                                + rng.uniform(0, 2, (TEMPLATES, slots)), 1), 0, 100) for m in base}
    tails = [[f",{t},{c:g},{m:g},{d:g}" for t, c, m, d in zip(ts, vals["cpu"][k], vals["mem"][k], vals["disk"][k])]
             for k in range(TEMPLATES)]
    q = ("format=1:label:server_id,2:time:unix_s,3:metric:rightsizer_cpu_utilization_pct,"
         "4:metric:rightsizer_memory_utilization_pct,5:metric:rightsizer_disk_utilization_pct")
    batches = [range(lo, min(n, lo + 2000)) for lo in range(0, n, 2000)]
    errors: list[str] = []

    def post(batch) -> None:
        body = "".join(server_id(i) + ("\n" + server_id(i)).join(tails[(i * 7919) % TEMPLATES]) + "\n"
                       for i in batch).encode()
        req = urllib.request.Request(f"{url}/api/v1/import/csv?{q}", data=body, method="POST")
        try:
            urllib.request.urlopen(req, timeout=600).read()
        except OSError as exc:
            errors.append(str(exc))

    t = time.perf_counter()
    lock = threading.Lock()
    todo = list(batches)

    def worker():
        while True:
            with lock:
                if not todo:
                    return
                b = todo.pop()
            post(b)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if errors:
        raise RuntimeError(f"import failed: {errors[0]}")
    urllib.request.urlopen(f"{url}/internal/force_flush", timeout=600).read()
    return 3 * n * slots, time.perf_counter() - t


def fake_cloud(n: int):
    from fake_openstack import FakeCloud

    c = FakeCloud(max_limit=1000)
    c.domains = {f"d-{k:02d}": f"部门{k:02d}" for k in range(DEPTS)} | {"default": "Default"}
    c.projects = {f"p-{k:02d}": {"name": f"proj-{k:02d}", "domain_id": f"d-{k:02d}"} for k in range(DEPTS)}
    c.projects["p-admin"] = {"name": "admin", "domain_id": "default"}
    c.flavors = {f"f-{v}": {"name": f"s{v}.{v * 2}g", "vcpus": v, "ram": v * 2048, "disk": 0} for v in (2, 4, 8, 16)}
    rng = np.random.default_rng(7)
    sizes = rng.choice([2, 4, 8, 16], n)
    for i in range(n):
        c.add_server(server_id(i), server_id(i), f"p-{i % DEPTS:02d}", f"f-{sizes[i]}",
                     launched_at="2025-03-02T01:00:00.000000", metadata={"system": f"系统{i % 900}"})
    c.volumes = [{"id": f"v-{i}", "size": 200, "server_id": server_id(i), "project": f"p-{i % DEPTS:02d}"}
                 for i in range(n)]
    return c


def settings_for(cloud: str, vm: str):
    from rightsizer.settings import parse_settings

    depts = {f"部门{k:02d}": {"channels": ["console"]} for k in range(DEPTS)}
    flavors = [{"name": f"s{v}.{r}g", "vcpus": v, "ram_gib": r} for v in (1, 2, 4, 8, 16) for r in (v * 2, v * 4)]
    return parse_settings({
        "window": {"days": DAYS, "step_seconds": STEP},
        "inventory": {"source": "openstack", "openstack": {"cloud": cloud, "department_from": "domain"}},
        "metrics": {"source": "prometheus", "prometheus": {"url": vm, "timeout_seconds": 300}},
        "sizing": {"flavors": flavors},
        "notifiers": [{"name": "console", "type": "console"}], "departments": depts})


def measure(args, pg_url: str, vm: str, cloud: str) -> dict:
    from collectors.prometheus import PrometheusCollector, PrometheusSettings
    from rightsizer import engine
    from rightsizer.calendar import WorkCalendar
    from rightsizer.db import Store
    from rightsizer.jobs import evaluate, inventory, notices
    from rightsizer.jobs.inventory import read_cloud

    s = settings_for(cloud, vm)
    cal = WorkCalendar()
    store = Store.open(pg_url)
    st = Stages()
    print(f"# {args.servers:,} servers: stages", flush=True)
    sync = st.run("inventory", inventory.sync, store, s, cal, AT)
    inv = st.run("inventory-read", read_cloud, s)  # what an evaluation reads of the cloud (again)
    servers = [c.server for c in inv.servers]
    coll = PrometheusCollector(s.metrics.prometheus)
    sums = st.run("statistics", coll.summaries, servers, AT, s)
    ev = st.run("policies", engine.evaluate_summaries, servers, sums, AT, s, cal)
    st.run("findings", evaluate.record, store, ev, "province-bench", "bench", s)
    # the notices without their PDFs (WeasyPrint lays out one 红头 document per department, ~1,250 rows
    # each here: minutes for 80, and the same work at any scale of state); one PDF is timed on its own
    import notifiers.render as render_mod

    pdf, render_mod.notice_pdf = render_mod.notice_pdf, lambda doc, settings: b""
    try:
        issued = st.run("notices", notices.issue, store, s, AT + timedelta(hours=1))
    finally:
        render_mod.notice_pdf = pdf
    from notifiers.document import build
    from rightsizer.db import notices as db_notices

    with store.read() as conn:
        nt = db_notices.get(conn, issued[0].notice_id)
        found = [i.finding for i in db_notices.items(conn, nt.id)]
    doc = build(nt, None, found, s)
    st.run("one-pdf", pdf, doc, s)
    result = {"servers": len(servers), "with_data": sum(x.cpu_p95_pct is not None for x in sums),
              "findings": len(ev.findings), "notices": len(issued), "requests": coll.stats.requests,
              "bytes_received": coll.stats.bytes_received, "changes": len(sync.changes) if hasattr(sync, "changes")
              else None, "stages": st.rows,
              "total_s": round(sum(r["wall_s"] for r in st.rows if r["stage"] != "one-pdf"), 2),
              "peak_rss_mib": max(r["peak_rss_mib"] for r in st.rows if r["stage"] != "one-pdf")}
    # per-server (Watcher's way) on a sample, for the ratio
    sample = servers[: args.per_server_sample]
    one = PrometheusCollector(PrometheusSettings(url=vm, shard_size=1, concurrency=1, timeout_seconds=300))
    t = time.perf_counter()
    slow = one.summaries(sample, AT, s)
    per = time.perf_counter() - t
    fast_stat = next(r["wall_s"] for r in st.rows if r["stage"] == "statistics")
    same = [a.to_json() for a in slow] == [b.to_json() for b in sums[: len(sample)]]
    result["per_server"] = {"servers": len(sample), "wall_s": round(per, 2), "requests": one.stats.requests,
                            "servers_per_s": round(len(sample) / per, 1),
                            "extrapolated_100k_s": round(per / len(sample) * len(servers)),
                            "sharded_servers_per_s": round(len(servers) / fast_stat, 1),
                            "ratio": round((per / len(sample)) / (fast_stat / len(servers)), 1),
                            "same_summaries": same}
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--servers", type=int, default=100_000)
    ap.add_argument("--per-server-sample", type=int, default=2000)
    ap.add_argument("--out", default=str(ROOT / "bench-out" / "province"))
    ap.add_argument("--reuse", action="store_true", help="keep the samples a previous run imported (--out)")
    args = ap.parse_args()
    import pgserver
    from fake_openstack import FakeOpenStack

    if not shutil.which("victoria-metrics"):
        raise SystemExit("victoria-metrics not found: apt-get install victoria-metrics")
    out = Path(args.out)
    marker = out / "vm" / f"imported-{args.servers}.json"
    if not (args.reuse and marker.exists()):
        shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    cluster = pgserver.start()
    try:
        with victoria_metrics(out / "vm", out / "vm.log", "-search.maxSamplesPerQuery=10000000000",
                              "-search.maxQueryDuration=600s") as (vm_url, _):
            if marker.exists():
                samples, secs = json.loads(marker.read_text())
                print(f"# setup: reusing the samples imported before ({samples:,} in {secs:.0f} s)", flush=True)
            else:
                print(f"# setup: importing {args.servers:,} servers x {DAYS} d hourly into VictoriaMetrics ...",
                      flush=True)
                samples, secs = import_vm(vm_url, args.servers)
                marker.write_text(json.dumps([samples, secs]))
            print(f"# setup: {samples:,} samples imported in {secs:.0f} s ({samples / secs / 1e6:.1f} M/s)", flush=True)
            t = time.perf_counter()
            cloud = fake_cloud(args.servers)
            with FakeOpenStack(cloud) as fake:
                cfg = Path(tempfile.mkdtemp()) / "clouds.yaml"
                name = fake.clouds_yaml(cfg)
                os.environ["OS_CLIENT_CONFIG_FILE"] = str(cfg)
                print(f"# setup: fake OpenStack with {args.servers:,} servers ({time.perf_counter() - t:.0f} s)",
                      flush=True)
                r = measure(args, cluster.fresh(), vm_url, name)
            r["setup"] = {"samples": samples, "import_s": round(secs)}
    finally:
        cluster.stop()
    print(json.dumps(r, indent=2, ensure_ascii=False))
    print("\n| stage | wall time | peak RSS |\n|---|---:|---:|")
    for row in r["stages"]:
        print(f"| {row['stage']} | {row['wall_s']:.1f} s | {row['peak_rss_mib']} MiB |")
    print(f"| **end to end** (without one-pdf) | **{r['total_s']:.1f} s** | **{r['peak_rss_mib']} MiB** |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
