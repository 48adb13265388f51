"""Where the data comes from and where it goes: the store, the calendar, the metrics sources, the inventory
and the registered-system catalogue. Read by the collectors, the store and the evaluation."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, create_model, field_validator, model_validator

# Plugin settings are pydantic-only modules: loading a configuration never loads plugin code.
import collectors
from collectors.config import OpenStackSettings

from ..secrets import SecretRef, legacy_secret, url_has_password
from .base import _Model


class StoreSettings(_Model):
    state_dir: Path = Path("/var/lib/rightsizer")
    # SQLAlchemy URL; empty means SQLite at <state_dir>/rightsizer.db. A URL with a password
    # comes from the environment or a file: url = { env = "RIGHTSIZER_DB_URL" } (or { file = … };
    # the older url_env / url_file keys mean the same).
    url: str | SecretRef = ""
    # How long a command waits for another one's write transaction before it says the store is busy.
    busy_seconds: float = Field(120, gt=0, le=3600)

    _legacy = model_validator(mode="before")(lambda data: legacy_secret(data, "url"))

    @field_validator("url")
    @classmethod
    def _no_inline_password(cls, v: str | SecretRef) -> str | SecretRef:
        if isinstance(v, str) and url_has_password(v):
            raise ValueError("the URL holds a password: a secret never sits in the configuration; give it as "
                             'url = { env = "RIGHTSIZER_DB_URL" } or { file = "/etc/rightsizer/db-url" } '
                             "(the URL is not shown)")
        return v

    def resolved_url(self) -> str:
        """The database URL. Never logged: it may carry a password."""
        if isinstance(self.url, SecretRef):
            return self.url.reveal("store.url")
        return self.url or f"sqlite:///{self.state_dir / 'rightsizer.db'}"


class CalendarSettings(_Model):
    # TOML file of years the chinese_calendar package does not know (see config/holidays.example.toml).
    overrides: Path | None = None


class _MetricsBase(_Model):
    """Where usage comes from when ``evaluate`` is given no --samples or source option."""

    source: str = "none"

    @field_validator("source")
    @classmethod
    def _known(cls, v: str) -> str:
        if v != "none" and v not in collectors.REGISTRY:
            raise ValueError(f"unknown source {v!r} (one of none, {', '.join(collectors.REGISTRY)})")
        return v


# [metrics]: `source` and one section per usage source of the collector registry.
MetricsSettings = create_model(
    "MetricsSettings", __base__=_MetricsBase,
    **{name: (collectors.settings_model(name), collectors.settings_model(name)()) for name in collectors.REGISTRY})


class InventorySettings(_Model):
    """Where the daemon reads the servers (the CLI says it with --openstack / --csv / --inventory)."""

    # "openstack", "csv" (the file below, as the cloud's word), or "none" (the daemon does not sync or evaluate)
    source: Literal["none", "openstack", "csv"] = "none"
    csv: Path | None = None
    openstack: OpenStackSettings = OpenStackSettings()

    @model_validator(mode="after")
    def _csv_given(self) -> "InventorySettings":
        if self.source == "csv" and self.csv is None:
            raise ValueError('source = "csv" needs csv = "<inventory file>"')
        return self


class CatalogueSettings(_Model):
    """Registered systems (备案) and how a cloud server maps to one; no file = the check is off."""

    file: Path | None = None
    # system: the server's system field (CSV column, or the OpenStack metadata key) names a
    #         registered system id or name;
    # name_pattern: a regex on the server name whose group "system" is the system id;
    # list: only the explicit `servers` table.
    match: Literal["system", "name_pattern", "list"] = "system"
    name_pattern: str = ""
    # server id -> system id; checked first whatever `match` says.
    servers: dict[str, str] = {}

    @field_validator("name_pattern")
    @classmethod
    def _regex(cls, v: str) -> str:
        if v:
            try:
                rx = re.compile(v)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
            if "system" not in rx.groupindex:
                raise ValueError('needs a named group "system", e.g. ^(?P<system>[a-z]+)-\\d+$')
        return v

    @model_validator(mode="after")
    def _pattern_given(self) -> "CatalogueSettings":
        if self.match == "name_pattern" and not self.name_pattern:
            raise ValueError('match = "name_pattern" needs name_pattern')
        return self
