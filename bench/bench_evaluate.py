"""Benchmark: summarise and evaluate 10,000 servers x 30 days x 5-minute samples x 3 metrics.

    .venv/bin/python bench/bench_evaluate.py [--servers 10000] [--out bench-out]

Step 1 (not timed) simulates the fleet into the local sample store under --out,
once; later runs reuse it. Step 2 runs in a fresh process so its peak RSS is its
own: read the samples from the store (memory-mapped), summarise, evaluate, and
then record everything in SQLite. Prints wall seconds and peak RSS.
Target (issue 2): summarise + evaluate <= 5 s and <= 2 GiB peak RSS on 2 cores.

Beside it, in the same process on the same arrays, the hardware limit (issue 15): a bare
numpy pass that computes only the same statistics — each row's CPU p95 (30 days and the
14-day release window) by ``np.partition`` and its maximum, the memory's daily peaks, their
quantile and maximum, the disk's maximum and last value — in the same chunks, on rows
copied out of the memory map as ours are, with no gap handling, no objects, no policies. The arrays are read once
before either is timed (so neither pays the page faults), and the bare pass runs before
and after ours (its mean is the figure). Target: ours within 3x of it.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np

AT = "2026-11-20T00:00:00+08:00"


def generate(out: Path, servers: int) -> None:
    from collectors.simulate import simulate_city
    from rightsizer.samplestore import SampleStore

    marker = out / f"fleet-{servers}.json"
    if marker.exists():
        return
    t = time.perf_counter()
    city = simulate_city(seed=1, servers=servers, at=datetime.fromisoformat(AT))
    SampleStore(out / "samples").write(city.grid, "fleet")
    inv = [{"id": s.server_id, "dept": s.department, "sys": s.system, "size": [s.size.vcpus, s.size.ram_gib,
            s.size.disk_gib], "delivered": s.delivered_at.isoformat()} for s in city.servers]
    marker.write_text(json.dumps({"start": city.grid.start, "step": city.grid.step, "slots": city.grid.slots,
                                  "servers": inv}))
    print(f"generated {servers} servers in {time.perf_counter() - t:.1f}s (not part of the measurement)")


def measure(out: Path, servers: int) -> dict:
    from rightsizer import engine
    from rightsizer.calendar import WorkCalendar
    from rightsizer.models import Server, Size
    from rightsizer.samplestore import SampleStore
    from rightsizer.settings import Settings
    from rightsizer.db import Store
    from rightsizer.jobs.evaluate import record

    meta = json.loads((out / f"fleet-{servers}.json").read_text())
    inv = [Server(x["id"], x["id"], x["dept"], x["sys"], Size(*x["size"]), datetime.fromisoformat(x["delivered"]))
           for x in meta["servers"]]
    settings, cal = Settings(), WorkCalendar()
    at = datetime.fromisoformat(AT)
    db = out / "bench.db"
    for f in out.glob("bench.db*"):
        f.unlink()
    store = Store.open(f"sqlite:///{db}")
    t0 = time.perf_counter()
    grid = SampleStore(out / "samples").read([s.server_id for s in inv], meta["start"], meta["step"], meta["slots"])
    t_read = time.perf_counter() - t0
    for m in ("cpu", "mem", "disk"):  # every page in memory before anything is timed
        float(np.nansum(getattr(grid, m)[:, ::512]))
        getattr(grid, m).sum()
    bare = [bare_pass(grid, settings)]
    t0 = time.perf_counter()
    ev = engine.evaluate(inv, grid, at, settings, cal)
    t1 = time.perf_counter()
    bare.append(bare_pass(grid, settings))
    record(store, ev, "bench", "bench", settings)
    t2 = time.perf_counter()
    return {"servers": len(inv), "samples": len(inv) * meta["slots"] * 3, "findings": len(ev.findings),
            "read_s": round(t_read, 2), "summarise_evaluate_s": round(t1 - t0, 2),
            "bare_numpy_s": round(sum(bare) / len(bare), 2), "bare_runs_s": [round(b, 2) for b in bare],
            "ratio": round((t1 - t0) / (sum(bare) / len(bare)), 2), "record_s": round(t2 - t1, 2),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def bare_pass(grid, settings) -> float:
    """The hardware limit: only the order statistics, on the same arrays in the same chunks; seconds."""
    from rightsizer.summaries import CHUNK_ROWS

    n, slots = grid.cpu.shape
    k = int(0.95 * (slots - 1))
    days = np.arange(0, slots, 86400 // grid.step)
    dk = int(settings.window.memory_peak_quantile * (len(days) - 1))
    recent = slots - settings.policy.release.days * 86400 // grid.step
    rk = int(0.95 * (slots - recent - 1))
    t = time.perf_counter()
    for lo in range(0, n, CHUNK_ROWS):
        cpu = np.array(grid.cpu[lo:lo + CHUNK_ROWS])
        np.partition(cpu, k, axis=1)[:, k]  # CPU p95
        cpu.max(axis=1)  # CPU max
        np.partition(cpu[:, recent:], rk, axis=1)[:, rk]  # CPU p95 of the release window (14 days)
        mem = np.array(grid.mem[lo:lo + CHUNK_ROWS])
        daily = np.maximum.reduceat(mem, days, axis=1)  # daily peaks
        np.partition(daily, dk, axis=1)[:, dk]  # their quantile
        mem.max(axis=1)
        disk = np.array(grid.disk[lo:lo + CHUNK_ROWS])
        disk.max(axis=1)
        disk[:, -1]  # latest
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--servers", type=int, default=10_000)
    ap.add_argument("--out", default="bench-out")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    if a.child:
        print(json.dumps(measure(out, a.servers)))
        return
    generate(out, a.servers)
    r = subprocess.run([sys.executable, __file__, "--servers", str(a.servers), "--out", str(out), "--child"],
                       check=True, capture_output=True, text=True)
    res = json.loads(r.stdout.strip().splitlines()[-1])
    print(f"servers={res['servers']} samples={res['samples']:,} findings={res['findings']}")
    print(f"summarise+evaluate: {res['summarise_evaluate_s']} s   (target <= 5 s)")
    print(f"bare numpy pass:    {res['bare_numpy_s']} s {res['bare_runs_s']}  ratio {res['ratio']}x (target <= 3x)")
    print(f"record in SQLite:   {res['record_s']} s")
    print(f"peak RSS:           {res['peak_rss_mib']} MiB (target <= 2048 MiB)")


if __name__ == "__main__":
    main()
