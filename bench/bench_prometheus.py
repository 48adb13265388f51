"""Sharded pushdown against per-server querying (what OpenStack Watcher does), on a real Prometheus.

1. Generates a fleet (default 10,000 servers x 30 days, one sample per hour per metric:
   21.6 M samples) as OpenMetrics, one file per 2-hour block, and back-fills it with
   ``promtool tsdb create-blocks-from openmetrics`` (kept in ``--workdir`` between runs).
2. Starts Debian's ``prometheus`` on 127.0.0.1 and waits until it has finished
   compacting the back-filled blocks, so background work does not blur the figures.
3. Runs, each in its own process so that peak RSS is its own:
   * **sharded**: ``PrometheusCollector`` as shipped — 200 servers per query, 4 in flight;
   * **per-server**: the same statistics asked one server at a time, one query per server
     and statistic, one after another (shard_size=1, concurrency=1), as Watcher's
     Prometheus helper does.
4. Prints wall time, requests, bytes received, the client's peak RSS and Prometheus' CPU
   seconds for each, checks that both give the same summaries, and the ratios.

    .venv/bin/python bench/bench_prometheus.py [--servers 10000] [--days 30] [--step 3600] [--victoria-metrics]

With ``--victoria-metrics`` the same samples also go into Debian's ``victoria-metrics`` (its
CSV import API) after Prometheus has been measured, and both approaches run against it: the
two TSDBs side by side in one run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from procstat import cpu_seconds, free_port, rss_kib, victoria_metrics  # noqa: E402

TZ = ZoneInfo("Asia/Shanghai")
AT = datetime(2026, 11, 20, tzinfo=TZ)


def servers(n: int):
    from rightsizer.models import Server, Size

    rng = np.random.default_rng(7)
    vc = rng.choice([2, 4, 8, 16], n)
    return [Server(f"srv-{i:05d}", f"srv-{i:05d}", f"部门{i % 40:02d}", f"系统{i % 300}",
                   Size(int(vc[i]), float(vc[i] * 2), 200.0), AT - timedelta(days=400)) for i in range(n)]


BLOCK = 7200  # promtool writes 2-hour blocks, reading its whole input once per block


def fleet(n: int, days: int, step: int):
    """The fleet's samples (deterministic): epoch seconds of each slot and {metric: servers x slots}."""
    rng = np.random.default_rng(11)
    slots = days * 86400 // step
    t = int(AT.timestamp()) - slots * step + step // 2 + step * np.arange(slots)
    hour = ((t + 8 * 3600) % 86400) / 3600
    office = np.clip(np.sin((hour - 8) / 10 * np.pi), 0, None)
    base = {"cpu": rng.uniform(0.5, 60, n), "memory": rng.uniform(5, 80, n), "disk": rng.uniform(10, 90, n)}
    amp = rng.uniform(0, 30, n)
    values = {}
    for metric in ("cpu", "memory", "disk"):
        v = base[metric][:, None] + (amp[:, None] * office[None, :] if metric != "disk" else 0) \
            + rng.uniform(0, 2, (n, slots))
        values[metric] = np.clip(np.round(v, 2), 0, 100)
    return t, values


def generate(outdir: Path, n: int, days: int, step: int) -> tuple[int, list[Path]]:
    """OpenMetrics files of the fleet, one per 2-hour block (so promtool reads each once)."""
    t, values = fleet(n, days, step)
    slots = len(t)
    block = t // BLOCK
    files = []
    for b in np.unique(block):
        cols = np.nonzero(block == b)[0]
        path = outdir / f"fleet-{b}.om"
        with path.open("w") as fh:
            for metric in ("cpu", "memory", "disk"):
                name = f"rightsizer_{metric}_utilization_pct"
                fh.write(f"# HELP {name} {metric} use in percent\n# TYPE {name} gauge\n")
                vals = values[metric][:, cols].tolist()
                ts = [str(x) for x in t[cols]]
                for i in range(n):
                    label = f'{name}{{server_id="srv-{i:05d}"' + (',mountpoint="/"}' if metric == "disk" else "}")
                    fh.write("".join(f"{label} {x} {s}\n" for x, s in zip(vals[i], ts)))
            fh.write("# EOF\n")
        files.append(path)
    return 3 * n * slots, files


def import_victoria(url: str, n: int, days: int, step: int) -> float:
    """The same samples into VictoriaMetrics through its CSV import API; seconds."""
    t, values = fleet(n, days, step)
    q = ("format=1:label:server_id,2:time:unix_s,3:metric:rightsizer_cpu_utilization_pct,"
         "4:metric:rightsizer_memory_utilization_pct,5:metric:rightsizer_disk_utilization_pct,6:label:mountpoint")
    t0 = time.perf_counter()
    ts = [str(x) for x in t]
    for lo in range(0, n, 500):
        rows = []
        for i in range(lo, min(n, lo + 500)):
            sid = f"srv-{i:05d}"
            rows += [f"{sid},{a},{c:g},{m:g},{d:g},/" for a, c, m, d in
                     zip(ts, values["cpu"][i], values["memory"][i], values["disk"][i])]
        req = urllib.request.Request(f"{url}/api/v1/import/csv?{q}", data=("\n".join(rows) + "\n").encode(),
                                     method="POST")
        urllib.request.urlopen(req, timeout=600).read()
    urllib.request.urlopen(f"{url}/internal/force_flush", timeout=600).read()
    return time.perf_counter() - t0


def metric(url: str, name: str) -> float:
    for line in urllib.request.urlopen(url + "/metrics", timeout=10).read().decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return float("nan")


def peak_rss_mib() -> float:
    """VmHWM of this process. (getrusage's ru_maxrss survives fork+exec on Linux: it would report the parent's.)"""
    return rss_kib()[1] / 1024


def run_mode(args) -> int:
    """Child process: one approach, results as JSON on stdout."""
    from collectors.prometheus import PrometheusCollector, PrometheusSettings
    from rightsizer.settings import Settings, WindowSettings

    s = Settings(window=WindowSettings(step_seconds=args.step, days=args.days))
    fleet = servers(args.servers)
    if args.mode == "sharded":
        cfg = PrometheusSettings(url=args.url, timeout_seconds=120)
    else:
        cfg = PrometheusSettings(url=args.url, shard_size=1, concurrency=1, timeout_seconds=120)
    c = PrometheusCollector(cfg)
    t0 = time.perf_counter()
    sums = c.summaries(fleet, AT, s)
    wall = time.perf_counter() - t0
    digest = hashlib.sha256(json.dumps([x.to_json() for x in sums], sort_keys=True, default=str).encode())
    json.dump({"wall_s": wall, "requests": c.stats.requests, "bytes": c.stats.bytes_received,
               "errors": len(c.stats.errors), "peak_rss_mib": peak_rss_mib(),
               "digest": digest.hexdigest(), "with_data": sum(x.cpu_max_pct is not None for x in sums)}, sys.stdout)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--servers", type=int, default=10000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--step", type=int, default=3600)
    ap.add_argument("--workdir", default=str(ROOT / "bench-out" / "prometheus"))
    ap.add_argument("--victoria-metrics", action="store_true",
                    help="also load the same samples into Debian's victoria-metrics and run both approaches on it")
    ap.add_argument("--mode", choices=("sharded", "per-server"), help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.mode:
        return run_mode(args)
    for tool in ("prometheus", "promtool"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} not found: apt-get install prometheus")
    work = Path(args.workdir) / f"{args.servers}x{args.days}d-{args.step}s"
    work.mkdir(parents=True, exist_ok=True)
    tsdb = work / "tsdb"
    if not (work / "backfilled").exists():
        shutil.rmtree(tsdb, ignore_errors=True)
        t0 = time.perf_counter()
        n, files = generate(work, args.servers, args.days, args.step)
        t1 = time.perf_counter()
        for om in files:
            subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", "-q", str(om), str(tsdb)],
                           check=True)
            om.unlink()
        t2 = time.perf_counter()
        (work / "backfilled").write_text(f"{n} samples; generate {t1 - t0:.0f} s; promtool {t2 - t1:.0f} s\n")
    print(f"# {args.servers:,} servers x {args.days} d, step {args.step} s: {(work / 'backfilled').read_text().strip()}")
    cfg = work / "prometheus.yml"
    cfg.write_text("global:\n  scrape_interval: 1m\n")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    prom = subprocess.Popen(["prometheus", f"--config.file={cfg}", f"--storage.tsdb.path={tsdb}",
                             "--storage.tsdb.retention.time=100y", f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=(work / "prometheus.log").open("w"))
    try:
        for _ in range(600):
            try:
                if urllib.request.urlopen(url + "/-/ready", timeout=2).status == 200:
                    break
            except OSError:
                time.sleep(0.5)
        # Wait (at most 20 min) until compaction of the back-filled blocks has settled.
        last, stable_since, t0 = None, time.monotonic(), time.monotonic()
        while time.monotonic() - t0 < 1200:
            blocks = metric(url, "prometheus_tsdb_blocks_loaded")
            if blocks != last:
                last, stable_since = blocks, time.monotonic()
            elif time.monotonic() - stable_since > 150:
                break
            time.sleep(5)
        print(f"# Prometheus {url}: {last:.0f} blocks after compaction ({time.monotonic() - t0:.0f} s)")
        results = {}
        for mode in ("sharded", "per-server"):
            before = cpu_seconds(prom.pid)
            out = subprocess.run([sys.executable, __file__, "--mode", mode, "--url", url, "--servers",
                                  str(args.servers), "--days", str(args.days), "--step", str(args.step)],
                                 check=True, capture_output=True, text=True).stdout
            results[mode] = json.loads(out) | {"prom_cpu_s": cpu_seconds(prom.pid) - before}
    finally:
        prom.terminate()
        prom.wait(30)
    if args.victoria_metrics:  # the same samples in VictoriaMetrics, the same two approaches, beside it
        shutil.rmtree(work / "vm", ignore_errors=True)
        with victoria_metrics(work / "vm", work / "vm.log") as (vurl, vm_pid):
            print(f"# VictoriaMetrics {vurl}: imported in {import_victoria(vurl, args.servers, args.days, args.step):.0f} s")
            for mode in ("sharded", "per-server"):
                before = cpu_seconds(vm_pid)
                out = subprocess.run([sys.executable, __file__, "--mode", mode, "--url", vurl, "--servers",
                                      str(args.servers), "--days", str(args.days), "--step", str(args.step)],
                                     check=True, capture_output=True, text=True).stdout
                results[f"{mode} (VictoriaMetrics)"] = json.loads(out) | {"prom_cpu_s": cpu_seconds(vm_pid) - before}
    a, b = results["sharded"], results["per-server"]
    print("| approach | wall time | requests | bytes received | client peak RSS | TSDB CPU | servers with data |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for mode, r in results.items():
        print(f"| {mode if 'Victoria' in mode else mode + ' (Prometheus)'} | {r['wall_s']:.1f} s | {r['requests']:,} "
              f"| {r['bytes'] / 1e6:.1f} MB | {r['peak_rss_mib']:.0f} MiB | {r['prom_cpu_s']:.1f} s | {r['with_data']:,} |")
    if args.victoria_metrics:
        v = results["sharded (VictoriaMetrics)"]
        print(f"\nsharded: VictoriaMetrics / Prometheus wall time x{v['wall_s'] / a['wall_s']:.2f}, "
              f"TSDB CPU x{v['prom_cpu_s'] / max(a['prom_cpu_s'], 1e-9):.2f}; same summaries: "
              f"{v['digest'] == a['digest']}")
    print(f"\nper-server / sharded: wall time x{b['wall_s'] / a['wall_s']:.1f}, requests x{b['requests'] / a['requests']:.0f}"
          f", bytes x{b['bytes'] / a['bytes']:.1f}, Prometheus CPU x{b['prom_cpu_s'] / max(a['prom_cpu_s'], 1e-9):.1f}")
    same = a["digest"] == b["digest"]
    print(f"same summaries from both: {same}")
    return 0 if same and not a["errors"] and not b["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
