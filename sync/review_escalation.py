"""Overdue review tasks: reassigned to the next reviewer, or a second task for the escalation contact.

leadq.yaml names no managers, so with `escalation: manager` the first configured reviewer of the CRM is
the escalation contact (the second one when the overdue task is the first reviewer's own). A CRM without
configured reviewers (owners review their own leads) has nobody to escalate to: its tasks stay as they are.
An escalation task is not escalated again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from connector.protocol import RecordUpdate, TaskSpec
from mappings import Crm
from sync.context import CycleContext
from sync.review_common import (
    ESCALATED_SUFFIX,
    PlannedTask,
    detail_of,
    lead_object,
    open_load,
    task_reassignment,
)
from sync.review_text import SUBJECT_MAX
from sync.state import ReviewTask, as_utc

_PREFIX = "leadq review: "


@dataclass
class Escalation:
    """What escalating overdue review tasks takes: new tasks, task reassignments, and what to record."""

    tasks: list[PlannedTask] = field(default_factory=list)  # tasks for the escalation contact to create
    updates: list[tuple[str, RecordUpdate]] = field(default_factory=list)  # task reassignments (owner, due)
    escalated: int = 0
    # (idempotency key, new reviewer, new due) of each reassigned task, for `record_escalation`
    reassigned: list[tuple[str, str, datetime]] = field(default_factory=list)


def next_reviewer(
    reviewers: Sequence[str], current: str | None, load: dict[str, int], cap: int
) -> str | None:
    """The reviewer after `current` in the rotation, preferring one under `cap`; never `current`."""
    others = list(reviewers)
    if current in others:
        at = others.index(current)
        others = others[at + 1 :] + others[:at]
    others = [r for r in others if r != current]
    return next((r for r in others if load.get(r, 0) < cap), others[0] if others else None)


def escalation_contact(reviewers: Sequence[str], current: str | None) -> str | None:
    """The first configured reviewer, or the second when the overdue task is the first one's."""
    return next((r for r in reviewers[:2] if r != current), None)


def escalate_overdue(ctx: CycleContext, crm: Crm, now: datetime) -> Escalation:
    """Open review tasks past due, escalated as `review.escalation` says. Writes nothing to the store.

    - reassign: the task (once it exists in the CRM) goes to the next reviewer in the rotation, due again
      by the SLA from `now`.
    - manager: a new High priority task for the escalation contact (see the module docstring), keyed
      `<original key>:escalated`; the original stays open for its reviewer until one of them decides.
    """
    review = ctx.config.review
    reviewers = review.reviewers.for_crm(crm)
    out = Escalation()
    if not review.enabled or not reviewers:
        return out
    when = as_utc(now)
    due = when + timedelta(hours=review.sla_hours)
    overdue = [
        t
        for t in ctx.store.review_tasks(crm, "open")
        if t.due is not None and t.due < when and not t.idempotency_key.endswith(ESCALATED_SUFFIX)
    ]
    load = open_load(ctx.store, crm)
    for task in overdue:
        if review.escalation == "reassign":
            if not task.task_id:
                continue  # not created in the CRM yet: nothing to reassign
            reviewer = next_reviewer(reviewers, task.reviewer, load, review.max_open_per_reviewer)
            if reviewer is None:
                continue
            out.updates.append(task_reassignment(crm, task.task_id, reviewer, due))
            out.reassigned.append((task.idempotency_key, reviewer, due))
            load[reviewer] = load.get(reviewer, 0) + 1
        else:
            contact = escalation_contact(reviewers, task.reviewer)
            if contact is None:
                continue
            out.tasks.append(_contact_task(crm, task, contact, due))
        out.escalated += 1
    return out


def _contact_task(crm: Crm, task: ReviewTask, contact: str, due: datetime) -> PlannedTask:
    detail = detail_of(task.detail)
    obj = str(detail.get("lead_object") or lead_object(crm, task.lead_id, None))
    subject = str(detail.get("subject") or f"{_PREFIX}{task.lead_id}")
    subject = "leadq review (escalated): " + subject.removeprefix(_PREFIX)
    if len(subject) > SUBJECT_MAX:
        subject = subject[: SUBJECT_MAX - 1] + "\u2026"
    was_due = f"{task.due:%Y-%m-%d %H:%M} UTC" if task.due else "earlier"
    body = (
        f"This review was due {was_due} and is still open with {task.reviewer or 'its reviewer'}. "
        "As the escalation contact, please decide it here (the first decision recorded counts).\n\n"
        + str(detail.get("body") or "")
    )
    spec = TaskSpec(
        idempotency_key=task.idempotency_key + ESCALATED_SUFFIX,
        who_object=obj,
        who_id=task.lead_id,
        owner_id=contact,
        subject=subject,
        body=body,
        due=due,
        priority="High",
    )
    reasons = tuple(str(r) for r in detail.get("reasons") or ()) or ("overdue",)
    keep = {k: v for k, v in detail.items() if k not in ("subject", "body")}
    extra = {"escalated_from": task.idempotency_key, "overdue_reviewer": task.reviewer}
    return PlannedTask(spec, task.lead_id, obj, contact, reasons, {**keep, **extra})


def record_escalation(ctx: CycleContext, crm: Crm, escalation: Escalation) -> None:
    """Mark the escalated tasks `escalated` (reassigned ones with their new reviewer and due), store the
    escalation contacts' tasks as open review tasks, and audit `review_escalated`; one unit of work."""
    store = ctx.store
    with store.transaction():
        for key, reviewer, due in escalation.reassigned:
            before = store.review_task(key)
            if before is None:
                continue
            store.update_review_task(key, state="escalated", reviewer=reviewer, due=due)
            store.audit("leadq", "review_escalated", crm=crm, obj=_object(crm, before), record_id=before.lead_id,
                        field="reviewer", old=before.reviewer, new=reviewer,
                        detail={"how": "reassign", "task": key, "due": due.isoformat()})  # fmt: skip
        for planned in escalation.tasks:
            spec = planned.spec
            original = spec.idempotency_key.removesuffix(ESCALATED_SUFFIX)
            if store.review_task(original) is not None:
                store.update_review_task(original, state="escalated")
            detail = {**planned.detail, "reasons": list(planned.reasons), "lead_object": planned.lead_object,
                      "subject": spec.subject, "body": spec.body, "priority": spec.priority}  # fmt: skip
            store.add_review_task(crm, planned.lead_id, spec.idempotency_key, reviewer=planned.reviewer,
                                  due=spec.due, detail=detail)  # fmt: skip
            store.audit("leadq", "review_escalated", crm=crm, obj=planned.lead_object, record_id=planned.lead_id,
                        field="reviewer", old=_text(planned.detail.get("overdue_reviewer")), new=planned.reviewer,
                        detail={"how": "manager", "task": original, "new_task": spec.idempotency_key})  # fmt: skip


def _object(crm: Crm, task: ReviewTask) -> str:
    return str(detail_of(task.detail).get("lead_object") or lead_object(crm, task.lead_id, None))


def _text(value: object) -> str | None:
    return None if value is None else str(value)
