"""The estimator: calibrated gradient boosting on the feature frame, one model per segment where useful.

`LeadModel` follows the scikit-learn estimator contract (parameters only in `__init__`, `fit` returns
self, fitted attributes end in `_`, `clone` works). It is a `HistGradientBoostingClassifier` with native
categorical (`categorical_features="from_dtype"`) and missing-value handling, followed by a probability
calibrator fitted on out-of-fold raw scores:

1. raw log-odds for every training row come from `calibration_cv`-fold cross-validation;
2. a sigmoid (Platt) and an isotonic calibrator are compared by expected calibration error on those
   raw scores (their own inner cross-validation); sigmoid is kept unless isotonic is better by more than
   `ISOTONIC_MARGIN` (it keeps explanations additive in calibrated log-odds, and has no flat steps);
3. the booster is refitted on all rows (`booster_`) and the chosen calibrator (`calibrator_`) maps its
   raw output to the probability. This is `CalibratedClassifierCV(..., ensemble=False)`, with the
   method chosen by ECE; one booster (not an average of five) keeps TreeSHAP exact and fast.

The model is sized for TreeSHAP (cost grows with trees x leaves x depth^2): 15 leaves, depth 4, early
stopping, at most 300 iterations. Categorical columns keep at most `max_categories` values (the most
frequent; the others share one bucket), which is what the explainer supports exactly.

`SegmentedModel` routes rows by a segment column to a per-segment `LeadModel`, falling back to the
global model for segments with too few labels.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, Self

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.utils import Tags
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, column_or_1d, validate_data

from scoring.metrics import ece
from scoring.treeshap import MAX_CATEGORIES

__all__ = ["ISOTONIC_MARGIN", "OTHER", "Calibration", "LeadModel", "SegmentedModel"]

Calibration = Literal["auto", "sigmoid", "isotonic"]
FloatArray = npt.NDArray[np.float64]
OTHER = "__other__"
"""The bucket that categories beyond `max_categories` share."""
_MIN_HELD_OUT = 5
_P_FLOOR = 1e-9
ISOTONIC_MARGIN = 0.001
"""How much lower isotonic's ECE must be for `calibration="auto"` to choose it over sigmoid."""


def _frame(X: Any) -> pd.DataFrame:
    if isinstance(X, pd.DataFrame):
        return X
    array = check_array(X, dtype=np.float64, ensure_all_finite="allow-nan")
    return pd.DataFrame(array, columns=[f"x{i}" for i in range(array.shape[1])])


def _is_categorical(column: pd.Series) -> bool:
    return isinstance(column.dtype, pd.CategoricalDtype) or column.dtype == object or column.dtype == "string"


class LeadModel(ClassifierMixin, BaseEstimator):
    """Calibrated `HistGradientBoostingClassifier` for a binary outcome (see the module docstring).

    Fitted attributes: `booster_`, `calibrator_` (None for too little data: plain logistic of the raw
    score), `calibration_` ("sigmoid", "isotonic" or "none"), `calibration_ece_` (method -> ECE),
    `categories_` (column -> categories kept, `OTHER` last when rarer ones were folded),
    `classes_`, `n_features_in_`, `feature_names_in_` (DataFrame input).
    """

    def __init__(
        self,
        *,
        learning_rate: float = 0.1,
        max_iter: int = 300,
        max_leaf_nodes: int = 15,
        max_depth: int | None = 4,
        min_samples_leaf: int = 20,
        l2_regularization: float = 1.0,
        early_stopping: bool = True,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 20,
        max_categories: int = MAX_CATEGORIES,
        calibration: Calibration = "auto",
        calibration_cv: int = 5,
        random_state: int | None = 0,
    ) -> None:
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.max_leaf_nodes = max_leaf_nodes
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.max_categories = max_categories
        self.calibration = calibration
        self.calibration_cv = calibration_cv
        self.random_state = random_state

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        if tags.classifier_tags is not None:
            tags.classifier_tags.multi_class = False
        return tags

    def _booster(self, smallest_class: int) -> HistGradientBoostingClassifier:
        # Early stopping holds out a stratified share; on tiny data that share may miss a class.
        stop = self.early_stopping and smallest_class * self.validation_fraction >= _MIN_HELD_OUT
        return HistGradientBoostingClassifier(
            learning_rate=self.learning_rate,
            max_iter=self.max_iter,
            max_leaf_nodes=self.max_leaf_nodes,
            max_depth=self.max_depth,
            min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization,
            early_stopping=stop,
            validation_fraction=self.validation_fraction,
            n_iter_no_change=self.n_iter_no_change,
            categorical_features="from_dtype",
            random_state=self.random_state,
        )

    def fit(self, X: Any, y: Any) -> Self:
        """Fit the booster and its calibrator on `X` (a DataFrame, or a numeric array) and 0/1-like `y`."""
        if not 2 <= self.max_categories <= MAX_CATEGORIES:
            raise ValueError(f"max_categories must be between 2 and {MAX_CATEGORIES}")
        if self.calibration not in ("auto", "sigmoid", "isotonic"):
            raise ValueError(f"calibration must be auto, sigmoid or isotonic, not {self.calibration!r}")
        if y is None:
            raise ValueError("LeadModel requires y to be passed, but the target y is None")
        validate_data(self, X, reset=True, skip_check_array=True)
        frame = _frame(X)
        target = column_or_1d(y, warn=True)
        if len(target) != len(frame):
            raise ValueError(f"X has {len(frame)} rows but y has {len(target)}")
        check_classification_targets(target)
        self.classes_ = np.unique(target)
        if len(self.classes_) > 2:
            raise ValueError("Only binary classification is supported: y has more than two outcomes")
        if len(self.classes_) < 2:
            raise ValueError("LeadModel needs both outcomes, but y has 1 class")
        outcome = (target == self.classes_[1]).astype(np.int64)
        self.categories_ = self._fold_plan(frame)
        data = self._apply(frame)
        self.calibration_, self.calibrator_, self.calibration_ece_ = self._fit_calibration(data, outcome)
        self.booster_ = self._booster(int(np.bincount(outcome).min())).fit(data, outcome)
        self.n_iter_ = int(self.booster_.n_iter_)
        return self

    def _fold_plan(self, frame: pd.DataFrame) -> dict[str, tuple[str, ...]]:
        plan: dict[str, tuple[str, ...]] = {}
        for name in frame.columns:
            column = frame[name]
            if not _is_categorical(column):
                continue
            counts = column.dropna().astype(str).value_counts(sort=False)
            order = (
                [str(c) for c in column.cat.categories]
                if isinstance(column.dtype, pd.CategoricalDtype)
                else sorted(counts.index)
            )
            present = [c for c in order if counts.get(c, 0) > 0]
            if len(present) <= self.max_categories:
                plan[str(name)] = tuple(present)
            else:
                ranked = sorted(present, key=lambda c: (-counts[c], order.index(c)))
                kept = set(ranked[: self.max_categories - 1])
                plan[str(name)] = (*(c for c in present if c in kept), OTHER)
        return plan

    def _apply(self, frame: pd.DataFrame) -> pd.DataFrame:
        """`frame` as the booster reads it: kept categories (the rest in `OTHER`), numbers as floats."""
        columns: dict[str, Any] = {}
        for name in frame.columns:
            column = frame[name]
            kept = self.categories_.get(str(name))
            if kept is None:
                columns[str(name)] = pd.to_numeric(column, errors="coerce").astype(np.float64).to_numpy()
                continue
            values = _recode(column, kept)
            columns[str(name)] = values
        return pd.DataFrame(columns, index=frame.index)

    def _fit_calibration(
        self, data: pd.DataFrame, outcome: npt.NDArray[np.int64]
    ) -> tuple[str, LogisticRegression | IsotonicRegression | None, dict[str, float]]:
        folds = min(self.calibration_cv, int(np.bincount(outcome).min()))
        if folds < 2:
            return "none", None, {}
        cv = StratifiedKFold(folds, shuffle=True, random_state=self.random_state)
        smallest_fold = int(np.bincount(outcome).min()) * (folds - 1) // folds
        raw = cross_val_predict(
            self._booster(smallest_fold), data, outcome, cv=cv, method="decision_function"
        )
        methods = ("sigmoid", "isotonic") if self.calibration == "auto" else (self.calibration,)
        scores = {method: _calibration_ece(method, raw, outcome, cv) for method in methods}
        chosen = "sigmoid"
        if self.calibration == "isotonic" or (
            self.calibration == "auto" and scores["isotonic"] < scores["sigmoid"] - ISOTONIC_MARGIN
        ):
            chosen = "isotonic"
        return chosen, _calibrator(chosen).fit(raw.reshape(-1, 1), outcome), scores

    def prepare(self, X: Any) -> pd.DataFrame:
        """`X` checked against the training columns and encoded as the booster reads it."""
        check_is_fitted(self)
        frame = _frame(X)
        validate_data(self, X, reset=False, skip_check_array=True)
        return self._apply(frame)

    def raw_score(self, X: Any) -> FloatArray:
        """The booster's raw score (log-odds before calibration); SHAP values add up to it."""
        data = self.prepare(X)
        raw: FloatArray = self.booster_.decision_function(data)
        return raw

    def decision_function(self, X: Any) -> FloatArray:
        """Calibrated log-odds (positive: `classes_[1]` is more likely), clipped at 1e-9 probability."""
        p = np.clip(self.predict_proba(X)[:, 1], _P_FLOOR, 1.0 - _P_FLOOR)
        return np.asarray(np.log(p / (1.0 - p)), dtype=np.float64)

    def calibrate(self, raw: npt.ArrayLike) -> FloatArray:
        """Probability of a positive outcome for raw scores (monotone non-decreasing in `raw`)."""
        check_is_fitted(self)
        scores = np.asarray(raw, dtype=np.float64).reshape(-1)
        if self.calibrator_ is None:
            return np.asarray(1.0 / (1.0 + np.exp(-scores)), dtype=np.float64)
        if isinstance(self.calibrator_, IsotonicRegression):
            return np.asarray(self.calibrator_.predict(scores), dtype=np.float64)
        return np.asarray(self.calibrator_.predict_proba(scores.reshape(-1, 1))[:, 1], dtype=np.float64)

    def predict_proba(self, X: Any) -> FloatArray:
        """Calibrated probabilities, columns in `classes_` order."""
        p = self.calibrate(self.raw_score(X))
        return np.column_stack([1.0 - p, p])

    def predict(self, X: Any) -> npt.NDArray[Any]:
        """The more likely class."""
        p = self.predict_proba(X)[:, 1]
        return np.asarray(self.classes_[(p >= 0.5).astype(np.int64)])


def _recode(column: pd.Series, kept: tuple[str, ...]) -> pd.Categorical[str]:
    """`column` with categories `kept`: others read as `OTHER` when it is kept, else as missing."""
    if not isinstance(column.dtype, pd.CategoricalDtype):
        column = column.astype(object).where(column.notna()).astype("category")
    position = {category: i for i, category in enumerate(kept)}
    fallback = position.get(OTHER, -1)
    names = [str(c) for c in column.cat.categories]
    lookup = np.array([*(position.get(n, fallback) for n in names), -1], dtype=np.int64)
    codes = lookup[column.cat.codes.to_numpy()]
    return pd.Categorical.from_codes(codes, categories=pd.Index(list(kept), dtype=object))


def _calibrator(method: str) -> LogisticRegression | IsotonicRegression:
    if method == "isotonic":
        return IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
    return LogisticRegression(C=1e6)


def _calibration_ece(
    method: str, raw: FloatArray, outcome: npt.NDArray[np.int64], cv: StratifiedKFold
) -> float:
    """ECE of `method` on raw scores it was not fitted on."""
    column = raw.reshape(-1, 1)
    p = np.empty(len(raw))
    for train, test in cv.split(column, outcome):
        fitted = _calibrator(method).fit(column[train], outcome[train])
        if isinstance(fitted, IsotonicRegression):
            p[test] = fitted.predict(raw[test])
        else:
            p[test] = fitted.predict_proba(column[test])[:, 1]
    return ece(outcome, p)


class SegmentedModel(ClassifierMixin, BaseEstimator):
    """One `LeadModel` per segment with enough labels, the global model for everything else.

    `X` carries the segment name of each row in `segment_column` (None/NaN: no segment); that column is
    not a model input. A segment gets its own model when it has at least `min_labels_per_class`
    positives and negatives.
    """

    def __init__(
        self,
        base: LeadModel | None = None,
        *,
        segment_column: str = "segment",
        min_labels_per_class: int = 200,
    ) -> None:
        self.base = base
        self.segment_column = segment_column
        self.min_labels_per_class = min_labels_per_class

    def _split(self, X: Any) -> tuple[pd.DataFrame, pd.Series]:
        X = _frame(X)
        if self.segment_column not in X.columns:
            return X, pd.Series(None, index=X.index, dtype=object)
        return X.drop(columns=[self.segment_column]), X[self.segment_column].astype(object)

    def fit(self, X: pd.DataFrame, y: Any) -> Self:
        """Fit the global model on every row and a model per well-labelled segment on its rows."""
        features, segments = self._split(X)
        target = np.asarray(y).ravel()
        base = self.base if self.base is not None else LeadModel()
        self.global_ = clone(base).fit(features, target)
        self.classes_ = self.global_.classes_
        self.models_: dict[str, LeadModel] = {}
        for name in sorted({str(s) for s in segments.dropna()}):
            rows = (segments == name).to_numpy()
            counts = [int(np.sum(target[rows] == c)) for c in self.classes_]
            if min(counts) >= self.min_labels_per_class:
                self.models_[name] = clone(base).fit(features[rows], target[rows])
        return self

    def route(self, X: pd.DataFrame) -> pd.Series:
        """The segment whose model scores each row (None: the global model)."""
        check_is_fitted(self)
        _, segments = self._split(X)
        routed = [s if isinstance(s, str) and s in self.models_ else None for s in segments]
        return pd.Series(routed, index=segments.index, dtype=object)

    def model_for(self, segment: str | None) -> LeadModel:
        """The model that scores rows of `segment`."""
        model: LeadModel = self.models_.get(segment, self.global_) if segment is not None else self.global_
        return model

    def groups(self, X: pd.DataFrame) -> Mapping[str | None, npt.NDArray[np.int64]]:
        """Row positions per routed segment (None: the global model)."""
        routed = self.route(X).to_numpy()
        keys = {s if isinstance(s, str) else None for s in routed}
        return {key: np.flatnonzero([r == key for r in routed]) for key in keys}

    def _per_segment(self, X: pd.DataFrame, method: str) -> FloatArray:
        features, _ = self._split(X)
        out = np.empty(len(X))
        for segment, rows in self.groups(X).items():
            values = np.asarray(getattr(self.model_for(segment), method)(features.iloc[rows]))
            out[rows] = values[:, 1] if values.ndim == 2 else values
        return out

    def raw_score(self, X: pd.DataFrame) -> FloatArray:
        """Booster log-odds of each row by its segment's model (what SHAP values add up to)."""
        return self._per_segment(X, "raw_score")

    def decision_function(self, X: pd.DataFrame) -> FloatArray:
        """Calibrated log-odds of each row by its segment's model."""
        return self._per_segment(X, "decision_function")

    def predict_proba(self, X: pd.DataFrame) -> FloatArray:
        """Calibrated probabilities by each row's segment model."""
        p = self._per_segment(X, "predict_proba")
        return np.column_stack([1.0 - p, p])

    def predict(self, X: pd.DataFrame) -> npt.NDArray[Any]:
        """The more likely class."""
        p = self.predict_proba(X)[:, 1]
        return np.asarray(self.classes_[(p >= 0.5).astype(np.int64)])
