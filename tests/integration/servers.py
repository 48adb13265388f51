"""Start the real servers the integration tests talk to, on 127.0.0.1 only.

A missing binary fails the test with the package to install (``make test`` installs
them); it never skips.
"""
from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

PACKAGES = {"prometheus": "prometheus", "promtool": "prometheus", "victoria-metrics": "victoria-metrics",
            "systemd-analyze": "systemd", "pdftotext": "poppler-utils", "pdftoppm": "poppler-utils",
            "pdffonts": "poppler-utils", "chromium": "chromium", "chromedriver": "chromium-driver"}


def binary(name: str) -> str:
    path = shutil.which(name)
    if not path:
        pkg = PACKAGES.get(name, name)
        pytest.fail(f"{name} is not installed: `make test` installs the Debian package {pkg} "
                    f"(apt-get install {pkg})")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, log: Path, seconds: float = 30) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if proc.poll() is not None:
            pytest.fail(f"{proc.args[0]} exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"{url} did not answer in {seconds:g} s: {log.read_text()[-2000:]}")


@contextmanager
def running(cmd: list[str], ready_url: str, log: Path):
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log.open("w"))
    try:
        wait_http(ready_url, proc, log)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def prometheus(workdir: Path, config: str, tsdb: Path | None = None):
    """A Prometheus with ``config`` (YAML text); yields its base URL."""
    tsdb = tsdb or workdir / "tsdb"
    cfg = workdir / "prometheus.yml"
    cfg.write_text(config)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [binary("prometheus"), f"--config.file={cfg}", f"--storage.tsdb.path={tsdb}",
           "--storage.tsdb.retention.time=100y", f"--web.listen-address=127.0.0.1:{port}"]
    with running(cmd, url + "/-/ready", workdir / "prometheus.log"):
        yield url


@contextmanager
def victoria_metrics(workdir: Path, port: int | None = None):
    """A VictoriaMetrics single node (Prometheus query API, InfluxDB line-protocol writes); yields its URL."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [binary("victoria-metrics"), f"-storageDataPath={workdir / 'vm-data'}", f"-httpListenAddr=127.0.0.1:{port}",
           "-retentionPeriod=100y", "-search.latencyOffset=0s", "-search.disableCache"]
    with running(cmd, url + "/health", workdir / "victoria-metrics.log"):
        yield url


@contextmanager
def uvicorn_serving(app):
    """``app`` (the console) under a real uvicorn on 127.0.0.1, in a thread; its base URL while the block runs."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:  # started: an event uvicorn sets, bounded wait
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)

