"""Training: from a labelled feature frame to a `TrainedModel` (the daemon and the benchmarks share it).

    trained = train(frame, outcome, config.scoring, segments=segments)   # NotEnoughLabels below the minimum
    p = predict(trained, other_frame, segments=other_segments)

With a holdout, `TrainedModel.extra["holdout"]` keeps what the model report plots (`holdout_evaluation`):
the holdout's outcomes, calibrated probabilities and rules-only scores, the mean |SHAP points| per
source label, and the holdout's drift against the training data. All of it is plain JSON.

The model sees the frame conformed to the training schema (`FrameSchema`: columns and category orders),
so a later frame with new categories or missing columns scores the same way. With segments configured
and a segment per lead, a `SegmentedModel` trains one model per segment with enough outcomes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.model_selection import train_test_split

from mappings import FeatureSpec, ScoringConfig
from mappings.config.policy import Drift
from scoring.coldstart import label_counts, rule_points, rule_scores, use_model
from scoring.contributions import Explainer
from scoring.drift import DriftBaseline, drift_report
from scoring.explain import source_points
from scoring.features import FeatureFrame, FrameSchema
from scoring.metrics import Quality, quality
from scoring.model import LeadModel, SegmentedModel

__all__ = [
    "MAX_TRAINING_ROWS",
    "SEGMENT_COLUMN",
    "NotEnoughLabels",
    "TrainedModel",
    "cap_rows",
    "data_hash",
    "holdout_evaluation",
    "model_inputs",
    "predict",
    "subset",
    "train",
]

SEGMENT_COLUMN = "__segment__"
MAX_EXPLAINED = 2000
"""Holdout leads explained for the report's SHAP summary (a sample: the mean settles long before)."""
MAX_TRAINING_ROWS = 30_000
"""Most labelled leads a model is fitted on; above it a stratified sample (fixed seed) is used.

A booster of at most 15 leaves a tree on a few dozen columns has learnt what it can long before 30,000
rows, and fitting it (six times: five calibration folds and the final fit) grows linearly with rows:
40 s on 80,000 labels. The sample keeps the outcome rate, so calibration stays right."""


class NotEnoughLabels(ValueError):
    """Too few positive or negative outcomes to train; scoring stays rule-based."""


@dataclass(frozen=True)
class TrainedModel:
    """A fitted model with the schema of the frame it was trained on and what the registry records."""

    model: LeadModel | SegmentedModel
    schema: FrameSchema
    sources: Mapping[str, str]  # column -> CRM field or graph/activity fact
    labels: Mapping[str, str]  # column -> label
    positives: int
    negatives: int
    metrics: Quality | None = None
    version: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


def subset(frame: FeatureFrame, ids: Collection[object]) -> FeatureFrame:
    """The rows of `frame` whose lead id is in `ids`, in that order."""
    index = pd.Index(list(ids))
    context = frame.context.reindex(index) if len(frame.context.columns) else frame.context.iloc[:0]
    return FeatureFrame(
        frame.data.loc[index], frame.columns, context, frame.completeness.reindex(index), frame.now
    )


def model_inputs(
    frame: FeatureFrame, schema: FrameSchema, segments: npt.ArrayLike | pd.Series | None = None
) -> pd.DataFrame:
    """The DataFrame a model scores: `frame` conformed to `schema`, plus the segment column if given."""
    data = frame.conform(schema).data
    if segments is None:
        return data
    values = segments.reindex(data.index) if isinstance(segments, pd.Series) else np.asarray(segments)
    return data.assign(**{SEGMENT_COLUMN: pd.Series(values, index=data.index, dtype=object)})


def cap_rows(
    ids: Sequence[Any], outcome: pd.Series, max_rows: int | None, *, random_state: int = 0
) -> list[Any]:
    """`ids`, or a stratified sample of `max_rows` of them (in their order) when there are more.

    `outcome` holds each id's 0/1 outcome; both outcomes keep their share (at least one row each)."""
    if max_rows is None or len(ids) <= max_rows:
        return list(ids)
    if max_rows < 2:
        raise ValueError(f"max_rows must be at least 2, not {max_rows}")
    labels = outcome.reindex(pd.Index(list(ids))).to_numpy()
    rng = np.random.default_rng(random_state)
    classes, counts = np.unique(labels, return_counts=True)
    # Largest remainder: shares proportional to the class sizes, summing to exactly `max_rows`.
    exact = counts * max_rows / len(labels)
    take = np.maximum(np.floor(exact).astype(np.int64), 1)
    for k in np.argsort(-(exact - np.floor(exact)), kind="stable")[: max(max_rows - int(take.sum()), 0)]:
        take[k] += 1
    chosen = np.concatenate(
        [
            rng.choice(np.flatnonzero(labels == c), int(n), replace=False)
            for c, n in zip(classes, take, strict=True)
        ]
    )
    return [ids[i] for i in np.sort(chosen)]


def data_hash(frame: FeatureFrame, outcome: pd.Series) -> str:
    """A sha256 of training data (feature values, lead ids and outcomes), recorded with the model."""
    digest = hashlib.sha256()
    digest.update(pd.util.hash_pandas_object(frame.data, index=True).to_numpy().tobytes())
    labels = outcome.reindex(frame.data.index)
    digest.update(pd.util.hash_pandas_object(labels, index=True).to_numpy().tobytes())
    return digest.hexdigest()


def train(
    frame: FeatureFrame,
    outcome: pd.Series,
    config: ScoringConfig,
    *,
    segments: pd.Series | None = None,
    holdout: float = 0.0,
    random_state: int = 0,
    params: Mapping[str, Any] | None = None,
    features: Sequence[FeatureSpec] = (),
    max_rows: int | None = MAX_TRAINING_ROWS,
) -> TrainedModel:
    """Fit a model on the leads of `frame` with a known `outcome` (1/0 or True/False, NaN = unknown).

    `holdout` > 0 keeps a stratified share of the labelled leads out of training and measures the model
    on it (`TrainedModel.metrics`, and `extra["holdout"]` for the report; `features` give the rules-only
    baseline its points). At most `max_rows` leads are fitted on (`cap_rows`; None: all).
    Raises `NotEnoughLabels` below `config.min_labels_per_class`.
    """
    known = pd.to_numeric(outcome.reindex(frame.data.index), errors="coerce").dropna()
    positives, negatives = label_counts(known)
    if not use_model(positives, negatives, config):
        raise NotEnoughLabels(
            f"{positives} positive and {negatives} negative outcomes; a model needs "
            f"{config.min_labels_per_class} of each"
        )
    target = (known > 0).astype(np.int64)
    train_ids, test_ids = list(target.index), []
    if holdout > 0:
        train_ids, test_ids = train_test_split(
            list(target.index), test_size=holdout, stratify=target.to_numpy(), random_state=random_state
        )
    train_ids = cap_rows(train_ids, target, max_rows, random_state=random_state)
    training = subset(frame, train_ids)
    schema = training.schema(drop_empty=True)
    use_segments = bool(config.segments) and segments is not None
    X = model_inputs(training, schema, segments if use_segments else None)
    base = LeadModel(random_state=random_state, **dict(params or {}))
    model: LeadModel | SegmentedModel = (
        SegmentedModel(base, segment_column=SEGMENT_COLUMN, min_labels_per_class=config.min_labels_per_class)
        if use_segments
        else base
    )
    model.fit(X, target.loc[train_ids].to_numpy())
    scores = 100.0 * model.predict_proba(X)[:, 1]
    baseline = DriftBaseline.fit(X.drop(columns=[SEGMENT_COLUMN], errors="ignore"), scores)
    trained = TrainedModel(
        model=model,
        schema=schema,
        sources={c: frame.columns[c].source for c in schema.columns},
        labels={c: frame.columns[c].label for c in schema.columns},
        positives=positives,
        negatives=negatives,
        extra={
            "data_hash": data_hash(training, target.loc[train_ids]),
            "training_rows": len(train_ids),
            "drift_baseline": baseline.to_dict(),
        },
    )
    if not test_ids:
        return trained
    held = subset(frame, test_ids)
    routed = segments if use_segments else None
    y = target.loc[test_ids].to_numpy()
    p = predict(trained, held, segments=routed)
    evaluation = holdout_evaluation(
        trained, held, y, p, features=features, segments=routed, thresholds=config.drift, seed=random_state
    )
    return replace(trained, metrics=quality(y, p), extra={**trained.extra, "holdout": evaluation})


def holdout_evaluation(
    trained: TrainedModel,
    held: FeatureFrame,
    outcome: npt.ArrayLike,
    probability: npt.ArrayLike,
    *,
    features: Sequence[FeatureSpec] = (),
    segments: pd.Series | None = None,
    thresholds: Drift | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """What the model report needs from a holdout, as JSON-ready values.

    `outcome`, `probability` (6 decimals) and `rules_score` (None when no feature has points) follow
    the holdout's rows; `importance` is the mean |SHAP points| per source label over at most
    `MAX_EXPLAINED` leads (sources the admin hid are summed as "Other factors"); `drift` is the PSI of
    the holdout against the training data (`scoring.drift`), a sanity check until cycles record theirs.
    """
    y = np.asarray(outcome, dtype=np.int64)
    p = np.asarray(probability, dtype=np.float64)
    with_points = [spec for spec in features if spec.points is not None and spec.name in held.data.columns]
    rules = rule_scores(rule_points(held.data, with_points)).to_numpy() if with_points else None
    inputs = model_inputs(held, trained.schema, segments)
    baseline = DriftBaseline.from_dict(trained.extra["drift_baseline"])
    features_only = inputs.drop(columns=[SEGMENT_COLUMN], errors="ignore")
    drift = drift_report(baseline, features_only, thresholds or Drift(), scores=100.0 * p)
    if len(inputs) > MAX_EXPLAINED:
        rows = np.sort(np.random.default_rng(seed).choice(len(inputs), MAX_EXPLAINED, replace=False))
        inputs = inputs.iloc[rows]
    sources = source_points(Explainer(trained.model).contributions(inputs).frame(), held.columns)
    mean_abs = sources.points.abs().mean(axis=0)
    importance = {sources.labels[str(name)]: round(float(v), 4) for name, v in mean_abs.items()}
    return {
        "outcome": y.tolist(),
        "probability": np.round(p, 6).tolist(),
        "rules_score": np.round(rules, 4).tolist() if rules is not None else None,
        "importance": importance,
        "drift": {
            "columns": {c.name: round(c.psi, 6) for c in drift.columns},
            "score": round(drift.score.psi, 6) if drift.score else None,
            "rows": len(y),
        },
    }


def predict(
    trained: TrainedModel, frame: FeatureFrame, *, segments: pd.Series | None = None
) -> npt.NDArray[np.float64]:
    """Calibrated probability of a positive outcome for each lead of `frame` (in its order)."""
    routed = segments if isinstance(trained.model, SegmentedModel) else None
    X = model_inputs(frame, trained.schema, routed)
    return np.asarray(trained.model.predict_proba(X)[:, 1], dtype=np.float64)
