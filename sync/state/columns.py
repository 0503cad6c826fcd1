"""Portable column types: timezone-aware UTC datetimes and JSON that round-trips exactly on every backend."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """`value` converted to UTC; naive datetimes are refused because their zone is a guess."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()} given; pass a timezone-aware datetime")
    return value.astimezone(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A datetime stored as UTC and always read back timezone-aware (UTC).

    PostgreSQL keeps the zone (`timestamptz`); SQLite has no zone support, so the value is stored as naive
    UTC text, which also keeps lexical order equal to time order there.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        utc = as_utc(value)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class PortableJSON(TypeDecorator[Any]):
    """`sqlalchemy.JSON`, except that SQLite gets a TEXT column.

    SQLite gives a column declared `JSON` NUMERIC affinity, which turns a stored top-level `1.0` into the
    integer `1`; TEXT affinity keeps the document exactly as written. PostgreSQL keeps its `json` type.
    Python `None` is stored as JSON `null` (a column's SQL NULL also reads back as `None`).
    """

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Text())
        return dialect.type_descriptor(JSON(none_as_null=False))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            # allow_nan=False: NaN is not JSON, and PostgreSQL would refuse it; fail the same way here.
            return json.dumps(value, allow_nan=False)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return None if value is None else json.loads(value)
        return value


def json_type() -> PortableJSON:
    """The JSON column type of every table."""
    return PortableJSON()


JSONValue = Any
"""Anything `json.dumps` accepts: dicts, lists, strings, numbers, booleans and `None`."""
