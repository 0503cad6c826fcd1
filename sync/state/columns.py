"""Portable column types: timezone-aware UTC datetimes and JSON that round-trips exactly on every backend.

On SQLite both types bind and read through fast paths (the cycle stores and reads hundreds of thousands of
values); each fast path handles only the inputs it provably treats like the general path, and hands
everything else to the general path, so what is stored and read back does not depend on which one ran.

The bottom half runs a statement over rows given column by column (`Columns`): a value shared by every row
(the CRM, `now`, a state) is given and converted once, and on SQLite each column's values go through their
type's processor in one pass before the driver's executemany, instead of a dictionary built and converted
per row.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import repeat
from operator import is_
from typing import Any

import orjson
from sqlalchemy import JSON, DateTime, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

# The C scanner `json.loads` ends up in, called directly (its Python wrapper costs more than a short scan).
_SCAN: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
_SQLITE_DATETIME_LENGTH = len("2025-03-01 12:00:00.000000")
# Top-level types orjson writes exactly as `json.dumps` means them, so its output needs no second look.
_PLAIN_SCALARS = frozenset({str, int, bool, type(None)})


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """`value` converted to UTC; naive datetimes are refused because their zone is a guess."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()} given; pass a timezone-aware datetime")
    return value.astimezone(UTC)


class EncodedJSON(str):
    """JSON text written already (by a JSON encoder, from a value `json_text` would accept), stored as is.

    The pull spools each raw record as JSON; handing the commit that text instead of the decoded record
    saves decoding it and encoding it again (with `json_text`'s check) for every one of ~800k records.
    """

    __slots__ = ()


class UTCText(str):
    """A UTC time written already as the text SQLite stores for it ("YYYY-MM-DD HH:MM:SS.ffffff").

    The pull spools each record's stamp this way: SQLite stores the text as is, so the commit neither
    parses ~800k stamps into datetimes nor formats them back; other backends bind the time it names.
    """

    __slots__ = ()

    @classmethod
    def of(cls, value: datetime) -> UTCText:
        """`value` (timezone-aware) as the text; naive datetimes are refused, as `as_utc` refuses them."""
        return cls(as_utc(value).isoformat(" ", "microseconds")[:_SQLITE_DATETIME_LENGTH])

    def to_datetime(self) -> datetime:
        """The time the text names, timezone-aware in UTC."""
        return datetime.fromisoformat(self + "+00:00")


def json_text(value: Any) -> str:
    """`value` as JSON text, accepting and refusing exactly what `json.dumps(value, allow_nan=False)` does.

    NaN and infinities are refused (ValueError): they are not JSON, PostgreSQL refuses them, and storing
    them as `null` would silently turn a number into "unknown". Datetimes, UUIDs, enums, numpy scalars and
    other non-JSON objects are refused (TypeError) rather than stored as something that reads back as a
    different type; dict keys that are not strings become strings, as the standard library makes them.

    orjson writes the common case; its output is kept only when reading it back gives `value` again (which
    catches NaN, which orjson writes as `null`, and the types orjson serialises but the standard library
    refuses); anything else goes to the standard library, which either writes it or raises as it always did.
    """
    if type(value) is EncodedJSON:
        return str(value)
    try:
        out = orjson.dumps(value, option=orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS)
    except TypeError:  # non-str keys, integers beyond 64 bits, lone surrogates, unknown types
        return json.dumps(value, allow_nan=False)
    if type(value) not in _PLAIN_SCALARS and orjson.loads(out) != value:
        return json.dumps(value, allow_nan=False)
    return out.decode()


# Exact types none of whose values equals a value of another of them (unlike 1, 1.0 and True, which are
# one dictionary key): their repeats in a column can share one encoding.
_MEMO_TYPES = frozenset({str, int, type(None)})


def json_texts(values: Sequence[Any]) -> list[str]:
    """`json_text` of each of `values` (the same texts and errors), each distinct string, integer or None
    encoded once: a ledger or audit column repeats tiers, scores, actions and versions thousands of times,
    and a dictionary lookup costs a third of an encoding."""
    seen: dict[Any, str] = {}
    out: list[str] = []
    append = out.append
    for value in values:
        if type(value) in _MEMO_TYPES:
            text = seen.get(value)
            if text is None:
                text = seen[value] = json_text(value)
            append(text)
        else:
            append(json_text(value))
    return out


def json_value(text: str) -> Any:
    """The value of JSON `text`, exactly as `json.loads` reads it (integers of any size stay integers),
    through the standard library's C scanner without the per-call wrapper of `json.loads`."""
    try:
        value, end = _SCAN(text, 0)
    except StopIteration:  # not JSON at its first character: let json.loads raise its usual error
        return json.loads(text)
    if end != len(text):  # trailing whitespace or garbage: json.loads decides
        return json.loads(text)
    return value


class UTCDateTime(TypeDecorator[datetime]):
    """A datetime stored as UTC and always read back timezone-aware (UTC).

    PostgreSQL keeps the zone (`timestamptz`); SQLite has no zone support, so the value is stored as naive
    UTC text, which also keeps lexical order equal to time order there.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | UTCText | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        utc = value.to_datetime() if isinstance(value, UTCText) else as_utc(value)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        general = super().bind_processor(dialect)
        if dialect.name != "sqlite" or general is None:
            return general
        slow = general

        def bind(value: Any) -> Any:
            # A plain datetime already in UTC: SQLAlchemy's SQLite text, written directly.
            if type(value) is datetime and value.tzinfo is UTC:
                return value.isoformat(" ", "microseconds")[:_SQLITE_DATETIME_LENGTH]
            if type(value) is UTCText:
                return str(value)
            return slow(value)

        return bind

    def result_processor(self, dialect: Dialect, coltype: Any) -> Callable[[Any], Any] | None:
        general = super().result_processor(dialect, coltype)
        if dialect.name != "sqlite" or general is None:
            return general
        slow = general

        def read(value: Any) -> Any:
            # The text `bind` writes ("YYYY-MM-DD HH:MM:SS.ffffff"); any other shape takes the general path.
            if type(value) is str and len(value) == _SQLITE_DATETIME_LENGTH and value[10] == " ":
                # The offset in the text rather than `.replace(tzinfo=UTC)`, which costs several times more.
                return datetime.fromisoformat(value + "+00:00")
            return slow(value)

        return read


class PortableJSON(TypeDecorator[Any]):
    """`sqlalchemy.JSON`, except that SQLite gets a TEXT column.

    SQLite gives a column declared `JSON` NUMERIC affinity, which turns a stored top-level `1.0` into the
    integer `1`; TEXT affinity keeps the document exactly as written. PostgreSQL keeps its `json` type.
    Python `None` is stored as JSON `null` (a column's SQL NULL also reads back as `None`). On SQLite the
    text is written by `json_text` and read by `json_value` (what a value may be: see `json_text`).
    """

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Text())
        return dialect.type_descriptor(JSON(none_as_null=False))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return json_text(value)
        if type(value) is EncodedJSON:
            return json_value(value)  # the backend's JSON type encodes values, not text
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return None if value is None else json_value(value)
        return value

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        if dialect.name == "sqlite" and self.impl_instance.bind_processor(dialect) is None:
            return json_text  # skip the generic wrapper: TEXT needs no further processing
        return super().bind_processor(dialect)

    def result_processor(self, dialect: Dialect, coltype: Any) -> Callable[[Any], Any] | None:
        if dialect.name == "sqlite" and self.impl_instance.result_processor(dialect, coltype) is None:
            return _read_sqlite_json
        return super().result_processor(dialect, coltype)


def _read_sqlite_json(value: Any) -> Any:
    # `json_value` inlined, with SQL NULL as None: this runs once per JSON cell read.
    if value is None:
        return None
    try:
        result, end = _SCAN(value, 0)
    except StopIteration:
        return json.loads(value)
    return result if end == len(value) else json.loads(value)


def json_type() -> PortableJSON:
    """The JSON column type of every table."""
    return PortableJSON()


JSONValue = Any
"""Anything `json.dumps` accepts: dicts, lists, strings, numbers, booleans and `None`."""


# ---- column-wise execution ------------------------------------------------------------------------

# Columns that name the record a value that cannot be stored belongs to, in the error.
_RECORD_KEYS = ("record_id", "b_record_id", "lead_id", "idempotency_key")


@dataclass(frozen=True, slots=True)
class Same:
    """A column whose value is the same in every row."""

    value: Any


Columns = dict[str, "list[Any] | Same"]
"""Rows of a statement, column by column: every list as long as the others."""
Plan = list[tuple[str | None, Callable[[Any], Any] | None, Any]]


def positional_plan(compiled: Any, statement: Any, names: Sequence[str]) -> Plan | None:
    """For each `?` of a compiled SQLite statement: the column name and the bind's type processor, or (for
    a constant the statement carries) its processed value. None when a bind is neither (a column default
    or onupdate SQLAlchemy would compute per row): the caller then lets SQLAlchemy execute it."""
    order = compiled.positiontup
    if order is None:
        return None
    table = statement.table
    if any(c.onupdate is not None for c in table.c) and statement.is_update:
        return None
    wanted = set(names)
    dialect = compiled.dialect
    plan: Plan = []
    for name in order:
        bind = compiled.binds[name]
        convert = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if name in wanted:
            plan.append((name, convert, None))
        elif statement.is_update and not bind.required and bind.callable is None:
            value = bind.effective_value
            plan.append((None, None, value if convert is None else convert(value)))
        else:
            return None
    if statement.is_insert and set(order) != wanted:
        return None
    return plan


def _converted(
    values: list[Any], convert: Callable[[Any], Any], table: str, name: str, columns: Columns, start: int
) -> list[Any]:
    """`values` through `convert`; a value that cannot be stored raises naming its column and record."""
    first = values[0]
    try:
        if all(map(is_, values, repeat(first))):  # one object in every row (`now`, None): convert it once
            return [convert(first)] * len(values)
        if convert is json_text:
            return json_texts(values)
        return list(map(convert, values))
    except (TypeError, ValueError) as exc:
        for offset, value in enumerate(values):
            try:
                convert(value)
            except (TypeError, ValueError):
                row = start + offset
                break
        else:  # pragma: no cover - the whole-column pass failed, so one value must
            raise
        record = next(
            (f" ({key} {_cell(columns[key], row)!r})" for key in _RECORD_KEYS if key in columns), ""
        )
        raise type(exc)(f"{table}.{name} of row {row}{record} cannot be stored: {exc}") from exc


def _cell(column: list[Any] | Same, row: int) -> Any:
    return column.value if isinstance(column, Same) else column[row]


def positional_params(
    plan: Plan, columns: Columns, table: str, start: int, stop: int
) -> list[tuple[Any, ...]]:
    """The driver parameters of rows `start:stop`, built one column at a time."""
    count = stop - start
    done: dict[tuple[str, int], list[Any]] = {}  # a name bound twice (a SET and a WHERE) converts once
    out: list[list[Any]] = []
    for name, convert, constant in plan:
        if name is None:
            out.append([constant] * count)
            continue
        key = (name, id(convert))
        if key not in done:
            source = columns[name]
            if isinstance(source, Same):
                value = source.value if convert is None else convert(source.value)
                done[key] = [value] * count
            else:
                values = source[start:stop]
                done[key] = (
                    values if convert is None else _converted(values, convert, table, name, columns, start)
                )
        out.append(done[key])
    return list(zip(*out, strict=True))


def dict_rows(columns: Columns, count: int) -> list[dict[str, Any]]:
    """The rows of `columns` as dictionaries (what a Core executemany takes)."""
    names = list(columns)
    series = [
        repeat(column.value, count) if isinstance(column, Same) else column for column in columns.values()
    ]
    return [dict(zip(names, row, strict=True)) for row in zip(*series, strict=True)]
