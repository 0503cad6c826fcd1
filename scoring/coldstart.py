"""Cold start: rule-based scores from admin-configured points, until there are outcomes to learn from.

A feature's `points` (`FeatureSpec.points`: points per value, or per number range) add up, the way
admins know from HubSpot's rule-based scores. The score is the sum clipped to 0-100:

    score = min(max(sum of points, 0), 100)

so a lead matching nothing scores 0 and every point counts one for one until the cap. (A logistic
mapping would squash differences that admins set on purpose.) The "probability" of a rule-based
decision is score / 100; it is not calibrated.

`use_model` switches to the model as soon as there are at least `min_labels_per_class` positive and
negative outcomes (`ScoringConfig.min_labels_per_class`, 200 by default); every reason of a rule-based
score says so: "Rule-based score (not enough outcomes yet to train a model): Lead source: Partner
Referral, +15".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

from mappings import FeatureSpec, ScoringConfig
from mappings.config.features import normalise_category

__all__ = [
    "RULE_NOTICE",
    "RULE_PREFIX",
    "label_counts",
    "rule_points",
    "rule_scores",
    "use_model",
]

RULE_NOTICE = "Rule-based score (not enough outcomes yet to train a model)"
RULE_PREFIX = f"{RULE_NOTICE}: "


def label_counts(outcome: Iterable[object]) -> tuple[int, int]:
    """(positives, negatives) among known outcomes (missing ones, NaN or None, are not counted)."""
    values = pd.to_numeric(pd.Series(list(outcome), dtype=object), errors="coerce").dropna()
    positives = int((values > 0).sum())
    return positives, int(len(values) - positives)


def use_model(positives: int, negatives: int, config: ScoringConfig) -> bool:
    """Whether there are enough outcomes of both kinds to train (and score with) a model."""
    return min(positives, negatives) >= config.min_labels_per_class


def rule_points(data: pd.DataFrame, specs: Sequence[FeatureSpec]) -> pd.DataFrame:
    """Points each lead earns per feature column (lead id x column; 0 where nothing matches).

    `data` is a feature frame's data: categories as category text, booleans as 0/1, numbers as floats.
    Only features with `points` and a column in `data` take part.
    """
    out: dict[str, npt.NDArray[np.float64]] = {}
    for spec in specs:
        if spec.points is None or spec.name not in data.columns:
            continue
        column = data[spec.name]
        if spec.points.ranges:
            out[spec.name] = _range_points(column, spec)
        elif spec.type == "boolean":
            numbers = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
            yes, no = spec.points.by_value.get("true", 0.0), spec.points.by_value.get("false", 0.0)
            out[spec.name] = np.where(np.isnan(numbers), 0.0, np.where(numbers >= 0.5, yes, no))
        else:
            out[spec.name] = _value_points(column, spec)
    return pd.DataFrame(out, index=data.index, dtype=np.float64)


def _range_points(column: pd.Series, spec: FeatureSpec) -> npt.NDArray[np.float64]:
    assert spec.points is not None
    numbers = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
    points = np.zeros(len(numbers))
    matched = np.zeros(len(numbers), dtype=bool)
    for band in spec.points.ranges:  # the first range that contains a value wins, as in `Points`
        inside = ~np.isnan(numbers) & ~matched
        if band.min is not None:
            inside &= numbers >= band.min
        if band.max is not None:
            inside &= numbers < band.max
        points[inside] = band.points
        matched |= inside
    return points


def _value_points(column: pd.Series, spec: FeatureSpec) -> npt.NDArray[np.float64]:
    assert spec.points is not None
    by_value = spec.points.by_value
    if isinstance(column.dtype, pd.CategoricalDtype):
        table = np.array(
            [*(by_value.get(normalise_category(str(c)), 0.0) for c in column.cat.categories), 0.0]
        )
        return np.asarray(table[column.cat.codes.to_numpy()], dtype=np.float64)
    return np.array(
        [by_value.get(normalise_category(str(v)), 0.0) if isinstance(v, str) else 0.0 for v in column],
        dtype=np.float64,
    )


def rule_scores(points: pd.DataFrame) -> pd.Series:
    """The 0-100 rule-based score of each lead: its points summed, clipped to 0-100."""
    return points.sum(axis=1).clip(lower=0.0, upper=100.0)
