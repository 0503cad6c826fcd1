"""Retraining and champion/challenger: when to train, training on the world's labels, promotion.

Every CRM has its own registry, `<state>/<crm>/models/` (`scoring.registry.ModelRegistry`), mirrored in
the store's model index (segment `all`: one entry per artifact, whether or not it holds per-segment
models).

The holdout is the same for every model: a lead is in it when a hash of its id falls in the first
`HOLDOUT_SHARE` of the range. So a lead the champion was trained on is never in a challenger's holdout,
and comparing the two on it is fair (a random split per retrain would hand the champion leads it had
already seen). The minimum of labels per class applies to all labels, holdout included, as the
cold-start switch counts them.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pandas as pd
from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]
from sklearn.model_selection import train_test_split

from mappings import Crm, Lead
from scoring.coldstart import label_counts, use_model
from scoring.features import FeatureFrame, build_features
from scoring.graph import AccountGraph
from scoring.metrics import quality
from scoring.pipeline import Pipeline, policy_frame
from scoring.registry import ModelRegistry, Promotion, RegistryError
from scoring.training import (
    MAX_TRAINING_ROWS,
    NotEnoughLabels,
    TrainedModel,
    cap_rows,
    holdout_evaluation,
    predict,
    subset,
    train,
)
from sync.context import CycleContext
from sync.daemon import crontab_weekdays
from sync.feedback_labels import WorldLike, label_high_water, labels_after, latest_labels, training_labels
from sync.state import as_utc

__all__ = [
    "HOLDOUT_SHARE",
    "SEGMENT",
    "RetrainResult",
    "holdout_ids",
    "load_champion",
    "registry_of",
    "retrain",
    "should_retrain",
]

log = logging.getLogger("leadq.feedback")
HOLDOUT_SHARE = 0.2
IMPLAUSIBLE_AUC = 0.98
"""A holdout AUC at or above this means a feature is set by the outcome itself (a leak): not promoted."""
SEGMENT = "all"
_ATTEMPT_KEY = "feedback:last_attempt:{crm}"
_BUCKETS = 10_000


@dataclass
class RetrainResult:
    """What one retraining did: the new version (None when nothing was trained), whether it became
    champion and why, its holdout figures, and the (positive, negative) labels it was built from."""

    version: str | None
    promoted: bool
    reason: str
    metrics: dict[str, float] = field(default_factory=dict)
    labels: tuple[int, int] = (0, 0)


@dataclass(frozen=True)
class _Attempt:
    at: datetime
    label_id: int | None  # labels with a higher id came after it; None: compare label times instead


def registry_of(ctx: CycleContext, crm: Crm) -> ModelRegistry:
    """The model registry of one CRM: `<state>/<crm>/models/`."""
    return ModelRegistry(ctx.state_dir / crm)


def _utc(moment: datetime) -> datetime:
    return as_utc(moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC))


# ---- when ------------------------------------------------------------------------------------------


def _last_attempt(ctx: CycleContext, crm: Crm, registry: ModelRegistry) -> _Attempt | None:
    """The latest training: the newest indexed model, or one this process tried that saved nothing."""
    candidates: list[_Attempt] = []
    remembered = ctx.extra.get(_ATTEMPT_KEY.format(crm=crm))
    if isinstance(remembered, _Attempt):
        candidates.append(remembered)
    entries = ctx.store.models(crm)
    if entries:
        newest = entries[-1]
        metrics = newest.metrics if isinstance(newest.metrics, dict) else {}
        mark = metrics.get("label_high_water")
        candidates.append(_Attempt(_utc(newest.created_at), int(mark) if isinstance(mark, int) else None))
    elif not candidates and (champion := registry.champion()) is not None:
        # A champion the index never saw (the store was replaced): its training time is in its metadata.
        created = datetime.fromisoformat(str(registry.metadata(champion)["created"]))
        candidates.append(_Attempt(_utc(created), None))
    return max(candidates, key=lambda a: a.at) if candidates else None


def _next_fire(schedule: str, after: datetime) -> datetime | None:
    """The first time the crontab `schedule` fires after `after` (machine time zone, as `schedule.cron`)."""
    minute, hour, day, month, weekday = schedule.split()
    trigger = CronTrigger(
        minute=minute, hour=hour, day=day, month=month, day_of_week=crontab_weekdays(weekday)
    )
    fire = trigger.get_next_fire_time(None, after + timedelta(microseconds=1))
    return fire if isinstance(fire, datetime) else None


def should_retrain(ctx: CycleContext, crm: Crm, now: datetime) -> str | None:
    """Why to train a challenger now, or None.

    Reasons, in order: there is no model yet and the labels suffice; `scoring.retrain.every_n_labels`
    labels arrived since the last training; the `scoring.retrain.schedule` cron fired since the last
    training. "Last training" includes challengers that were not promoted, so a challenger that lost is
    not retrained every cycle on the same labels.
    """
    scoring = ctx.config.scoring
    registry = registry_of(ctx, crm)
    now = _utc(now)
    last = _last_attempt(ctx, crm, registry)
    if registry.champion() is None:
        positives, negatives = label_counts(latest_labels(ctx.store, crm).values())
        if not use_model(positives, negatives, scoring):
            return None
        if last is None:
            return (
                f"no model yet and enough labels: {positives} positive and {negatives} negative "
                f"(scoring.min_labels_per_class: {scoring.min_labels_per_class})"
            )
    if last is None:
        return None
    new = labels_after(ctx.store, crm, label_id=last.label_id, at=last.at)
    every = scoring.retrain.every_n_labels
    if new >= every:
        since = f"{last.at:%Y-%m-%d %H:%M} UTC"
        return f"{new} new labels since the last training on {since} (retrain.every_n_labels: {every})"
    schedule = scoring.retrain.schedule
    if schedule is None:
        return None
    try:
        fire = _next_fire(schedule, last.at)
    except ValueError as exc:
        log.error("scoring.retrain.schedule %r cannot be used (%s); fix it in leadq.yaml", schedule, exc)
        return None
    if fire is not None and fire <= now:
        return f"scheduled retrain: retrain.schedule {schedule!r} fired at {fire.isoformat()}"
    return None


# ---- training ---------------------------------------------------------------------------------------


def holdout_ids(ids: Sequence[str], outcome: pd.Series) -> tuple[list[str], list[str]]:
    """(training ids, holdout ids): the stable hash split, or a stratified random split when the hash
    split leaves a class out of either side (only with very few labels)."""
    held: list[str] = []
    kept: list[str] = []
    for lead_id in ids:
        bucket = int.from_bytes(hashlib.blake2b(lead_id.encode(), digest_size=8).digest(), "big") % _BUCKETS
        (held if bucket < HOLDOUT_SHARE * _BUCKETS else kept).append(lead_id)
    if all(outcome.loc[side].nunique() == 2 for side in (held, kept) if side) and held and kept:
        return kept, held
    train_part, test_part = train_test_split(
        list(ids), test_size=HOLDOUT_SHARE, stratify=outcome.loc[list(ids)].to_numpy(), random_state=0
    )
    return list(train_part), list(test_part)


def _segments(
    ctx: CycleContext, crm: Crm, people: list[Lead], frame: FeatureFrame, graph: AccountGraph, now: datetime
) -> pd.Series | None:
    """Each lead's segment as scoring assigns it (None without configured segments)."""
    scoring = ctx.config.scoring
    if not scoring.segments:
        return None
    features = ctx.mapping(crm).features
    pipeline = Pipeline.build(scoring, ctx.config.review, features, crm=crm)
    chosen = pipeline.policies.segment(policy_frame(people, frame, features, graph), now=now)
    return pd.Series(chosen, index=frame.data.index, dtype=object)


def _skip(ctx: CycleContext, crm: Crm, now: datetime, reason: str, counts: tuple[int, int]) -> RetrainResult:
    ctx.store.audit("leadq", "model_not_trained", crm=crm, at=now,
                    detail={"reason": reason, "positive": counts[0], "negative": counts[1]})  # fmt: skip
    log.info("%s: no model trained: %s", crm, reason)
    return RetrainResult(None, False, reason, {}, counts)


def _fit(
    ctx: CycleContext, crm: Crm, world: WorldLike, labels: pd.Series, now: datetime
) -> tuple[TrainedModel, FeatureFrame, pd.Series, pd.Series | None]:
    """Train on the labelled people outside the holdout; returns the model with its holdout figures, the
    holdout's frame, outcomes and segments."""
    scoring = ctx.config.scoring
    features = ctx.mapping(crm).features
    # Rows in id order: the booster's early-stopping split is by position, so the order labels were
    # recorded in (pull order: REST pages sorted, Bulk results not) would otherwise change the model.
    labels = labels.set_axis([str(i) for i in labels.index]).sort_index(kind="stable")
    train_ids, test_ids = holdout_ids(list(labels.index), labels)
    # Above MAX_TRAINING_ROWS a stratified sample is fitted on: features only for it and the holdout.
    target = (pd.to_numeric(labels, errors="coerce") > 0).astype(int)
    train_ids = [str(i) for i in cap_rows(train_ids, target, MAX_TRAINING_ROWS)]
    people = [world.people[i] for i in (*train_ids, *test_ids)]
    frame = build_features(people, graph=world.graph, features=features, crm=crm, now=now)
    segments = _segments(ctx, crm, people, frame, world.graph, now)
    fitted = labels.loc[train_ids]
    # The totals passed the minimum; the training part is smaller by the holdout, so the fit may go
    # below it (per-segment models keep the configured minimum wherever the data allows it).
    smallest = max(1, min(scoring.min_labels_per_class, *label_counts(fitted)))
    fit_config = scoring.model_copy(update={"min_labels_per_class": smallest})
    trained = train(frame, fitted, fit_config, segments=segments, features=features)
    held = subset(frame, test_ids)
    routed = None if segments is None else segments.loc[test_ids]
    y = labels.loc[test_ids].to_numpy()
    p = predict(trained, held, segments=routed)
    evaluation = holdout_evaluation(
        trained, held, y, p, features=features, segments=routed, thresholds=scoring.drift
    )
    positives, negatives = label_counts(labels)
    # Label counts are all labels the model was built from (training and holdout), as cold start counts.
    trained = replace(trained, metrics=quality(y, p), positives=positives, negatives=negatives,
                      extra={**trained.extra, "holdout": evaluation})  # fmt: skip
    return trained, held, labels.loc[test_ids], routed


def _figures(promotion: Promotion | None, trained: TrainedModel) -> dict[str, float]:
    figures = {k: float(v) for k, v in (trained.metrics.to_dict() if trained.metrics else {}).items()}
    if promotion is not None and promotion.champion_quality is not None:
        figures["champion_auc"] = float(promotion.champion_quality.auc)
    return figures


def retrain(ctx: CycleContext, crm: Crm, world: WorldLike, now: datetime, *, reason: str) -> RetrainResult:
    """Train a challenger on the world's labels, store it, and promote it if it is not worse than the
    champion on the holdout (the first model: if its holdout AUC reaches `scoring.drift.min_auc`).

    Too few labels is not an error: the result says so (counts and the minimum) and nothing is stored.
    """
    scoring = ctx.config.scoring
    now = _utc(now)
    mark = label_high_water(ctx.store, crm)
    ctx.extra[_ATTEMPT_KEY.format(crm=crm)] = _Attempt(now, mark)
    labels = training_labels(ctx, crm, world, now)
    counts = label_counts(labels)
    if not use_model(*counts, scoring):
        why = (
            f"too few labels to train: {counts[0]} positive and {counts[1]} negative; a model needs "
            f"{scoring.min_labels_per_class} of each (scoring.min_labels_per_class)"
        )
        return _skip(ctx, crm, now, why, counts)
    try:
        trained, held, outcome, routed = _fit(ctx, crm, world, labels, now)
    except NotEnoughLabels as exc:
        return _skip(ctx, crm, now, f"too few labels to train: {exc}", counts)
    registry = registry_of(ctx, crm)
    created = [p.created_at for p in (world.people[str(i)] for i in labels.index) if p.created_at]
    window = {"from": min(created).isoformat() if created else None, "to": now.isoformat()}
    version = registry.save(trained, training_window=window, retrain_reason=reason)
    figures = _figures(None, trained)
    path = str(registry.root / version)
    indexed = {**figures, "label_high_water": mark}
    ctx.store.register_model(version, crm, SEGMENT, path, role="challenger", metrics=indexed, created_at=now)
    detail = {"reason": reason, "positive": counts[0], "negative": counts[1], "holdout": figures}
    ctx.store.audit("leadq", "model_trained", crm=crm, model_version=version, at=now, detail=detail)
    floor = scoring.drift.min_auc
    promotion, why = _promote(registry, version, trained, floor, held, outcome, routed)
    promoted = promotion is not None and promotion.promoted
    figures = _figures(promotion, trained)
    if promoted:
        _mirror_promotion(ctx, crm, version, now)
    action = "model_promoted" if promoted else "model_kept_champion"
    old = promotion.champion if promotion is not None else registry.champion()
    new = version if promoted else old
    detail = {"reason": why, "holdout": figures}
    ctx.store.audit("leadq", action, crm=crm, model_version=version, old=old, new=new, at=now, detail=detail)
    log.info("%s: model %s %s (%s)", crm, version, "promoted" if promoted else "not promoted", why)
    return RetrainResult(version, promoted, why, figures, counts)


def _promote(
    registry: ModelRegistry,
    version: str,
    trained: TrainedModel,
    min_auc: float,
    held: FeatureFrame,
    outcome: pd.Series,
    routed: pd.Series | None,
) -> tuple[Promotion | None, str]:
    """Champion/challenger on the holdout, after the floor every model must reach and the leak check."""
    auc = trained.metrics.auc if trained.metrics is not None else math.nan
    if not auc >= min_auc:  # NaN (a one-class holdout) fails too
        return None, f"holdout AUC {auc:.4f} is below scoring.drift.min_auc {min_auc}"
    if auc >= IMPLAUSIBLE_AUC:
        why = (
            f"holdout AUC {auc:.4f} is too good to be true: {_dominant(trained)} most likely follows from "
            "the outcome (a mapped field: mark it `leaky: true` in leadq.yaml; a graph or activity fact: "
            "something the conversion itself creates feeds it)"
        )
        log.warning("%s: model %s not promoted: %s", registry.root.parent.name, version, why)
        return None, why
    try:
        promotion = registry.promote_if_better(version, held, outcome, segments=routed)
    except RegistryError as exc:
        return None, f"the champion could not be compared on the holdout: {exc}"
    return promotion, promotion.reason


def _dominant(trained: TrainedModel) -> str:
    """The input that carries most of the holdout's explanation, in words."""
    holdout = trained.extra.get("holdout")
    importance = holdout.get("importance") if isinstance(holdout, dict) else None
    if not isinstance(importance, dict) or not importance:
        return "a feature"
    name, points = max(importance.items(), key=lambda kv: float(kv[1]))
    total = sum(float(v) for v in importance.values()) or 1.0
    return f"{name!r} ({100 * float(points) / total:.0f}% of the explanation)"


def _mirror_promotion(ctx: CycleContext, crm: Crm, version: str, now: datetime) -> None:
    """The store's model index follows the registry: the old champion steps back, the new one is champion."""
    with ctx.store.transaction():
        for entry in ctx.store.models(crm, role="champion"):
            if entry.version != version:
                ctx.store.set_model_role(crm, entry.version, "challenger", at=now)
        ctx.store.set_model_role(crm, version, "champion", at=now)


# ---- scoring with it --------------------------------------------------------------------------------


def load_champion(ctx: CycleContext, crm: Crm) -> TrainedModel | None:
    """The champion to score with, or None for rule-based scores: no model yet, the champion was built
    from fewer labels than `scoring.min_labels_per_class` asks now, or its artifact cannot be loaded
    (logged and audited; `leadq model rollback` restores the previous one)."""
    registry = registry_of(ctx, crm)
    version = registry.champion()
    if version is None:
        return None
    try:
        trained = registry.load(version)
    except (RegistryError, OSError, KeyError, ValueError) as exc:
        log.error("%s: champion model %s cannot be loaded, scoring is rule-based: %s", crm, version, exc)
        ctx.store.audit(
            "leadq", "model_load_failed", crm=crm, model_version=version, detail={"error": str(exc)}
        )
        return None
    if not use_model(trained.positives, trained.negatives, ctx.config.scoring):
        log.warning(
            "%s: champion %s was built from %d positive and %d negative labels, fewer than "
            "scoring.min_labels_per_class %d: scoring is rule-based",
            crm, version, trained.positives, trained.negatives, ctx.config.scoring.min_labels_per_class,
        )  # fmt: skip
        return None
    return trained
