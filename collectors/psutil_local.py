"""In-guest agent: samples CPU, memory and disk use with psutil and exposes them.

Many clouds cannot see memory or disk use inside a guest; this agent is how a centre
gets them. Every ``interval_seconds`` it samples

* ``rightsizer_cpu_utilization_pct{server_id}`` — busy share of all CPUs since the last sample,
* ``rightsizer_memory_utilization_pct{server_id}`` — (total − available) / total,
* ``rightsizer_disk_utilization_pct{server_id, mountpoint}`` — used / (used + free) per mount,

all 0–100, and serves them with prometheus-client on ``listen:port``. Optionally it
also writes the same values as InfluxDB line protocol (measurement ``rightsizer``,
fields ``cpu_utilization_pct`` …), which VictoriaMetrics stores under the same metric
names. A mount point that cannot be read is left out (logged once), never reported as 0.

Configuration example (``rightsizer agent --config /etc/rightsizer/agent.toml``)::

    server_id = "3f6c…"          # default: cloud-init's instance id
    listen = "0.0.0.0"
    port = 9464
    interval_seconds = 15
    mountpoints = ["/", "/data"]

    [influxdb]                   # optional
    url = "http://tsdb.example:8086"
    org = "bigdata"
    bucket = "rightsizer"
    token = { env = "RIGHTSIZER_INFLUX_TOKEN" }
"""

from __future__ import annotations

import logging
import signal
import threading
import time
import tomllib
from collections import deque
from pathlib import Path
from typing import Protocol

from pydantic import ValidationError

from rightsizer.errors import InputError
from rightsizer.sdnotify import notify

from .config import AgentSettings, InfluxWriteSettings

__all__ = ["Agent", "AgentError", "AgentSettings", "InfluxWriteSettings", "PsutilSampler", "Sampler",
           "default_server_id", "load_agent_settings", "run_agent"]

log = logging.getLogger("rightsizer.agent")

INSTANCE_ID_FILES = (Path("/var/lib/cloud/data/instance-id"),)
MEASUREMENT = "rightsizer"


class AgentError(InputError):
    """The agent cannot start; the message says why."""


def load_agent_settings(path: str | None, **overrides) -> AgentSettings:
    data: dict = {}
    if path:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise AgentError(f"{path}: cannot read: {exc.strerror}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise AgentError(f"{path}: {exc}") from None
    data.update({k: v for k, v in overrides.items() if v not in (None, [], "")})
    try:
        return AgentSettings.model_validate(data)
    except ValidationError as exc:
        lines = [f"{path or 'agent'}: {'.'.join(map(str, e['loc']))}: "
                 f"{'unknown key (typo?)' if e['type'] == 'extra_forbidden' else e['msg'].removeprefix('Value error, ')}"
                 for e in exc.errors()]
        raise AgentError("\n".join(lines)) from None


def default_server_id() -> str:
    for f in INSTANCE_ID_FILES:
        try:
            value = f.read_text(encoding="ascii").strip()
        except OSError:
            continue
        if value:
            return value
    raise AgentError("no server_id: give --server-id (the cloud's server id) or run where cloud-init "
                     f"wrote {INSTANCE_ID_FILES[0]}")


# -- sampling ---------------------------------------------------------------------------


class Sampler(Protocol):
    """What the agent needs from the operating system; tests pass their own."""

    def cpu_pct(self) -> float:
        """Busy share of all CPUs since the previous call, 0–100."""

    def memory_pct(self) -> float:
        """(total − available) / total, 0–100."""

    def disk_pct(self, mountpoint: str) -> float:
        """used / (used + free) of the file system at ``mountpoint``, 0–100; OSError if unreadable."""


class PsutilSampler:
    def __init__(self):
        import psutil

        self._ps = psutil
        psutil.cpu_percent(interval=None)  # the first call only sets the reference point

    def cpu_pct(self) -> float:
        return float(self._ps.cpu_percent(interval=None))

    def memory_pct(self) -> float:
        return float(self._ps.virtual_memory().percent)

    def disk_pct(self, mountpoint: str) -> float:
        return float(self._ps.disk_usage(mountpoint).percent)


def _clamp(v: float) -> float:
    return min(max(v, 0.0), 100.0)


def _escape_tag(v: str) -> str:
    return v.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


class Agent:
    def __init__(self, cfg: AgentSettings, sampler: Sampler, registry=None):
        from prometheus_client import CollectorRegistry, Counter, Gauge, disable_created_metrics

        disable_created_metrics()  # the *_created series only add bytes to every scrape

        self.cfg = cfg
        self.sampler = sampler
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.cpu = Gauge("rightsizer_cpu_utilization_pct", "CPU busy share since the previous sample, 0-100",
                         ["server_id"], registry=r)
        self.mem = Gauge("rightsizer_memory_utilization_pct", "Memory in use (total - available) / total, 0-100",
                         ["server_id"], registry=r)
        self.disk = Gauge("rightsizer_disk_utilization_pct", "File system used / (used + free), 0-100",
                          ["server_id", "mountpoint"], registry=r)
        self.errors = Counter("rightsizer_agent_sample_errors", "Samples that could not be taken",
                              ["metric"], registry=r)
        self.dropped = Counter("rightsizer_agent_influx_dropped_lines",
                               "Line-protocol lines dropped because the write buffer was full", registry=r)
        self.samples = Counter("rightsizer_agent_samples", "Sampling rounds taken", registry=r)
        self._bad_mounts: set[str] = set()
        self._buffer: deque[str] = deque()
        self._writer = None
        if cfg.influxdb:
            from influxdb_client import InfluxDBClient
            from influxdb_client.client.write_api import SYNCHRONOUS

            ix = cfg.influxdb
            self._client = InfluxDBClient(url=ix.url, token=ix.token_value(), org=ix.org or "-",
                                          timeout=int(ix.timeout_seconds * 1000))
            self._writer = self._client.write_api(write_options=SYNCHRONOUS)

    def sample(self, now: float | None = None) -> dict[str, float]:
        """Take one round of samples, update the gauges; return what was measured."""
        sid = self.cfg.server_id
        values: dict[str, float] = {}
        for name, fn, gauge in (("cpu", self.sampler.cpu_pct, self.cpu), ("memory", self.sampler.memory_pct, self.mem)):
            try:
                values[name] = _clamp(fn())
                gauge.labels(sid).set(values[name])
            except OSError as exc:
                self.errors.labels(name).inc()
                log.warning("cannot sample %s: %s", name, exc)
        for mp in self.cfg.mountpoints:
            try:
                v = _clamp(self.sampler.disk_pct(mp))
            except OSError as exc:
                self.errors.labels("disk").inc()
                if mp not in self._bad_mounts:
                    log.warning("cannot read disk use of %s: %s (left out, not reported as 0)", mp, exc.strerror)
                    self._bad_mounts.add(mp)
                try:
                    self.disk.remove(sid, mp)
                except KeyError:
                    pass
                continue
            self._bad_mounts.discard(mp)
            values[f"disk:{mp}"] = v
            self.disk.labels(sid, mp).set(v)
        self.samples.inc()
        if self._writer is not None:
            self._queue_lines(values, now if now is not None else time.time())
            self.flush()
        return values

    def _queue_lines(self, values: dict[str, float], now: float) -> None:
        ts = int(now)
        sid = _escape_tag(self.cfg.server_id)
        fields = [f"{k}_utilization_pct={values[k]:.3f}" for k in ("cpu", "memory") if k in values]
        if fields:
            self._buffer.append(f"{MEASUREMENT},server_id={sid} {','.join(fields)} {ts}")
        for key, v in values.items():
            if key.startswith("disk:"):
                mp = _escape_tag(key[5:])
                self._buffer.append(f"{MEASUREMENT},server_id={sid},mountpoint={mp} disk_utilization_pct={v:.3f} {ts}")
        limit = self.cfg.influxdb.buffer_lines
        while len(self._buffer) > limit:
            self._buffer.popleft()
            self.dropped.inc()

    def flush(self) -> bool:
        """Write the buffered lines; on failure keep them for the next round."""
        if not self._buffer:
            return True
        from influxdb_client.client.write_api import WritePrecision

        lines = list(self._buffer)
        try:
            self._writer.write(bucket=self.cfg.influxdb.bucket, record=lines, write_precision=WritePrecision.S)
        except Exception as exc:  # noqa: BLE001 - any failure of the remote keeps the lines buffered
            status = getattr(exc, "status", None)
            log.warning("influxdb write failed (%s); %d lines kept for the next round",
                        f"HTTP {status}" if status else type(exc).__name__, len(lines))
            return False
        for _ in lines:
            self._buffer.popleft()
        return True

    def close(self) -> None:
        if self._writer is not None:
            self.flush()
            self._client.close()


def run_agent(cfg: AgentSettings, sampler: Sampler | None = None, rounds: int | None = None) -> int:
    """Serve until SIGTERM/SIGINT (or ``rounds`` samples, for tests and benchmarks)."""
    from prometheus_client import start_http_server

    agent = Agent(cfg, sampler or PsutilSampler())
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        server, _thread = start_http_server(cfg.port, addr=cfg.listen, registry=agent.registry)
    except OSError as exc:
        raise AgentError(f"cannot listen on {cfg.listen}:{cfg.port}: {exc.strerror}") from None
    port = server.server_address[1]
    log.info("rightsizer agent for server %s on %s:%d, every %gs, mounts %s", cfg.server_id, cfg.listen, port,
             cfg.interval_seconds, ",".join(cfg.mountpoints))
    print(f"listening on {cfg.listen}:{port}", flush=True)
    agent.sample()
    notify("READY=1")
    n = 1
    try:
        while not stop.wait(cfg.interval_seconds):
            if rounds is not None and n >= rounds:
                break
            agent.sample()
            n += 1
    finally:
        notify("STOPPING=1")
        server.shutdown()
        agent.close()
    return 0
