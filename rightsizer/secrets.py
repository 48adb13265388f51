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
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, model_validator

from .errors import ConfigError


class SecretRef(BaseModel):
    """Where a secret is read from: an environment variable or a file (first line, stripped)."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)  # a secret may be the input

    env: str = ""
    file: Path | None = None

    @model_validator(mode="after")
    def _one(self) -> SecretRef:
        if bool(self.env) == bool(self.file):
            raise ValueError("give exactly one of env, file")
        # A secret pasted where its variable's name or its file's path belongs would be printed by
        # every "not set" message: refuse it here, at load (check-config), without repeating it.
        if self.env and not _ENV_NAME.fullmatch(self.env):
            raise ValueError("env: this is not an environment variable name (letters, digits and _, e.g. "
                             "RS_SMTP_PASSWORD); if it is the secret itself, put it in the environment and name "
                             "the variable here (the value is not shown)")
        if self.file is not None and not looks_like_path(str(self.file)):
            raise ValueError("file: this is not an absolute file path (e.g. /etc/rightsizer/smtp-password); if it "
                             "is the secret itself, put it in a file and give the file's path (the value is not "
                             "shown)")
        return self

    def reveal(self, key: str = "secret") -> str:
        """The secret's value; a :class:`ConfigError` naming ``key`` when it cannot be read."""
        if self.env:
            v = os.environ.get(self.env, "")
            if not v:
                raise ConfigError(key, f"environment variable {_shown_env(self.env)} is not set or empty")
            return v
        try:
            return self.file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(key, f"cannot read secret file {self.file}: {exc.strerror}") from None


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_PATH = re.compile(r"/[\w./@+-]{0,1023}")


def _shown_env(name: str) -> str:
    """A conventional name (RS_SMTP_PASSWORD) in full; anything else only begun: it may be a pasted secret."""
    if re.fullmatch(r"[A-Z_][A-Z0-9_]*", name):
        return name
    return f"{name[:2]}… ({len(name)} characters; not shown in full — is it the secret itself?)"


def looks_like_path(text: str) -> bool:
    """An absolute path of ordinary characters: safe to repeat in a message."""
    return _PATH.fullmatch(text) is not None


def url_has_password(url: str) -> bool:
    """``scheme://user:password@host…``: a secret written inline."""
    return re.match(r"[A-Za-z][\w+.-]*://[^/@?#]*:[^/@?#]*@", url) is not None


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
