"""Shared pieces of the review lifecycle tests (tests/sync/test_review*.py): a config with reviewers, a
cycle context, a decision to review, and `ReviewOrg`, one CRM of the sandbox where review tasks are made and
completed. The fixtures built on them (`review_store`, `review_org`) are in tests/sync/conftest.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from hubspot.crm.objects import SimplePublicObjectInput, SimplePublicObjectInputForCreate

from connector.protocol import CRMConnector
from mappings import Crm, Lead, LeadqConfig, load_config, write_default_config
from mappings.config.review import ReviewConfig, Reviewers
from sandbox import SandboxServer
from scoring.decision import ActionKind, Decision, ReviewReason
from sync.context import CycleContext
from sync.review import PlannedTask, pick_up_decisions, plan_review_tasks, record_planned_tasks, task_created
from sync.state import StateStore
from tests.conftest import hubspot_client, salesforce_client

SF_USERS = ("005000000000001AAA", "005000000000002AAA", "005000000000003AAA")
HS_OWNERS = ("101", "102", "103")


def review_config(tmp_path: Path, **review: Any) -> LeadqConfig:
    """The default config with three reviewers per CRM and `review` settings on top."""
    path = write_default_config(tmp_path / "cfg" / "leadq.yaml", overwrite=True)
    config = load_config(path, resolve=False)
    values: dict[str, Any] = {"reviewers": Reviewers(salesforce=SF_USERS, hubspot=HS_OWNERS), **review}
    return config.model_copy(update={"review": ReviewConfig(**values)})


def review_context(
    config: LeadqConfig, store: StateStore, tmp_path: Path, connectors: Any = None
) -> CycleContext:
    """A cycle context on `store`, with `connectors` (none by default)."""
    return CycleContext(
        config=config, store=store, connectors=connectors or {}, state_dir=tmp_path / ".leadq"
    )


def review_decision(lead_id: str, crm: str = "salesforce", **values: Any) -> Decision:
    """A borderline decision that asks for review; `values` replace its fields."""
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


class ReviewOrg:
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
        return review_decision(self.lead_id, self.crm, **{"action_target": self.target, **values})

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
