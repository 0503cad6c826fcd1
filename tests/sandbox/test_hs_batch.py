"""HubSpot batch endpoints through the real client: 207 partial results, whole-batch failures, upsert, faults."""

from __future__ import annotations

import json
import ssl

import httpx
import pytest
from hubspot import HubSpot
from hubspot.crm.companies import BatchInputSimplePublicObjectBatchInputForCreate as CompanyBatchCreate
from hubspot.crm.companies import SimplePublicObjectBatchInputForCreate as CompanyCreate
from hubspot.crm.contacts import (
    ApiException,
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchInputSimplePublicObjectId,
    BatchReadInputSimplePublicObjectId,
    SimplePublicObjectBatchInput,
    SimplePublicObjectBatchInputForCreate,
    SimplePublicObjectBatchInputUpsert,
    SimplePublicObjectId,
)

from sandbox import FaultConfig, SandboxServer


def _contacts(sandbox: SandboxServer, n: int) -> list[str]:
    recs = sandbox.store.hs_insert_many("contacts", [{"email": f"c{i}@example.com"} for i in range(n)])
    return [str(r.id) for r in recs]


def _update(ids: list[str], **props: str) -> BatchInputSimplePublicObjectBatchInput:
    return BatchInputSimplePublicObjectBatchInput(
        inputs=[SimplePublicObjectBatchInput(id=i, properties=props) for i in ids]
    )


def test_companies_batch_create(hs: HubSpot) -> None:
    batch = CompanyBatchCreate(
        inputs=[
            CompanyCreate(properties={"name": "Acme", "domain": "acme.com", "industry": "COMPUTER_SOFTWARE"}),
            CompanyCreate(properties={"name": "Globex", "website": "https://www.globex.io/about"}),
        ]
    )
    out = hs.crm.companies.batch_api.create(batch)
    assert out.status == "COMPLETE" and out.started_at <= out.completed_at
    acme, globex = out.results
    assert acme.properties["website"] == "acme.com"  # HubSpot fills website from domain...
    assert globex.properties["domain"] == "globex.io"  # ...and domain from website
    assert acme.properties["lifecyclestage"] == "lead"
    assert len(hs.crm.companies.get_all()) == 2


def test_batch_update_with_a_missing_id_is_a_207(hs: HubSpot, sandbox: SandboxServer) -> None:
    ids = _contacts(sandbox, 3)
    out = hs.crm.contacts.batch_api.update(_update([*ids, "123456789"], jobtitle="VP Sales"))
    assert out.status == "COMPLETE"
    assert sorted(r.id for r in out.results) == sorted(ids)
    assert all(r.properties["jobtitle"] == "VP Sales" for r in out.results)
    assert out.num_errors == 1
    err = out.errors[0]
    assert (err.status, err.category) == ("error", "OBJECT_NOT_FOUND")
    assert err.context == {"ids": ["123456789"]}
    assert sandbox.store.hs_get("contacts", int(ids[0])).props["jobtitle"] == "VP Sales"  # type: ignore[union-attr]


def test_one_invalid_value_fails_the_whole_batch(hs: HubSpot, sandbox: SandboxServer) -> None:
    ids = _contacts(sandbox, 4)
    batch = BatchInputSimplePublicObjectBatchInput(
        inputs=[SimplePublicObjectBatchInput(id=i, properties={"hs_lead_status": "OPEN"}) for i in ids[:3]]
        + [SimplePublicObjectBatchInput(id=ids[3], properties={"hs_lead_status": "SOMEDAY"})]
    )
    with pytest.raises(ApiException) as err:
        hs.crm.contacts.batch_api.update(batch)
    assert err.value.status == 400
    body = json.loads(err.value.body)
    assert body["category"] == "VALIDATION_ERROR" and "INVALID_OPTION" in body["message"]
    assert all("hs_lead_status" not in sandbox.store.hs_get("contacts", int(i)).props for i in ids)  # type: ignore[union-attr]
    # what a client does next: bisect, and the valid half goes through
    ok = hs.crm.contacts.batch_api.update(_update(ids[:2], hs_lead_status="OPEN"))
    assert len(ok.results) == 2


def test_batch_update_of_100_and_the_input_limit(hs: HubSpot, sandbox: SandboxServer) -> None:
    ids = _contacts(sandbox, 101)
    out = hs.crm.contacts.batch_api.update(_update(ids[:100], hs_lead_status="NEW"))
    assert len(out.results) == 100
    with pytest.raises(ApiException) as err:
        hs.crm.contacts.batch_api.update(_update(ids, hs_lead_status="NEW"))
    assert err.value.status == 400 and json.loads(err.value.body)["category"] == "VALIDATION_ERROR"
    with pytest.raises(ApiException) as err:
        hs.crm.contacts.batch_api.update(_update([ids[0], ids[0]], hs_lead_status="NEW"))
    assert "Duplicate IDs" in json.loads(err.value.body)["message"]


def test_batch_update_by_email(hs: HubSpot, sandbox: SandboxServer) -> None:
    _contacts(sandbox, 2)
    batch = BatchInputSimplePublicObjectBatchInput(
        inputs=[
            SimplePublicObjectBatchInput(
                id="C0@example.com", id_property="email", properties={"city": "Oslo"}
            ),
            SimplePublicObjectBatchInput(
                id="nobody@example.com", id_property="email", properties={"city": "Rome"}
            ),
        ]
    )
    out = hs.crm.contacts.batch_api.update(batch)
    assert [r.properties["city"] for r in out.results] == ["Oslo"]
    assert out.errors[0].context == {"ids": ["nobody@example.com"]}


def test_batch_read_partial_and_by_email(hs: HubSpot, sandbox: SandboxServer) -> None:
    ids = _contacts(sandbox, 2)
    out = hs.crm.contacts.batch_api.read(
        BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id=ids[0]), SimplePublicObjectId(id="42")], properties=["email"]
        )
    )
    assert [r.id for r in out.results] == [ids[0]]
    assert out.results[0].properties["email"] == "c0@example.com"
    assert out.errors[0].context == {"ids": ["42"]}
    by_email = hs.crm.contacts.batch_api.read(
        BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id="c1@example.com")], properties=["email"], id_property="email"
        )
    )
    assert [r.id for r in by_email.results] == [ids[1]] and not getattr(by_email, "errors", None)


def test_batch_create_duplicate_email_is_a_409(hs: HubSpot, sandbox: SandboxServer) -> None:
    existing = _contacts(sandbox, 1)[0]
    batch = BatchInputSimplePublicObjectBatchInputForCreate(
        inputs=[
            SimplePublicObjectBatchInputForCreate(properties={"email": "new@example.com"}),
            SimplePublicObjectBatchInputForCreate(properties={"email": "c0@example.com"}),
        ]
    )
    with pytest.raises(ApiException) as err:
        hs.crm.contacts.batch_api.create(batch)
    assert err.value.status == 409
    assert json.loads(err.value.body)["message"] == f"Contact already exists. Existing ID: {existing}"
    assert sandbox.store.hs_count("contacts") == 1


def test_batch_upsert_by_email(hs: HubSpot, sandbox: SandboxServer) -> None:
    existing = _contacts(sandbox, 1)[0]
    batch = BatchInputSimplePublicObjectBatchInputUpsert(
        inputs=[
            SimplePublicObjectBatchInputUpsert(
                id="c0@example.com", id_property="email", properties={"city": "Oslo"}
            ),
            SimplePublicObjectBatchInputUpsert(
                id="fresh@example.com", id_property="email", properties={"city": "Lima"}
            ),
        ]
    )
    out = hs.crm.contacts.batch_api.upsert(batch)
    by_email = {r.properties["email"]: r for r in out.results}
    assert by_email["c0@example.com"].id == existing and by_email["c0@example.com"].new is False
    assert (
        by_email["fresh@example.com"].new is True
        and by_email["fresh@example.com"].properties["city"] == "Lima"
    )
    assert sandbox.store.hs_count("contacts") == 2


def test_batch_archive(hs: HubSpot, sandbox: SandboxServer) -> None:
    ids = _contacts(sandbox, 3)
    hs.crm.contacts.batch_api.archive(
        BatchInputSimplePublicObjectId(inputs=[SimplePublicObjectId(id=i) for i in [*ids[:2], "77"]])
    )
    assert sandbox.store.hs_count("contacts") == 1 and sandbox.store.hs_count("contacts", archived=True) == 2


def test_injected_batch_failure_writes_nothing(hs: HubSpot, sandbox: SandboxServer) -> None:
    ids = _contacts(sandbox, 5)
    sandbox.state.configure_faults(FaultConfig(seed=3, batch_fail=1.0))
    statuses = set()
    for _ in range(6):
        with pytest.raises(ApiException) as err:
            hs.crm.contacts.batch_api.update(_update(ids, jobtitle="Changed"))
        statuses.add(err.value.status)
        assert json.loads(err.value.body)["status"] == "error"
    assert statuses <= {400, 500, 502} and len(statuses) > 1
    assert all("jobtitle" not in sandbox.store.hs_get("contacts", int(i)).props for i in ids)  # type: ignore[union-attr]
    read = hs.crm.contacts.batch_api.read(
        BatchReadInputSimplePublicObjectId(inputs=[SimplePublicObjectId(id=ids[0])], properties=["email"])
    )
    assert len(read.results) == 1  # reads are not batch writes
    assert sandbox.state.faults.snapshot()["injected"]["batch_fail"] == 6


def test_bad_batch_bodies_are_4xx(sandbox: SandboxServer) -> None:
    client = httpx.Client(
        base_url=sandbox.url,
        verify=ssl.create_default_context(cafile=str(sandbox.ca_path)),
        headers={"Authorization": f"Bearer {sandbox.token}"},
    )
    cases = [
        ("read", {"inputs": "x"}),
        ("read", {"inputs": [{"id": "1"}], "properties": "email"}),
        ("read", {"inputs": [{}]}),
        ("update", {"inputs": [{"id": "1", "properties": [1]}]}),
        ("update", {"inputs": [5]}),
        ("upsert", {"inputs": [{"id": "a@b.co", "properties": {}}]}),
        ("upsert", {"inputs": [{"id": "a@b.co", "idProperty": "firstname", "properties": {}}]}),
        ("create", {"inputs": [{"properties": {"email": "x@y.co"}, "associations": [{"to": {"id": "9"}}]}]}),
        ("frobnicate", {"inputs": []}),
    ]
    for op, body in cases:
        r = client.post(f"/crm/v3/objects/contacts/batch/{op}", json=body)
        assert 400 <= r.status_code < 500, (op, body, r.text)
