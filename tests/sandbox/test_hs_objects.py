"""HubSpot objects endpoints through the real `hubspot-api-client`: CRUD, paging, validation, derived values."""

from __future__ import annotations

import json
import ssl
from typing import Any

import httpx
import pytest
from hubspot import HubSpot
from hubspot.crm.contacts import ApiException, SimplePublicObjectInput, SimplePublicObjectInputForCreate
from hubspot.crm.deals import SimplePublicObjectInputForCreate as DealCreate
from hubspot.crm.objects.tasks import ApiException as TaskApiException
from hubspot.crm.objects.tasks import SimplePublicObjectInput as TaskInput
from hubspot.crm.objects.tasks import SimplePublicObjectInputForCreate as TaskCreate

from sandbox import SandboxServer


def _create(hs: HubSpot, **props: Any) -> Any:
    return hs.crm.contacts.basic_api.create(SimplePublicObjectInputForCreate(properties=props))


def _issues(exc: ApiException | TaskApiException) -> dict[str, dict[str, Any]]:
    """The invalid-value entries embedded in a 400's message, by property name."""
    body = json.loads(exc.body)
    assert body["status"] == "error" and body["category"] == "VALIDATION_ERROR"
    prefix = "Property values were not valid: "
    assert body["message"].startswith(prefix)
    return {e["name"]: e for e in json.loads(body["message"][len(prefix) :])}


def _raw(sandbox: SandboxServer) -> httpx.Client:
    return httpx.Client(
        base_url=sandbox.url,
        verify=ssl.create_default_context(cafile=str(sandbox.ca_path)),
        headers={"Authorization": f"Bearer {sandbox.token}"},
    )


def test_contact_lifecycle_create_get_update_archive(hs: HubSpot) -> None:
    created = _create(hs, email="Ada@Example.com", firstname="Ada", lastname="Lovelace", jobtitle="CTO")
    assert created.id.isdigit()
    props = created.properties
    assert props["email"] == "Ada@Example.com" and props["hs_object_id"] == created.id
    assert props["hs_email_domain"] == "example.com"
    assert props["lifecyclestage"] == "lead" and props["hs_lifecyclestage_lead_date"] == props["createdate"]
    assert props["createdate"].endswith("Z") and props["lastmodifieddate"] == props["createdate"]

    got = hs.crm.contacts.basic_api.get_by_id(
        created.id, properties=["email", "jobtitle", "phone", "nosuchprop"]
    )
    assert got.properties == {
        "createdate": props["createdate"],
        "email": "Ada@Example.com",
        "hs_object_id": created.id,
        "jobtitle": "CTO",
        "lastmodifieddate": props["lastmodifieddate"],
        "phone": None,  # requested and unset: null; unknown names are left out
    }
    by_email = hs.crm.contacts.basic_api.get_by_id("ada@example.com", id_property="email")
    assert by_email.id == created.id

    updated = hs.crm.contacts.basic_api.update(
        created.id,
        SimplePublicObjectInput(properties={"jobtitle": "", "lifecyclestage": "salesqualifiedlead"}),
    )
    assert "jobtitle" not in updated.properties  # "" clears
    assert (
        updated.properties["hs_lifecyclestage_salesqualifiedlead_date"]
        == updated.properties["lastmodifieddate"]
    )
    assert updated.updated_at >= created.updated_at
    by_email_patch = hs.crm.contacts.basic_api.update(
        "ADA@example.com",
        SimplePublicObjectInput(properties={"phone": "+44 20 7946 0000"}),
        id_property="email",
    )
    assert by_email_patch.id == created.id and by_email_patch.properties["phone"] == "+44 20 7946 0000"

    hs.crm.contacts.basic_api.archive(created.id)
    with pytest.raises(ApiException) as err:
        hs.crm.contacts.basic_api.get_by_id(created.id)
    assert err.value.status == 404
    assert json.loads(err.value.body)["category"] == "OBJECT_NOT_FOUND"
    archived = hs.crm.contacts.basic_api.get_by_id(created.id, archived=True)
    assert archived.archived is True and archived.archived_at is not None
    hs.crm.contacts.basic_api.archive(created.id)  # archiving again is a 204 too


def test_list_pages_with_after_and_link(hs: HubSpot, sandbox: SandboxServer) -> None:
    sandbox.store.hs_insert_many("contacts", [{"email": f"p{i}@example.com"} for i in range(23)])
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        page = hs.crm.contacts.basic_api.get_page(limit=10, after=after, properties=["email"])
        seen += [r.id for r in page.results]
        pages += 1
        if page.paging is None:
            break
        after = page.paging.next.after
        assert page.paging.next.link.startswith(sandbox.url) and f"after={after}" in page.paging.next.link
    assert pages == 3 and len(seen) == len(set(seen)) == 23
    assert seen == sorted(seen, key=int)
    everything = hs.crm.contacts.get_all()  # the client's own paging helper
    assert len(everything) == 23


def test_archived_listing_returns_only_archived(hs: HubSpot, sandbox: SandboxServer) -> None:
    records = sandbox.store.hs_insert_many("companies", [{"name": f"Co {i}"} for i in range(5)])
    for rec in records[:2]:
        sandbox.store.hs_archive("companies", rec.id)
    live = hs.crm.companies.basic_api.get_page(limit=100)
    gone = hs.crm.companies.basic_api.get_page(limit=100, archived=True, properties=["name"])
    assert {r.id for r in live.results} == {str(r.id) for r in records[2:]}
    assert {r.id for r in gone.results} == {str(r.id) for r in records[:2]}
    assert all(r.archived and r.archived_at is not None for r in gone.results)


def test_validation_errors_name_each_property(hs: HubSpot) -> None:
    with pytest.raises(ApiException) as err:
        _create(
            hs,
            email="not-an-email",
            foo="1",
            lifecyclestage="hot",
            annualrevenue="lots",
            createdate="1700000000000",
            hs_email_optout="maybe",
            numemployees=" 1-5",
        )
    assert err.value.status == 400
    issues = _issues(err.value)
    assert {k: v["error"] for k, v in issues.items()} == {
        "email": "INVALID_EMAIL",
        "foo": "PROPERTY_DOESNT_EXIST",
        "lifecyclestage": "INVALID_OPTION",
        "annualrevenue": "INVALID_FLOAT",
        "createdate": "READ_ONLY_VALUE",
        "hs_email_optout": "INVALID_OPTION",
        "numemployees": "LEADING_TRAILING_WHITESPACE",
    }
    assert issues["foo"]["message"] == 'Property "foo" does not exist'
    assert issues["lifecyclestage"]["message"].startswith(
        "hot was not one of the allowed options: [subscriber, lead"
    )
    assert issues["email"]["isValid"] is False
    assert hs.crm.contacts.basic_api.get_page().results == []  # nothing was created


def test_values_are_normalised(hs: HubSpot, sandbox: SandboxServer) -> None:
    sandbox.store.hs_put_owner(
        {"id": 501, "email": "rep@example.com", "firstName": "Rita", "lastName": "Rep"}
    )
    raw = _raw(sandbox)
    r = raw.post(
        "/crm/v3/objects/deals",
        json={
            "properties": {
                "dealname": "Big",
                "amount": 12500,
                "closedate": 1767225600000,
                "hubspot_owner_id": 501,
            }
        },
    )
    assert r.status_code == 201, r.text
    props = r.json()["properties"]
    assert props["amount"] == "12500"  # JSON numbers become strings
    assert props["closedate"] == "2026-01-01T00:00:00.000Z"  # epoch ms -> ISO
    assert props["hubspot_owner_id"] == "501" and props["hubspot_owner_assigneddate"] == props["createdate"]
    contact = _create(hs, email="x@example.com", hs_email_optout="TRUE")
    assert contact.properties["hs_email_optout"] == "true"
    with pytest.raises(ApiException) as err:
        _create(hs, email="y@example.com", hubspot_owner_id="999")
    assert _issues(err.value)["hubspot_owner_id"]["error"] == "INVALID_OWNER_ID"


def test_duplicate_contact_email_is_a_conflict(hs: HubSpot) -> None:
    first = _create(hs, email="dup@example.com")
    with pytest.raises(ApiException) as err:
        _create(hs, email="DUP@example.com")
    assert err.value.status == 409
    body = json.loads(err.value.body)
    assert body["category"] == "CONFLICT"
    assert body["message"] == f"Contact already exists. Existing ID: {first.id}"
    other = _create(hs, email="other@example.com")
    with pytest.raises(ApiException) as err:
        hs.crm.contacts.basic_api.update(
            other.id, SimplePublicObjectInput(properties={"email": "dup@example.com"})
        )
    assert err.value.status == 409


def test_deal_stage_drives_closed_flags(hs: HubSpot) -> None:
    deal = hs.crm.deals.basic_api.create(
        DealCreate(properties={"dealname": "D", "dealstage": "qualifiedtobuy"})
    )
    p = deal.properties
    assert (p["pipeline"], p["hs_is_closed"], p["hs_is_closed_won"]) == ("default", "false", "false")
    won = hs.crm.deals.basic_api.update(deal.id, {"properties": {"dealstage": "closedwon", "amount": "900"}})
    p = won.properties
    assert (p["hs_is_closed"], p["hs_is_closed_won"], p["hs_is_closed_lost"]) == ("true", "true", "false")
    assert p["closedate"] and p["hs_closed_amount"] == "900"
    lost = hs.crm.deals.basic_api.update(deal.id, {"properties": {"dealstage": "closedlost"}})
    assert (lost.properties["hs_is_closed_won"], lost.properties["hs_is_closed_lost"]) == ("false", "true")


def test_tasks_need_hs_timestamp_and_track_completion(hs: HubSpot, sandbox: SandboxServer) -> None:
    contact = _create(hs, email="t@example.com")
    tasks = hs.crm.objects.tasks.basic_api
    with pytest.raises(TaskApiException) as err:
        tasks.create(TaskCreate(properties={"hs_task_subject": "Review lead"}))
    assert err.value.status == 400 and _issues(err.value)["hs_timestamp"]["name"] == "hs_timestamp"
    task = tasks.create(
        TaskCreate(
            properties={"hs_task_subject": "Review lead", "hs_timestamp": "2026-03-15T10:00:00Z"},
            associations=[
                {
                    "to": {"id": contact.id},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 204}],
                }
            ],
        )
    )
    p = task.properties
    assert p["hs_timestamp"] == "2026-03-15T10:00:00.000Z"
    assert (p["hs_task_status"], p["hs_task_type"], p["hs_task_is_completed"]) == ("NOT_STARTED", "TODO", "0")
    assert "hs_task_completion_date" not in p
    done = tasks.update(task.id, TaskInput(properties={"hs_task_status": "COMPLETED"}))
    assert done.properties["hs_task_completion_date"] == done.properties["hs_lastmodifieddate"]
    assert done.properties["hs_task_is_completed"] == "1"
    reopened = tasks.update(task.id, TaskInput(properties={"hs_task_status": "IN_PROGRESS"}))
    assert "hs_task_completion_date" not in reopened.properties
    with pytest.raises(TaskApiException):
        tasks.update(task.id, TaskInput(properties={"hs_timestamp": ""}))  # required: cannot be cleared

    page = hs.crm.contacts.basic_api.get_page(associations=["tasks", "companies"])
    assert page.results[0].associations["tasks"].results[0].id == task.id
    assert page.results[0].associations["tasks"].results[0].type == "contact_to_task"
    assert "companies" not in page.results[0].associations  # types without associations are left out
    back = tasks.get_by_id(task.id, associations=["contacts"])
    assert back.associations["contacts"].results[0].type == "task_to_contact"


def test_properties_with_history(sandbox: SandboxServer) -> None:
    rec = sandbox.store.hs_insert("contacts", {"email": "h@example.com"})
    r = _raw(sandbox).get(
        f"/crm/v3/objects/contacts/{rec.id}", params={"propertiesWithHistory": "email,firstname"}
    )
    history = r.json()["propertiesWithHistory"]
    assert history["firstname"] == []
    assert history["email"][0]["value"] == "h@example.com" and history["email"][0]["timestamp"].endswith("Z")


BAD_INPUTS: list[tuple[str, str, bytes]] = [
    ("POST", "/crm/v3/objects/contacts", b"{not json"),
    ("POST", "/crm/v3/objects/contacts", b"[1, 2]"),
    ("POST", "/crm/v3/objects/contacts", b'{"properties": [1]}'),
    ("POST", "/crm/v3/objects/contacts", b'{"properties": {"email": {"a": 1}}}'),
    ("POST", "/crm/v3/objects/contacts", b'{"properties": {}, "associations": [{"to": {}}]}'),
    (
        "POST",
        "/crm/v3/objects/contacts",
        b'{"associations": [{"to": {"id": "1"}, "types": [{"associationTypeId": 1}]}]}',
    ),
    ("POST", "/crm/v3/objects/tasks", b'{"properties": {"hs_timestamp": "1"}, "associations": "x"}'),
    ("POST", "/crm/v3/objects/widgets", b"{}"),
    ("PATCH", "/crm/v3/objects/contacts/abc", b'{"properties": {}}'),
    ("PATCH", "/crm/v3/objects/contacts/1", b""),
    ("PATCH", "/crm/v3/objects/contacts/1?idProperty=nosuch", b'{"properties": {}}'),
    ("GET", "/crm/v3/objects/contacts?limit=1000", b""),
    ("GET", "/crm/v3/objects/contacts?limit=x", b""),
    ("GET", "/crm/v3/objects/contacts?after=zzz", b""),
    ("GET", "/crm/v3/objects/contacts?archived=perhaps", b""),
    ("GET", "/crm/v3/objects/contacts?associations=widgets", b""),
    ("GET", "/crm/v3/objects/contacts/1?idProperty=firstname", b""),
    ("GET", "/crm/v3/objects/contacts/99999999999999999999999", b""),
    ("DELETE", "/crm/v3/objects/contacts/abc", b""),
]


def test_bad_input_is_a_4xx_never_a_500(sandbox: SandboxServer) -> None:
    raw = _raw(sandbox)
    for method, path, body in BAD_INPUTS:
        r = raw.request(method, path, content=body, headers={"content-type": "application/json"})
        assert r.status_code < 500, (method, path, r.text)
        if r.status_code >= 400:
            err = r.json()
            assert err["status"] == "error" and err["category"] and err["correlationId"], (method, path)
