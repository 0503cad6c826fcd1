"""Picking up reviewers' decisions from review tasks completed in the sandbox, on both CRMs: approvals,
rejections, overrides and the problems of incomplete decisions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connector.protocol import RecordUpdate
from mappings import Lead
from scoring.decision import ActionKind
from sync.review import apply_overrides
from sync.review_pickup import pick_up_decisions, read_decision
from sync.world import World
from tests.sync.review_support import ReviewOrg


def test_read_decision_accepts_an_override_score_in_text() -> None:
    assert read_decision(None, "override 75") == ("override", 75.0)
    assert read_decision(None, "Override: 75") == ("override", 75.0)
    assert read_decision("approve", "Approve") == ("approve", None)
    assert read_decision(None, "maybe") == (None, None)
    assert read_decision("override", "Override") == ("override", None)


def test_approval_routes_the_lead_and_labels_it(review_org: ReviewOrg) -> None:
    task = review_org.ask(review_org.decision())
    assert review_org.pick_up().completed == 0, "nothing completed yet"
    task_id = review_org.complete(task, "Approve" if review_org.crm == "salesforce" else "approve")
    pickup = review_org.pick_up()
    obj = "Lead" if review_org.crm == "salesforce" else "contacts"
    target = review_org.target
    assert (pickup.completed, pickup.labels, pickup.overrides, pickup.problems) == (1, 1, 0, [])
    assert pickup.updates == [(obj, RecordUpdate(review_org.lead_id, {review_org.owner_field: target}))]
    assert pickup.rescore == {review_org.lead_id} and pickup.cursor is not None and pickup.cursor["value"]
    stored = review_org.ctx.store.review_task(task.spec.idempotency_key)
    assert stored is not None and (stored.state, stored.decision, stored.task_id) == (
        "completed",
        "approve",
        task_id,
    )
    (label,) = review_org.ctx.store.labels(review_org.crm)
    assert (label.lead_id, label.label, label.source) == (review_org.lead_id, 1, "review")
    assert [e["action"] for e in review_org.ctx.store.audit_export()][-1] == "review_approved"
    (outcome,) = review_org.connector.apply_updates(obj, [pickup.updates[0][1]])
    assert outcome.ok and review_org.record(obj)[review_org.owner_field] == target
    again = review_org.pick_up()
    assert (again.completed, again.labels, again.updates) == (0, 0, []), "a decision is picked up once"


def test_rejection_applies_the_fallback_status(review_org: ReviewOrg) -> None:
    review_org.ctx.config = review_org.config.model_copy(
        update={"review": review_org.config.review.model_copy(update={"on_reject": "disqualify"})}
    )
    task = review_org.ask(review_org.decision())
    review_org.complete(task, "Reject" if review_org.crm == "salesforce" else "reject")
    pickup = review_org.pick_up()
    obj, status_field, value = (
        ("Lead", "Status", "Closed - Not Converted") if review_org.crm == "salesforce"
        else ("contacts", "hs_lead_status", "UNQUALIFIED")
    )  # fmt: skip
    assert pickup.updates == [(obj, RecordUpdate(review_org.lead_id, {status_field: value}))]
    assert [label.label for label in review_org.ctx.store.labels(review_org.crm)] == [0]
    (outcome,) = review_org.connector.apply_updates(obj, [pickup.updates[0][1]])
    assert outcome.ok and review_org.record(obj)[status_field] == value


def test_approving_a_nurture_recommendation_sets_a_nurture_status(review_org: ReviewOrg) -> None:
    task = review_org.ask(review_org.decision(action=ActionKind.NURTURE, action_target=None))
    review_org.complete(task, "Approve" if review_org.crm == "salesforce" else "approve")
    pickup = review_org.pick_up()
    value = "Open - Not Contacted" if review_org.crm == "salesforce" else "BAD_TIMING"
    assert [u.values for _, u in pickup.updates] == [
        {"Status" if review_org.crm == "salesforce" else "hs_lead_status": value}
    ]
    assert [label.label for label in review_org.ctx.store.labels(review_org.crm)] == [0], (
        "approving nurture: not sales-ready"
    )


def test_override_takes_the_score_from_the_lead_and_sticks(review_org: ReviewOrg) -> None:
    world = World(review_org.crm)
    world.people[review_org.lead_id] = Lead(
        crm=review_org.crm, id=review_org.lead_id, writeback={"override": 75}
    )
    review_org.ctx.worlds[review_org.crm] = world
    task = review_org.ask(review_org.decision())
    review_org.complete(task, "Override" if review_org.crm == "salesforce" else "override")
    pickup = review_org.pick_up()
    assert (pickup.completed, pickup.overrides, pickup.labels, pickup.updates, pickup.problems) == (
        1,
        1,
        1,
        [],
        [],
    )
    override = review_org.ctx.store.active_override(
        review_org.crm, review_org.lead_id, datetime.now(UTC) + timedelta(minutes=2)
    )
    assert override is not None and (override.score, override.set_by) == (75, review_org.reviewer)
    assert override.expires_at is not None and override.expires_at - override.set_at == timedelta(days=90)
    assert [label.label for label in review_org.ctx.store.labels(review_org.crm)] == [1], (
        "75 reaches tier B (60)"
    )
    (decision,) = apply_overrides(
        review_org.ctx, review_org.crm, [review_org.decision()], datetime.now(UTC) + timedelta(minutes=2)
    )
    assert (decision.score, decision.tier, decision.review) == (75, "B", False)


def test_override_without_a_score_and_no_decision_are_problems(review_org: ReviewOrg) -> None:
    overridden = review_org.ask(review_org.decision())
    review_org.complete(overridden, "Override" if review_org.crm == "salesforce" else "override")
    first = review_org.pick_up()
    soon = datetime.now(UTC) + timedelta(minutes=2)
    assert (
        first.overrides == 0
        and review_org.ctx.store.active_override(review_org.crm, review_org.lead_id, soon) is None
    )
    assert len(first.problems) == 1 and "no score" in first.problems[0]
    undecided = review_org.ask(review_org.decision())
    assert undecided.spec.idempotency_key.endswith(":review:1")
    task_id = review_org.complete(undecided, None)
    second = review_org.pick_up()
    assert (second.completed, second.labels) == (1, 0)
    assert len(second.problems) == 1 and task_id in second.problems[0] and "is empty" in second.problems[0]
    stored = review_org.ctx.store.review_task(undecided.spec.idempotency_key)
    assert stored is not None and (stored.state, stored.decision) == ("completed", None)
    actions = [e["action"] for e in review_org.ctx.store.audit_export()]
    assert "review_override_without_score" in actions and actions[-1] == "review_completed_without_decision"


def test_no_open_review_task_means_no_call_and_the_first_read_starts_at_the_task_pull(
    review_org: ReviewOrg,
) -> None:
    """Before any review task of ours exists the pickup reads nothing and takes the task object's pull
    cursor as its start; a task created afterwards and completed is still picked up from there."""
    calls = review_org.connector.calls
    calls.take()
    floor = {"value": (datetime.now(UTC) - timedelta(minutes=5)).isoformat()}
    pickup = pick_up_decisions(
        review_org.ctx,
        review_org.crm,
        run_started=datetime.now(UTC) + timedelta(minutes=1),
        task_cursor=floor,
    )
    assert calls.take() == {}, "nothing of ours is open: the CRM is not asked"
    assert pickup.cursor == floor and pickup.completed == 0
    review_org.ctx.store.set_cursor(review_org.crm, "review_tasks", pickup.cursor)
    task = review_org.ask(review_org.decision())
    review_org.complete(task, "Approve" if review_org.crm == "salesforce" else "approve")
    assert review_org.pick_up().completed == 1, "the read from the floor finds the completed task"
    calls.take()
    again = review_org.pick_up()
    assert (again.completed, calls.take()) == (0, {}), "decided: no open task, no call"


def test_a_read_that_finds_nothing_completed_moves_on_to_the_task_pull(review_org: ReviewOrg) -> None:
    """Open review tasks return nothing: the next read starts at the task pull's cursor, not back at the
    last completed task, and a task completed later is still picked up."""
    task = review_org.ask(review_org.decision())
    started = datetime.now(UTC) + timedelta(minutes=1)
    pulled_to = {"value": (datetime.now(UTC) - timedelta(seconds=30)).isoformat()}
    first = pick_up_decisions(review_org.ctx, review_org.crm, run_started=started, task_cursor=pulled_to)
    assert first.completed == 0 and first.cursor == pulled_to
    earlier = {"value": (datetime.now(UTC) - timedelta(days=2)).isoformat()}
    review_org.ctx.store.set_cursor(review_org.crm, "review_tasks", first.cursor)
    review_org.complete(task, "Approve" if review_org.crm == "salesforce" else "approve")
    second = pick_up_decisions(review_org.ctx, review_org.crm, run_started=started, task_cursor=earlier)
    assert second.completed == 1, "completing stamps the task after the pull's cursor: it is found"
    assert second.cursor is not None and second.cursor["value"] > pulled_to["value"], "never backwards"
