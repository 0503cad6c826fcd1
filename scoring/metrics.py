"""Model quality figures: ROC AUC, expected calibration error, Brier score, lift.

All take the outcome (0/1) and the predicted probability of a positive outcome.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt
from sklearn.metrics import brier_score_loss, roc_auc_score

__all__ = ["ECE_BINS", "Quality", "auc", "brier", "ece", "lift", "lift_curve", "quality"]

ECE_BINS = 10
"""Equal-width probability bins for `ece`."""

ArrayLike = npt.ArrayLike


def _arrays(y: ArrayLike, p: ArrayLike) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    outcome = np.asarray(y, dtype=np.float64).ravel()
    prob = np.asarray(p, dtype=np.float64).ravel()
    if outcome.shape != prob.shape:
        raise ValueError(f"{outcome.size} outcomes but {prob.size} probabilities")
    return outcome, prob


def auc(y: ArrayLike, p: ArrayLike) -> float:
    """ROC AUC (NaN when only one class is present)."""
    outcome, prob = _arrays(y, p)
    if len(np.unique(outcome)) < 2:
        return float("nan")
    return float(roc_auc_score(outcome, prob))


def brier(y: ArrayLike, p: ArrayLike) -> float:
    """Mean squared difference between probability and outcome."""
    outcome, prob = _arrays(y, p)
    return float(brier_score_loss(outcome, prob))


def ece(y: ArrayLike, p: ArrayLike, bins: int = ECE_BINS) -> float:
    """Expected calibration error: |mean outcome - mean probability| per equal-width bin, weighted by
    the bin's share of rows."""
    outcome, prob = _arrays(y, p)
    if outcome.size == 0:
        return float("nan")
    index = np.minimum((prob * bins).astype(np.int64), bins - 1)
    counts = np.bincount(index, minlength=bins)
    gap = np.abs(np.bincount(index, outcome, bins) - np.bincount(index, prob, bins))
    return float(gap[counts > 0].sum() / outcome.size)


def lift_curve(y: ArrayLike, p: ArrayLike, points: int = 10) -> tuple[npt.NDArray[np.float64], ...]:
    """(share of leads contacted, lift) at `points` cut-offs: the positive rate among the top-scored
    share divided by the overall positive rate."""
    outcome, prob = _arrays(y, p)
    order = np.argsort(-prob, kind="stable")
    hits = np.cumsum(outcome[order])
    shares = np.linspace(1 / points, 1.0, points)
    tops = np.maximum((shares * outcome.size).round().astype(np.int64), 1)
    base = outcome.mean() if outcome.size else float("nan")
    lifts = (hits[tops - 1] / tops) / base if base > 0 else np.full(points, np.nan)
    return shares, np.asarray(lifts, dtype=np.float64)


def lift(y: ArrayLike, p: ArrayLike, top: float = 0.1) -> float:
    """Positive rate of the top `top` share of leads by score, over the overall positive rate."""
    outcome, prob = _arrays(y, p)
    k = max(round(top * outcome.size), 1)
    order = np.argsort(-prob, kind="stable")[:k]
    base = outcome.mean()
    return float(outcome[order].mean() / base) if base > 0 else float("nan")


@dataclass(frozen=True, slots=True)
class Quality:
    """The holdout figures stored with a model and shown in the report."""

    auc: float
    ece: float
    brier: float
    lift_top_decile: float
    n: int
    positives: int

    def to_dict(self) -> dict[str, float | int]:
        """JSON-ready figures."""
        return asdict(self)


def quality(y: ArrayLike, p: ArrayLike) -> Quality:
    """All figures at once."""
    outcome, prob = _arrays(y, p)
    return Quality(
        auc=auc(outcome, prob),
        ece=ece(outcome, prob),
        brier=brier(outcome, prob),
        lift_top_decile=lift(outcome, prob),
        n=int(outcome.size),
        positives=int(outcome.sum()),
    )
