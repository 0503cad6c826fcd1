"""How HubSpot search compares property values, as SQL functions on the sandbox's SQLite connection.

Property values live as strings in each record's `props` JSON; searches compare them through these functions,
which the store registers on its connection when it opens: an index on a folded property value (see
`sandbox.hubspot.filters`) calls them on every write, not only in searches.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_epoch_ms(value: object) -> int | None:
    """Epoch milliseconds of an epoch-ms number/string or an ISO 8601 date or datetime; None if neither."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value)
    text = str(value).strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    # integer arithmetic: float seconds x 1000 can land one millisecond short
    return (t - _EPOCH) // timedelta(milliseconds=1)


def to_number(value: object) -> float | None:
    """A property value as a number, None when it is not one."""
    if value is None or isinstance(value, bool):
        return None
    try:
        n = float(str(value).strip())
    except ValueError:
        return None
    return n if n == n else None  # NaN never compares


def fold(value: object) -> str | None:
    """A value lower-cased for case-insensitive comparison."""
    return None if value is None else str(value).lower()


def has_value(value: object) -> bool:
    return value is not None and str(value) != ""


def contains_token(value: object, pattern: object) -> bool:
    """CONTAINS_TOKEN: the pattern (with `*` wildcards) matches a token or a run of tokens, case-insensitively."""
    if value is None or pattern is None:
        return False
    words = str(pattern).lower().split()
    if not words:
        return False
    rx = re.compile(".*".join(re.escape(part) for part in " ".join(words).split("*")), re.DOTALL)
    tokens = str(value).lower().split()
    n = len(words)
    return any(rx.fullmatch(" ".join(tokens[i : i + n])) for i in range(len(tokens) - n + 1))


_FUNCTIONS: dict[str, tuple[int, Callable[..., Any]]] = {
    "hs_num": (1, to_number),
    "hs_ms": (1, to_epoch_ms),
    "hs_fold": (1, fold),
    "hs_text": (1, lambda v: None if v is None else str(v)),
    "hs_has": (1, lambda v: int(has_value(v))),
    "hs_token": (2, lambda v, p: int(contains_token(v, p))),
}


def register(conn: sqlite3.Connection) -> None:
    """Make the comparison functions available to SQL (and to indexes) on `conn`."""
    for name, (arity, fn) in _FUNCTIONS.items():
        conn.create_function(name, arity, fn, deterministic=True)
