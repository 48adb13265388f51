"""Configuration: one TOML file validated by pydantic v2 models (``extra="forbid"``), split by who reads it:

* :mod:`.judgement` — window, policies, sizing, prices (what changes a finding);
* :mod:`.sources` — store, calendar, metrics, inventory, catalogue (where data comes from);
* :mod:`.people` — notices, departments, reports, evaluation (who is told what);
* :mod:`.service` — schedule, daemon, web console (how the service runs).

Every key has a default, so an empty file is valid; ``config/rightsizer.example.toml``
lists them all. A typo is an error with its key path, never a silent default.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError, field_validator, model_validator

import notifiers

from ..errors import ConfigError
from .base import _Model
from .judgement import (ExpandSettings, Flavor, PolicySettings, PriceSettings, ReleaseSettings, ShrinkSettings,
                        SizingSettings, UndeployedSettings, WindowSettings)
from .people import DepartmentContacts, EvaluationSettings, EvaluationWeights, NoticeSettings, ReportSettings
from .service import DaemonSettings, JobSchedule, ScheduleSettings, WebSettings
from .sources import CalendarSettings, CatalogueSettings, InventorySettings, MetricsSettings, StoreSettings

__all__ = ["CalendarSettings", "CatalogueSettings", "ConfigError", "DaemonSettings", "DepartmentContacts",
           "EvaluationSettings", "EvaluationWeights", "ExpandSettings", "Flavor", "InventorySettings", "JobSchedule",
           "MetricsSettings", "NoticeSettings", "PolicySettings", "PriceSettings", "ReleaseSettings",
           "ReportSettings", "ScheduleSettings", "Settings", "ShrinkSettings", "SizingSettings", "StoreSettings",
           "UndeployedSettings", "WebSettings", "WindowSettings", "load_settings", "parse_settings"]


class Settings(_Model):
    timezone: str = "Asia/Shanghai"
    store: StoreSettings = StoreSettings()
    calendar: CalendarSettings = CalendarSettings()
    window: WindowSettings = WindowSettings()
    policy: PolicySettings = PolicySettings()
    sizing: SizingSettings = SizingSettings()
    prices: PriceSettings = PriceSettings()
    metrics: MetricsSettings = MetricsSettings()
    inventory: InventorySettings = InventorySettings()
    catalogue: CatalogueSettings = CatalogueSettings()
    notices: NoticeSettings = NoticeSettings()
    departments: dict[str, DepartmentContacts] = {}
    schedule: ScheduleSettings = ScheduleSettings()
    daemon: DaemonSettings = DaemonSettings()
    reports: ReportSettings = ReportSettings()
    evaluation: EvaluationSettings = EvaluationSettings()
    web: WebSettings = WebSettings()
    # [[notifiers]] blocks: name, type (console | email | dingtalk | wecom | feishu | webhook) and
    # the type's own keys; checked against the notifier's model when the settings load.
    notifiers: list[dict] = []

    @field_validator("notifiers")
    @classmethod
    def _notifier_blocks(cls, v: list[dict]) -> list[dict]:
        names = set()
        for i, block in enumerate(v):
            name, kind = block.get("name"), block.get("type")
            if not name:
                raise ValueError(f"[{i}]: every notifier needs a name")
            if name in names:
                raise ValueError(f"[{i}]: notifier name {name!r} is used twice")
            names.add(name)
            if kind not in notifiers.REGISTRY:
                raise ValueError(f"{name}: unknown type {kind!r} (one of {', '.join(notifiers.REGISTRY)})")
            try:
                notifiers.settings_model(kind).model_validate(block)
            except ValidationError as exc:
                problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
                raise ValueError(f"{name}: {problems}") from None
        return v

    @model_validator(mode="after")
    def _channels_exist(self) -> Settings:
        names = {b["name"] for b in self.notifiers}
        used = [(f"departments.{d}.channels", c) for d, dc in self.departments.items() for c in dc.channels]
        n = self.notices
        used += [(f"notices.{k}", c) for k in ("cc_channels", "escalation_channels", "operator_channels")
                 for c in getattr(n, k)]
        used += [("reports.channels", c) for c in self.reports.channels]
        missing = [f"{where}: no notifier named {c!r}" for where, c in used if c not in names]
        missing += self._email_recipients()
        if missing:
            raise ValueError("; ".join(missing))
        return self

    def _email_recipients(self) -> list[str]:
        """Every message an email channel will carry has someone to go to (else it goes dead unsent)."""
        email = {b["name"]: b for b in self.notifiers if b.get("type") == "email"}
        out = []
        for d, dc in self.departments.items():
            for c in dc.channels:
                if c in email and not dc.emails:
                    out.append(f"departments.{d}.emails: empty, but its channel {c!r} is email")
        for c in self.reports.channels:
            if c in email and not self.reports.emails and not email[c].get("to"):
                out.append(f"reports.emails: empty, and email channel {c!r} has no `to` list: the report has no one "
                           "to go to")
        heads_missing = [d for d, dc in self.departments.items() if not dc.head_emails]
        for key in ("cc_channels", "operator_channels", "escalation_channels"):
            for c in getattr(self.notices, key):
                if c not in email or email[c].get("to"):
                    continue
                if key != "escalation_channels":
                    out.append(f"notices.{key}: email channel {c!r} has no recipients of its own: "
                               f"give [[notifiers]] {c!r} a `to` list")
                elif heads_missing or not self.departments:
                    out.append(f"notices.escalation_channels: email channel {c!r} has no `to` list and "
                               f"{', '.join(heads_missing) or 'no department'} has no head_emails: give either")
        return out

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}") from None
        return v

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def _problems(exc: ValidationError) -> list[str]:
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (typo?)"
        out.append(f"{loc}: {msg}")
    return out


def parse_settings(data: dict, source: str = "<config>") -> Settings:
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, _problems(exc)) from None


def load_settings(path: str | Path | None) -> Settings:
    """Load and validate a TOML file; ``None`` gives the defaults."""
    if path is None:
        return Settings()
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError(str(p), [f"cannot read: {exc.strerror}"]) from None
    try:
        data = tomllib.loads(raw.decode("utf-8-sig"))  # a BOM (Windows editors) is allowed, as in the CSVs
    except RecursionError:
        raise ConfigError(str(p), ["TOML nested too deeply"]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(str(p), [f"not UTF-8 at byte {exc.start}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(p), [f"TOML syntax error: {exc}"]) from None
    settings = parse_settings(data, str(p))
    base = p.parent
    # Relative paths in the file are relative to the file, not to the working directory.
    cal = settings.calendar
    if cal.overrides is not None and not cal.overrides.is_absolute():
        settings = settings.model_copy(update={"calendar": cal.model_copy(update={"overrides": base / cal.overrides})})
    nt = settings.notices
    if nt.templates_dir is not None and not nt.templates_dir.is_absolute():
        settings = settings.model_copy(update={"notices": nt.model_copy(update={"templates_dir": base / nt.templates_dir})})
    local = settings.metrics.local
    if local.dir and not Path(local.dir).is_absolute():
        settings = settings.model_copy(update={"metrics": settings.metrics.model_copy(
            update={"local": local.model_copy(update={"dir": str(base / local.dir)})})})
    inv = settings.inventory
    if inv.csv is not None and not inv.csv.is_absolute():
        settings = settings.model_copy(update={"inventory": inv.model_copy(update={"csv": base / inv.csv})})
    cat = settings.catalogue
    if cat.file is not None and not cat.file.is_absolute():
        settings = settings.model_copy(update={"catalogue": cat.model_copy(update={"file": base / cat.file})})
    return settings
