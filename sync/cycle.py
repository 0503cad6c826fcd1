"""One sync cycle: pull, graph, score, decide, plan, commit, send, checkpoint, per CRM.

`run_cycle` is what the daemon schedules and `leadq sync --once` runs. Each CRM's part reads as the flow
of DESIGN.md; a CRM that stops early (quota, credentials) keeps what it did and leaves the other CRM be.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from connector.errors import AuthError, ConnectorError, QuotaExhaustedError, RateLimitedError
from mappings import Crm
from sync import drift_task, feedback, gc_policy, review
from sync.commit import Commit, commit, commit_decisions
from sync.context import CycleContext
from sync.decide import (
    CHUNK,
    FULL_RESCORE_MARK,
    MODEL_MARK,
    DecidedChunk,
    decide_and_plan,
    full_rescore_due,
    pipeline_of,
)
from sync.plan import object_of
from sync.preview import preview
from sync.pull import Pulled, pull_changes
from sync.report import CrmReport, RunReport
from sync.review_common import TASK_OBJECT
from sync.send import Sender, recover_in_flight
from sync.world import World

log = logging.getLogger("leadq.cycle")
REVIEW_CURSOR = "review_tasks"


def run_cycle(ctx: CycleContext, *, dry_run: bool = False, chunk: int = CHUNK) -> RunReport:
    """One cycle over every configured CRM; the report is also kept in the run history. The people to
    score are decided, planned and committed `chunk` at a time (the same results at any size)."""
    report = RunReport(started_at=ctx.clock(), dry_run=dry_run)
    run = None if dry_run else ctx.store.start_run(report.started_at)
    report.run_id = None if run is None else run.id
    for crm in ctx.crms:
        out = report.crm(crm)
        try:
            with gc_policy.cycle():
                sync_crm(ctx, crm, out, run_key=str(report.run_id or "dry"), dry_run=dry_run, chunk=chunk)
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


def sync_crm(
    ctx: CycleContext, crm: Crm, out: CrmReport, *, run_key: str, dry_run: bool, chunk: int = CHUNK
) -> None:
    """One CRM's cycle; the cursors move only once the plan is durable in the outbox."""
    started = ctx.clock()
    if not dry_run:
        resend_unfinished(ctx, crm, out)
    with pull_into_world(ctx, crm, started, out, keep=not dry_run) as (world, pulled):
        context_changed = update_graph(world, pulled, out)
        if dry_run:
            planned = decide_and_plan(
                ctx, crm, world, pulled, context_changed, review.Pickup(), out, chunk=chunk
            )
            drifting = drift_task.plan_drift_tasks(ctx, crm, out.drift, ctx.clock())
            escalation = planned.escalation
            out.planned = preview(
                crm, planned.plan, escalation.updates, [*planned.tasks, *escalation.tasks, *drifting]
            )
            return
        decide_and_commit(
            ctx, crm, world, pulled, context_changed, out, run_key=run_key, started=started, chunk=chunk
        )
        world.graph.forget_derived()  # the chunks' account facts: ~130 MB at 1M leads, kept for nothing
    with learning(ctx, crm, world):
        send(ctx, crm, out)
        checkpoint(ctx, crm, pulled)


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
    chunk: int = CHUNK,
) -> None:
    """One unit of work from reading review decisions to the durable plan: a crash anywhere in it leaves
    no trace, and the next cycle reads the same decisions and records again. Each chunk of decisions is
    committed (inside the transaction) as soon as it is planned; the rest once, after the last chunk."""

    def commit_chunk(part: DecidedChunk) -> None:
        started = time.perf_counter()
        objects = {d.lead_id: object_of(crm, world.people[d.lead_id]) for d in part.decisions}
        commit_decisions(ctx.store, Commit(
            crm, run_key, pulled, part.decisions, objects, part.batch.scored, part.writes,
            triggers=part.triggers,
        ))  # fmt: skip
        out.phase("commit", time.perf_counter() - started)

    # A full cycle's transaction writes gigabytes of WAL: copied back into the database beside the send.
    with ctx.store.transaction(checkpoint_behind=True):
        pickup = review.pick_up_decisions(
            ctx, crm, run_started=started, task_cursor=pulled.cursors.get(TASK_OBJECT[crm])
        )
        planned = decide_and_plan(
            ctx, crm, world, pulled, context_changed, pickup, out, on_chunk=commit_chunk, chunk=chunk
        )
        escalation = planned.escalation
        review.record_planned_tasks(ctx, crm, planned.tasks)
        review.record_escalation(ctx, crm, escalation)
        drifting = drift_task.plan_drift_tasks(ctx, crm, out.drift, ctx.clock())
        drift_task.record_drift_tasks(ctx, crm, drifting)
        started_commit = time.perf_counter()
        commit(ctx.store, Commit(
            crm, run_key, pulled, extra_updates=[*pickup.updates, *escalation.updates],
            tasks=[*planned.tasks, *escalation.tasks, *drifting], human_edits=planned.human_edits,
        ))  # fmt: skip
        out.phase("commit", time.perf_counter() - started_commit)
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
        batch_size=ctx.connectors[crm].write_batch,
    ).send_all()


def world_of(ctx: CycleContext, crm: Crm) -> World:
    """The CRM's in-memory world, rebuilt from the store on a process's first cycle."""
    if crm not in ctx.worlds:
        ctx.worlds[crm] = World.rebuild(crm, ctx.store, ctx.mapping(crm), now=ctx.clock())
    return ctx.worlds[crm]


def update_graph(world: World, pulled: Pulled, out: CrmReport) -> set[str]:
    """The people whose context the pulled pages changed (the pull applied each page to the world and its
    graph as it arrived, timed as "graph"), less those deleted or gone since.

    The people of the accounts the pages changed are looked up here, once, not after every page."""
    started = time.perf_counter()
    changed = {i for i in pulled.rescore if i in world.people} | world.people_at(pulled.accounts)
    gc_policy.settle()  # the world is long-lived: keep the collector from walking it all cycle long
    out.phase("graph", time.perf_counter() - started)
    return changed


def checkpoint(ctx: CycleContext, crm: Crm, pulled: Pulled) -> None:
    """Advance the pull cursors: everything they pass is durable in the store."""
    with ctx.store.transaction():
        for obj, cursor in pulled.cursors.items():
            ctx.store.set_cursor(crm, obj, cursor)


@contextmanager
def learning(ctx: CycleContext, crm: Crm, world: feedback.WorldLike) -> Iterator[None]:
    """Retrain when the labels say so, beside the block: the fit runs in a worker process while the block
    sends, and the model is stored (a promoted one scores from the next cycle on) once the block is done.
    If the block fails, the fit is dropped and the next cycle trains again."""
    now = ctx.clock()
    reason = feedback.should_retrain(ctx, crm, now)
    training = None if reason is None else feedback.begin_retrain(ctx, crm, world, now, reason=reason)
    try:
        yield
    except BaseException:
        if training is not None:
            training.abandon()
        raise
    if training is not None:
        result = training.finish()
        log.info("retrained %s: %s", crm, result.reason)


def _status(report: RunReport) -> str:
    if report.error:
        return "failed"
    if any(r.stopped or r.parked for r in report.crms.values()):
        return "partial"
    return "succeeded"
