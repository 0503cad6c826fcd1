"""Columns of a batch in the shapes compiled expressions work on, converted once per batch.

Numbers are float64 with NaN for missing; dates are float64 days since 1970-01-01 UTC (so comparing and
subtracting them is arithmetic); booleans are `Flags`; text is `Texts`, factorised so that an operation
on text runs once per distinct value and is then spread over the batch by indexing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd

from mappings.config.features import normalise_category
from scoring.policy.schema import Kind

FloatArray: TypeAlias = npt.NDArray[np.float64]
BoolArray: TypeAlias = npt.NDArray[np.bool_]
CodeArray: TypeAlias = npt.NDArray[np.intp]
ObjectArray: TypeAlias = npt.NDArray[np.object_]
Frame: TypeAlias = pd.DataFrame | Mapping[str, Any]
"""A batch: a DataFrame, or a mapping of column name to array-like, one row per lead."""

_EPOCH = pd.Timestamp("1970-01-01", tz="UTC")
_DAY = pd.Timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Flags:
    """Booleans over a batch. `values` is False wherever `null` is True (a missing boolean reads false)."""

    values: BoolArray
    null: BoolArray | None = None

    def known(self) -> BoolArray:
        """Where the value is not missing."""
        return ~self.null if self.null is not None else np.ones(len(self.values), dtype=bool)


@dataclass(frozen=True, slots=True)
class Texts:
    """Text over a batch: `codes` index the normalised `categories`; -1 is missing."""

    codes: CodeArray
    categories: ObjectArray

    def spread(self, per_category: BoolArray) -> BoolArray:
        """A per-category truth spread over the batch; missing values read false."""
        # Code -1 picks the appended False.
        return np.append(per_category, False)[self.codes]

    def objects(self) -> ObjectArray:
        """One Python string (or None) per row."""
        with_missing = np.append(self.categories, np.array([None], dtype=object))
        return np.asarray(with_missing[self.codes], dtype=object)


Value: TypeAlias = FloatArray | Flags | Texts


def days_since_epoch(moment: datetime) -> float:
    """A datetime as days since 1970-01-01 UTC (naive datetimes are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() / 86400.0


def texts_from(values: Any) -> Texts:
    """Factorise strings, normalising case and whitespace so that comparisons ignore both."""
    series = values if isinstance(values, pd.Series) else pd.Series(values, dtype=object)
    raw_codes, uniques = pd.factorize(series, use_na_sentinel=True)
    normalised = [normalise_category(str(value)) for value in uniques]
    merged, categories = pd.factorize(pd.Series(normalised, dtype=object))
    codes = np.append(merged, -1)[raw_codes].astype(np.intp)
    return Texts(codes, np.asarray(categories, dtype=object))


class Batch:
    """One batch of leads, converting each column on first use and keeping it for the other rules."""

    def __init__(self, frame: Frame, now: datetime) -> None:
        self.frame = frame
        self.rows = _length(frame)
        self.now_days = days_since_epoch(now)
        self._cache: dict[tuple[str, Kind], Value] = {}
        self._derived: set[str] = set()

    def has(self, name: str) -> bool:
        """Whether the frame has a column `name` (or it was `put`)."""
        return name in self._derived or name in self.frame

    def value(self, name: str, kind: Kind) -> Value:
        """Column `name` as `kind`; raises KeyError naming the column when the frame lacks it."""
        key = (name, kind)
        if key not in self._cache:
            if not self.has(name):
                raise KeyError(f"the batch has no column {name!r}, which a policy expression uses")
            self._cache[key] = _convert(self.frame[name], kind)
        return self._cache[key]

    def put(self, name: str, kind: Kind, value: Value) -> None:
        """Make `name` read as `value` from now on (derived columns: decayed score, tier, segment)."""
        self._cache = {key: v for key, v in self._cache.items() if key[0] != name}
        self._cache[(name, kind)] = value
        self._derived.add(name)

    def number(self, name: str) -> FloatArray:
        """A number (or date) column as float64."""
        value = self.value(name, Kind.NUMBER)
        assert isinstance(value, np.ndarray)
        return value


def _length(frame: Frame) -> int:
    if isinstance(frame, pd.DataFrame):
        return len(frame)
    return len(next(iter(frame.values()))) if frame else 0


def _series(values: Any) -> pd.Series[Any]:
    return values if isinstance(values, pd.Series) else pd.Series(values)


def _convert(values: Any, kind: Kind) -> Value:
    if kind is Kind.NUMBER:
        if isinstance(values, np.ndarray) and values.dtype.kind in "fiub":
            return values.astype(np.float64, copy=False)
        series = _series(values)
        try:
            return np.asarray(series.to_numpy(dtype=np.float64, na_value=np.nan))
        except (TypeError, ValueError):
            # Text among the numbers: unreadable values count as missing.
            numbers = pd.to_numeric(series, errors="coerce")
            return np.asarray(numbers.to_numpy(dtype=np.float64, na_value=np.nan))
    if kind is Kind.DATETIME:
        moments = pd.to_datetime(_series(values), utc=True, errors="coerce")
        days = (moments - _EPOCH) / _DAY
        return np.asarray(days.to_numpy(dtype=np.float64, na_value=np.nan))
    if kind is Kind.BOOLEAN:
        if isinstance(values, np.ndarray) and values.dtype == np.bool_:
            return Flags(values)
        series = _series(values)
        null = np.asarray(series.isna().to_numpy(dtype=bool))
        truth = np.asarray(series.where(~null, False).astype(bool).to_numpy(dtype=bool))
        return Flags(truth & ~null, null if null.any() else None)
    return texts_from(values)
