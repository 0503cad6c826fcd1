"""Salesforce REST through the real simple-salesforce client: versions, limits, describe, rows, upsert."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from simple_salesforce.exceptions import (
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceResourceNotFound,
)

from sandbox import FaultConfig, LimitConfig, SandboxServer, running_sandbox
from sandbox.ids import sf_id
from sandbox.store import Store
from tests.conftest import salesforce_client


def stored(store: Store, obj: str, record_id: str, **kwargs: Any) -> dict[str, Any]:
    """A stored row that must exist."""
    row = store.sf_get(obj, record_id, **kwargs)
    assert row is not None
    return row


def content_of(raised: Any) -> Any:
    """The decoded body a simple-salesforce exception carries."""
    return raised.value.content


def client(server: SandboxServer) -> Any:
    return salesforce_client(server)


MISSING_LEAD = sf_id("00Q", 9_999_999)
MISSING_ACCOUNT = sf_id("001", 9_999_999)


@pytest.fixture(scope="module")
def shared(sandbox_state_dir: Path) -> Iterator[SandboxServer]:
    """One sandbox for the tests that only read or are refused (starting one per test is the slow part)."""
    with running_sandbox(state_dir=sandbox_state_dir) as server:
        yield server


def http(server: SandboxServer, *, authenticated: bool = True) -> httpx.Client:
    headers = {"Authorization": f"Bearer {server.token}"} if authenticated else {}
    ctx = ssl.create_default_context(cafile=str(server.ca_path))
    return httpx.Client(base_url=server.url, verify=ctx, headers=headers)


def error_of(exc: Any) -> dict[str, Any]:
    content = content_of(exc)
    assert isinstance(content, list) and len(content) == 1
    entry: dict[str, Any] = content[0]
    return entry


def add_field(sf: Any, full_name: str, **metadata: Any) -> None:
    result = sf.toolingexecute(
        "sobjects/CustomField", method="POST", data={"FullName": full_name, "Metadata": metadata}
    )
    assert result["success"] is True, result


# ---------------------------------------------------------------- versions, resources, limits
def test_version_list_needs_no_auth_and_resources_are_per_version(sandbox: SandboxServer) -> None:
    with http(sandbox, authenticated=False) as c:
        for path in ("/services/data", "/services/data/"):
            versions = c.get(path).json()
            assert {"label": "Winter '24", "url": "/services/data/v59.0", "version": "59.0"} in versions
            assert all(set(v) == {"label", "url", "version"} for v in versions)
        assert c.get("/services/data/v59.0/").status_code == 401
    with http(sandbox) as c:
        resources = c.get("/services/data/v59.0/").json()
        assert resources["sobjects"] == "/services/data/v59.0/sobjects"
        assert resources["composite"] == "/services/data/v59.0/composite"
        assert resources["identity"].startswith(sandbox.url + "/id/00D")
        missing = c.get("/services/data/v12.0/sobjects")
        assert missing.status_code == 404 and missing.json()[0]["errorCode"] == "NOT_FOUND"


def test_limits_report_the_daily_quota_as_counted(sandbox: SandboxServer) -> None:
    sandbox.state.set_limits(LimitConfig(sf_daily_quota=500))
    sf: Any = salesforce_client(sandbox)
    first = sf.limits()["DailyApiRequests"]
    second = sf.limits()
    assert first == {"Max": 500, "Remaining": 499}
    assert second["DailyApiRequests"] == {"Max": 500, "Remaining": 498}
    assert all({"Max", "Remaining"} <= set(v) for v in second.values())
    assert {"DailyBulkApiBatches", "DataStorageMB", "DailyBulkV2QueryJobs"} <= set(second)


# ---------------------------------------------------------------- rows
def test_create_get_update_delete_through_the_client(sf: Any, sandbox: SandboxServer) -> None:
    created = sf.Lead.create(
        {"FirstName": "Ada", "LastName": "Lovelace", "Company": "Analytical", "NumberOfEmployees": "12"}
    )
    assert created["success"] is True and created["errors"] == [] and created["id"].startswith("00Q")
    lead = sf.Lead.get(created["id"])
    assert lead["attributes"] == {
        "type": "Lead",
        "url": f"/services/data/v59.0/sobjects/Lead/{created['id']}",
    }
    assert lead["Name"] == "Ada Lovelace" and lead["NumberOfEmployees"] == 12
    assert lead["IsConverted"] is False and lead["Status"] == "Open - Not Contacted"
    before = lead["SystemModstamp"]
    assert sf.Lead.update(created["id"], {"Title": "Countess", "LastName": "King"}) == 204
    after = sf.Lead.get(created["id"])
    assert after["Title"] == "Countess" and after["Name"] == "Ada King" and after["SystemModstamp"] >= before
    assert sf.Lead.get(created["id"], params={"fields": "Name,Title"}) == {
        "attributes": lead["attributes"],
        "Name": "Ada King",
        "Title": "Countess",
    }
    assert sf.Lead.delete(created["id"]) == 204
    with pytest.raises(SalesforceResourceNotFound) as gone:
        sf.Lead.get(created["id"])
    assert error_of(gone)["errorCode"] == "ENTITY_IS_DELETED"
    assert stored(sandbox.store, "Lead", created["id"], include_deleted=True)["IsDeleted"] == 1


def test_missing_and_malformed_ids_are_404s(sf: Any) -> None:
    with pytest.raises(SalesforceResourceNotFound) as missing:
        sf.Lead.get(MISSING_LEAD)
    assert error_of(missing) == {"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}
    with pytest.raises(SalesforceResourceNotFound) as malformed:
        sf.Lead.update("nope", {"Title": "x"})
    assert (
        error_of(malformed)["message"]
        == "Provided external ID field does not exist or is not accessible: nope"
    )
    with pytest.raises(SalesforceResourceNotFound):
        sf.Lead.delete(MISSING_LEAD)


@pytest.mark.parametrize(
    ("values", "code", "message", "fields"),
    [
        ({"FirstName": "x"}, "REQUIRED_FIELD_MISSING", "Required fields are missing: [LastName, Company]", ["LastName", "Company"]),
        ({"LastName": "x", "Company": "c" * 256}, "STRING_TOO_LONG", f"Company: data value too large: {'c' * 256} (max length=255)", ["Company"]),
        ({"LastName": "x", "Company": "c", "Bogus": 1}, "INVALID_FIELD", "No such column 'Bogus' on sobject of type Lead", None),
        ({"LastName": "x", "Company": "c", "CreatedDate": "2020-01-01T00:00:00Z", "Name": "n"}, "INVALID_FIELD_FOR_INSERT_UPDATE",
         "Unable to create/update fields: CreatedDate, Name. Please check the security settings of this field and verify "
         "that it is Read/Write for your profile or permission set.", ["CreatedDate", "Name"]),
        ({"LastName": "x", "Company": "c", "Email": "not-an-email"}, "INVALID_EMAIL_ADDRESS", "Email: invalid email address: not-an-email", ["Email"]),
        ({"LastName": "x", "Company": "c", "NumberOfEmployees": "many"}, "JSON_PARSER_ERROR",
         "Cannot deserialize instance of int from VALUE_STRING value many or request may be missing a required field", None),
        ({"LastName": "x", "Company": "c", "NumberOfEmployees": 10**9}, "NUMBER_OUTSIDE_VALID_RANGE",
         "Employees: value outside of valid range on numeric field: 1000000000", ["NumberOfEmployees"]),
        ({"LastName": "x", "Company": "c", "ConvertedAccountId": "12345"}, "MALFORMED_ID",
         "Converted Account ID: id value of incorrect type: 12345", ["ConvertedAccountId"]),
        ({"LastName": "x", "Company": "c", "ConvertedAccountId": MISSING_ACCOUNT}, "INVALID_CROSS_REFERENCE_KEY",
         "invalid cross reference id", []),
    ],
)  # fmt: skip
def test_validation_errors_have_the_real_codes(
    shared: SandboxServer, values: dict[str, Any], code: str, message: str, fields: list[str] | None
) -> None:
    with pytest.raises(SalesforceMalformedRequest) as refused:
        client(shared).Lead.create(values)
    expected: dict[str, Any] = {"message": message, "errorCode": code}
    if fields is not None:
        expected["fields"] = fields
    assert error_of(refused) == expected
    assert refused.value.status == 400


def test_malformed_json_and_non_object_bodies(shared: SandboxServer) -> None:
    with http(shared) as c:
        bad = c.post(
            "/services/data/v59.0/sobjects/Lead",
            content=b"{nope",
            headers={"Content-Type": "application/json"},
        )
        assert bad.status_code == 400 and bad.json()[0]["errorCode"] == "JSON_PARSER_ERROR"
        array = c.post("/services/data/v59.0/sobjects/Lead", json=[1])
        assert (
            array.status_code == 400 and "Cannot deserialize instance of Lead" in array.json()[0]["message"]
        )
        unknown = c.get("/services/data/v59.0/sobjects/Nope/describe")
        assert unknown.status_code == 404 and unknown.json() == [
            {"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}
        ]


def test_references_are_checked_and_15_character_ids_accepted(sf: Any) -> None:
    account = sf.Account.create({"Name": "Acme"})["id"]
    contact = sf.Contact.create({"LastName": "Ng", "AccountId": account[:15]})["id"]
    assert sf.Contact.get(contact)["AccountId"] == account
    lead = sf.Lead.create({"LastName": "L", "Company": "C"})["id"]
    with pytest.raises(SalesforceMalformedRequest) as wrong_type:
        sf.Contact.update(contact, {"AccountId": lead})
    assert error_of(wrong_type)["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    task = sf.Task.create(
        {"Subject": "Call", "WhoId": lead, "WhatId": account, "ActivityDate": "2024-05-01"}
    )["id"]
    fetched = sf.Task.get(task)
    assert fetched["WhoId"] == lead and fetched["Status"] == "Not Started" and fetched["IsClosed"] is False
    sf.Account.delete(account)
    with pytest.raises(SalesforceMalformedRequest) as deleted:
        sf.Contact.update(contact, {"AccountId": account})
    assert error_of(deleted)["errorCode"] == "ENTITY_IS_DELETED"


# ---------------------------------------------------------------- describe
def test_describe_global_and_object_describe(shared: SandboxServer) -> None:
    sf: Any = salesforce_client(shared)
    everything = sf.describe()
    assert everything["encoding"] == "UTF-8" and everything["maxBatchSize"] == 200
    names = {o["name"] for o in everything["sobjects"]}
    assert {"Lead", "Contact", "Account", "Task", "User", "Opportunity"} <= names
    lead = sf.Lead.describe()
    assert lead["name"] == "Lead" and lead["keyPrefix"] == "00Q"
    fields = {f["name"]: f for f in lead["fields"]}
    assert fields["Company"]["length"] == 255 and fields["Company"]["byteLength"] == 765
    assert fields["Company"]["nillable"] is False and fields["Company"]["createable"] is True
    assert fields["Email"]["type"] == "email" and fields["Email"]["idLookup"] is True
    assert fields["NumberOfEmployees"]["digits"] == 8 and fields["NumberOfEmployees"]["soapType"] == "xsd:int"
    status = fields["Status"]
    assert status["defaultValue"] == "Open - Not Contacted" and status["defaultedOnCreate"] is True
    assert {"active": True, "defaultValue": True, "label": "Open - Not Contacted", "validFor": None,
            "value": "Open - Not Contacted"} in status["picklistValues"]  # fmt: skip
    assert fields["ConvertedAccountId"]["referenceTo"] == ["Account"]
    task = {f["name"]: f for f in sf.Task.describe()["fields"]}
    assert task["WhoId"]["polymorphicForeignKey"] is True and set(task["WhoId"]["referenceTo"]) == {
        "Contact",
        "Lead",
    }
    account = sf.Account.describe()
    contacts = [r for r in account["childRelationships"] if r["childSObject"] == "Contact"]
    assert contacts[0]["relationshipName"] == "Contacts" and contacts[0]["field"] == "AccountId"
    info = sf.Account.metadata()
    assert info["objectDescribe"]["name"] == "Account" and info["recentItems"] == []


def test_other_api_versions_work(sandbox: SandboxServer) -> None:
    old: Any = salesforce_client(sandbox, version="45.0")
    new: Any = salesforce_client(sandbox, version="62.0")
    lead = old.Lead.create({"LastName": "Old", "Company": "C"})["id"]
    assert new.Lead.get(lead)["attributes"]["url"] == f"/services/data/v62.0/sobjects/Lead/{lead}"
    assert new.Lead.describe()["urls"]["describe"] == "/services/data/v62.0/sobjects/Lead/describe"


# ---------------------------------------------------------------- upsert by external id
def test_upsert_by_external_id_custom_field(sf: Any, sandbox: SandboxServer) -> None:
    add_field(sf, "Lead.Email__c", label="Email key", type="Text", length=80, externalId=True, unique=True)
    raw = sf.Lead.upsert("Email__c/x@y.com", {"LastName": "Up", "Company": "C"}, raw_response=True)
    assert raw.status_code == 201
    body = raw.json()
    assert body["created"] is True and body["success"] is True
    assert raw.headers["Location"] == f"/services/data/v59.0/sobjects/Lead/{body['id']}"
    again = sf.Lead.upsert(
        "Email__c/X@Y.com", {"Title": "Boss"}, raw_response=True
    )  # keys match case-insensitively
    assert again.status_code == 200 and again.json() == {
        "id": body["id"],
        "success": True,
        "errors": [],
        "created": False,
    }
    assert sf.Lead.get_by_custom_id("Email__c", "x@y.com")["Title"] == "Boss"
    old: Any = salesforce_client(sandbox, version="45.0")
    assert old.Lead.upsert("Email__c/x@y.com", {"Title": "CEO"}) == 204
    with pytest.raises(SalesforceMalformedRequest) as dup:
        sf.Lead.create({"LastName": "D", "Company": "C", "Email__c": "X@y.com"})
    assert error_of(dup)["errorCode"] == "DUPLICATE_VALUE"
    with pytest.raises(SalesforceResourceNotFound) as not_external:
        sf.Lead.upsert("Company/Acme", {"LastName": "x"})
    assert (
        error_of(not_external)["message"]
        == "Provided external ID field does not exist or is not accessible: Company"
    )
    with pytest.raises(SalesforceResourceNotFound):
        sf.Lead.upsert("Email__c/nobody@y.com?updateOnly=true", {"LastName": "x", "Company": "c"})


def test_upsert_with_several_matches_is_300(sf: Any) -> None:
    first = sf.Contact.create({"LastName": "A", "Email": "same@x.com"})["id"]
    second = sf.Contact.create({"LastName": "B", "Email": "same@x.com"})["id"]
    with pytest.raises(SalesforceMoreThanOneRecord) as several:
        sf.Contact.upsert("Email/same@x.com", {"Title": "x"})
    assert sorted(content_of(several)) == sorted(
        f"/services/data/v59.0/sobjects/Contact/{i}" for i in (first, second)
    )
    with pytest.raises(SalesforceMoreThanOneRecord):
        sf.Contact.get_by_custom_id("Email", "same@x.com")
    by_id = sf.Contact.upsert(f"Id/{first}?updateOnly=true", {"Title": "Only"}, raw_response=True)
    assert by_id.status_code == 200 and by_id.json()["created"] is False


def test_lock_row_faults_fail_single_writes(sf: Any, sandbox: SandboxServer) -> None:
    sandbox.state.configure_faults(FaultConfig(seed=3, lock_row=1.0))
    with pytest.raises(SalesforceMalformedRequest) as locked:
        sf.Lead.create({"LastName": "x", "Company": "c"})
    assert error_of(locked)["errorCode"] == "UNABLE_TO_LOCK_ROW"
    assert sandbox.store.sf_count("Lead") == 0
