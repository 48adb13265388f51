"""What the application passes around about notices and the inventory: typed records, read from the store.

The store (:mod:`rightsizer.db`) builds these from its rows, so no code past it handles a row, a
JSON column or a time as text: times are aware ``datetime`` (UTC as read; the zone is applied
where they are printed, :mod:`rightsizer.format`), dates ``date``, money ``Decimal``, states the
enums of :mod:`rightsizer.lifecycle`, and an item holds its :class:`~rightsizer.models.Finding`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from .lifecycle import DeliveryState, ItemState, NoticeState, RequestState
from .models import Finding, Size


@dataclass(frozen=True)
class Notice:
    id: int
    number: str
    department: str
    state: NoticeState
    follows_id: int | None
    issued_at: datetime
    delivered_at: datetime | None
    due_date: date | None  # None: advice only (no deadline), or held (``hold_reason``)
    hold_reason: str | None

    @property
    def is_open(self) -> bool:
        return self.state.is_open

    @property
    def deadline_held(self) -> bool:
        """A deadline the calendar could not yet give (distinct from advice, which has none)."""
        return self.due_date is None and bool(self.hold_reason)


@dataclass(frozen=True)
class NoticeItem:
    id: int
    notice_id: int
    finding_id: int
    server_id: str
    kind: str
    dimension: str | None
    state: ItemState
    closed_at: datetime | None
    realised_saving_cny: Decimal | None  # a verified rectification's saving per month
    evidence: str | None  # what closed it (the inventory change, the exemption, …)
    finding: Finding
    finding_open: bool = True  # the finding is still seen by the evaluations


@dataclass(frozen=True)
class NoticeEvent:
    id: int
    notice_id: int
    at: datetime
    actor: str
    from_state: str | None  # a notice state, or None for the first event
    to_state: str  # a notice state, or an event of its own ("item reopened", "undeliverable")
    note: str  # for the centre
    note_zh: str = ""  # for the department ("" for events before r0012)


@dataclass(frozen=True)
class Answer:
    """A department's answer to one item: done (已整改，待核验) or an objection."""

    id: int
    item_id: int
    kind: str
    note: str
    actor: str
    at: datetime


@dataclass(frozen=True)
class Delivery:
    id: int
    notice_id: int | None  # None for an operator alert
    purpose: str  # notice | cc | reminder | escalation | due-moved | alert
    channel: str
    recipients: tuple[str, ...]
    idempotency_key: str
    message_id: str
    subject: str
    body: dict  # text, markdown, html, link, document (the notice's files are in notice_documents)
    state: DeliveryState
    attempts: int
    next_attempt_at: float  # epoch seconds
    last_error: str
    sent_at: datetime | None
    document_id: int | None = None  # the stored files it attaches (``notice_documents``)


@dataclass(frozen=True)
class Document:
    """A rendered file of a notice, stored once (``notice_documents``): the PDF, the server list."""

    id: int
    notice_id: int | None  # None: a report's file
    kind: str  # pdf | xlsx
    version: int
    name: str
    content: bytes
    sha256: str
    created_at: datetime


@dataclass(frozen=True)
class InventoryChange:
    server_id: str
    change: str  # added | removed | resized
    old_flavor: str | None
    new_flavor: str | None
    old_size: Size | None
    new_size: Size | None
    at: datetime | None = None  # when the sync saw it


@dataclass(frozen=True)
class ExemptionRequest:
    id: int
    department: str
    server_id: str
    reason: str
    until: date
    requested_by: str
    requested_at: datetime
    state: RequestState
    decided_by: str | None
    decided_at: datetime | None
    note: str
    exemption_id: int | None
