"""The review lifecycle on a real state review_store: planning tasks (round robin, caps, keys, words), recording them,
and reviewers' overrides replacing scores. Escalation is tests/sync/test_review_escalation.py, picking up
decisions from the sandbox tests/sync/test_review_pickup.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mappings import Crm, Lead
from mappings.config.review import Reviewers
from scoring.decision import ActionKind, ReviewReason
from sync.review import apply_overrides, plan_review_tasks, record_planned_tasks, task_created
from sync.state import StateStore
from tests.sync.review_support import HS_OWNERS, SF_USERS, review_config, review_context, review_decision
from tests.sync.test_state_support import T0


def _person(lead_id: str, crm: Crm = "salesforce", **values: Any) -> Lead:
    return Lead(crm=crm, id=lead_id, name="Jane Doe", company="Acme", owner_id=SF_USERS[0], **values)


# ------------------------------------------------------------------------------ planning


def test_round_robin_skips_reviewers_at_cap_and_leaves_the_rest_for_later(
    tmp_path: Path, review_store: StateStore
) -> None:
    ctx = review_context(review_config(tmp_path, max_open_per_reviewer=2), review_store, tmp_path)
    for n in range(2):  # the first reviewer is already at cap
        review_store.add_review_task(
            "salesforce", f"00Qold{n}", f"leadq:salesforce:00Qold{n}:review:0", reviewer=SF_USERS[0]
        )
    decisions = [review_decision(f"00Q{n}") for n in range(5)]
    planned = plan_review_tasks(ctx, "salesforce", decisions, {}, T0)
    assert [p.reviewer for p in planned] == [SF_USERS[1], SF_USERS[2], SF_USERS[1], SF_USERS[2]]
    assert [p.lead_id for p in planned] == ["00Q0", "00Q1", "00Q2", "00Q3"], "00Q4 waits for next cycle"
    assert [p.spec.owner_id for p in planned] == [p.reviewer for p in planned]
    assert all(p.spec.due == T0 + timedelta(hours=24) for p in planned)


def test_rotation_resumes_after_the_last_reviewer_given_a_task(
    tmp_path: Path, review_store: StateStore
) -> None:
    ctx = review_context(review_config(tmp_path), review_store, tmp_path)
    first = plan_review_tasks(ctx, "salesforce", [review_decision("00Q1"), review_decision("00Q2")], {}, T0)
    record_planned_tasks(ctx, "salesforce", first)
    again = plan_review_tasks(ctx, "salesforce", [review_decision("00Q3"), review_decision("00Q4")], {}, T0)
    assert [p.reviewer for p in first] == [SF_USERS[0], SF_USERS[1]]
    assert [p.reviewer for p in again] == [SF_USERS[2], SF_USERS[0]]


def test_one_open_task_per_lead_and_keys_count_earlier_tasks(
    tmp_path: Path, review_store: StateStore
) -> None:
    ctx = review_context(review_config(tmp_path), review_store, tmp_path)
    review_store.add_review_task("salesforce", "00QA", "leadq:salesforce:00QA:review:0")  # open
    review_store.add_review_task("salesforce", "00QB", "leadq:salesforce:00QB:review:0")
    review_store.update_review_task("leadq:salesforce:00QB:review:0", state="completed")
    review_store.add_review_task("salesforce", "00QC", "leadq:salesforce:00QC:review:0")
    review_store.update_review_task("leadq:salesforce:00QC:review:0", state="escalated")
    decisions = [
        review_decision("00QA"),
        review_decision("00QB"),
        review_decision("00QC"),
        review_decision("00QD"),
        review_decision("00QD"),
    ]
    decisions.append(review_decision("00QE", review=False))
    planned = plan_review_tasks(ctx, "salesforce", decisions, {}, T0)
    assert [p.spec.idempotency_key for p in planned] == [
        "leadq:salesforce:00QB:review:1",
        "leadq:salesforce:00QD:review:0",
    ]


def test_planning_writes_nothing_and_plans_the_same_keys_twice(
    tmp_path: Path, review_store: StateStore
) -> None:
    ctx = review_context(review_config(tmp_path), review_store, tmp_path)
    decisions = [review_decision(f"00Q{n}") for n in range(3)]
    first = plan_review_tasks(ctx, "salesforce", decisions, {}, T0)
    second = plan_review_tasks(ctx, "salesforce", decisions, {}, T0)
    assert [p.spec for p in first] == [p.spec for p in second]
    assert review_store.review_tasks("salesforce") == []
    assert list(review_store.audit_export()) == []


def test_without_reviewers_the_owner_reviews(tmp_path: Path, review_store: StateStore) -> None:
    ctx = review_context(
        review_config(tmp_path, reviewers=Reviewers(), max_open_per_reviewer=1), review_store, tmp_path
    )
    people = {f"00Q{n}": _person(f"00Q{n}") for n in range(3)}
    planned = plan_review_tasks(ctx, "salesforce", [review_decision(i) for i in people], people, T0)
    assert [p.reviewer for p in planned] == [SF_USERS[0]] * 3, "owners review their own leads, uncapped"


def test_disabled_review_plans_nothing(tmp_path: Path, review_store: StateStore) -> None:
    ctx = review_context(review_config(tmp_path, enabled=False), review_store, tmp_path)
    assert plan_review_tasks(ctx, "salesforce", [review_decision("00Q1")], {}, T0) == []


def test_subject_and_body_say_why_what_and_how(tmp_path: Path, review_store: StateStore) -> None:
    ctx = review_context(review_config(tmp_path), review_store, tmp_path)
    contact = _person("003X", kind="contact")
    (task,) = plan_review_tasks(ctx, "salesforce", [review_decision("003X")], {"003X": contact}, T0)
    assert task.spec.subject == "leadq review: Jane Doe (Acme) scored 52 (C) - borderline"
    assert (task.lead_object, task.spec.who_object, task.spec.who_id) == ("Contact", "Contact", "003X")
    body = task.spec.body
    for expected in (
        "The score 52 is in the borderline band 45-60",
        "Score: 52 of 100, tier C (52% estimated chance to convert)",
        "Lead source: Partner Referral, +14",
        f"Recommended action: route the lead to {SF_USERS[2]}",
        "Model version: gbm-2025-03-01",
        "leadq_Review_Decision__c",
        "- Approve:",
        "- Reject: the score is wrong; leadq will keep the lead in nurture instead",
        "leadq_Override_Score__c",
        "set the task's Status to Completed",
    ):
        assert expected in body, expected
    assert task.reasons == ("borderline",)


def test_hubspot_body_names_the_hubspot_fields(tmp_path: Path, review_store: StateStore) -> None:
    ctx = review_context(review_config(tmp_path, on_reject="disqualify"), review_store, tmp_path)
    decision = review_decision("501", "hubspot", review_reasons=(ReviewReason.HIGH_VALUE, ReviewReason.LOW_DATA),
                         data_completeness=0.3)  # fmt: skip
    (task,) = plan_review_tasks(ctx, "hubspot", [decision], {}, T0)
    assert task.spec.subject == "leadq review: 501 scored 52 (C) - high value, low data"
    assert task.spec.priority == "High" and task.lead_object == "contacts"
    assert "leadq_review_decision" in task.spec.body and "leadq_override_score" in task.spec.body
    assert "Only 30% of the lead's data is filled in" in task.spec.body
    assert "leadq will disqualify the lead instead" in task.spec.body
    assert task.spec.idempotency_key == "leadq:hubspot:501:review:0"


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(name=st.text(min_size=0, max_size=400), company=st.text(min_size=0, max_size=400))
def test_subject_fits_255_characters_on_one_line(
    tmp_path: Path, review_store: StateStore, name: str, company: str
) -> None:
    ctx = review_context(review_config(tmp_path), review_store, tmp_path)
    person = Lead(crm="salesforce", id="00Q1", name=name or None, company=company or None)
    (task,) = plan_review_tasks(ctx, "salesforce", [review_decision("00Q1")], {"00Q1": person}, T0)
    assert len(task.spec.subject) <= 255
    assert task.spec.subject.startswith("leadq review: ") and "\n" not in task.spec.subject


def test_recording_stores_open_tasks_and_audits(tmp_path: Path, review_store: StateStore) -> None:
    ctx = review_context(review_config(tmp_path), review_store, tmp_path)
    planned = plan_review_tasks(ctx, "salesforce", [review_decision("00Q1")], {}, T0)
    record_planned_tasks(ctx, "salesforce", planned)
    record_planned_tasks(ctx, "salesforce", planned)  # a retried cycle: no second task
    (stored,) = review_store.review_tasks("salesforce")
    assert (stored.state, stored.reviewer, stored.due) == ("open", SF_USERS[0], T0 + timedelta(hours=24))
    assert isinstance(stored.detail, dict)
    assert stored.detail["action"] == "route" and stored.detail["target"] == SF_USERS[2]
    assert stored.detail["score"] == 52 and stored.detail["reasons"] == ["borderline"]
    audits = [e for e in review_store.audit_export() if e["action"] == "review_requested"]
    assert (
        len(audits) == 2
        and audits[0]["record_id"] == "00Q1"
        and audits[0]["model_version"] == "gbm-2025-03-01"
    )
    task_created(ctx, stored.idempotency_key, "00T1")
    task_created(ctx, "leadq:salesforce:nobody:review:0", "00T2")  # unknown: ignored
    assert review_store.review_tasks("salesforce")[0].task_id == "00T1"
    assert plan_review_tasks(ctx, "salesforce", [review_decision("00Q1")], {}, T0) == []


def test_review_of_a_review_action_recommends_the_tiers_action(
    tmp_path: Path, review_store: StateStore
) -> None:
    ctx = review_context(review_config(tmp_path), review_store, tmp_path)
    decision = review_decision(
        "00Q1", action=ActionKind.REVIEW, action_target=SF_USERS[1], tier="D", score=20
    )
    (task,) = plan_review_tasks(ctx, "salesforce", [decision], {}, T0)
    assert task.detail["action"] == "nurture" and task.detail["target"] is None
    assert "Recommended action: keep the lead in nurture." in task.spec.body


# ------------------------------------------------------------------------------ overrides


def test_active_overrides_replace_score_tier_and_action(tmp_path: Path, review_store: StateStore) -> None:
    ctx = review_context(review_config(tmp_path), review_store, tmp_path)
    set_at = datetime(2025, 11, 3, 10, tzinfo=UTC)
    review_store.set_override(
        "salesforce", "00Q1", 85, SF_USERS[1], set_at=set_at, expires_at=datetime(2026, 2, 1, tzinfo=UTC)
    )
    review_store.set_override(
        "salesforce", "00Q2", 90, SF_USERS[1], set_at=set_at, expires_at=set_at + timedelta(days=1)
    )
    review_store.set_override("salesforce", "00Q3", 10, SF_USERS[1], set_at=set_at)
    review_store.clear_override("salesforce", "00Q3", at=set_at + timedelta(hours=1))
    review_store.set_override("hubspot", "00Q4", 10, HS_OWNERS[0], set_at=set_at)
    decisions = [
        review_decision(f"00Q{n}", action=ActionKind.NURTURE, action_target=None) for n in range(1, 6)
    ]
    out = apply_overrides(ctx, "salesforce", decisions, set_at + timedelta(days=2))
    first = out[0]
    assert (first.score, first.tier, first.action, first.review, first.rule, first.overrode_model) == (
        85, "A", ActionKind.ROUTE, False, "reviewer_override", True,
    )  # fmt: skip
    assert first.reasons_text.splitlines()[0] == (
        f"Score set to 85 by {SF_USERS[1]} on 3 Nov (override until 1 Feb)"
    )
    assert first.reasons_text.splitlines()[1] == "Lead source: Partner Referral, +14"
    assert out[1:] == decisions[1:], "expired, cleared, other CRM's and absent overrides change nothing"


def test_an_override_without_expiry_says_until_cleared(tmp_path: Path, review_store: StateStore) -> None:
    ctx = review_context(review_config(tmp_path), review_store, tmp_path)
    review_store.set_override("salesforce", "00Q1", 30, "someone", set_at=T0)
    (out,) = apply_overrides(
        ctx, "salesforce", [review_decision("00Q1", review=True)], T0 + timedelta(days=400)
    )
    assert out.reasons_text.startswith("Score set to 30 by someone on 1 Mar (override until cleared)")
    assert (out.tier, out.action, out.action_target) == ("D", ActionKind.NURTURE, None)
