"""Our HubSpot responses against real recorded ones: the same keys and the same JSON value types.

The recordings (`../shared/reference/hubspot/recorded-nango`, see its README) are read in place, never copied
into the project. Values differ (ids, dates, portal); shapes must not.
"""

from __future__ import annotations

import json
from collections import Counter
from functools import cache
from typing import Any

import httpx
import pytest

from sandbox import SandboxServer
from tests.conftest import REFERENCE

RECORDED = REFERENCE / "hubspot" / "recorded-nango"
pytestmark = pytest.mark.skipif(not RECORDED.is_dir(), reason="reference recordings not available")


@cache
def recorded(name: str) -> tuple[dict[str, Any], Any]:
    """(request, response body) of the one call in a recording."""
    data = json.loads((RECORDED / f"{name}.test.json").read_text())
    (call,) = [c for paths in data["api"].values() for c in paths.values()]
    return call.get("request") or {}, call["response"]


def kind(value: Any) -> str:
    return {
        dict: "object",
        list: "array",
        str: "string",
        bool: "boolean",
        int: "number",
        float: "number",
    }.get(type(value), "null")


def types_of(obj: dict[str, Any]) -> dict[str, str]:
    return {k: kind(v) for k, v in obj.items()}


def assert_same_shape(ours: dict[str, Any], real: dict[str, Any], *, nullable: bool = True) -> None:
    """Same keys; each value of the same JSON type (null may stand for any type when `nullable`)."""
    assert set(ours) == set(real), (sorted(set(ours) ^ set(real)), ours, real)
    for key, value in ours.items():
        if nullable and (value is None or real[key] is None):
            continue
        assert kind(value) == kind(real[key]), (key, value, real[key])


def assert_object_shape(ours: dict[str, Any], real: dict[str, Any]) -> None:
    assert_same_shape(ours, real)
    assert all(isinstance(v, str) or v is None for v in ours["properties"].values())
    for key in ("createdAt", "updatedAt"):
        assert ours[key].endswith("Z") and len(ours[key]) == len("2026-03-12T07:33:46.615Z")


def _params(name: str) -> dict[str, str]:
    return dict(recorded(name)[0].get("params") or {})


def test_get_and_list_contacts(api: httpx.Client) -> None:
    api.post("/crm/v3/objects/contacts", json={"properties": {"email": "a@example.com", "firstname": "A",
                                                             "lastname": "B", "phone": "+1 555"}})  # fmt: skip
    ours = api.get(
        "/crm/v3/objects/contacts/a@example.com", params=_params("get-contact") | {"idProperty": "email"}
    )
    real = recorded("get-contact")[1]
    assert_object_shape(ours.json(), real)
    assert set(ours.json()["properties"]) == set(real["properties"])
    for name in ("contacts", "list-contacts"):
        page = api.get("/crm/v3/objects/contacts", params=_params(name)).json()
        real_page = recorded(name)[1]
        assert set(page) == set(real_page) == {"results"}
        assert_object_shape(page["results"][0], real_page["results"][0])
        assert set(page["results"][0]["properties"]) == set(real_page["results"][0]["properties"])


def test_list_companies_and_deals(api: httpx.Client, sandbox: SandboxServer) -> None:
    sandbox.store.hs_insert("companies", {"name": "Acme", "domain": "acme.com"})
    sandbox.store.hs_insert(
        "deals", {"dealname": "Deal", "amount": "10", "dealstage": "appointmentscheduled"}
    )
    for type_, name in (("companies", "companies"), ("deals", "deals")):
        page = api.get(f"/crm/v3/objects/{type_}", params=_params(name)).json()
        real = recorded(name)[1]["results"][0]
        assert_object_shape(page["results"][0], real)
        assert set(page["results"][0]["properties"]) == set(real["properties"])


def test_list_tasks_with_associations(api: httpx.Client, sandbox: SandboxServer) -> None:
    contact = sandbox.store.hs_insert("contacts", {"email": "t@example.com"})
    api.post(
        "/crm/v3/objects/tasks",
        json={
            "properties": {"hs_task_subject": "Call", "hs_timestamp": "2026-01-01T00:00:00Z"},
            "associations": [{"to": {"id": str(contact.id)},
                              "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 204}]}],
        },
    )  # fmt: skip
    api.post("/crm/v3/objects/tasks", json={"properties": {"hs_timestamp": "2026-01-01T00:00:00Z"}})
    ours = api.get("/crm/v3/objects/tasks", params=_params("tasks")).json()["results"]
    real = recorded("tasks")[1]["results"]
    with_assoc = next(r for r in real if "associations" in r)
    assert_object_shape(ours[0], with_assoc)
    assert_object_shape(ours[1], next(r for r in real if "associations" not in r))
    assert set(ours[0]["properties"]) == set(with_assoc["properties"])  # unknown requested names are left out
    assert ours[0]["associations"]["contacts"]["results"][0]["type"] == "task_to_contact"
    assert_same_shape(
        ours[0]["associations"]["contacts"]["results"][0],
        with_assoc["associations"]["contacts"]["results"][0],
    )


@pytest.mark.parametrize(
    ("type_", "name", "also"),
    [
        ("contacts", "create-contact", ()),
        ("companies", "create-company", ()),
        ("deals", "create-deal", ("update-deal",)),
        ("tasks", "create-task", ("update-task",)),
        ("notes", "create-note", ()),
    ],
)
def test_create_responses(
    api: httpx.Client, sandbox: SandboxServer, type_: str, name: str, also: tuple[str, ...]
) -> None:
    sandbox.store.hs_put_owner({"id": 88842095, "email": "o@example.com", "firstName": "O", "lastName": "W"})
    request = recorded(name)[0]["data"]
    request.pop("associations", None)  # the recorded targets do not exist here
    created = api.post(f"/crm/v3/objects/{type_}", json=request)
    assert created.status_code == 201, created.text
    real = recorded(name)[1]
    assert_object_shape(created.json(), real | {"url": ""})
    allowed = set(real["properties"]).union(*(recorded(n)[1]["properties"] for n in also))
    if type_ == "contacts":
        allowed.add("hs_lastmodifieddate")  # the store keeps it on contacts too, next to lastmodifieddate
    assert set(created.json()["properties"]) <= allowed  # a subset of what HubSpot sets; nothing invented


def test_update_responses(api: httpx.Client, sandbox: SandboxServer) -> None:
    for type_, name in (("contacts", "update-contact"), ("companies", "update-company")):
        rec = sandbox.store.hs_insert(type_, {})
        body = recorded(name)[0]["data"]
        updated = api.patch(f"/crm/v3/objects/{type_}/{rec.id}", json=body)
        assert updated.status_code == 200, updated.text
        assert_object_shape(updated.json(), recorded(name)[1])
    rec = sandbox.store.hs_insert("contacts", {"email": "gone@example.com"})
    deleted = api.delete(f"/crm/v3/objects/contacts/{rec.id}")
    assert (deleted.status_code, deleted.content) == (204, b"")


def test_batch_responses(api: httpx.Client) -> None:
    request = recorded("batch-create-companies")[0]["data"]
    created = api.post("/crm/v3/objects/companies/batch/create", json=request).json()
    real = recorded("batch-create-companies")[1]
    assert_same_shape(created, real)
    assert_object_shape(created["results"][0], real["results"][0])
    assert set(created["results"][0]["properties"]) <= set(real["results"][0]["properties"])

    update = recorded("batch-update-companies")[0]["data"]
    update["inputs"][0]["id"] = created["results"][0]["id"]
    updated = api.post("/crm/v3/objects/companies/batch/update", json=update).json()
    real = recorded("batch-update-companies")[1]
    assert_same_shape(updated, real)
    assert_object_shape(updated["results"][0], real["results"][0])


def test_property_definitions(api: httpx.Client) -> None:
    real = {p["name"]: p for p in recorded("fetch-properties")[1]["results"]}
    real_key_sets = {frozenset(p) for p in real.values()}
    ours = api.get("/crm/v3/properties/companies").json()["results"]
    mismatches = []
    for prop in ours:
        assert frozenset(prop) in real_key_sets, (prop["name"], sorted(prop))
        assert set(prop["modificationMetadata"]) <= {"archivable", "readOnlyDefinition", "readOnlyOptions",
                                                     "readOnlyValue"}  # fmt: skip
        twin = real.get(prop["name"])
        if twin is None:
            continue
        assert_same_shape(
            {k: v for k, v in prop.items() if k in twin}, {k: twin[k] for k in prop if k in twin}
        )
        same = [prop["type"] == twin["type"],
                twin["fieldType"].startswith("calculation") or prop["fieldType"] == twin["fieldType"],
                prop["modificationMetadata"]["readOnlyValue"] == twin["modificationMetadata"]["readOnlyValue"]]  # fmt: skip
        if not all(same):
            mismatches.append(prop["name"])
    assert mismatches == []
    shared = Counter(p["name"] in real for p in ours)
    assert shared[True] >= 30  # most of ours are real HubSpot company properties
    industry = next(p for p in ours if p["name"] == "industry")
    assert {o["value"] for o in industry["options"]} == {o["value"] for o in real["industry"]["options"]}


def test_custom_property_create_response(api: httpx.Client) -> None:
    request, real = recorded("create-property")
    created = api.post("/crm/v3/properties/contacts", json=request["data"])
    assert created.status_code == 201, created.text
    assert_same_shape(created.json(), real, nullable=False)
    assert types_of(created.json()["modificationMetadata"]) == types_of(real["modificationMetadata"])


def test_owner_responses(api: httpx.Client, sandbox: SandboxServer) -> None:
    sandbox.store.hs_put_owner({"id": 534941, "email": "o@example.com", "firstName": "O", "lastName": "W"})
    page = api.get("/crm/v3/owners", params=_params("owners")).json()
    real = recorded("owners")[1]
    assert set(page) == set(real)
    assert_same_shape(page["results"][0], real["results"][0], nullable=False)
    one = api.get("/crm/v3/owners/534941").json()
    assert_same_shape(one, recorded("get-owner")[1], nullable=False)
