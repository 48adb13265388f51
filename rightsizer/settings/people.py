"""Who is told what: the notices' wording and deadlines, the departments' channels, finance's reports and the
evaluation rubric. Read by the notices, the outbox and the reports."""

from __future__ import annotations

from pathlib import Path

from typing import Literal

from pydantic import Field, field_validator, model_validator

from .base import _Model


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
