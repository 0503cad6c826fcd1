"""The review lifecycle: planning tasks (round robin, caps, keys, words), overrides and escalation on a real
state store, and picking up reviewers' decisions from tasks completed in the sandbox on both CRMs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from hubspot.crm.objects import SimplePublicObjectInput, SimplePublicObjectInputForCreate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.protocol import CRMConnector, RecordUpdate
from mappings import Crm, Lead, LeadqConfig, load_config, write_default_config
from mappings.config.review import ReviewConfig, Reviewers
from sandbox import SandboxServer
from scoring.decision import ActionKind, Decision, ReviewReason
from sync.connectors import build_connector
from sync.context import CycleContext
from sync.review import (
    PlannedTask,
    apply_overrides,
    escalate_overdue,
    pick_up_decisions,
    plan_review_tasks,
    record_escalation,
    record_planned_tasks,
    task_created,
)
from sync.review_pickup import read_decision
from sync.state import StateStore
from sync.world import World
from tests.conftest import hubspot_client, salesforce_client
from tests.connector.test_hubspot_support import FAST as HS_FAST
from tests.connector.test_hubspot_support import unlimited
from tests.connector.test_salesforce_support import FAST as SF_FAST
from tests.sync.conftest import Invoke
from tests.sync.test_state_support import T0, FakeClock

SF_USERS = ("005000000000001AAA", "005000000000002AAA", "005000000000003AAA")
HS_OWNERS = ("101", "102", "103")


def _config(tmp_path: Path, **review: Any) -> LeadqConfig:
    path = write_default_config(tmp_path / "cfg" / "leadq.yaml", overwrite=True)
    config = load_config(path, resolve=False)
    values: dict[str, Any] = {"reviewers": Reviewers(salesforce=SF_USERS, hubspot=HS_OWNERS), **review}
    return config.model_copy(update={"review": ReviewConfig(**values)})


@pytest.fixture()
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture()
def store(tmp_path: Path, clock: FakeClock) -> Iterator[StateStore]:
    opened = StateStore.open(f"sqlite:///{tmp_path / 'state' / 'leadq.db'}", clock=clock)
    yield opened
    opened.close()


def _ctx(config: LeadqConfig, store: StateStore, tmp_path: Path, connectors: Any = None) -> CycleContext:
    return CycleContext(
        config=config, store=store, connectors=connectors or {}, state_dir=tmp_path / ".leadq"
    )


def _decision(lead_id: str, crm: str = "salesforce", **values: Any) -> Decision:
    base: dict[str, Any] = {
        "lead_id": lead_id,
        "crm": crm,
        "score": 52,
        "tier": "C",
        "probability": 0.52,
        "reasons_text": "Lead source: Partner Referral, +14\nNo activity for 30 days, -8",
        "action": ActionKind.ROUTE,
        "action_target": SF_USERS[2] if crm == "salesforce" else HS_OWNERS[2],
        "review": True,
        "review_reasons": (ReviewReason.BORDERLINE,),
        "model_version": "gbm-2025-03-01",
    }
    return Decision(**{**base, **values})


def _person(lead_id: str, crm: Crm = "salesforce", **values: Any) -> Lead:
    return Lead(crm=crm, id=lead_id, name="Jane Doe", company="Acme", owner_id=SF_USERS[0], **values)


# ------------------------------------------------------------------------------ planning


def test_round_robin_skips_reviewers_at_cap_and_leaves_the_rest_for_later(
    tmp_path: Path, store: StateStore
) -> None:
    ctx = _ctx(_config(tmp_path, max_open_per_reviewer=2), store, tmp_path)
    for n in range(2):  # the first reviewer is already at cap
        store.add_review_task(
            "salesforce", f"00Qold{n}", f"leadq:salesforce:00Qold{n}:review:0", reviewer=SF_USERS[0]
        )
    decisions = [_decision(f"00Q{n}") for n in range(5)]
    planned = plan_review_tasks(ctx, "salesforce", decisions, {}, T0)
    assert [p.reviewer for p in planned] == [SF_USERS[1], SF_USERS[2], SF_USERS[1], SF_USERS[2]]
    assert [p.lead_id for p in planned] == ["00Q0", "00Q1", "00Q2", "00Q3"], "00Q4 waits for next cycle"
    assert [p.spec.owner_id for p in planned] == [p.reviewer for p in planned]
    assert all(p.spec.due == T0 + timedelta(hours=24) for p in planned)


def test_rotation_resumes_after_the_last_reviewer_given_a_task(tmp_path: Path, store: StateStore) -> None:
    ctx = _ctx(_config(tmp_path), store, tmp_path)
    first = plan_review_tasks(ctx, "salesforce", [_decision("00Q1"), _decision("00Q2")], {}, T0)
    record_planned_tasks(ctx, "salesforce", first)
    again = plan_review_tasks(ctx, "salesforce", [_decision("00Q3"), _decision("00Q4")], {}, T0)
    assert [p.reviewer for p in first] == [SF_USERS[0], SF_USERS[1]]
    assert [p.reviewer for p in again] == [SF_USERS[2], SF_USERS[0]]


def test_one_open_task_per_lead_and_keys_count_earlier_tasks(tmp_path: Path, store: StateStore) -> None:
    ctx = _ctx(_config(tmp_path), store, tmp_path)
    store.add_review_task("salesforce", "00QA", "leadq:salesforce:00QA:review:0")  # open
    store.add_review_task("salesforce", "00QB", "leadq:salesforce:00QB:review:0")
    store.update_review_task("leadq:salesforce:00QB:review:0", state="completed")
    store.add_review_task("salesforce", "00QC", "leadq:salesforce:00QC:review:0")
    store.update_review_task("leadq:salesforce:00QC:review:0", state="escalated")
    decisions = [
        _decision("00QA"),
        _decision("00QB"),
        _decision("00QC"),
        _decision("00QD"),
        _decision("00QD"),
    ]
    decisions.append(_decision("00QE", review=False))
    planned = plan_review_tasks(ctx, "salesforce", decisions, {}, T0)
    assert [p.spec.idempotency_key for p in planned] == [
        "leadq:salesforce:00QB:review:1",
        "leadq:salesforce:00QD:review:0",
    ]


def test_planning_writes_nothing_and_plans_the_same_keys_twice(tmp_path: Path, store: StateStore) -> None:
    ctx = _ctx(_config(tmp_path), store, tmp_path)
    decisions = [_decision(f"00Q{n}") for n in range(3)]
    first = plan_review_tasks(ctx, "salesforce", decisions, {}, T0)
    second = plan_review_tasks(ctx, "salesforce", decisions, {}, T0)
    assert [p.spec for p in first] == [p.spec for p in second]
    assert store.review_tasks("salesforce") == []
    assert list(store.audit_export()) == []


def test_without_reviewers_the_owner_reviews(tmp_path: Path, store: StateStore) -> None:
    ctx = _ctx(_config(tmp_path, reviewers=Reviewers(), max_open_per_reviewer=1), store, tmp_path)
    people = {f"00Q{n}": _person(f"00Q{n}") for n in range(3)}
    planned = plan_review_tasks(ctx, "salesforce", [_decision(i) for i in people], people, T0)
    assert [p.reviewer for p in planned] == [SF_USERS[0]] * 3, "owners review their own leads, uncapped"


def test_disabled_review_plans_nothing(tmp_path: Path, store: StateStore) -> None:
    ctx = _ctx(_config(tmp_path, enabled=False), store, tmp_path)
    assert plan_review_tasks(ctx, "salesforce", [_decision("00Q1")], {}, T0) == []


def test_subject_and_body_say_why_what_and_how(tmp_path: Path, store: StateStore) -> None:
    ctx = _ctx(_config(tmp_path), store, tmp_path)
    contact = _person("003X", kind="contact")
    (task,) = plan_review_tasks(ctx, "salesforce", [_decision("003X")], {"003X": contact}, T0)
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


def test_hubspot_body_names_the_hubspot_fields(tmp_path: Path, store: StateStore) -> None:
    ctx = _ctx(_config(tmp_path, on_reject="disqualify"), store, tmp_path)
    decision = _decision("501", "hubspot", review_reasons=(ReviewReason.HIGH_VALUE, ReviewReason.LOW_DATA),
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
    tmp_path: Path, store: StateStore, name: str, company: str
) -> None:
    ctx = _ctx(_config(tmp_path), store, tmp_path)
    person = Lead(crm="salesforce", id="00Q1", name=name or None, company=company or None)
    (task,) = plan_review_tasks(ctx, "salesforce", [_decision("00Q1")], {"00Q1": person}, T0)
    assert len(task.spec.subject) <= 255
    assert task.spec.subject.startswith("leadq review: ") and "\n" not in task.spec.subject


def test_recording_stores_open_tasks_and_audits(tmp_path: Path, store: StateStore) -> None:
    ctx = _ctx(_config(tmp_path), store, tmp_path)
    planned = plan_review_tasks(ctx, "salesforce", [_decision("00Q1")], {}, T0)
    record_planned_tasks(ctx, "salesforce", planned)
    record_planned_tasks(ctx, "salesforce", planned)  # a retried cycle: no second task
    (stored,) = store.review_tasks("salesforce")
    assert (stored.state, stored.reviewer, stored.due) == ("open", SF_USERS[0], T0 + timedelta(hours=24))
    assert isinstance(stored.detail, dict)
    assert stored.detail["action"] == "route" and stored.detail["target"] == SF_USERS[2]
    assert stored.detail["score"] == 52 and stored.detail["reasons"] == ["borderline"]
    audits = [e for e in store.audit_export() if e["action"] == "review_requested"]
    assert (
        len(audits) == 2
        and audits[0]["record_id"] == "00Q1"
        and audits[0]["model_version"] == "gbm-2025-03-01"
    )
    task_created(ctx, stored.idempotency_key, "00T1")
    task_created(ctx, "leadq:salesforce:nobody:review:0", "00T2")  # unknown: ignored
    assert store.review_tasks("salesforce")[0].task_id == "00T1"
    assert plan_review_tasks(ctx, "salesforce", [_decision("00Q1")], {}, T0) == []


def test_review_of_a_review_action_recommends_the_tiers_action(tmp_path: Path, store: StateStore) -> None:
    ctx = _ctx(_config(tmp_path), store, tmp_path)
    decision = _decision("00Q1", action=ActionKind.REVIEW, action_target=SF_USERS[1], tier="D", score=20)
    (task,) = plan_review_tasks(ctx, "salesforce", [decision], {}, T0)
    assert task.detail["action"] == "nurture" and task.detail["target"] is None
    assert "Recommended action: keep the lead in nurture." in task.spec.body


# ------------------------------------------------------------------------------ overrides


def test_active_overrides_replace_score_tier_and_action(tmp_path: Path, store: StateStore) -> None:
    ctx = _ctx(_config(tmp_path), store, tmp_path)
    set_at = datetime(2025, 11, 3, 10, tzinfo=UTC)
    store.set_override(
        "salesforce", "00Q1", 85, SF_USERS[1], set_at=set_at, expires_at=datetime(2026, 2, 1, tzinfo=UTC)
    )
    store.set_override(
        "salesforce", "00Q2", 90, SF_USERS[1], set_at=set_at, expires_at=set_at + timedelta(days=1)
    )
    store.set_override("salesforce", "00Q3", 10, SF_USERS[1], set_at=set_at)
    store.clear_override("salesforce", "00Q3", at=set_at + timedelta(hours=1))
    store.set_override("hubspot", "00Q4", 10, HS_OWNERS[0], set_at=set_at)
    decisions = [_decision(f"00Q{n}", action=ActionKind.NURTURE, action_target=None) for n in range(1, 6)]
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


def test_an_override_without_expiry_says_until_cleared(tmp_path: Path, store: StateStore) -> None:
    ctx = _ctx(_config(tmp_path), store, tmp_path)
    store.set_override("salesforce", "00Q1", 30, "someone", set_at=T0)
    (out,) = apply_overrides(ctx, "salesforce", [_decision("00Q1", review=True)], T0 + timedelta(days=400))
    assert out.reasons_text.startswith("Score set to 30 by someone on 1 Mar (override until cleared)")
    assert (out.tier, out.action, out.action_target) == ("D", ActionKind.NURTURE, None)


# ------------------------------------------------------------------------------ escalation


def _open_tasks(ctx: CycleContext, crm: Crm = "salesforce") -> list[PlannedTask]:
    planned = plan_review_tasks(ctx, crm, [_decision(f"00Q{n}") for n in range(3)], {}, T0)
    record_planned_tasks(ctx, crm, planned)
    for n, task in enumerate(planned[:2]):
        task_created(ctx, task.spec.idempotency_key, f"00T{n}")  # the third never reached the CRM
    return planned


def test_reassign_gives_overdue_tasks_to_the_next_reviewer(tmp_path: Path, store: StateStore) -> None:
    ctx = _ctx(_config(tmp_path, escalation="reassign"), store, tmp_path)
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
    assert [t.state for t in store.review_tasks("salesforce")] == ["open"] * 3, (
        "escalate_overdue writes nothing"
    )
    record_escalation(ctx, "salesforce", escalation)
    first = store.review_task(planned[0].spec.idempotency_key)
    assert first is not None and (first.state, first.reviewer) == ("escalated", SF_USERS[1])
    assert escalate_overdue(ctx, "salesforce", now + timedelta(days=5)).escalated == 0, "escalated once"
    task_created(ctx, planned[2].spec.idempotency_key, "00T2")
    (late,) = escalate_overdue(ctx, "salesforce", now + timedelta(days=5)).updates
    assert late == ("Task", RecordUpdate("00T2", {"OwnerId": SF_USERS[0], "ActivityDate": "2025-03-08"}))
    assert any(e["action"] == "review_escalated" for e in store.audit_export())


def test_manager_escalation_creates_a_task_for_the_first_reviewer(tmp_path: Path, store: StateStore) -> None:
    ctx = _ctx(_config(tmp_path, escalation="manager"), store, tmp_path)
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
    states = {t.idempotency_key: t.state for t in store.review_tasks("salesforce")}
    assert states[planned[1].spec.idempotency_key] == "escalated"
    assert states[task.spec.idempotency_key] == "open"
    later = escalate_overdue(ctx, "salesforce", now + timedelta(days=3))
    assert later.escalated == 0, "escalation tasks are not escalated again, escalated ones not twice"
    assert plan_review_tasks(ctx, "salesforce", [_decision("00Q1")], {}, now) == []


def test_read_decision_accepts_an_override_score_in_text() -> None:
    assert read_decision(None, "override 75") == ("override", 75.0)
    assert read_decision(None, "Override: 75") == ("override", 75.0)
    assert read_decision("approve", "Approve") == ("approve", None)
    assert read_decision(None, "maybe") == (None, None)
    assert read_decision("override", "Override") == ("override", None)


# ------------------------------------------------------------------------------ picking up, in the sandbox


class Org:
    """One CRM of the sandbox with leadq's fields set up, a person to review, and a way to complete tasks."""

    def __init__(self, crm: Crm, sandbox: SandboxServer, config: LeadqConfig, ctx: CycleContext) -> None:
        self.crm, self.sandbox, self.config, self.ctx = crm, sandbox, config, ctx
        self.connector: CRMConnector = ctx.connectors[crm]
        if crm == "salesforce":
            self.sf: Any = cast(Any, salesforce_client(sandbox))  # its sObject attributes are dynamic
            self.lead_id = self.sf.Lead.create({"FirstName": "Jane", "LastName": "Doe", "Company": "Acme"})[
                "id"
            ]
            self.owner_field, self.reviewer = (
                "OwnerId",
                self.sf.query("SELECT Id FROM User")["records"][0]["Id"],
            )
            user = {"Username": "rep@acme.example", "LastName": "Rep", "Email": "rep@acme.example"}
            (self.target,) = sandbox.store.sf_insert_many("User", [user])
        else:
            self.hs = hubspot_client(sandbox)
            for owner in HS_OWNERS:
                sandbox.store.hs_put_owner({"id": owner, "email": f"o{owner}@example.com", "firstName": "O"})
            props = {"email": "jane@acme.example", "firstname": "Jane", "lastname": "Doe"}
            contact = self.hs.crm.contacts.basic_api.create(
                SimplePublicObjectInputForCreate(properties=props)
            )
            self.lead_id, self.owner_field, self.reviewer = contact.id, "hubspot_owner_id", HS_OWNERS[0]
            self.target = HS_OWNERS[2]
        # Reviewers the CRM knows: a task's owner must be a real user.
        people = (self.reviewer, self.target)
        reviewers = Reviewers(salesforce=people) if crm == "salesforce" else Reviewers(hubspot=HS_OWNERS)
        self.config = config.model_copy(update={"review": ReviewConfig(reviewers=reviewers)})
        ctx.config = self.config

    def ask(self, decision: Decision) -> PlannedTask:
        person = Lead(crm=self.crm, id=self.lead_id, name="Jane Doe", company="Acme")
        (task,) = plan_review_tasks(self.ctx, self.crm, [decision], {self.lead_id: person}, datetime.now(UTC))
        record_planned_tasks(self.ctx, self.crm, [task])
        (outcome,) = self.connector.create_tasks([task.spec])
        assert outcome.ok, outcome
        task_created(self.ctx, task.spec.idempotency_key, outcome.crm_id)
        return task

    def complete(self, task: PlannedTask, decision: str | None) -> str:
        stored = self.ctx.store.review_task(task.spec.idempotency_key)
        assert stored is not None and stored.task_id
        if self.crm == "salesforce":
            values: dict[str, Any] = {"Status": "Completed"}
            if decision is not None:
                values["leadq_Review_Decision__c"] = decision
            self.sf.Task.update(stored.task_id, values)
        else:
            props = {"hs_task_status": "COMPLETED"}
            if decision is not None:
                props["leadq_review_decision"] = decision
            self.hs.crm.objects.basic_api.update(
                "tasks", stored.task_id, SimplePublicObjectInput(properties=props)
            )
        return stored.task_id

    def decision(self, **values: Any) -> Decision:
        return _decision(self.lead_id, self.crm, **{"action_target": self.target, **values})

    def pick_up(self) -> Any:
        pickup = pick_up_decisions(self.ctx, self.crm, run_started=datetime.now(UTC) + timedelta(minutes=1))
        if pickup.cursor is not None:
            self.ctx.store.set_cursor(self.crm, "review_tasks", pickup.cursor)
        return pickup

    def record(self, obj: str) -> dict[str, Any]:
        if self.crm == "salesforce":
            return dict(self.sf.restful(f"sobjects/{obj}/{self.lead_id}") or {})
        contact = self.hs.crm.contacts.basic_api.get_by_id(
            self.lead_id, properties=["hubspot_owner_id", "hs_lead_status"]
        )
        return dict(contact.properties)


@pytest.fixture(params=["salesforce", "hubspot"])
def org(
    request: pytest.FixtureRequest,
    sandbox: SandboxServer,
    init_config: Callable[..., Path],
    invoke: Invoke,
    store: StateStore,
    tmp_path: Path,
) -> Iterator[Org]:
    crm: Crm = request.param
    path = init_config(crm)
    assert invoke("setup", "--config", str(path)).exit_code == 0
    unlimited(sandbox)
    config = load_config(path)
    connector = build_connector(config, crm, **(SF_FAST if crm == "salesforce" else HS_FAST))
    ctx = _ctx(config, store, tmp_path, {crm: connector})
    try:
        yield Org(crm, sandbox, config, ctx)
    finally:
        connector.close()


def test_approval_routes_the_lead_and_labels_it(org: Org) -> None:
    task = org.ask(org.decision())
    assert org.pick_up().completed == 0, "nothing completed yet"
    task_id = org.complete(task, "Approve" if org.crm == "salesforce" else "approve")
    pickup = org.pick_up()
    obj = "Lead" if org.crm == "salesforce" else "contacts"
    target = org.target
    assert (pickup.completed, pickup.labels, pickup.overrides, pickup.problems) == (1, 1, 0, [])
    assert pickup.updates == [(obj, RecordUpdate(org.lead_id, {org.owner_field: target}))]
    assert pickup.rescore == {org.lead_id} and pickup.cursor is not None and pickup.cursor["value"]
    stored = org.ctx.store.review_task(task.spec.idempotency_key)
    assert stored is not None and (stored.state, stored.decision, stored.task_id) == (
        "completed",
        "approve",
        task_id,
    )
    (label,) = org.ctx.store.labels(org.crm)
    assert (label.lead_id, label.label, label.source) == (org.lead_id, 1, "review")
    assert [e["action"] for e in org.ctx.store.audit_export()][-1] == "review_approved"
    (outcome,) = org.connector.apply_updates(obj, [pickup.updates[0][1]])
    assert outcome.ok and org.record(obj)[org.owner_field] == target
    again = org.pick_up()
    assert (again.completed, again.labels, again.updates) == (0, 0, []), "a decision is picked up once"


def test_rejection_applies_the_fallback_status(org: Org) -> None:
    org.ctx.config = org.config.model_copy(
        update={"review": org.config.review.model_copy(update={"on_reject": "disqualify"})}
    )
    task = org.ask(org.decision())
    org.complete(task, "Reject" if org.crm == "salesforce" else "reject")
    pickup = org.pick_up()
    obj, status_field, value = (
        ("Lead", "Status", "Closed - Not Converted") if org.crm == "salesforce"
        else ("contacts", "hs_lead_status", "UNQUALIFIED")
    )  # fmt: skip
    assert pickup.updates == [(obj, RecordUpdate(org.lead_id, {status_field: value}))]
    assert [label.label for label in org.ctx.store.labels(org.crm)] == [0]
    (outcome,) = org.connector.apply_updates(obj, [pickup.updates[0][1]])
    assert outcome.ok and org.record(obj)[status_field] == value


def test_approving_a_nurture_recommendation_sets_a_nurture_status(org: Org) -> None:
    task = org.ask(org.decision(action=ActionKind.NURTURE, action_target=None))
    org.complete(task, "Approve" if org.crm == "salesforce" else "approve")
    pickup = org.pick_up()
    value = "Open - Not Contacted" if org.crm == "salesforce" else "BAD_TIMING"
    assert [u.values for _, u in pickup.updates] == [
        {"Status" if org.crm == "salesforce" else "hs_lead_status": value}
    ]
    assert [label.label for label in org.ctx.store.labels(org.crm)] == [0], (
        "approving nurture: not sales-ready"
    )


def test_override_takes_the_score_from_the_lead_and_sticks(org: Org) -> None:
    world = World(org.crm)
    world.people[org.lead_id] = Lead(crm=org.crm, id=org.lead_id, writeback={"override": 75})
    org.ctx.worlds[org.crm] = world
    task = org.ask(org.decision())
    org.complete(task, "Override" if org.crm == "salesforce" else "override")
    pickup = org.pick_up()
    assert (pickup.completed, pickup.overrides, pickup.labels, pickup.updates, pickup.problems) == (
        1,
        1,
        1,
        [],
        [],
    )
    override = org.ctx.store.active_override(org.crm, org.lead_id, datetime.now(UTC) + timedelta(minutes=2))
    assert override is not None and (override.score, override.set_by) == (75, org.reviewer)
    assert override.expires_at is not None and override.expires_at - override.set_at == timedelta(days=90)
    assert [label.label for label in org.ctx.store.labels(org.crm)] == [1], "75 reaches tier B (60)"
    (decision,) = apply_overrides(
        org.ctx, org.crm, [org.decision()], datetime.now(UTC) + timedelta(minutes=2)
    )
    assert (decision.score, decision.tier, decision.review) == (75, "B", False)


def test_override_without_a_score_and_no_decision_are_problems(org: Org) -> None:
    overridden = org.ask(org.decision())
    org.complete(overridden, "Override" if org.crm == "salesforce" else "override")
    first = org.pick_up()
    soon = datetime.now(UTC) + timedelta(minutes=2)
    assert first.overrides == 0 and org.ctx.store.active_override(org.crm, org.lead_id, soon) is None
    assert len(first.problems) == 1 and "no score" in first.problems[0]
    undecided = org.ask(org.decision())
    assert undecided.spec.idempotency_key.endswith(":review:1")
    task_id = org.complete(undecided, None)
    second = org.pick_up()
    assert (second.completed, second.labels) == (1, 0)
    assert len(second.problems) == 1 and task_id in second.problems[0] and "is empty" in second.problems[0]
    stored = org.ctx.store.review_task(undecided.spec.idempotency_key)
    assert stored is not None and (stored.state, stored.decision) == ("completed", None)
    actions = [e["action"] for e in org.ctx.store.audit_export()]
    assert "review_override_without_score" in actions and actions[-1] == "review_completed_without_decision"


def test_reassigned_task_lands_with_the_next_reviewer(org: Org) -> None:
    org.ctx.config = org.config.model_copy(
        update={"review": org.config.review.model_copy(update={"escalation": "reassign"})}
    )
    task = org.ask(org.decision())
    escalation = escalate_overdue(org.ctx, org.crm, datetime.now(UTC) + timedelta(days=2))
    ((obj, update),) = escalation.updates
    assert obj == ("Task" if org.crm == "salesforce" else "tasks")
    (outcome,) = org.connector.apply_updates(obj, [update])
    assert outcome.ok, outcome
    record_escalation(org.ctx, org.crm, escalation)
    stored = org.ctx.store.review_task(task.spec.idempotency_key)
    assert stored is not None and stored.task_id == update.id and stored.state == "escalated"
    if org.crm == "salesforce":
        owner = org.sf.Task.get(update.id)["OwnerId"]
    else:
        got = org.hs.crm.objects.basic_api.get_by_id("tasks", update.id, properties=["hubspot_owner_id"])
        owner = got.properties["hubspot_owner_id"]
    assert owner == stored.reviewer != task.reviewer


def test_a_decision_on_the_escalation_task_closes_the_original(org: Org) -> None:
    org.ctx.config = org.config.model_copy(
        update={"review": org.config.review.model_copy(update={"escalation": "manager"})}
    )
    original = org.ask(org.decision())
    escalation = escalate_overdue(org.ctx, org.crm, datetime.now(UTC) + timedelta(days=2))
    record_escalation(org.ctx, org.crm, escalation)
    (manager,) = escalation.tasks
    (outcome,) = org.connector.create_tasks([manager.spec])
    assert outcome.ok, outcome
    task_created(org.ctx, manager.spec.idempotency_key, outcome.crm_id)
    org.complete(manager, "Approve" if org.crm == "salesforce" else "approve")
    pickup = org.pick_up()
    stored = org.ctx.store.review_task(original.spec.idempotency_key)
    assert stored is not None and stored.state == "cancelled"
    closing = [(o, u) for o, u in pickup.updates if u.id == stored.task_id]
    assert len(closing) == 1 and pickup.labels == 1
    (closed,) = org.connector.apply_updates(closing[0][0], [closing[0][1]])
    assert closed.ok, closed
    again = org.pick_up()
    assert (again.completed, again.labels, again.updates) == (0, 0, []), (
        "the closed original counts for nothing"
    )
