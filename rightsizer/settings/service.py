"""How the service runs: the daemon's jobs and their schedule, the daemon itself, the web console.
Read by :mod:`rightsizer.daemon` and :mod:`rightsizer.web`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from ..crontab import cron_fields
from .base import _Model


class JobSchedule(_Model):
    """When one daemon job runs: a crontab line in the configured time zone, or every N seconds."""

    cron: str = ""
    every_seconds: int = Field(0, ge=0, le=366 * 86400)
    enabled: bool = True
    # A run that could not start on time (the process was busy or asleep) still starts this late, then
    # counts as missed; start-up catch-up covers a daemon that was down.
    misfire_grace_seconds: int = Field(3600, ge=1)

    @field_validator("cron")
    @classmethod
    def _crontab(cls, v: str) -> str:
        if v:
            cron_fields(v)
        return v

    @model_validator(mode="after")
    def _one_of(self) -> "JobSchedule":
        if self.enabled and bool(self.cron) == bool(self.every_seconds):
            raise ValueError("give either cron or every_seconds")
        return self


class ScheduleSettings(_Model):
    """The daemon's jobs (``rightsizer daemon``); each period that did not finish runs once at start-up."""

    inventory: JobSchedule = JobSchedule(cron="0 6 * * *")
    evaluate: JobSchedule = JobSchedule(cron="30 6 * * *")
    # Issues notices on working days only (调休 Saturdays included); verifies, reminds, escalates every day.
    sweep: JobSchedule = JobSchedule(cron="0 9 * * *")
    deliver: JobSchedule = JobSchedule(every_seconds=60, misfire_grace_seconds=60)
    # Every day; on and after the month's first working day it sends the previous month's report once.
    reports: JobSchedule = JobSchedule(cron="0 8 * * *", misfire_grace_seconds=86400)


class DaemonSettings(_Model):
    # /metrics and /healthz; keep it on the loopback or a management network.
    listen: str = "127.0.0.1:9465"
    # On SIGTERM a running job gets this long to reach a safe point (keep under the unit's TimeoutStopSec).
    stop_seconds: float = Field(60, gt=0, le=3600)
    # Finished job periods older than this are pruned from the store (the newest of each job is kept).
    keep_job_runs_days: int = Field(90, ge=1)
    # PostgreSQL store: how often the leader checks it still holds the leader lock and a standby tries to take it.
    leader_check_seconds: float = Field(2, gt=0, le=60)

    @field_validator("listen")
    @classmethod
    def _host_port(cls, v: str) -> str:
        host, sep, port = v.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError(f"{v!r} is not host:port (e.g. 127.0.0.1:9465)")
        return v

    @property
    def address(self) -> tuple[str, int]:
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]"), int(port)


class WebSettings(_Model):
    """[web]: the console (``rightsizer web``)."""

    listen: str = "127.0.0.1:8080"
    session_hours: float = Field(8, gt=0, le=24 * 30)
    # Cookies carry Secure: "auto" when the request came over HTTPS (X-Forwarded-Proto from a trusted proxy).
    secure_cookies: Literal["auto", "always", "never"] = "auto"
    # Single sign-on behind the centre's reverse proxy (统一身份认证): the proxy puts the signed-in user's
    # account name in this header; it is believed only from these addresses (IPs or networks).
    sso_header: str = ""
    trusted_proxies: list[str] = []
    login_max_failures: int = Field(5, ge=1, le=100)  # per account and per address, over login_window
    login_window_seconds: int = Field(900, ge=10)

    @field_validator("listen")
    @classmethod
    def _listen(cls, v: str) -> str:
        host, _, port = v.rpartition(":")
        if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError(f"{v!r} is not host:port (e.g. 127.0.0.1:8080)")
        return v

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, v: list[str]) -> list[str]:
        import ipaddress

        for net in v:
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError:
                raise ValueError(f"{net!r} is not an IP address or network") from None
        return v

    @property
    def address(self) -> tuple[str, int]:
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]"), int(port)


Band = tuple[float, float]  # (at most this value, this share of the indicator's points)
