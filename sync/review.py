"""The review lifecycle: ask a person (a CRM task), read their decision back, apply overrides, escalate.

The cycle calls these functions; none of them talks to the CRM except `pick_up_decisions` (which reads
completed tasks and, for status choices, describes). Planning functions never write to the store, so a
dry run can call them; the `record_*` functions are the only writers.

- `plan_review_tasks` / `record_planned_tasks` / `task_created`: one open task per lead, round robin over
  the configured reviewers with a cap each, due by the SLA, keyed `leadq:{crm}:{lead}:review:{n}`.
- `pick_up_decisions` (in `sync.review_pickup`): approve, reject or override, each a label and an audit entry.
- `apply_overrides`: a reviewer's score sticks until it expires or is cleared.
- `escalate_overdue` / `record_escalation` (in `sync.review_escalation`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select

from connector.protocol import TaskSpec
from mappings import Crm, Lead
from scoring.decision import ActionKind, Decision
from sync.context import CycleContext
from sync.review_common import (
    OPEN_STATES,
    PlannedTask,
    Rotation,
    lead_object,
    review_key,
    rotate,
)
from sync.review_escalation import Escalation, escalate_overdue, record_escalation
from sync.review_pickup import Pickup, pick_up_decisions
from sync.review_text import body, recommended, short_reasons, subject
from sync.state import as_utc
from sync.state.models import OverrideRow, ReviewTaskRow
from sync.state.review_bulk import NewReviewTask

__all__ = [
    "Escalation",
    "Pickup",
    "PlannedTask",
    "Rotation",
    "apply_overrides",
    "escalate_overdue",
    "pick_up_decisions",
    "plan_review_tasks",
    "record_escalation",
    "record_planned_tasks",
    "task_created",
    "tasks_created",
]
_CHUNK = 500  # bound parameters per IN (...)


def _task_history(ctx: CycleContext, crm: str, lead_ids: Sequence[str]) -> tuple[dict[str, int], set[str]]:
    """Per lead: how many review tasks the store has, and which leads have one open (two grouped queries)."""
    counts: dict[str, int] = {}
    open_leads: set[str] = set()
    ids = list(dict.fromkeys(lead_ids))
    with ctx.store.session() as s:
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            where = (ReviewTaskRow.crm == crm, ReviewTaskRow.lead_id.in_(chunk))
            query = select(ReviewTaskRow.lead_id, func.count()).where(*where).group_by(ReviewTaskRow.lead_id)
            counts.update({str(lead): int(n) for lead, n in s.execute(query)})
            opened = select(ReviewTaskRow.lead_id).where(*where, ReviewTaskRow.state.in_(OPEN_STATES))
            open_leads.update(str(lead) for lead in s.scalars(opened))
    return counts, open_leads


def plan_review_tasks(
    ctx: CycleContext,
    crm: Crm,
    decisions: Sequence[Decision],
    people: Mapping[str, Lead],
    now: datetime,
    rotation: Rotation | None = None,
) -> list[PlannedTask]:
    """A task for each decision with review=True whose lead has no open review task (state 'open' or
    'escalated' in the store): one open task per lead.

    Reviewers take turns (round robin over `review.reviewers` of the CRM, resuming after whoever got the
    newest task) and nobody gets more than `max_open_per_reviewer` open tasks; when everyone is at cap the
    lead gets no task this cycle and is tried again next cycle. Without configured reviewers the lead's
    owner reviews. Due `now + sla_hours`. The key's `n` counts the lead's review tasks in the store, so a
    crash and restart plan the same keys. Writes nothing (dry runs call it too).

    Calls for chunks of one cycle's decisions (disjoint leads, in order) pass the same `rotation`, which
    this advances: together they plan what one call with all the decisions plans.
    """
    config = ctx.config
    if not config.review.enabled:
        return []
    wanted = [d for d in decisions if d.review]
    if not wanted:
        return []
    mapping = ctx.mapping(crm)
    counts, open_leads = _task_history(ctx, crm, [d.lead_id for d in wanted])
    reviewers = config.review.reviewers.for_crm(crm)
    cap = config.review.max_open_per_reviewer
    state = rotation if rotation is not None else Rotation()
    state.start(ctx.store, crm, reviewers)
    load, turn = state.load, state.turn
    due = as_utc(now) + timedelta(hours=config.review.sla_hours)
    planned: list[PlannedTask] = []
    for decision in wanted:
        if decision.lead_id in open_leads:
            continue
        person = people.get(decision.lead_id)
        if reviewers:
            reviewer, turn = rotate(reviewers, load, cap, turn)
            if reviewer is None:
                continue  # every reviewer is at cap: tried again next cycle
            load[reviewer] = load.get(reviewer, 0) + 1
        else:
            reviewer = person.owner_id if person is not None else None
        open_leads.add(decision.lead_id)
        reasons = short_reasons(decision)
        action, target = recommended(decision, config)
        obj = lead_object(crm, decision.lead_id, person)
        spec = TaskSpec(
            idempotency_key=review_key(crm, decision.lead_id, counts.get(decision.lead_id, 0)),
            who_object=obj,
            who_id=decision.lead_id,
            owner_id=reviewer,
            subject=subject(decision, person, reasons),
            body=body(crm, mapping, config, decision, person, action, target, due),
            due=due,
            priority="High" if "high value" in reasons else "Normal",
        )
        detail = _detail(decision, action, target)
        planned.append(PlannedTask(spec, decision.lead_id, obj, reviewer, reasons, detail))
    state.turn = turn
    return planned


def _detail(decision: Decision, action: str, target: str | None) -> dict[str, object]:
    return {
        "score": decision.score,
        "tier": decision.tier,
        "probability": round(decision.probability, 4),
        "action": action,
        "target": target,
        "model_version": decision.model_version,
        "policy_version": decision.policy_version,
        "rule": decision.rule,
    }


def record_planned_tasks(ctx: CycleContext, crm: Crm, planned: Sequence[PlannedTask]) -> None:
    """Store each planned task (state open, reviewer, due, detail) and audit `review_requested`, in one
    unit of work. Call it (not in dry runs) before enqueuing the tasks in the outbox."""
    tasks: list[NewReviewTask] = []
    audits: list[dict[str, object]] = []
    for task in planned:
        spec = task.spec
        detail: dict[str, object] = {
            **task.detail,
            "reasons": list(task.reasons),
            "lead_object": task.lead_object,
            "subject": spec.subject,
            "body": spec.body,
            "priority": spec.priority,
        }
        tasks.append(NewReviewTask(task.lead_id, spec.idempotency_key, task.reviewer, spec.due, detail))
        audits.append(
            {"actor": "leadq", "action": "review_requested", "crm": crm, "obj": task.lead_object,
             "record_id": task.lead_id, "new": spec.idempotency_key,
             "model_version": _text(detail.get("model_version")),
             "policy_version": _text(detail.get("policy_version")),
             "detail": {k: v for k, v in detail.items() if k != "body"} | {"reviewer": task.reviewer}}
        )  # fmt: skip
    with ctx.store.transaction():
        ctx.store.add_review_tasks(crm, tasks)
        ctx.store.audit_many(audits)


def _text(value: object) -> str | None:
    return str(value) if value else None


def task_created(ctx: CycleContext, idempotency_key: str, task_id: str | None) -> None:
    """The outbox sent a review task: remember its CRM id. Unknown keys (not review tasks) are ignored."""
    tasks_created(ctx, [(idempotency_key, task_id)])


def tasks_created(ctx: CycleContext, created: Sequence[tuple[str, str | None]]) -> None:
    """`task_created` for many sent tasks, as (idempotency key, CRM id), in one statement."""
    ctx.store.set_review_task_ids([(key, str(task_id)) for key, task_id in created if task_id is not None])


def apply_overrides(
    ctx: CycleContext, crm: Crm, decisions: Sequence[Decision], now: datetime
) -> list[Decision]:
    """Decisions of leads with an active override take the reviewer's score, its tier and that tier's
    action, need no review, and say so in their first reason line. Others are returned unchanged.

    One query fetches every active override of the CRM, so 100k decisions cost a dict lookup each.
    """
    when = as_utc(now)
    query = (
        select(OverrideRow)
        .where(
            OverrideRow.crm == crm,
            OverrideRow.cleared_at.is_(None),
            OverrideRow.set_at <= when,
            or_(OverrideRow.expires_at.is_(None), OverrideRow.expires_at > when),
        )
        .order_by(OverrideRow.set_at, OverrideRow.id)
    )
    active: dict[str, tuple[int, str, datetime, datetime | None]] = {}
    with ctx.store.session() as s:
        for row in s.scalars(query):  # later rows win: the newest override of a lead counts
            active[row.lead_id] = (row.score, row.set_by, row.set_at, row.expires_at)
    if not active:
        return list(decisions)
    scoring = ctx.config.scoring
    out: list[Decision] = []
    for decision in decisions:
        found = active.get(decision.lead_id)
        if found is None:
            out.append(decision)
            continue
        score, set_by, set_at, expires_at = found
        tier = scoring.tiers.tier(score)
        action = ActionKind(str(getattr(scoring.actions, tier)))
        until = f"until {_day(expires_at)}" if expires_at is not None else "until cleared"
        line = f"Score set to {score} by {set_by} on {_day(set_at)} (override {until})"
        text = f"{line}\n{decision.reasons_text}" if decision.reasons_text else line
        keep_target = action is ActionKind.ROUTE and decision.action is ActionKind.ROUTE
        out.append(
            dataclasses.replace(
                decision,
                score=score,
                tier=tier,
                action=action,
                action_target=decision.action_target if keep_target else None,
                review=False,
                review_reasons=(),
                review_note="",
                rule="reviewer_override",
                overrode_model=True,
                reasons_text=text,
            )
        )
    return out


def _day(at: datetime) -> str:
    """ "3 Nov": the short date a rep reads."""
    return f"{at.day} {at:%b}"
