"""Retraining and champion/challenger: training on the world's labels, promotion (when to train is
`sync.feedback_when`).

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
import multiprocessing
import signal
from collections.abc import Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.process import BaseProcess

import pandas as pd
from sklearn.model_selection import train_test_split

from mappings import Crm, Lead
from scoring.coldstart import label_counts, use_model
from scoring.features import FeatureFrame, build_features
from scoring.graph import AccountGraph
from scoring.pipeline import Pipeline, policy_frame
from scoring.registry import ModelRegistry, Promotion, RegistryError
from scoring.training import (
    MAX_TRAINING_ROWS,
    NotEnoughLabels,
    TrainedModel,
    cap_rows,
)
from scoring.training_job import TrainingJob
from sync.context import CycleContext
from sync.feedback_labels import WorldLike, label_high_water, training_labels
from sync.feedback_when import (
    Attempt,
    forget_attempt,
    registry_of,
    remember_attempt,
    utc,
)

__all__ = [
    "HOLDOUT_SHARE",
    "SEGMENT",
    "RetrainResult",
    "Retraining",
    "begin_retrain",
    "holdout_ids",
    "load_champion",
    "retrain",
]

log = logging.getLogger("leadq.feedback")
HOLDOUT_SHARE = 0.2
IMPLAUSIBLE_AUC = 0.98
"""A holdout AUC at or above this means a feature is set by the outcome itself (a leak): not promoted."""
SEGMENT = "all"
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


def _skip(
    ctx: CycleContext,
    crm: Crm,
    now: datetime,
    reason: str,
    counts: tuple[int, int],
    *,
    level: int = logging.INFO,
) -> RetrainResult:
    ctx.store.audit("leadq", "model_not_trained", crm=crm, at=now,
                    detail={"reason": reason, "positive": counts[0], "negative": counts[1]})  # fmt: skip
    log.log(level, "%s: no model trained: %s", crm, reason)
    return RetrainResult(None, False, reason, {}, counts)


def _training_job(
    ctx: CycleContext, crm: Crm, world: WorldLike, labels: pd.Series, now: datetime
) -> TrainingJob:
    """The fit on the labelled people outside the holdout, its features built from the world."""
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
    return TrainingJob(frame, labels, train_ids, test_ids, ctx.config.scoring, features, segments)


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
    return begin_retrain(ctx, crm, world, now, reason=reason, beside=False).finish()


def begin_retrain(
    ctx: CycleContext, crm: Crm, world: WorldLike, now: datetime, *, reason: str, beside: bool = True
) -> Retraining:
    """`retrain` in two steps: the labels are read and the features built now, the fit runs in a worker
    process (`beside`) while the caller goes on, and `Retraining.finish` stores and promotes it on the
    caller's thread.

    The cycle sends its writes meanwhile. The fit is ~10 s at 100k leads, most of it scikit-learn code
    holding the GIL: on a thread it would take turns with the send; in a process it has a core of its
    own, and against a real CRM the send mostly waits on the network anyway.
    """
    scoring = ctx.config.scoring
    now = utc(now)
    mark = label_high_water(ctx.store, crm)
    before = remember_attempt(ctx, crm, Attempt(now, mark))
    labels = training_labels(ctx, crm, world, now)
    counts = label_counts(labels)
    if not use_model(*counts, scoring):
        why = (
            f"too few labels to train: {counts[0]} positive and {counts[1]} negative; a model needs "
            f"{scoring.min_labels_per_class} of each (scoring.min_labels_per_class)"
        )
        return Retraining(ctx, crm, now, reason, done=_skip(ctx, crm, now, why, counts))
    created = [p.created_at for p in (world.people[str(i)] for i in labels.index) if p.created_at]
    window = {"from": min(created).isoformat() if created else None, "to": now.isoformat()}
    job = _training_job(ctx, crm, world, labels, now)
    fitting, worker = _fit_beside(job) if beside else (_run_now(job), None)
    return Retraining(ctx, crm, now, reason, counts=counts, mark=mark, window=window, before=before,
                      job=job, fitting=fitting, worker=worker)  # fmt: skip


def _fit_beside(job: TrainingJob) -> tuple[Future[TrainedModel], BaseProcess | None]:
    """`job.run()` in a worker process (the fit is Python and C that holds the GIL much of the time: a
    thread would take turns with the send), with that process; a thread where no process can be started.
    """
    pool: Executor
    worker: BaseProcess | None = None
    try:
        before = set(multiprocessing.active_children())
        pool = ProcessPoolExecutor(
            max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=_ignore_interrupts
        )
        fitting = pool.submit(job.run)  # starts the worker process
        started = set(multiprocessing.active_children()) - before
        # Known only when it is the one process started meanwhile: then `abandon` can stop it.
        worker = started.pop() if len(started) == 1 else None
    except OSError as exc:
        log.warning("training in a thread: no worker process could be started (%s)", exc)
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="leadq-train")
        fitting = pool.submit(job.run)
    pool.shutdown(wait=False)  # the worker ends with the fit
    return fitting, worker


def _ignore_interrupts() -> None:
    # Ctrl-C reaches the whole process group: the daemon turns it into a clean stop after the batch in
    # flight, and the fit must live on until `finish` (or `abandon`) collects it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run_now(job: TrainingJob) -> Future[TrainedModel]:
    done: Future[TrainedModel] = Future()
    try:
        done.set_result(job.run())
    except NotEnoughLabels as exc:
        done.set_exception(exc)
    return done


@dataclass
class Retraining:
    """A retrain `begin_retrain` started: `finish` waits for its fit, then stores, audits and promotes the
    model; `abandon` stops the fit and keeps nothing (the attempt does not count: the next cycle trains
    again)."""

    ctx: CycleContext
    crm: Crm
    now: datetime
    reason: str
    done: RetrainResult | None = None  # known at once: too few labels
    counts: tuple[int, int] = (0, 0)
    mark: int | None = None
    window: dict[str, str | None] = field(default_factory=dict)
    before: object = None
    job: TrainingJob | None = None
    fitting: Future[TrainedModel] | None = None
    worker: BaseProcess | None = None  # the process fitting, when known

    def finish(self) -> RetrainResult:
        """The retrain's result, once its model is stored and (if it earned it) promoted."""
        if self.done is not None:
            return self.done
        assert self.fitting is not None and self.job is not None
        ctx, crm, now, counts = self.ctx, self.crm, self.now, self.counts
        try:
            trained = self.fitting.result()
        except NotEnoughLabels as exc:
            self.done = _skip(ctx, crm, now, f"too few labels to train: {exc}", counts)
            return self.done
        except BrokenProcessPool as exc:
            # The worker was killed (out of memory, say): nothing of the cycle is lost, it trains again.
            forget_attempt(ctx, crm, self.before)
            why = (
                f"the training process ended before the model was fitted ({exc}); the next cycle trains again"
            )
            self.done = _skip(ctx, crm, now, why, counts, level=logging.ERROR)
            return self.done
        self.done = _store_and_promote(
            ctx, crm, now, trained, self.job.holdout(), reason=self.reason, counts=counts, mark=self.mark,
            window=self.window,
        )  # fmt: skip
        return self.done

    def abandon(self) -> None:
        """Stop the fit and drop it (its errors too: the caller is already failing for its own).

        The worker process is terminated; a fit whose process is not known (a thread's) is waited for.
        """
        if self.fitting is not None and self.done is None:
            if self.worker is not None and not self.fitting.done():
                self.worker.terminate()
            self.fitting.exception()  # BrokenProcessPool once the worker is gone
            forget_attempt(self.ctx, self.crm, self.before)


def _store_and_promote(
    ctx: CycleContext,
    crm: Crm,
    now: datetime,
    trained: TrainedModel,
    holdout: tuple[FeatureFrame, pd.Series, pd.Series | None],
    *,
    reason: str,
    counts: tuple[int, int],
    mark: int | None,
    window: dict[str, str | None],
) -> RetrainResult:
    registry = registry_of(ctx, crm)
    version = registry.save(trained, training_window=window, retrain_reason=reason)
    figures = _figures(None, trained)
    path = str(registry.root / version)
    indexed = {**figures, "label_high_water": mark}
    ctx.store.register_model(version, crm, SEGMENT, path, role="challenger", metrics=indexed, created_at=now)
    detail = {"reason": reason, "positive": counts[0], "negative": counts[1], "holdout": figures}
    ctx.store.audit("leadq", "model_trained", crm=crm, model_version=version, at=now, detail=detail)
    promotion, why = _promote(registry, version, trained, ctx.config.scoring.drift.min_auc, *holdout)
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
