"""One sync cycle: pull, graph, score, decide, plan, commit, send, checkpoint, per CRM.

`run_cycle` is what the daemon schedules and `leadq sync --once` runs. Each CRM's part reads as the flow
of DESIGN.md; a CRM that stops early (quota, credentials) keeps what it did and leaves the other CRM be.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from connector.errors import AuthError, ConnectorError, QuotaExhaustedError, RateLimitedError
from mappings import Crm, Lead
from scoring.decision import Decision
from scoring.pipeline import DecidedBatch, Pipeline
from scoring.registry import ModelRegistry
from sync import drift_task, feedback, gc_policy, review
from sync.commit import Commit, commit, previous_of
from sync.context import CycleContext
from sync.fields import SCORED_OBJECTS
from sync.plan import HumanEdit, WritePlan, human_edits_of, object_of, plan_writes
from sync.preview import preview
from sync.pull import Pulled, pull_changes
from sync.report import CrmReport, RunReport
from sync.review_common import TASK_OBJECT
from sync.send import Sender, recover_in_flight
from sync.state import LedgerEntry
from sync.triggers import Trigger, triggers_of
from sync.world import World

log = logging.getLogger("leadq.cycle")
REVIEW_CURSOR = "review_tasks"
MODEL_MARK = "scored_with_model"  # kept with the cursors: the model version the last cycle scored with
FULL_RESCORE_MARK = "full_rescore"  # when everyone was last re-scored
FULL_RESCORE_EVERY = timedelta(days=1)


def run_cycle(ctx: CycleContext, *, dry_run: bool = False) -> RunReport:
    """One cycle over every configured CRM; the report is also kept in the run history."""
    report = RunReport(started_at=ctx.clock(), dry_run=dry_run)
    run = None if dry_run else ctx.store.start_run(report.started_at)
    report.run_id = None if run is None else run.id
    for crm in ctx.crms:
        out = report.crm(crm)
        try:
            with gc_policy.cycle():
                sync_crm(ctx, crm, out, run_key=str(report.run_id or "dry"), dry_run=dry_run)
        except (QuotaExhaustedError, AuthError, RateLimitedError) as exc:
            out.stopped = str(exc)
        except ConnectorError as exc:
            out.stopped = str(exc)
            report.error = str(exc)
        finally:
            out.api_calls = ctx.connectors[crm].calls.take()
    report.finished_at = ctx.clock()
    report.status = _status(report)
    if run is not None:
        ctx.store.finish_run(run.id, report.status, report.to_json(), report.finished_at)
    return report


def sync_crm(ctx: CycleContext, crm: Crm, out: CrmReport, *, run_key: str, dry_run: bool) -> None:
    """One CRM's cycle; the cursors move only once the plan is durable in the outbox."""
    started = ctx.clock()
    if not dry_run:
        resend_unfinished(ctx, crm, out)
    with pull_into_world(ctx, crm, started, out, keep=not dry_run) as (world, pulled):
        context_changed = update_graph(world, pulled, out)
        if dry_run:
            _, plan, tasks, escalation = decide_and_plan(
                ctx, crm, world, pulled, context_changed, review.Pickup(), out
            )
            drifting = drift_task.plan_drift_tasks(ctx, crm, out.drift, ctx.clock())
            out.planned = preview(crm, plan, escalation.updates, [*tasks, *escalation.tasks, *drifting])
            return
        decide_and_commit(ctx, crm, world, pulled, context_changed, out, run_key=run_key, started=started)
    send(ctx, crm, out)
    checkpoint(ctx, crm, pulled)
    learn(ctx, crm, world, out)


@contextmanager
def pull_into_world(
    ctx: CycleContext, crm: Crm, started: datetime, out: CrmReport, *, keep: bool
) -> Iterator[tuple[World, Pulled]]:
    """Pull the changes into the CRM's world (and its graph) a page at a time, the raw records spooled
    for the commit; the spool is dropped when the block ends.

    Until the commit the world holds records the store has not got: if the block fails (or a dry run
    ends), the world is forgotten and the next cycle rebuilds it from the store, so the records it pulls
    again still change the graph and re-score who they touch.
    """
    world = world_of(ctx, crm)
    try:
        with pull_changes(
            ctx.connectors[crm], ctx.store, crm, ctx.mapping(crm),
            run_started=started, report=out, into=world, spool_dir=ctx.state_dir,
        ) as pulled:  # fmt: skip
            yield world, pulled
    except BaseException:
        ctx.worlds.pop(crm, None)
        raise
    if not keep:
        ctx.worlds.pop(crm, None)


def decide_and_commit(
    ctx: CycleContext,
    crm: Crm,
    world: World,
    pulled: Pulled,
    context_changed: set[str],
    out: CrmReport,
    *,
    run_key: str,
    started: datetime,
) -> None:
    """One unit of work from reading review decisions to the durable plan: a crash anywhere in it leaves
    no trace, and the next cycle reads the same decisions and records again."""
    with ctx.store.transaction():
        pickup = review.pick_up_decisions(
            ctx, crm, run_started=started, task_cursor=pulled.cursors.get(TASK_OBJECT[crm])
        )
        decided, plan, tasks, escalation = decide_and_plan(
            ctx, crm, world, pulled, context_changed, pickup, out
        )
        review.record_planned_tasks(ctx, crm, tasks)
        review.record_escalation(ctx, crm, escalation)
        drifting = drift_task.plan_drift_tasks(ctx, crm, out.drift, ctx.clock())
        drift_task.record_drift_tasks(ctx, crm, drifting)
        commit(ctx.store, Commit(
            crm, run_key, pulled, decided.decisions, {d.lead_id: object_of(crm, world.people[d.lead_id])
            for d in decided.decisions}, decided.batch.scored, plan.writes,
            [*pickup.updates, *escalation.updates], [*tasks, *escalation.tasks, *drifting], plan.human_edits,
            decided.triggers,
        ))  # fmt: skip
        if pickup.cursor:
            ctx.store.set_cursor(crm, REVIEW_CURSOR, pickup.cursor)
        ctx.store.set_cursor(crm, MODEL_MARK, {"value": pipeline_of(ctx, crm).model_version})
        if ctx.store.get_cursor(crm, FULL_RESCORE_MARK) is None or full_rescore_due(ctx, crm, started):
            ctx.store.set_cursor(crm, FULL_RESCORE_MARK, {"value": started.isoformat()})
        out.tasks_completed += pickup.completed
        out.overrides += pickup.overrides
        out.labels += pickup.labels
        out.tasks_escalated += escalation.escalated
        out.problems.extend(pickup.problems)
        out.labels += feedback.record_outcome_labels(
            ctx, crm, world, [p.id for p in pulled.changed_people], started
        )


def resend_unfinished(ctx: CycleContext, crm: Crm, out: CrmReport) -> None:
    """Writes a crash left in flight, and last cycle's retryable ones, go first."""
    recover_in_flight(ctx.store, crm)
    send(ctx, crm, out)


def send(ctx: CycleContext, crm: Crm, out: CrmReport) -> None:
    Sender(
        ctx.store,
        ctx.connectors[crm],
        crm,
        out,
        on_tasks_created=lambda created: review.tasks_created(ctx, created),
        should_stop=ctx.stop_requested,
    ).send_all()


def world_of(ctx: CycleContext, crm: Crm) -> World:
    """The CRM's in-memory world, rebuilt from the store on a process's first cycle."""
    if crm not in ctx.worlds:
        ctx.worlds[crm] = World.rebuild(crm, ctx.store, ctx.mapping(crm), now=ctx.clock())
    return ctx.worlds[crm]


def update_graph(world: World, pulled: Pulled, out: CrmReport) -> set[str]:
    """The people whose context the pulled pages changed (the pull applied each page to the world and its
    graph as it arrived, timed as "graph"), less those deleted or gone since."""
    started = time.perf_counter()
    changed = {i for i in pulled.rescore if i in world.people}
    gc_policy.settle()  # the world is long-lived: keep the collector from walking it all cycle long
    out.phase("graph", time.perf_counter() - started)
    return changed


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


def decide(ctx: CycleContext, crm: Crm, world: World, people: list[Lead], out: CrmReport) -> DecidedBatch:
    """Score, explain and apply the policies to `people`."""
    pipeline = pipeline_of(ctx, crm)
    started = time.perf_counter()
    previous = {i: previous_of(r) for i, r in ctx.store.latest_scores(crm, [p.id for p in people]).items()}
    out.phase("history", time.perf_counter() - started)
    decided = pipeline.decide(people, world.graph, now=ctx.clock(), previous=previous)
    for phase, seconds in decided.timings.items():
        out.phase(phase, seconds)
    out.scored += len(decided.decisions)
    out.explained += len(decided.scored.points.index)
    out.model_version = pipeline.model_version
    out.rule_based = pipeline.scorer.trained is None
    if pipeline.scorer.trained is not None and len(decided.decisions):
        scores = [d.score for d in decided.decisions]
        out.drift = feedback.measure_drift(ctx, crm, pipeline.scorer.trained, decided.frame.data, scores)
    return decided


@dataclass(frozen=True)
class Decided:
    """The decisions of a cycle (overrides applied) and the batch they came from."""

    decisions: list[Decision]
    batch: DecidedBatch
    triggers: dict[str, Trigger]  # lead id -> why it was scored this cycle


def decide_and_plan(
    ctx: CycleContext,
    crm: Crm,
    world: World,
    pulled: Pulled,
    context_changed: set[str],
    pickup: review.Pickup,
    out: CrmReport,
) -> tuple[Decided, WritePlan, list[review.PlannedTask], review.Escalation]:
    """Score who needs it, apply reviewers' overrides, plan the writes, the review tasks and escalations."""
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
    batch = decide(ctx, crm, world, people, out)
    decisions = review.apply_overrides(ctx, crm, batch.decisions, now)
    plan, _ = plan_changes(ctx, crm, world, decisions, pulled, out)
    tasks = review.plan_review_tasks(ctx, crm, decisions, world.people, now)
    escalation = review.escalate_overdue(ctx, crm, now)
    return Decided(decisions, batch, triggers), plan, tasks, escalation


def plan_changes(
    ctx: CycleContext, crm: Crm, world: World, decisions: list[Decision], pulled: Pulled, out: CrmReport
) -> tuple[WritePlan, list[HumanEdit]]:
    """The field writes of the decisions, and the people's edits to leave alone (reported once)."""
    started = time.perf_counter()
    mapping = ctx.mapping(crm)
    scored_ids = {d.lead_id for d in decisions}
    echoes = [p for p in pulled.echoes if p.id not in scored_ids]
    ledger: dict[str, dict[str, LedgerEntry]] = {}
    for obj in SCORED_OBJECTS[crm]:
        ids = [i for i in scored_ids | {p.id for p in echoes} if i in world.people]
        ledger.update(ctx.store.ledger_for_records(crm, obj, ids))
    plan = plan_writes(crm, mapping, decisions, world.people, ledger)
    edits = [*plan.human_edits, *human_edits_of(crm, mapping, echoes, ledger)]

    def new(edit: HumanEdit) -> bool:
        entry = ledger.get(edit.record_id, {}).get(edit.field)
        return entry is None or entry.last_error != f"changed by a person to {edit.theirs!r}"

    plan.human_edits = [e for e in edits if new(e)]
    out.human_edits += len(plan.human_edits)
    out.phase("plan", time.perf_counter() - started)
    return plan, plan.human_edits


def checkpoint(ctx: CycleContext, crm: Crm, pulled: Pulled) -> None:
    """Advance the pull cursors: everything they pass is durable in the store."""
    with ctx.store.transaction():
        for obj, cursor in pulled.cursors.items():
            ctx.store.set_cursor(crm, obj, cursor)


def learn(ctx: CycleContext, crm: Crm, world: World, out: CrmReport) -> None:
    """Retrain when the labels say so; a promoted model scores from the next cycle on."""
    now = ctx.clock()
    reason = feedback.should_retrain(ctx, crm, now)
    if reason is None:
        return
    result = feedback.retrain(ctx, crm, world, now, reason=reason)
    log.info("retrained %s: %s", crm, result.reason)


def _status(report: RunReport) -> str:
    if report.error:
        return "failed"
    if any(r.stopped or r.parked for r in report.crms.values()):
        return "partial"
    return "succeeded"
