"""Population stability: has a scored batch drifted away from the data the model was trained on?

PSI = sum over bins of (actual share - expected share) * ln(actual share / expected share), with every
share floored at `FLOOR` so an empty bin does not make it infinite. Bins come from the training data:

* numeric columns (and the score): up to 10 quantile bins of the training values, plus one bin for
  missing values;
* categorical columns: one bin per training category, one for categories not seen in training, one
  for missing values.

`DriftBaseline.fit` is computed at training time and stored with the model (`to_dict`/`from_dict`);
`drift_report` compares a batch against it with the config's thresholds (`psi_warn`, `psi_alert`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from mappings.config.policy import Drift

__all__ = [
    "FLOOR",
    "SCORE",
    "ColumnDrift",
    "DriftBaseline",
    "DriftCounts",
    "DriftReport",
    "drift_report",
    "psi",
]

FLOOR = 1e-4
SCORE = "score"
"""Name of the score's entry in a baseline and a report."""
_QUANTILES = np.linspace(0.1, 0.9, 9)
Level = Literal["ok", "warn", "alert"]
FloatArray = npt.NDArray[np.float64]


def psi(expected: npt.ArrayLike, actual: npt.ArrayLike, floor: float = FLOOR) -> float:
    """PSI between two share vectors over the same bins (each summing to 1)."""
    e = np.maximum(np.asarray(expected, dtype=np.float64), floor)
    a = np.maximum(np.asarray(actual, dtype=np.float64), floor)
    return float(np.sum((a - e) * np.log(a / e)))


@dataclass(frozen=True, slots=True)
class _Bins:
    kind: Literal["numeric", "categorical"]
    edges: tuple[float, ...] = ()  # numeric: inner cut points
    categories: tuple[str, ...] = ()  # categorical: training categories
    shares: tuple[float, ...] = ()  # expected share per bin

    def counts(self, values: pd.Series) -> FloatArray:
        """Share of `values` per bin (last bins: unseen categories, then missing)."""
        counts = self.tally(values)
        total = counts.sum()
        return counts / total if total else counts

    def tally(self, values: pd.Series) -> FloatArray:
        """How many of `values` fall in each bin (whole numbers, as floats: they add up exactly)."""
        missing = values.isna().to_numpy()
        if self.kind == "numeric":
            numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
            index = np.searchsorted(np.asarray(self.edges), numbers[~missing], side="right")
            counts = np.bincount(index, minlength=len(self.edges) + 1).astype(np.float64)
        else:
            text = values[~missing].astype(str)
            position = {c: i for i, c in enumerate(self.categories)}
            index = np.array([position.get(t, len(self.categories)) for t in text], dtype=np.int64)
            counts = np.bincount(index, minlength=len(self.categories) + 1).astype(np.float64)
        return np.append(counts, float(missing.sum()))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "edges": list(self.edges), "categories": list(self.categories),
                "shares": list(self.shares)}  # fmt: skip


def _fit_bins(values: pd.Series) -> _Bins:
    if isinstance(values.dtype, pd.CategoricalDtype) or values.dtype == object or values.dtype == "string":
        present = values.dropna().astype(str)
        categories = tuple(sorted(set(present)))
        bins = _Bins("categorical", categories=categories)
    else:
        numbers = pd.to_numeric(values, errors="coerce").dropna().to_numpy(dtype=np.float64)
        edges = tuple(float(e) for e in np.unique(np.quantile(numbers, _QUANTILES))) if numbers.size else ()
        bins = _Bins("numeric", edges=edges)
    return _Bins(bins.kind, bins.edges, bins.categories, tuple(float(s) for s in bins.counts(values)))


@dataclass(frozen=True)
class DriftBaseline:
    """Bins and expected shares per column (and for the score), from the training data."""

    bins: Mapping[str, _Bins]

    @classmethod
    def fit(cls, data: pd.DataFrame, scores: npt.ArrayLike | None = None) -> DriftBaseline:
        """Bins of every column of `data` and, when given, of the training scores (0-100)."""
        bins = {str(c): _fit_bins(data[c]) for c in data.columns}
        if scores is not None:
            bins[SCORE] = _fit_bins(pd.Series(np.asarray(scores, dtype=np.float64)))
        return cls(bins)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, stored in the model's metadata."""
        return {name: b.to_dict() for name, b in self.bins.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DriftBaseline:
        """The baseline `to_dict` wrote."""
        return cls(
            {
                name: _Bins(
                    b["kind"], tuple(b["edges"]), tuple(b["categories"]), tuple(float(s) for s in b["shares"])
                )
                for name, b in data.items()
            }
        )


@dataclass(frozen=True, slots=True)
class ColumnDrift:
    """PSI of one column (or of the score) and its level against the thresholds."""

    name: str
    psi: float
    level: Level


@dataclass(frozen=True, slots=True)
class DriftReport:
    """PSI per column and for the score, the worst level, and the thresholds used."""

    columns: tuple[ColumnDrift, ...]
    score: ColumnDrift | None
    warn: float
    alert: float
    rows: int

    @property
    def level(self) -> Level:
        """The worst level of any column or the score."""
        levels = {c.level for c in (*self.columns, *((self.score,) if self.score else ()))}
        return "alert" if "alert" in levels else "warn" if "warn" in levels else "ok"

    def drifted(self) -> tuple[ColumnDrift, ...]:
        """Columns at warn or alert, worst first."""
        return tuple(sorted((c for c in self.columns if c.level != "ok"), key=lambda c: -c.psi))


def _level(value: float, thresholds: Drift) -> Level:
    return "alert" if value >= thresholds.psi_alert else "warn" if value >= thresholds.psi_warn else "ok"


def drift_report(
    baseline: DriftBaseline, data: pd.DataFrame, thresholds: Drift, scores: npt.ArrayLike | None = None
) -> DriftReport:
    """PSI of each baseline column present in `data` (and of `scores`, 0-100) against the training data."""
    counts = DriftCounts(baseline)
    counts.add(data, scores)
    return counts.report(thresholds)


class DriftCounts:
    """Per-bin counts of scored batches against a baseline, added a batch at a time.

    Counts add up exactly, so the report of batches added one by one is the report of all of them at
    once: a cycle that scores its people in chunks keeps a few numbers per column, not the frames.
    """

    def __init__(self, baseline: DriftBaseline) -> None:
        self.baseline = baseline
        self.rows = 0
        self._counts: dict[str, FloatArray] = {}

    def add(self, data: pd.DataFrame, scores: npt.ArrayLike | None = None) -> None:
        """Count the baseline columns present in `data` and, when given, `scores` (0-100)."""
        for name, bins in self.baseline.bins.items():
            if name != SCORE and name in data.columns:
                self._add(name, bins.tally(data[name]))
        if scores is not None and SCORE in self.baseline.bins:
            values = pd.Series(np.asarray(scores, dtype=np.float64))
            self._add(SCORE, self.baseline.bins[SCORE].tally(values))
        self.rows += len(data)

    def _add(self, name: str, counts: FloatArray) -> None:
        seen = self._counts.get(name)
        self._counts[name] = counts if seen is None else seen + counts

    def report(self, thresholds: Drift) -> DriftReport:
        """PSI of each counted column (baseline order) and of the score, against the training shares."""
        columns = []
        for name, bins in self.baseline.bins.items():
            if name == SCORE or name not in self._counts:
                continue
            value = psi(bins.shares, _shares(self._counts[name]))
            columns.append(ColumnDrift(name, value, _level(value, thresholds)))
        score = None
        if SCORE in self._counts:
            value = psi(self.baseline.bins[SCORE].shares, _shares(self._counts[SCORE]))
            score = ColumnDrift(SCORE, value, _level(value, thresholds))
        return DriftReport(tuple(columns), score, thresholds.psi_warn, thresholds.psi_alert, self.rows)


def _shares(counts: FloatArray) -> FloatArray:
    total = counts.sum()
    return counts / total if total else counts
