"""The parsed form of a SOQL query: plain frozen dataclasses, positions kept for error messages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal as TypingLiteral

ValueKind = TypingLiteral["string", "number", "boolean", "null", "date", "datetime", "date_keyword"]


@dataclass(frozen=True)
class Path:
    """A dotted field reference as written (`Account.Name`); `pos` is its offset in the query text."""

    parts: tuple[str, ...]
    pos: int

    @property
    def text(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True)
class Value:
    """A literal. `value` is typed by `kind`: str, int | float, bool, None, date, datetime (UTC), or for a
    date keyword the upper-cased keyword with its `n` (`("LAST_N_DAYS", 5)`). `raw` is the text as written
    (string literals keep their escapes, which LIKE needs to tell `\\%` from `%`)."""

    kind: ValueKind
    value: str | int | float | bool | date | datetime | tuple[str, int | None] | None
    raw: str
    pos: int


@dataclass(frozen=True)
class SelectField:
    path: Path
    alias: str | None = None


@dataclass(frozen=True)
class SelectCount:
    """`COUNT()`: only the number of matching rows."""

    pos: int


@dataclass(frozen=True)
class SelectCountField:
    """`COUNT(field)`: an aggregate, answered as one AggregateResult record."""

    path: Path
    alias: str | None
    pos: int


@dataclass(frozen=True)
class SelectFields:
    """`FIELDS(ALL | STANDARD | CUSTOM)`."""

    kind: str
    pos: int


SelectItem = SelectField | SelectCount | SelectCountField | SelectFields


@dataclass(frozen=True)
class Comparison:
    """`path op value`; op is one of = != < <= > >= LIKE IN NOTIN (`<>` is folded into `!=`)."""

    path: Path
    op: str
    values: tuple[Value, ...]
    pos: int


@dataclass(frozen=True)
class And:
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    item: Condition


Condition = Comparison | And | Or | Not


@dataclass(frozen=True)
class OrderItem:
    path: Path
    descending: bool
    nulls_first: bool | None


@dataclass(frozen=True)
class Query:
    """A whole SELECT statement."""

    select: tuple[SelectItem, ...]
    object_name: str
    object_pos: int
    object_alias: str | None
    where: Condition | None
    order_by: tuple[OrderItem, ...]
    limit: int | None
    offset: int | None
