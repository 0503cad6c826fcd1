"""Reading one feature's raw CRM values and encoding them as a model-ready column.

The readers take what mapped records hold (None, numbers, booleans, strings, dates, and the odd stray
type) and say whether a value is there and what it is as a number, a yes/no, an age in days or a text;
`encode_column` turns a feature's values into its column the way `scoring.features` lays the frame out:
floats with NaN for missing, booleans 0/1, dates as ages in days, categories and free text as pandas
`category` matched by folded spelling (`categorical`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Literal, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd

from mappings import FeatureSpec

__all__ = ["ColumnKind", "categorical", "encode_column", "is_missing", "number_value", "presence"]

_T = TypeVar("_T")
ColumnKind = Literal["number", "category", "boolean", "date"]
"""How a column is encoded: `date` columns hold ages in days; text features become `category`."""

_MAX_TEXT = 100
_TRUE = frozenset({"true", "yes", "y", "1", "on", "t"})
_FALSE = frozenset({"false", "no", "n", "0", "off", "f"})


def presence(values: Sequence[object]) -> list[bool]:
    """`not is_missing(v)` for each value; None, plain strings, floats and booleans (nearly every value) inline."""
    return [
        v is not None
        and (
            v.strip() != ""
            if type(v) is str
            else v == v  # only NaN differs from itself
            if type(v) is float
            else type(v) is bool or not is_missing(v)
        )
        for v in values
    ]


def encode_column(
    spec: FeatureSpec,
    values: Sequence[object],
    now: datetime,
    frozen: tuple[str, ...] | None,
    max_categories: int,
) -> tuple[ColumnKind, npt.NDArray[np.float64] | pd.Categorical[str]]:
    """One feature's column, in the order of `values`, and how it is encoded.

    A category or text column takes the categories `frozen` (a schema's), else those `values` show:
    the spec's configured ones first, then the most frequent others, `max_categories` in all.
    Each branch reads the values mapped records hold (None, plain floats, booleans and strings) inline
    and leaves anything else to the general reader: a function call per value per feature was most of
    the cost of a 100k-lead frame.
    """
    if spec.type in ("category", "text"):
        text_of = _Memo(_text)  # strings repeat heavily (sources, countries, titles)
        texts = [text_of[v] if type(v) is str else _text(v) for v in values]
        categories = frozen if frozen is not None else _categories(spec, texts, max_categories)
        return "category", categorical(texts, categories)
    if spec.type == "boolean":
        return "boolean", _floats([1.0 if v is True else 0.0 if v is False else _boolean(v) for v in values])
    if spec.type == "date":
        return "date", _floats([math.nan if v is None else _age_days(v, now) for v in values])
    numbers = [(v if math.isfinite(v) else math.nan) if type(v) is float else number_value(v) for v in values]
    return "number", _floats(numbers)


def _floats(values: list[float]) -> npt.NDArray[np.float64]:
    return np.array(values, dtype=np.float64)


class _Memo(dict[str, _T]):
    """Answers of a pure function of a string, each computed once, on first use."""

    __slots__ = ("_compute",)

    def __init__(self, compute: Callable[[str], _T]) -> None:
        super().__init__()
        self._compute = compute

    def __missing__(self, key: str) -> _T:
        value = self[key] = self._compute(key)
        return value


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


def _categories(spec: FeatureSpec, texts: list[str | None], max_categories: int) -> tuple[str, ...]:
    """Config order first (categories, then mapped values), then the most frequent others, sorted."""
    configured = list(dict.fromkeys([*spec.categories, *spec.values.values()]))
    known = {_key(c) for c in configured}
    spelled: dict[str, str] = {}
    counts: Counter[str] = Counter()
    # Each distinct text is folded once, however many leads share it.
    for text, seen in Counter(texts).items():
        if text is None:
            continue
        key = _key(text)
        if key not in known:
            spelled[key] = min(spelled.get(key, text), text)
            counts[key] += seen
    room = max(max_categories - len(configured), 0)
    extra = sorted(counts, key=lambda key: (-counts[key], key))[:room]
    return (*configured[:max_categories], *sorted(spelled[key] for key in extra))


def categorical(values: Sequence[object], categories: Sequence[str]) -> pd.Categorical[str]:
    """`values` as `categories`, matched by folded spelling (anything else is missing)."""
    unique = list(dict.fromkeys(categories))
    position = {category: code for code, category in enumerate(unique)}
    # Of two categories folding alike, the later one wins.
    code_of_key = {_key(category): position[category] for category in categories}
    code_of = _Memo(lambda text: code_of_key.get(_key(text), -1))
    codes = np.array(
        [code_of[v] if type(v) is str or isinstance(v, str) else -1 for v in values], dtype=np.int64
    )
    dtype: pd.CategoricalDtype[str] = pd.CategoricalDtype(unique)
    return pd.Categorical.from_codes(codes, dtype=dtype)


def is_missing(value: object) -> bool:
    """Whether a raw value counts as not set: None, NaN, or blank text."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return isinstance(value, str) and not value.strip()


def _text(value: object) -> str | None:
    if is_missing(value) or isinstance(value, datetime | date):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = " ".join(str(value).split())[:_MAX_TEXT]
    return text or None


def number_value(value: object) -> float:
    """A raw value as a finite float ("1,200" reads as 1200), NaN when it is not a number."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.replace(",", "").strip())
        except ValueError:
            return math.nan
    else:
        return math.nan
    return number if math.isfinite(number) else math.nan


def _boolean(value: object) -> float:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return math.nan if is_missing(value) else float(value != 0)
    if isinstance(value, str):
        key = value.strip().casefold()
        return 1.0 if key in _TRUE else 0.0 if key in _FALSE else math.nan
    return math.nan


def _age_days(value: object, now: datetime) -> float:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            return math.nan
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=UTC)
    if not isinstance(value, datetime):
        return math.nan
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (now - value).total_seconds() / 86_400
