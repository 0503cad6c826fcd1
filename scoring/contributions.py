"""SHAP contributions of a batch of leads, in the model's log-odds and on the 0-100 score scale.

What is additive, exactly:

* log-odds: per lead, `base_log_odds + log_odds.sum() == raw`, the booster's raw output (TreeSHAP,
  path-dependent, exact; `scoring.treeshap`). With sigmoid calibration the calibrated log-odds are an
  affine function `a * raw + b` of it, so `a * log_odds` are exact SHAP values of the calibrated
  log-odds too. Isotonic calibration is only monotone, so there additivity holds in raw log-odds alone.
* score scale: `base_score + points.sum() == 100 * probability` (the unrounded score), where
  `base_score = 100 * calibrate(base_log_odds)`. Each feature's points are its log-odds contribution
  times the secant slope of the calibration between the base and the lead's raw score:
  `points_i = log_odds_i * 100 * (p - p_base) / (raw - base)`. Calibration is monotone, so the slope is
  never negative and every contribution keeps its sign. When `raw - base` is tiny (below 1e-6) the
  secant is replaced by the calibration's local slope, and the sum is then exact to ~1e-6 points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from scoring.model import LeadModel, SegmentedModel
from scoring.treeshap import TreeShap

__all__ = ["Contributions", "Explainer", "to_score_scale"]

FloatArray = npt.NDArray[np.float64]
_TINY = 1e-6
_STEP = 1e-3


@dataclass(frozen=True)
class Contributions:
    """Per-lead, per-column contributions (rows follow `index`, columns follow `columns`)."""

    index: pd.Index
    columns: tuple[str, ...]
    log_odds: FloatArray
    base_log_odds: FloatArray
    raw: FloatArray
    probability: FloatArray
    base_score: FloatArray
    points: FloatArray
    segment: tuple[str | None, ...]

    @property
    def score(self) -> FloatArray:
        """The unrounded 0-100 score (`base_score + points.sum(axis=1)`)."""
        return 100.0 * self.probability

    def frame(self) -> pd.DataFrame:
        """Score-scale points as a DataFrame (lead id x column)."""
        return pd.DataFrame(self.points, index=self.index, columns=list(self.columns))


def to_score_scale(
    log_odds: FloatArray, base: FloatArray, model: LeadModel
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(points, base_score, probability) for contributions `log_odds` around `base` (see module doc)."""
    raw = base + log_odds.sum(axis=1)
    p = model.calibrate(raw)
    p_base = model.calibrate(base)
    moved = raw - base
    secant = np.divide(100.0 * (p - p_base), moved, out=np.zeros_like(moved), where=np.abs(moved) > _TINY)
    tiny = np.abs(moved) <= _TINY
    if tiny.any():
        local = (model.calibrate(base[tiny] + _STEP) - model.calibrate(base[tiny] - _STEP)) / (2 * _STEP)
        secant[tiny] = 100.0 * local
    return log_odds * secant[:, None], 100.0 * p_base, p


class Explainer:
    """Exact TreeSHAP for a `LeadModel` or a `SegmentedModel` (one explainer per booster, built once)."""

    def __init__(self, model: LeadModel | SegmentedModel) -> None:
        self.model = model
        self._trees: dict[int, TreeShap] = {}

    def _tree_shap(self, model: LeadModel) -> TreeShap:
        key = id(model.booster_)
        if key not in self._trees:
            self._trees[key] = TreeShap(model.booster_)
        return self._trees[key]

    def _groups(self, X: pd.DataFrame) -> list[tuple[str | None, LeadModel, npt.NDArray[np.int64]]]:
        if isinstance(self.model, SegmentedModel):
            return [(s, self.model.model_for(s), rows) for s, rows in self.model.groups(X).items()]
        return [(None, self.model, np.arange(len(X)))]

    def feature_columns(self, X: pd.DataFrame) -> tuple[str, ...]:
        """The model-input columns of `X` (a segment column is routing, not input)."""
        if isinstance(self.model, SegmentedModel):
            return tuple(str(c) for c in X.columns if c != self.model.segment_column)
        return tuple(str(c) for c in X.columns)

    def contributions(self, X: pd.DataFrame) -> Contributions:
        """Contributions of every row of `X` (the frame the model scores)."""
        columns = self.feature_columns(X)
        n, m = len(X), len(columns)
        log_odds, points = np.zeros((n, m)), np.zeros((n, m))
        base, raw = np.zeros(n), np.zeros(n)
        probability, base_score = np.zeros(n), np.zeros(n)
        segment: list[str | None] = [None] * n
        for name, model, rows in self._groups(X):
            if len(rows) == 0:
                continue
            part = X.iloc[rows][list(columns)]
            explainer = self._tree_shap(model)
            phi = explainer.shap_values(model.prepare(part))
            group_base = np.full(len(rows), explainer.base_value)
            group_points, group_base_score, group_p = to_score_scale(phi, group_base, model)
            log_odds[rows], points[rows], base[rows] = phi, group_points, group_base
            raw[rows] = group_base + phi.sum(axis=1)
            probability[rows], base_score[rows] = group_p, group_base_score
            for row in rows:
                segment[row] = name
        return Contributions(
            X.index, columns, log_odds, base, raw, probability, base_score, points, tuple(segment)
        )
