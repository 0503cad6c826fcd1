"""Deciding a cycle's people in chunks: score, explain, apply the policies and overrides, plan the writes and
the review tasks, `CHUNK` people at a time.

A re-score of 145k people at once held ~1.5-2 GB of frames, SHAP contributions, explanations and score
history; a chunk's share is released before the next chunk is scored. The people go in `to_score` order
(by id) and the chunks give exactly what one batch gives: the review round robin continues across chunks
(`review.Rotation`), drift is measured over all of them (`feedback.drift_counts`: per-bin counts add up),
and the human edits of echoes (records not scored) are found once, after the last chunk. The caller makes
each chunk durable as it is planned (`on_chunk`, inside its transaction) or keeps its writes (dry run).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from mappings import Crm, Lead
from scoring.decision import Decision
from scoring.drift import DriftCounts
from scoring.pipeline import DecidedBatch, Pipeline
from scoring.registry import ModelRegistry
from sync import feedback, review
from sync.commit import previous_of
from sync.context import CycleContext
from sync.fields import SCORED_OBJECTS
from sync.plan import HumanEdit, RecordWrite, WritePlan, human_edits_of, plan_writes
from sync.pull import Pulled
from sync.report import CrmReport
from sync.state import LedgerEntry
from sync.triggers import Trigger, triggers_of
from sync.world import World

CHUNK = 20_000
"""People decided, planned and committed at a time (a cycle passes another size for tests)."""
MODEL_MARK = "scored_with_model"  # kept with the cursors: the model version the last cycle scored with
FULL_RESCORE_MARK = "full_rescore"  # when everyone was last re-scored
FULL_RESCORE_EVERY = timedelta(days=1)


@dataclass(frozen=True)
class DecidedChunk:
    """One chunk's decisions (overrides applied), the batch they came from, and their planned writes."""

    decisions: list[Decision]
    batch: DecidedBatch
    writes: list[RecordWrite]
    triggers: Mapping[str, Trigger]  # lead id -> why it was scored this cycle (the whole cycle's)


@dataclass
class Planned:
    """What a cycle's chunks leave for its once-per-cycle part."""

    tasks: list[review.PlannedTask] = field(default_factory=list)
    escalation: review.Escalation = field(default_factory=review.Escalation)
    human_edits: list[HumanEdit] = field(default_factory=list)  # the chunks' in order, then the echoes'
    writes: list[RecordWrite] = field(default_factory=list)  # only without `on_chunk` (a dry run)

    @property
    def plan(self) -> WritePlan:
        return WritePlan(self.writes, self.human_edits)


def decide_and_plan(
    ctx: CycleContext,
    crm: Crm,
    world: World,
    pulled: Pulled,
    context_changed: set[str],
    pickup: review.Pickup,
    out: CrmReport,
    *,
    on_chunk: Callable[[DecidedChunk], None] | None = None,
    chunk: int = CHUNK,
) -> Planned:
    """Score who needs it, apply reviewers' overrides, plan the writes, the review tasks and escalations.

    Each chunk goes to `on_chunk` once planned and is dropped after; without `on_chunk` the writes are
    kept in the result. Review tasks, escalations and human edits are returned (nothing is recorded)."""
    now = ctx.clock()
    also = context_changed | pickup.rescore
    # A new champion, or a day gone by (ages grow, activity leaves its window, scores decay): everyone
    # is re-scored, and still only changed values are written.
    everyone: Trigger | None = (
        "model" if model_changed(ctx, crm) else "daily" if full_rescore_due(ctx, crm, now) else None
    )
    if everyone is not None:
        also |= set(world.people)
    people = to_score(world, pulled, also)
    triggers = triggers_of(
        people, {p.id for p in pulled.changed_people}, pickup.rescore, context_changed, everyone
    )
    pipeline = pipeline_of(ctx, crm)
    scoring_now = ctx.clock()
    # Pools deal their leads best score first over the whole batch: only one batch deals them the same.
    size = max(len(people), 1) if ctx.config.scoring.routing.pools else max(chunk, 1)
    drift = feedback.drift_counts(pipeline.scorer.trained)
    rotation = review.Rotation()
    planned = Planned()
    scored = 0
    for part in _parts(people, size):
        scored += _decide_chunk(
            ctx,
            crm,
            world,
            part,
            out,
            pipeline,
            scoring_now,
            now,
            triggers,
            drift,
            rotation,
            planned,
            on_chunk,
        )
    if pipeline.scorer.trained is not None and scored:
        out.drift = feedback.judge_drift(ctx, crm, pipeline.scorer.trained, drift)
    planned.human_edits += echo_edits(ctx, crm, world, pulled, {p.id for p in people}, out, chunk=chunk)
    planned.escalation = review.escalate_overdue(ctx, crm, now)
    return planned


def _parts(people: Sequence[Lead], size: int) -> Iterator[Sequence[Lead]]:
    """`people` `size` at a time; one empty part when there is nobody (the report still names the model)."""
    yield people[:size]
    for start in range(size, len(people), size):
        yield people[start : start + size]


def _decide_chunk(
    ctx: CycleContext,
    crm: Crm,
    world: World,
    people: Sequence[Lead],
    out: CrmReport,
    pipeline: Pipeline,
    scoring_now: datetime,
    now: datetime,
    triggers: Mapping[str, Trigger],
    drift: DriftCounts | None,
    rotation: review.Rotation,
    planned: Planned,
    on_chunk: Callable[[DecidedChunk], None] | None,
) -> int:
    """Decide and plan one chunk into `planned` (and `on_chunk`); returns how many were scored. Its
    frames die with this call, before the next chunk is scored."""
    batch = decide(ctx, crm, world, people, out, pipeline=pipeline, now=scoring_now, drift=drift)
    decisions = review.apply_overrides(ctx, crm, batch.decisions, now)
    plan = plan_chunk(ctx, crm, world, decisions, out)
    planned.tasks += review.plan_review_tasks(ctx, crm, decisions, world.people, now, rotation)
    planned.human_edits += plan.human_edits
    if on_chunk is None:
        planned.writes += plan.writes
    else:
        on_chunk(DecidedChunk(decisions, batch, plan.writes, triggers))
    return len(decisions)


def decide(
    ctx: CycleContext,
    crm: Crm,
    world: World,
    people: Sequence[Lead],
    out: CrmReport,
    *,
    pipeline: Pipeline,
    now: datetime,
    drift: DriftCounts | None = None,
) -> DecidedBatch:
    """Score, explain and apply the policies to `people`; their model inputs and scores go to `drift`."""
    started = time.perf_counter()
    previous = {i: previous_of(r) for i, r in ctx.store.latest_scores(crm, [p.id for p in people]).items()}
    out.phase("history", time.perf_counter() - started)
    decided = pipeline.decide(people, world.graph, now=now, previous=previous)
    for phase, seconds in decided.timings.items():
        out.phase(phase, seconds)
    out.scored += len(decided.decisions)
    out.explained += len(decided.scored.points.index)
    out.model_version = pipeline.model_version
    out.rule_based = pipeline.scorer.trained is None
    if drift is not None and len(decided.decisions):
        drift.add(decided.frame.data, [d.score for d in decided.decisions])
    return decided


def plan_chunk(
    ctx: CycleContext, crm: Crm, world: World, decisions: Sequence[Decision], out: CrmReport
) -> WritePlan:
    """The field writes of the decisions, and the people's edits of their fields to leave alone (each
    reported once)."""
    started = time.perf_counter()
    ledger = _ledger(ctx, crm, world, [d.lead_id for d in decisions])
    plan = plan_writes(crm, ctx.mapping(crm), decisions, world.people, ledger)
    plan.human_edits = _new(plan.human_edits, ledger)
    out.human_edits += len(plan.human_edits)
    out.phase("plan", time.perf_counter() - started)
    return plan


def echo_edits(
    ctx: CycleContext,
    crm: Crm,
    world: World,
    pulled: Pulled,
    scored: set[str],
    out: CrmReport,
    *,
    chunk: int = CHUNK,
) -> list[HumanEdit]:
    """People's edits of our fields on the records whose only change was ours and that were not scored.

    The ledger is read `chunk` people at a time: the cycle after a full one re-reads every person it wrote
    (~145k at 100k leads, six entries each), and all their entries at once cost hundreds of megabytes."""
    started = time.perf_counter()
    echoes = [p for p in pulled.echoes if p.id not in scored]
    edits: list[HumanEdit] = []
    for start in range(0, len(echoes), chunk):
        part = echoes[start : start + chunk]
        ledger = _ledger(ctx, crm, world, [p.id for p in part])
        edits += _new(human_edits_of(crm, ctx.mapping(crm), part, ledger), ledger)
    out.human_edits += len(edits)
    out.phase("plan", time.perf_counter() - started)
    return edits


def _ledger(
    ctx: CycleContext, crm: Crm, world: World, ids: Iterable[str]
) -> dict[str, dict[str, LedgerEntry]]:
    known = [i for i in dict.fromkeys(ids) if i in world.people]
    ledger: dict[str, dict[str, LedgerEntry]] = {}
    for obj in SCORED_OBJECTS[crm]:
        ledger.update(ctx.store.ledger_for_records(crm, obj, known))
    return ledger


def _new(edits: Iterable[HumanEdit], ledger: Mapping[str, Mapping[str, LedgerEntry]]) -> list[HumanEdit]:
    """The edits not already reported (the ledger parked the field with the same value)."""

    def new(edit: HumanEdit) -> bool:
        entry = ledger.get(edit.record_id, {}).get(edit.field)
        return entry is None or entry.last_error != f"changed by a person to {edit.theirs!r}"

    return [e for e in edits if new(e)]


def to_score(world: World, pulled: Pulled, also: Iterable[str]) -> list[Lead]:
    """The people to score: those that changed, and those whose context or review state changed."""
    wanted = {p.id for p in pulled.changed_people} | set(also)
    return [world.people[i] for i in sorted(wanted) if i in world.people and _scorable(world.people[i])]


def _scorable(person: Lead) -> bool:
    # A converted Salesforce lead is an outcome, and the API refuses updates to it.
    return not person.deleted and not (person.kind == "lead" and person.is_converted)


def model_changed(ctx: CycleContext, crm: Crm) -> bool:
    """Whether the champion changed since the last cycle scored (promotion, rollback)."""
    last = ctx.store.get_cursor(crm, MODEL_MARK)
    return last is not None and last.get("value") != pipeline_of(ctx, crm).model_version


def full_rescore_due(ctx: CycleContext, crm: Crm, now: datetime) -> bool:
    """Whether a day has passed since everyone was last re-scored (never on a CRM's very first cycle)."""
    mark = ctx.store.get_cursor(crm, FULL_RESCORE_MARK)
    if mark is None or not mark.get("value"):
        return False  # the first cycle scores everyone anyway, and sets the mark
    return now - datetime.fromisoformat(str(mark["value"])) >= FULL_RESCORE_EVERY


def pipeline_of(ctx: CycleContext, crm: Crm) -> Pipeline:
    """The CRM's pipeline with its current champion (reloaded only when the champion changes)."""
    version = ModelRegistry(ctx.state_dir / crm).champion()
    cached = ctx.extra.get(f"pipeline:{crm}")
    if isinstance(cached, tuple) and cached[0] == version:
        pipeline: Pipeline = cached[1]
        return pipeline
    mapping = ctx.mapping(crm)
    trained = feedback.load_champion(ctx, crm)
    pipeline = Pipeline.build(
        ctx.config.scoring, ctx.config.review, mapping.features, crm=crm, trained=trained,
        max_chars=mapping.writeback.field_for("reasons").max_length,
    )  # fmt: skip
    ctx.extra[f"pipeline:{crm}"] = (version, pipeline)
    return pipeline
