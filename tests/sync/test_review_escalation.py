"""Escalating overdue review tasks: reassigning them or asking the first reviewer, on a real state review_store,
and the reassigned or escalation tasks landing in each CRM of the sandbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from connector.protocol import RecordUpdate
from mappings import Crm
from sync.context import CycleContext
from sync.review import (
    PlannedTask,
    escalate_overdue,
    plan_review_tasks,
    record_escalation,
    record_planned_tasks,
    task_created,
)
from sync.state import StateStore
from tests.sync.review_support import SF_USERS, ReviewOrg, review_config, review_context, review_decision
from tests.sync.test_state_support import T0


def _open_tasks(ctx: CycleContext, crm: Crm = "salesforce") -> list[PlannedTask]:
    planned = plan_review_tasks(ctx, crm, [review_decision(f"00Q{n}") for n in range(3)], {}, T0)
    record_planned_tasks(ctx, crm, planned)
    for n, task in enumerate(planned[:2]):
        task_created(ctx, task.spec.idempotency_key, f"00T{n}")  # the third never reached the CRM
    return planned


def test_reassign_gives_overdue_tasks_to_the_next_reviewer(tmp_path: Path, review_store: StateStore) -> None:
    ctx = review_context(review_config(tmp_path, escalation="reassign"), review_store, tmp_path)
    planned = _open_tasks(ctx)
    assert escalate_overdue(ctx, "salesforce", T0 + timedelta(hours=23)).escalated == 0, "not due yet"
    now = T0 + timedelta(hours=25)
    escalation = escalate_overdue(ctx, "salesforce", now)
    assert escalation.escalated == 2 and escalation.tasks == []
    new_due = (now + timedelta(hours=24)).date().isoformat()
    assert escalation.updates == [
        ("Task", RecordUpdate("00T0", {"OwnerId": SF_USERS[1], "ActivityDate": new_due})),
        ("Task", RecordUpdate("00T1", {"OwnerId": SF_USERS[2], "ActivityDate": new_due})),
    ]
    assert [t.state for t in review_store.review_tasks("salesforce")] == ["open"] * 3, (
        "escalate_overdue writes nothing"
    )
    record_escalation(ctx, "salesforce", escalation)
    first = review_store.review_task(planned[0].spec.idempotency_key)
    assert first is not None and (first.state, first.reviewer) == ("escalated", SF_USERS[1])
    assert escalate_overdue(ctx, "salesforce", now + timedelta(days=5)).escalated == 0, "escalated once"
    task_created(ctx, planned[2].spec.idempotency_key, "00T2")
    (late,) = escalate_overdue(ctx, "salesforce", now + timedelta(days=5)).updates
    assert late == ("Task", RecordUpdate("00T2", {"OwnerId": SF_USERS[0], "ActivityDate": "2025-03-08"}))
    assert any(e["action"] == "review_escalated" for e in review_store.audit_export())


def test_manager_escalation_creates_a_task_for_the_first_reviewer(
    tmp_path: Path, review_store: StateStore
) -> None:
    ctx = review_context(review_config(tmp_path, escalation="manager"), review_store, tmp_path)
    planned = _open_tasks(ctx)
    now = T0 + timedelta(hours=30)
    escalation = escalate_overdue(ctx, "salesforce", now)
    assert escalation.escalated == 3 and escalation.updates == []
    owners = [(t.spec.idempotency_key, t.reviewer) for t in escalation.tasks]
    assert owners == [
        (planned[0].spec.idempotency_key + ":escalated", SF_USERS[1]),  # the first reviewer's own task
        (planned[1].spec.idempotency_key + ":escalated", SF_USERS[0]),
        (planned[2].spec.idempotency_key + ":escalated", SF_USERS[0]),
    ]
    task = escalation.tasks[1]
    assert task.spec.priority == "High" and task.spec.due == now + timedelta(hours=24)
    assert task.spec.subject.startswith("leadq review (escalated): ")
    assert "still open with" in task.spec.body and "leadq_Review_Decision__c" in task.spec.body
    record_escalation(ctx, "salesforce", escalation)
    states = {t.idempotency_key: t.state for t in review_store.review_tasks("salesforce")}
    assert states[planned[1].spec.idempotency_key] == "escalated"
    assert states[task.spec.idempotency_key] == "open"
    later = escalate_overdue(ctx, "salesforce", now + timedelta(days=3))
    assert later.escalated == 0, "escalation tasks are not escalated again, escalated ones not twice"
    assert plan_review_tasks(ctx, "salesforce", [review_decision("00Q1")], {}, now) == []


def test_reassigned_task_lands_with_the_next_reviewer(review_org: ReviewOrg) -> None:
    review_org.ctx.config = review_org.config.model_copy(
        update={"review": review_org.config.review.model_copy(update={"escalation": "reassign"})}
    )
    task = review_org.ask(review_org.decision())
    escalation = escalate_overdue(review_org.ctx, review_org.crm, datetime.now(UTC) + timedelta(days=2))
    ((obj, update),) = escalation.updates
    assert obj == ("Task" if review_org.crm == "salesforce" else "tasks")
    (outcome,) = review_org.connector.apply_updates(obj, [update])
    assert outcome.ok, outcome
    record_escalation(review_org.ctx, review_org.crm, escalation)
    stored = review_org.ctx.store.review_task(task.spec.idempotency_key)
    assert stored is not None and stored.task_id == update.id and stored.state == "escalated"
    if review_org.crm == "salesforce":
        owner = review_org.sf.Task.get(update.id)["OwnerId"]
    else:
        got = review_org.hs.crm.objects.basic_api.get_by_id(
            "tasks", update.id, properties=["hubspot_owner_id"]
        )
        owner = got.properties["hubspot_owner_id"]
    assert owner == stored.reviewer != task.reviewer


def test_a_decision_on_the_escalation_task_closes_the_original(review_org: ReviewOrg) -> None:
    review_org.ctx.config = review_org.config.model_copy(
        update={"review": review_org.config.review.model_copy(update={"escalation": "manager"})}
    )
    original = review_org.ask(review_org.decision())
    escalation = escalate_overdue(review_org.ctx, review_org.crm, datetime.now(UTC) + timedelta(days=2))
    record_escalation(review_org.ctx, review_org.crm, escalation)
    (manager,) = escalation.tasks
    (outcome,) = review_org.connector.create_tasks([manager.spec])
    assert outcome.ok, outcome
    task_created(review_org.ctx, manager.spec.idempotency_key, outcome.crm_id)
    review_org.complete(manager, "Approve" if review_org.crm == "salesforce" else "approve")
    pickup = review_org.pick_up()
    stored = review_org.ctx.store.review_task(original.spec.idempotency_key)
    assert stored is not None and stored.state == "cancelled"
    closing = [(o, u) for o, u in pickup.updates if u.id == stored.task_id]
    assert len(closing) == 1 and pickup.labels == 1
    (closed,) = review_org.connector.apply_updates(closing[0][0], [closing[0][1]])
    assert closed.ok, closed
    again = review_org.pick_up()
    assert (again.completed, again.labels, again.updates) == (0, 0, []), (
        "the closed original counts for nothing"
    )
