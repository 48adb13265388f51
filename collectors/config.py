"""Settings of every collector: pydantic models only (no collector code, no heavy imports).

``rightsizer.settings`` builds ``[metrics]`` and ``[inventory]`` from these, and the
agent reads its own file with :class:`AgentSettings`, so loading a configuration never
imports numpy, an SDK or a client library. Secrets are ``{ env = … }`` / ``{ file = … }``
(:class:`rightsizer.secrets.SecretRef`); the older ``token_env`` / ``token_file`` keys are
still read, into the same model.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rightsizer.secrets import SecretRef, legacy_secret


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)  # a secret may be the input


class PrometheusSettings(_Model):
    url: str = "http://127.0.0.1:9090"
    cpu_metric: str = "rightsizer_cpu_utilization_pct"
    memory_metric: str = "rightsizer_memory_utilization_pct"
    disk_metric: str = "rightsizer_disk_utilization_pct"
    server_label: str = "server_id"
    shard_size: int = Field(200, ge=1, le=5000)
    concurrency: int = Field(4, ge=1, le=32)
    timeout_seconds: float = Field(30, gt=0)
    retries: int = Field(2, ge=0, le=10)


class InfluxDBSettings(_Model):
    url: str = "http://127.0.0.1:8086"
    org: str = "-"
    bucket: str = "rightsizer"
    # API token (2.x) or "user:password" (1.8); from the environment or a file only.
    token: SecretRef | None = None
    measurement: str = "rightsizer"
    cpu_field: str = "cpu_utilization_pct"
    memory_field: str = "memory_utilization_pct"
    disk_field: str = "disk_utilization_pct"
    server_tag: str = "server_id"
    shard_size: int = Field(200, ge=1, le=5000)
    concurrency: int = Field(4, ge=1, le=32)
    timeout_seconds: float = Field(60, gt=0)

    _legacy = model_validator(mode="before")(lambda data: legacy_secret(data, "token"))

    def token_value(self, key: str = "metrics.influxdb.token") -> str:
        """The token, or empty when none is configured (an open server); never logged."""
        return self.token.reveal(key) if self.token else ""


class GnocchiSettings(_Model):
    granularity_seconds: int = Field(300, ge=10, le=86400)
    cpu_metric: str = "cpu"
    memory_metric: str = "memory.usage"
    resource_type: str = "instance"
    shard_size: int = Field(100, ge=1, le=1000)
    concurrency: int = Field(2, ge=1, le=16)
    timeout_seconds: float = Field(60, gt=0)


class LocalSettings(_Model):
    # The local sample store (numpy blocks on disk); empty = <state_dir>/samples.
    dir: str = ""


class OpenStackSettings(_Model):
    cloud: str = ""
    department_from: Literal["project", "domain", "tag", "metadata"] = "project"
    tag_prefix: str = "dept:"
    metadata_key: str = "department"
    system_metadata_key: str = "system"
    departments: dict[str, str] = {}
    unknown_department: str = "未明确部门"
    include_volumes: bool = True
    page_size: int = Field(1000, ge=1, le=1000)
    timeout_seconds: float = Field(60, gt=0)


# -- the in-guest agent ---------------------------------------------------------------------


class InfluxWriteSettings(_Model):
    url: str
    org: str = ""
    # InfluxDB 2 bucket, or "db/rp" for a 1.8 server in compatibility mode.
    bucket: str
    # InfluxDB 2 API token, or "user:password" for 1.8; from the environment or a file only.
    token: SecretRef | None = None
    timeout_seconds: float = Field(10, gt=0)
    # Lines kept while the server is unreachable; the oldest are dropped (and counted) beyond this.
    buffer_lines: int = Field(20000, ge=100)

    _legacy = model_validator(mode="before")(lambda data: legacy_secret(data, "token"))

    def token_value(self) -> str:
        return self.token.reveal("influxdb.token") if self.token else ""


class AgentSettings(_Model):
    server_id: str = ""
    listen: str = "0.0.0.0"
    port: int = Field(9464, ge=0, le=65535)
    interval_seconds: float = Field(15, ge=1, le=3600)
    mountpoints: list[str] = ["/"]
    influxdb: InfluxWriteSettings | None = None

    @field_validator("mountpoints")
    @classmethod
    def _absolute_mounts(cls, v: list[str]) -> list[str]:
        bad = [m for m in v if not m.startswith("/")]
        if bad:
            raise ValueError(f"mountpoints must be absolute paths (got {', '.join(bad)})")
        if not v:
            raise ValueError("give at least one mount point")
        return v
