"""Configuration: one TOML file validated by pydantic v2 models (``extra="forbid"``).

Every key has a default, so an empty file is valid; ``config/rightsizer.example.toml``
lists them all. A typo is an error with its key path, never a silent default.
"""

from __future__ import annotations

import re
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator, model_validator

# Plugin settings are pydantic-only modules: loading a configuration never loads plugin code.
import collectors
import notifiers
from collectors.config import OpenStackSettings

from .crontab import cron_fields
from .errors import ConfigError
from .secrets import SecretRef, legacy_secret, url_has_password

__all__ = ["ConfigError", "Settings", "load_settings", "parse_settings"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)  # a secret may be the input


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


class WindowSettings(_Model):
    days: int = Field(30, ge=1, le=400)
    step_seconds: int = Field(300, ge=10, le=3600)
    coverage_min: float = Field(0.8, gt=0, le=1)
    min_days_of_data: float = Field(7, ge=0)
    cpu_quantile: float = Field(0.95, gt=0, le=1)
    memory_peak_quantile: float = Field(0.9, gt=0, le=1)


class ShrinkSettings(_Model):
    mode: Literal["any", "all"] = "any"
    cpu_p95_max_pct: float = Field(25, ge=0, le=100)  # 未超过25%: at or below
    memory_peak_max_pct: float = Field(30, ge=0, le=100)  # 未超过30%: at or below
    disk_used_below_pct: float = Field(50, ge=0, le=100)  # 不到50%: strictly below


class ExpandSettings(_Model):
    above_pct: float = Field(75, ge=0, le=100)  # 超过75%: strictly above


class ReleaseSettings(_Model):
    cpu_p95_below_pct: float = Field(3, ge=0, le=100)
    days: int = Field(14, ge=1)


class UndeployedSettings(_Model):
    workdays: int = Field(10, ge=1)
    # "No workload": CPU p95 since delivery below this.
    workload_cpu_p95_below_pct: float = Field(3, ge=0, le=100)


class Flavor(_Model):
    name: str
    vcpus: int = Field(ge=1)
    ram_gib: float = Field(gt=0)
    disk_gib: float = Field(0, ge=0)


class SizingSettings(_Model):
    target_pct: float = Field(60, gt=0, le=100)
    memory_headroom: float = Field(1.15, ge=1)
    min_vcpus: int = Field(1, ge=1)
    min_ram_gib: float = Field(1, gt=0)
    min_disk_gib: float = Field(1, gt=0)
    flavors: list[Flavor] = []


class PolicySettings(_Model):
    shrink: ShrinkSettings = ShrinkSettings()
    expand: ExpandSettings = ExpandSettings()
    release: ReleaseSettings = ReleaseSettings()
    undeployed: UndeployedSettings = UndeployedSettings()


class PriceSettings(_Model):
    """Monthly price list in CNY. The defaults are placeholders: set the centre's contract prices."""

    cny_per_vcpu_month: Decimal = Field(Decimal("60"), ge=0)
    cny_per_ram_gib_month: Decimal = Field(Decimal("30"), ge=0)
    cny_per_disk_gib_month: Decimal = Field(Decimal("0.5"), ge=0)


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


class NoticeSettings(_Model):
    """Rectification notices (整改通知): numbering, deadlines and wording."""

    # 文号: prefix, year and a zero-padded sequence that is never reused, e.g. 平大数据调〔2026〕12号
    prefix: str = "平大数据调"
    number_format: str = "{prefix}〔{year}〕{seq}号"
    sender: str = "平度市大数据发展中心"
    regulation: str = "《平度市电子政务和政务数据管理办法》"
    article: str = "第十三条"
    contact: str = ""
    # Link to where a department reads the full notice (IM messages are cut to the platform limit).
    link_base: str = ""
    # A directory with the centre's own notice.txt.j2 / notice.md.j2 / notice.html.j2 (any of them);
    # the built-in Chinese templates are used for the rest. Relative to the configuration file.
    templates_dir: Path | None = None
    # The department adjusts within this many working days of receiving the notice.
    workdays_to_rectify: int = Field(10, ge=1, le=60)
    reminder_workdays_before: int = Field(3, ge=0, le=30)
    kinds: list[Literal["shrink", "expand", "release", "undeployed", "unregistered"]] = [
        "shrink", "expand", "release", "undeployed", "unregistered"]
    # Channels (names of [[notifiers]]) for the centre's copy of every notice, escalations and operator alerts.
    cc_channels: list[str] = []
    escalation_channels: list[str] = []
    operator_channels: list[str] = []
    # Outbox relay.
    max_attempts: int = Field(8, ge=1, le=100)
    lease_seconds: int = Field(300, ge=10)
    backoff_base_seconds: float = Field(30, gt=0)
    backoff_max_seconds: float = Field(3600, gt=0)

    @field_validator("number_format")
    @classmethod
    def _format(cls, v: str) -> str:
        try:
            one, two = v.format(prefix="p", year=2026, seq=1), v.format(prefix="p", year=2026, seq=2)
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"uses only {{prefix}}, {{year}} and {{seq}}: {exc}") from None
        if one == two or v.format(prefix="p", year=2026, seq=1) == v.format(prefix="p", year=2027, seq=1):
            # without the sequence (or the year) two notices get one number and every sweep fails
            raise ValueError("needs {seq} and {year}, so that every notice gets its own number")
        return v


class DepartmentContacts(_Model):
    """Where a department's notices go: its own channels only (plus the centre's cc)."""

    channels: list[str] = []
    emails: list[str] = []
    # The department's head, for escalations of overdue notices.
    head_emails: list[str] = []


class ReportSettings(_Model):
    """[reports]: where the daemon sends finance the monthly report, on the month's first working day."""

    channels: list[str] = []  # notifier names: email carries the xlsx; IM a summary and the link
    emails: list[str] = []  # finance's addresses, for the email channels among them
    link_base: str = ""  # the console's address: the IM link is {link_base}/reports/monthly?month=YYYY-MM


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


class EvaluationWeights(_Model):
    waste_rate: float = Field(30, ge=0)  # waste as a share of cost, over the period
    rectified_in_time: float = Field(40, ge=0)  # notices closed by their deadline ÷ those closed or overdue
    overdue: float = Field(15, ge=0)  # notices gone overdue
    unregistered: float = Field(15, ge=0)  # unregistered systems


class EvaluationSettings(_Model):
    """[evaluation]: the 绩效评价 rubric. Each indicator earns a share of its weight from its bands (the
    first band whose bound the value does not exceed; beyond the last, nothing); the score is out of 100."""

    weights: EvaluationWeights = EvaluationWeights()
    waste_rate_bands: list[Band] = [(0.05, 1.0), (0.15, 0.6), (0.30, 0.3)]
    overdue_bands: list[Band] = [(0, 1.0), (1, 0.6), (3, 0.3)]
    unregistered_bands: list[Band] = [(0, 1.0), (1, 0.6), (3, 0.3)]
    grades: list[tuple[float, str]] = [(90, "优秀"), (75, "良好"), (60, "合格"), (0, "不合格")]  # score at least

    @field_validator("waste_rate_bands", "overdue_bands", "unregistered_bands")
    @classmethod
    def _bands(cls, v: list[Band]) -> list[Band]:
        if not v or any(b[0] >= a[0] for a, b in zip(v[1:], v)) or any(not 0 <= p <= 1 for _, p in v):
            raise ValueError("bands are (bound, share) with bounds strictly rising and shares in 0..1")
        return v

    @field_validator("grades")
    @classmethod
    def _grades(cls, v: list[tuple[float, str]]) -> list[tuple[float, str]]:
        if not v or any(b[0] >= a[0] for a, b in zip(v, v[1:])) or v[-1][0] != 0:
            raise ValueError("grades are (lowest score, name) from the highest down to a last one at 0")
        return v

    @model_validator(mode="after")
    def _some_weight(self) -> EvaluationSettings:
        if not sum(self.weights.model_dump().values()):
            raise ValueError("weights: at least one must be above 0")
        return self


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
