"""The demo's view of the sandbox org through the real clients: what a rep sees, what a reviewer does.

Kept apart from the demo command so the command reads as the story it tells.
"""

from __future__ import annotations

from typing import Any, cast

import requests
from hubspot import HubSpot
from hubspot.crm.objects import SimplePublicObjectInput
from simple_salesforce.api import Salesforce, SFType

from mappings import LeadqConfig
from sandbox.server import SandboxServer


def salesforce(server: SandboxServer) -> Salesforce:
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE must not override the sandbox CA
    session.verify = str(server.ca_path)
    return Salesforce(instance_url=server.url, session_id=server.token, session=session)


def hubspot(server: SandboxServer) -> HubSpot:
    return HubSpot(access_token=server.token, host=server.url, ssl_ca_cert=str(server.ca_path))


def _fields(config: LeadqConfig, crm: str) -> dict[str, str]:
    block = config.crm(crm)
    assert block is not None
    slots = ("score", "tier", "reasons", "recommended_action", "model_version", "override")
    return {slot: block.writeback.field_for(slot).field for slot in (*slots, "task_decision")}


def rep_view(server: SandboxServer, config: LeadqConfig, crm: str, limit: int = 3) -> list[dict[str, Any]]:
    """The best-scored people of a CRM as a rep sees them on the record."""
    f = _fields(config, crm)
    if crm == "salesforce":
        soql = (
            f"SELECT Id, Name, Company, {f['score']}, {f['tier']}, {f['recommended_action']}, {f['reasons']} "
            f"FROM Lead WHERE {f['score']} != null ORDER BY {f['score']} DESC LIMIT {limit}"
        )
        rows = salesforce(server).query(soql)["records"]
        return [
            {"id": r["Id"], "name": r["Name"], "company": r["Company"], "score": r[f["score"]],
             "tier": r[f["tier"]], "action": r[f["recommended_action"]], "reasons": r[f["reasons"]] or ""}
            for r in rows
        ]  # fmt: skip
    props = ["firstname", "lastname", "company", f["score"], f["tier"], f["recommended_action"], f["reasons"]]
    contacts = [
        c for c in hubspot(server).crm.contacts.get_all(properties=props) if c.properties.get(f["score"])
    ]
    contacts.sort(key=lambda c: -float(c.properties[f["score"]]))
    return [
        {"id": c.id, "name": f"{c.properties.get('firstname') or ''} {c.properties.get('lastname') or ''}".strip(),
         "company": c.properties.get("company"), "score": c.properties[f["score"]],
         "tier": c.properties.get(f["tier"]), "action": c.properties.get(f["recommended_action"]),
         "reasons": c.properties.get(f["reasons"]) or ""}
        for c in contacts[:limit]
    ]  # fmt: skip


def decide(
    server: SandboxServer,
    config: LeadqConfig,
    crm: str,
    task_id: str,
    lead_id: str,
    decision: str,
    score: int,
) -> None:
    """A reviewer records a decision on a task (an override also sets the record's override score)."""
    f = _fields(config, crm)
    if crm == "salesforce":
        sf = salesforce(server)
        if decision == "override":
            obj = "Lead" if lead_id.startswith("00Q") else "Contact"
            getattr(sf, obj).update(lead_id, {f["override"]: score})
        cast(SFType, sf.Task).update(
            task_id, {"Status": "Completed", f["task_decision"]: decision.capitalize()}
        )
        return
    hs = hubspot(server)
    if decision == "override":
        hs.crm.objects.basic_api.update(
            "contacts", lead_id, SimplePublicObjectInput(properties={f["override"]: str(score)})
        )
    hs.crm.objects.basic_api.update(
        "tasks",
        task_id,
        SimplePublicObjectInput(properties={"hs_task_status": "COMPLETED", f["task_decision"]: decision}),
    )
