"""Reading and changing the sandbox org as a person would, through the real clients (for cycle tests)."""

from __future__ import annotations

from typing import Any

from hubspot.crm.contacts import SimplePublicObjectInput
from hubspot.crm.objects import SimplePublicObjectInput as ObjectInput

from sandbox import SandboxServer
from tests.conftest import hubspot_client, salesforce_client

SCORE = {"salesforce": "leadq_Score__c", "hubspot": "leadq_score"}
OVERRIDE = {"salesforce": "leadq_Override_Score__c", "hubspot": "leadq_override_score"}
DECISION = {"salesforce": "leadq_Review_Decision__c", "hubspot": "leadq_review_decision"}
TITLE = {"salesforce": "Title", "hubspot": "jobtitle"}


class Org:
    """One CRM of the sandbox, seen through its real client."""

    def __init__(self, server: SandboxServer, crm: str) -> None:
        self.crm = crm
        self.sf = salesforce_client(server) if crm == "salesforce" else None
        self.hs = hubspot_client(server) if crm == "hubspot" else None

    def scores(self) -> dict[str, Any]:
        """Person id -> our score field as the CRM holds it (None when unset)."""
        if self.sf is not None:
            out: dict[str, Any] = {}
            for obj in ("Lead", "Contact"):
                where = " WHERE IsConverted = false" if obj == "Lead" else ""
                for r in self.sf.query_all_iter(f"SELECT Id, leadq_Score__c FROM {obj}{where}"):
                    out[r["Id"]] = r["leadq_Score__c"]
            return out
        assert self.hs is not None
        contacts = self.hs.crm.contacts.get_all(properties=["leadq_score"])
        return {c.id: (float(c.properties["leadq_score"]) if c.properties.get("leadq_score") else None)
                for c in contacts}  # fmt: skip

    def object_of(self, person_id: str) -> str:
        if self.crm == "hubspot":
            return "contacts"
        return "Lead" if person_id.startswith("00Q") else "Contact"

    def update(self, person_id: str, values: dict[str, Any]) -> None:
        """Change a person's fields as a user would."""
        if self.sf is not None:
            getattr(self.sf, self.object_of(person_id)).update(person_id, values)
            return
        assert self.hs is not None
        props = {k: "" if v is None else str(v) for k, v in values.items()}
        self.hs.crm.contacts.basic_api.update(person_id, SimplePublicObjectInput(properties=props))

    def review_tasks(self) -> list[dict[str, Any]]:
        """leadq's review tasks in the CRM: id, key, who, status."""
        if self.sf is not None:
            rows = self.sf.query_all(
                "SELECT Id, leadq_Key__c, WhoId, Status FROM Task WHERE leadq_Key__c != null"
            )
            return [{"id": r["Id"], "key": r["leadq_Key__c"], "who": r["WhoId"], "status": r["Status"]}
                    for r in rows["records"]]  # fmt: skip
        assert self.hs is not None
        tasks = self.hs.crm.objects.get_all("tasks", properties=["leadq_key", "hs_task_status"])
        return [{"id": t.id, "key": t.properties.get("leadq_key"), "status": t.properties.get("hs_task_status")}
                for t in tasks if t.properties.get("leadq_key")]  # fmt: skip

    def complete_task(self, task_id: str, decision: str) -> None:
        """A reviewer records a decision on a task and completes it."""
        if self.sf is not None:
            task = getattr(self.sf, "Task")  # noqa: B009 (simple-salesforce's dynamic sObjects)
            task.update(task_id, {"Status": "Completed", DECISION["salesforce"]: decision.capitalize()})
            return
        assert self.hs is not None
        self.hs.crm.objects.basic_api.update(
            "tasks",
            task_id,
            ObjectInput(properties={"hs_task_status": "COMPLETED", DECISION["hubspot"]: decision}),
        )
