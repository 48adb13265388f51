"""Overhead of the in-guest agent beside Debian's prometheus-node-exporter.

Runs, at the same time and for the same duration:

* ``rightsizer agent`` (sampling every 15 s),
* ``prometheus-node-exporter`` with its default collectors (what a centre installs),
* ``prometheus-node-exporter`` with only the cpu, meminfo and filesystem collectors
  (the same information as the agent),

scrapes each one every 15 s on 127.0.0.1 like a Prometheus would, and reports for
each process its CPU seconds (user + system, from /proc/<pid>/stat), its peak and final
RSS, and the bytes of one scrape.

    .venv/bin/python bench/bench_agent_overhead.py [--seconds 600]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from procstat import cpu_seconds, free_port, rss_kib  # noqa: E402


def wait_up(url: str, proc: subprocess.Popen, seconds: float = 20) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise SystemExit(f"{proc.args[0]} exited with {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=600)
    ap.add_argument("--interval", type=float, default=15)
    args = ap.parse_args()
    exporter = shutil.which("prometheus-node-exporter")
    if not exporter:
        raise SystemExit("prometheus-node-exporter not found: apt-get install prometheus-node-exporter")
    ports = {name: free_port() for name in ("agent", "node-exporter (defaults)", "node-exporter (cpu,meminfo,fs)")}
    cmds = {
        "agent": [str(ROOT / ".venv/bin/rightsizer"), "agent", "--server-id", "bench", "--listen", "127.0.0.1",
                  "--port", str(ports["agent"]), "--interval", str(args.interval), "--mount", "/"],
        "node-exporter (defaults)": [exporter, f"--web.listen-address=127.0.0.1:{ports['node-exporter (defaults)']}"],
        "node-exporter (cpu,meminfo,fs)": [
            exporter, f"--web.listen-address=127.0.0.1:{ports['node-exporter (cpu,meminfo,fs)']}",
            "--collector.disable-defaults", "--collector.cpu", "--collector.meminfo", "--collector.filesystem"],
    }
    procs = {n: subprocess.Popen(c, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for n, c in cmds.items()}
    try:
        urls = {n: f"http://127.0.0.1:{p}/metrics" for n, p in ports.items()}
        for n, u in urls.items():
            wait_up(u, procs[n])
        start_cpu = {n: cpu_seconds(p.pid) for n, p in procs.items()}
        scrape_bytes = {n: 0 for n in procs}
        scrapes = 0
        t0 = time.monotonic()
        while time.monotonic() - t0 < args.seconds:
            for n, u in urls.items():
                scrape_bytes[n] = len(urllib.request.urlopen(u, timeout=10).read())
            scrapes += 1
            time.sleep(max(0.0, t0 + scrapes * args.interval - time.monotonic()))
        elapsed = time.monotonic() - t0
        print(f"# {elapsed:.0f} s, {scrapes} scrapes each, every {args.interval:g} s, on {os.cpu_count()} cores")
        print("| process | CPU seconds | CPU % of one core | RSS at end | peak RSS | bytes per scrape |")
        print("|---|---:|---:|---:|---:|---:|")
        for n, p in procs.items():
            used = cpu_seconds(p.pid) - start_cpu[n]
            rss, hwm = rss_kib(p.pid)
            print(f"| {n} | {used:.2f} | {100 * used / elapsed:.3f} | {rss / 1024:.1f} MiB | {hwm / 1024:.1f} MiB "
                  f"| {scrape_bytes[n]:,} |")
    finally:
        for p in procs.values():
            p.terminate()
        for p in procs.values():
            p.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
