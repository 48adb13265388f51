"""One way to hold a secret: ``{ env = "VAR" }`` or ``{ file = "/path" }``, never the value itself.

Used by the store URL, the InfluxDB token, every notifier and the agent. Reading a
secret that is not there is a :class:`~rightsizer.errors.ConfigError` naming the key
path and the variable or file — never the value.

Configuration example::

    [[notifiers]]
    name = "mail"
    type = "email"
    host = "smtp.example.gov.cn"
    sender = "rightsizer@example.gov.cn"
    password = { env = "RS_SMTP_PASSWORD" }   # or { file = "/etc/rightsizer/smtp-password" }
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, model_validator

from .errors import ConfigError


class SecretRef(BaseModel):
    """Where a secret is read from: an environment variable or a file (first line, stripped)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    env: str = ""
    file: Path | None = None

    @model_validator(mode="after")
    def _one(self) -> SecretRef:
        if bool(self.env) == bool(self.file):
            raise ValueError("give exactly one of env, file")
        return self

    def reveal(self, key: str = "secret") -> str:
        """The secret's value; a :class:`ConfigError` naming ``key`` when it cannot be read."""
        if self.env:
            v = os.environ.get(self.env, "")
            if not v:
                raise ConfigError(key, f"environment variable {self.env} is not set or empty")
            return v
        try:
            return self.file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(key, f"cannot read secret file {self.file}: {exc.strerror}") from None


def legacy_secret(data: object, key: str) -> object:
    """Map the older ``<key>_env`` / ``<key>_file`` spellings onto ``<key> = { env | file }``.

    For a pydantic ``mode="before"`` validator: configurations written before the one
    spelling keep working and are read through the same :class:`SecretRef`.
    """
    if not isinstance(data, dict):
        return data
    alt = [n for n in (f"{key}_env", f"{key}_file") if n in data]
    if not alt:
        return data
    given = [n for n in (key, *alt) if data.get(n)]
    if len(given) > 1:
        raise ValueError(f"give only one of {key}, {key}_env, {key}_file (got {', '.join(given)})")
    out = {k: v for k, v in data.items() if k not in alt}
    if given and given[0] != key:
        name = given[0]
        out[key] = {"env": data[name]} if name.endswith("_env") else {"file": data[name]}
    return out
