"""Column types for times and money, the same on SQLite and PostgreSQL.

* :class:`Instant` — a point in time. PostgreSQL: ``timestamp with time zone``; SQLite
  (no such type): UTC text of one fixed width (``2026-10-08 01:00:00.000000``), so the
  database orders and compares instants correctly whatever offset they were written with
  (ISO strings with offsets do not: ``09:00+08:00`` sorts after ``02:00+00:00``).
  It takes an aware ``datetime`` or ISO 8601 text *with* an offset (a naive time is an
  error, never a guess) and gives back an aware ``datetime`` in UTC: the application turns
  it into the settings' zone only where it prints or renders (:mod:`rightsizer.format`).
* :class:`Money` — CNY. PostgreSQL: ``NUMERIC(14,2)``; SQLite: the exact decimal as text.
  Takes a ``Decimal``, int or decimal text; gives back a ``Decimal`` with two places,
  never a float.
* :class:`Day` — a calendar date: ``DATE``; a ``date`` (or ISO text) in, a ``date`` out.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

def to_utc(value) -> datetime | None:
    """An aware datetime or ISO text with an offset, as an aware UTC datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise TypeError(f"a time column takes a datetime or ISO text, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"a naive time ({value.isoformat()}) has no offset: the store keeps instants only")
    return value.astimezone(timezone.utc)


class Instant(sa.types.TypeDecorator):
    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.TIMESTAMP(timezone=True))
        return dialect.type_descriptor(sa.DateTime())

    def process_bind_param(self, value, dialect):
        utc = to_utc(value)
        if utc is None or dialect.name == "postgresql":
            return utc
        return utc.replace(tzinfo=None)  # SQLite: naive UTC, stored at one width by SQLAlchemy

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, str):  # a row written before the migration and not converted: fail loudly
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Money(sa.types.TypeDecorator):
    impl = sa.Numeric(14, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "postgresql":
            return dialect.type_descriptor(sa.Numeric(14, 2, asdecimal=True))
        return dialect.type_descriptor(sa.String(32))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        try:
            amount = Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        except InvalidOperation:
            raise ValueError(f"not an amount of money: {value!r}") from None
        return amount if dialect.name == "postgresql" else str(amount)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return Decimal(str(value)).quantize(Decimal("0.01"))


class Day(sa.types.TypeDecorator):
    """A calendar date (a due date, the last day of an exemption): ``DATE``; a ``date`` out."""
    impl = sa.Date
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None or value == "":
            return None
        return date.fromisoformat(value) if isinstance(value, str) else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value if isinstance(value, date) else date.fromisoformat(str(value))
