"""The query endpoints through the real simple-salesforce client, and their shape against recorded answers."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from sandbox import SandboxServer
from sandbox.store import SfValue
from tests.conftest import REFERENCE, salesforce_client

RECORDINGS = REFERENCE / "salesforce" / "recorded-nango"
NEXT_URL = re.compile(r"^/services/data/v59\.0/query/01g[A-Za-z0-9]{15}-(\d+)$")


def error_body(e: SalesforceMalformedRequest) -> Any:
    """The decoded error list (simple-salesforce stores it as `content`, typed as bytes)."""
    content: Any = e.content
    return content


def add_leads(sandbox: SandboxServer, n: int) -> list[str]:
    rows: list[dict[str, SfValue]] = [
        {"LastName": f"Lead {i:05d}", "Company": f"Co {i % 7}", "IsConverted": i % 3 == 0} for i in range(n)
    ]
    return sandbox.store.sf_insert_many("Lead", rows)


def test_query_returns_typed_records_with_parents(sf: Salesforce, sandbox: SandboxServer) -> None:
    acme = sandbox.store.sf_insert("Account", {"Name": "Acme", "NumberOfEmployees": 12})
    sandbox.store.sf_insert("Contact", {"LastName": "Smith", "AccountId": acme})
    result = sf.query(
        "SELECT Id, LastName, Account.Name, Account.NumberOfEmployees, HasOptedOutOfEmail FROM Contact"
    )
    assert (result["totalSize"], result["done"]) == (1, True)
    assert "nextRecordsUrl" not in result
    rec = result["records"][0]
    assert list(rec) == ["attributes", "Id", "LastName", "Account", "HasOptedOutOfEmail"]
    assert rec["attributes"]["url"] == f"/services/data/v59.0/sobjects/Contact/{rec['Id']}"
    assert rec["Account"]["attributes"] == {
        "type": "Account",
        "url": f"/services/data/v59.0/sobjects/Account/{acme}",
    }
    assert (rec["Account"]["Name"], rec["Account"]["NumberOfEmployees"]) == ("Acme", 12)
    assert rec["HasOptedOutOfEmail"] is False
    assert sf.query("SELECT COUNT() FROM Contact") == {"totalSize": 1, "done": True, "records": []}


def test_5000_leads_come_in_three_pages(sf: Salesforce, sandbox: SandboxServer) -> None:
    ids = add_leads(sandbox, 5000)
    first = sf.query("SELECT Id, LastName FROM Lead ORDER BY LastName")
    assert (first["totalSize"], first["done"], len(first["records"])) == (5000, False, 2000)
    m = NEXT_URL.match(first["nextRecordsUrl"])
    assert m and m.group(1) == "2000"
    second = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert (second["totalSize"], second["done"], len(second["records"])) == (5000, False, 2000)
    third = sf.query_more(second["nextRecordsUrl"], identifier_is_url=True)
    assert (third["done"], len(third["records"])) == (True, 1000)
    assert "nextRecordsUrl" not in third
    assert [r["Id"] for r in first["records"] + second["records"] + third["records"]] == ids
    everything = sf.query_all("SELECT Id FROM Lead")
    assert everything["totalSize"] == 5000 and [r["Id"] for r in everything["records"]] == ids
    assert [r["Id"] for r in sf.query_all_iter("SELECT Id FROM Lead WHERE IsConverted = true")] == ids[::3]
    assert len(sandbox.state.query_cursors) == 0, "fully read cursors are dropped"


def test_a_read_out_locator_is_gone_and_a_bad_one_is_refused(sf: Salesforce, sandbox: SandboxServer) -> None:
    add_leads(sandbox, 2500)
    first = sf.query("SELECT Id FROM Lead")
    sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    for locator in (first["nextRecordsUrl"].rsplit("/", 1)[1], "01gD0000002HU6KIAW-2000", "nonsense"):
        with pytest.raises(SalesforceMalformedRequest) as caught:
            sf.query_more(locator)
        assert caught.value.status == 400
        assert error_body(caught.value) == [
            {"message": "invalid query locator", "errorCode": "INVALID_QUERY_LOCATOR"}
        ]


def test_batch_size_option_and_any_offset(sf: Salesforce, sandbox: SandboxServer) -> None:
    ids = add_leads(sandbox, 1200)
    first = sf.query("SELECT Id FROM Lead", headers={"Sforce-Query-Options": "batchSize=500"})
    assert len(first["records"]) == 500 and first["nextRecordsUrl"].endswith("-500")
    locator = first["nextRecordsUrl"].rsplit("/", 1)[1].split("-")[0]
    later = sf.query_more(f"{locator}-1000")
    assert [r["Id"] for r in later["records"]] == ids[1000:] and later["done"] is True
    tiny = sf.query("SELECT Id FROM Lead", headers={"Sforce-Query-Options": "batchSize=5"})
    assert len(tiny["records"]) == 200, "the real API never pages below 200"


def test_pages_are_a_snapshot(sf: Salesforce, sandbox: SandboxServer) -> None:
    ids = add_leads(sandbox, 2100)
    first = sf.query("SELECT Id, LastName FROM Lead")
    sandbox.store.sf_delete("Lead", ids[-1])
    sandbox.store.sf_update("Lead", ids[-2], {"LastName": "Changed"})
    add_leads(sandbox, 10)
    rest = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert rest["totalSize"] == 2100
    assert [r["Id"] for r in rest["records"]] == ids[2000:]
    assert rest["records"][-2]["LastName"] == "Lead 02098"


def test_query_all_sees_soft_deleted_records(sf: Salesforce, sandbox: SandboxServer) -> None:
    ids = add_leads(sandbox, 2300)
    for lead_id in ids[:3]:
        sandbox.store.sf_delete("Lead", lead_id)
    soql = "SELECT Id, IsDeleted FROM Lead ORDER BY LastName"
    live = sf.query_all(soql)
    assert live["totalSize"] == 2297 and all(r["IsDeleted"] is False for r in live["records"])
    everything = sf.query_all(soql, include_deleted=True)
    assert [r["Id"] for r in everything["records"]] == ids
    assert [r["IsDeleted"] for r in everything["records"][:4]] == [True, True, True, False]
    first = sf.query(soql, include_deleted=True)
    assert "/query/" in first["nextRecordsUrl"], "queryAll's next page URL says query, as the real API's does"
    more = sf.query_more(first["nextRecordsUrl"].rsplit("/", 1)[1], include_deleted=True)
    assert len(more["records"]) == 300
    deleted = sf.query("SELECT Id FROM Lead WHERE IsDeleted = true", include_deleted=True)
    assert deleted["totalSize"] == 3


def test_malformed_query_raises_with_the_real_error(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query("SELECT Id FRM Lead")
    assert caught.value.status == 400
    assert error_body(caught.value) == [
        {
            "message": "\nSELECT Id FRM Lead\n          ^\nERROR at Row:1:Column:11\nunexpected token: Lead",
            "errorCode": "MALFORMED_QUERY",
        }
    ]
    for soql, code in (("SELECT Nope FROM Lead", "INVALID_FIELD"), ("SELECT Id FROM Nope", "INVALID_TYPE")):
        with pytest.raises(SalesforceMalformedRequest) as caught:
            sf.query(soql)
        assert error_body(caught.value)[0]["errorCode"] == code


def test_versions_methods_and_missing_query(sandbox: SandboxServer) -> None:
    add_leads(sandbox, 1)
    sf60 = salesforce_client(sandbox, version="60.0")
    rec = sf60.query("SELECT Id FROM Lead")["records"][0]
    assert rec["attributes"]["url"].startswith("/services/data/v60.0/sobjects/Lead/")
    session, headers = sf60.session, sf60.headers
    post = session.post(f"{sandbox.url}/services/data/v60.0/query?q=SELECT+Id+FROM+Lead", headers=headers)
    assert post.status_code == 405 and post.json()[0]["errorCode"] == "METHOD_NOT_ALLOWED"
    empty = session.get(f"{sandbox.url}/services/data/v60.0/query", headers=headers)
    assert empty.status_code == 400 and empty.json()[0]["errorCode"] == "MALFORMED_QUERY"
    assert session.get(f"{sandbox.url}/services/data/vX/query?q=x", headers=headers).status_code == 404


# --------------------------------------------------------------------------------------------- recorded shapes
def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"  # recordings went through JavaScript, which writes 100000.0 as 100000
    return type(value).__name__


def _soql_for(record: dict[str, Any], sobject: str, sandbox: SandboxServer) -> str:
    fields: list[str] = []
    for key, value in record.items():
        if key == "attributes":
            continue
        if isinstance(value, dict):
            fields += [f"{key}.{sub}" for sub in value if sub != "attributes"]
        elif sandbox.store.sf_field(sobject, key) is not None:
            fields.append(key)
    return f"SELECT {', '.join(fields)} FROM {sobject}"


def _compare(recorded: dict[str, Any], ours: dict[str, Any], path: str) -> None:
    known = [k for k in recorded if k in ours]
    assert list(ours) == known, f"{path}: keys and their order"
    for key in known:
        theirs, mine = recorded[key], ours[key]
        if isinstance(theirs, dict) and isinstance(mine, dict):
            if key == "attributes":
                assert set(mine) == set(theirs) and mine["type"] == theirs["type"], f"{path}.attributes"
                assert mine["url"].rsplit("/", 1)[0].split("/sobjects/")[1] == theirs["url"].rsplit("/", 1)[0].split(
                    "/sobjects/"
                )[1]  # fmt: skip
            else:
                _compare(theirs, mine, f"{path}.{key}")
        elif theirs is not None and mine is not None:
            assert _kind(mine) == _kind(theirs), f"{path}.{key}: {mine!r} vs {theirs!r}"


@pytest.mark.parametrize(
    ("recording", "sobject"),
    [("query-leads.v60.json", "Lead"), ("query-opportunities.v60.json", "Opportunity"),
     ("query-accounts.v60.json", "Account")],
)  # fmt: skip
def test_records_have_the_shape_of_recorded_ones(
    sandbox: SandboxServer, recording: str, sobject: str
) -> None:
    recorded = json.loads((RECORDINGS / "legacy-mocks" / recording).read_text())
    store = sandbox.store
    acme = store.sf_insert("Account", {"Name": "Acme", "Website": "https://acme.example", "Industry": "Banking",
                                       "NumberOfEmployees": 1000, "BillingCity": "Berlin"})  # fmt: skip
    store.sf_insert("Lead", {"FirstName": "Ann", "LastName": "Lee", "Company": "Acme", "Email": "ann@acme.example",
                             "Title": "CTO", "Website": "https://acme.example", "Industry": "Banking",
                             "Phone": "555"})  # fmt: skip
    store.sf_insert("Opportunity", {"Name": "Deal", "StageName": "Prospecting", "CloseDate": "2024-12-31",
                                    "Amount": 100000.0, "Probability": 25.0, "Type": "New Business",
                                    "AccountId": acme, "Description": "x"})  # fmt: skip
    sf = salesforce_client(sandbox, version="60.0")
    ours = sf.query(_soql_for(recorded["records"][0], sobject, sandbox))
    assert set(ours) == set(recorded) == {"totalSize", "done", "records"}
    assert list(ours) == ["totalSize", "done", "records"]
    for rec in recorded["records"][:5]:
        _compare(rec, json.loads(json.dumps(ours["records"][0])), sobject)


def test_page_envelope_matches_the_recorded_query_more(sf: Salesforce, sandbox: SandboxServer) -> None:
    recorded = json.loads((RECORDINGS / "retrieve-query-more.test.json").read_text())
    response = next(iter(recorded["api"]["get"].values()))["response"]
    add_leads(sandbox, 2086)
    first = sf.query("SELECT Id, Name FROM Lead")
    last = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert set(last) == set(response) and (last["totalSize"], len(last["records"])) == (2086, 86)
    assert set(last["records"][0]) == set(response["records"][0])
    assert set(first) == set(response) | {"nextRecordsUrl"}
