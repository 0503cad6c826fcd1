"""Bulk API 2.0 through the real simple-salesforce `bulk2` handler: query jobs and ingest jobs."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from simple_salesforce.api import Salesforce

from sandbox import FaultConfig, SandboxServer
from sandbox.sf_schema import SfField


def _bulk(sf: Salesforce) -> Any:
    """The Bulk API 2.0 handler for Lead (simple-salesforce types `sf.bulk2` loosely)."""
    handler: Any = sf.bulk2
    return handler.Lead


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _leads(sandbox: SandboxServer, n: int) -> list[str]:
    return sandbox.store.sf_insert_many(
        "Lead",
        [
            {
                "LastName": f"Bulk{i}",
                "Company": f"Co {i}",
                "NumberOfEmployees": i,
                "IsUnreadByOwner": i % 2 == 0,
            }
            for i in range(n)
        ],
    )


def test_query_job_pages_csv_with_locators(sandbox: SandboxServer, sf: Salesforce) -> None:
    _leads(sandbox, 2_500)
    pages = list(
        _bulk(sf).query(
            "SELECT Id, LastName, NumberOfEmployees, IsUnreadByOwner, Owner.Name FROM Lead ORDER BY LastName",
            max_records=1_000,
            wait=0,
        )
    )
    assert len(pages) == 3
    rows = [r for page in pages for r in _rows(page)]
    assert len(rows) == 2_500
    assert list(rows[0]) == ["Id", "LastName", "NumberOfEmployees", "IsUnreadByOwner", "Owner.Name"]
    assert {r["IsUnreadByOwner"] for r in rows} == {"true", "false"}
    assert rows[0]["Owner.Name"] == "Integration User"
    assert pages[0].startswith('"Id","LastName"'), "Bulk API 2.0 quotes every CSV value"


def test_query_all_job_sees_deleted_rows(sandbox: SandboxServer, sf: Salesforce) -> None:
    ids = _leads(sandbox, 5)
    sandbox.store.sf_delete("Lead", ids[0])
    live = [r for page in _bulk(sf).query("SELECT Id FROM Lead", wait=0) for r in _rows(page)]
    everything = [
        r for page in _bulk(sf).query_all("SELECT Id, IsDeleted FROM Lead", wait=0) for r in _rows(page)
    ]
    assert len(live) == 4 and len(everything) == 5
    assert {r["IsDeleted"] for r in everything if r["Id"] == ids[0]} == {"true"}


def test_query_job_with_a_bad_query_gets_the_soql_error(sf: Salesforce) -> None:
    from simple_salesforce.exceptions import SalesforceMalformedRequest

    with pytest.raises(SalesforceMalformedRequest) as err:
        list(_bulk(sf).query("SELECT Nope FROM Lead", wait=0))
    content: Any = err.value.content
    assert content[0]["errorCode"] == "INVALID_FIELD"


def test_ingest_update_reports_successes_and_failures_per_row(sandbox: SandboxServer, sf: Salesforce) -> None:
    ids = _leads(sandbox, 3)
    records: list[dict[str, Any]] = [
        {"Id": ids[0], "Company": "Renamed"},
        {"Id": ids[1], "Company": "x" * 300},
        {"Id": ids[2], "Company": "Also renamed"},
    ]
    result = _bulk(sf).update(records=records, wait=0)[0]
    assert result["numberRecordsProcessed"] == 3 and result["numberRecordsFailed"] == 1
    failed = _rows(_bulk(sf).get_failed_records(result["job_id"]))
    assert [r["sf__Id"] for r in failed] == [ids[1]]
    assert failed[0]["sf__Error"].startswith("STRING_TOO_LONG:")
    ok = _rows(_bulk(sf).get_successful_records(result["job_id"]))
    assert sorted(r["sf__Id"] for r in ok) == sorted([ids[0], ids[2]])
    assert {r["sf__Created"] for r in ok} == {"false"}
    assert sandbox.store.sf_get("Lead", ids[0])["Company"] == "Renamed"  # type: ignore[index]
    assert sandbox.store.sf_get("Lead", ids[1])["Company"] == "Co 1"  # type: ignore[index]


def test_ingest_insert_and_upsert_by_external_id(sandbox: SandboxServer, sf: Salesforce) -> None:
    sandbox.store.sf_add_field(
        "Lead", SfField("Ext__c", "string", "Ext", length=40, custom=True, external_id=True, unique=True)
    )
    inserted = _bulk(sf).insert(
        records=[{"LastName": "New", "Company": "Fresh", "Ext__c": "k1"}, {"Company": "No last name"}], wait=0
    )[0]
    assert inserted["numberRecordsFailed"] == 1
    failed = _rows(_bulk(sf).get_failed_records(inserted["job_id"]))
    assert failed[0]["sf__Error"].startswith("REQUIRED_FIELD_MISSING:")
    upserted = _bulk(sf).upsert(
        records=[
            {"Ext__c": "k1", "Company": "Updated"},
            {"Ext__c": "k2", "LastName": "Second", "Company": "Two"},
        ],
        external_id_field="Ext__c",
        wait=0,
    )[0]
    assert upserted["numberRecordsFailed"] == 0
    created = {
        r["Ext__c"]: r["sf__Created"] for r in _rows(_bulk(sf).get_successful_records(upserted["job_id"]))
    }
    assert created == {"k1": "false", "k2": "true"}
    companies = sorted(r["Company"] for r in sf.query("SELECT Company FROM Lead")["records"])
    assert companies == ["Two", "Updated"]


def test_ingest_lock_row_faults_fail_single_rows(sandbox: SandboxServer, sf: Salesforce) -> None:
    ids = _leads(sandbox, 40)
    sandbox.state.configure_faults(FaultConfig(seed=5, lock_row=0.3))
    result = _bulk(sf).update(records=[{"Id": i, "Rating": "Hot"} for i in ids], wait=0)[0]
    failed = _rows(_bulk(sf).get_failed_records(result["job_id"]))
    assert 0 < len(failed) < 40
    assert all(r["sf__Error"].startswith("UNABLE_TO_LOCK_ROW:") for r in failed)
    hot = sf.query("SELECT COUNT() FROM Lead WHERE Rating = 'Hot'")["totalSize"]
    assert hot == 40 - len(failed)


def test_ingest_delete_needs_only_ids(sandbox: SandboxServer, sf: Salesforce) -> None:
    ids = _leads(sandbox, 2)
    result = _bulk(sf).delete(records=[{"Id": ids[0]}], wait=0)[0]
    assert result["numberRecordsFailed"] == 0
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 1


def test_query_csv_writes_datetimes_in_utc_with_z(sandbox: SandboxServer, sf: Salesforce) -> None:
    _leads(sandbox, 1)
    rows = [r for page in _bulk(sf).query("SELECT CreatedDate FROM Lead", wait=0) for r in _rows(page)]
    assert rows[0]["CreatedDate"].endswith("Z")


def test_unprocessed_records_of_a_finished_job_are_none(sandbox: SandboxServer, sf: Salesforce) -> None:
    ids = _leads(sandbox, 1)
    result = _bulk(sf).update(records=[{"Id": ids[0], "Rating": "Cold"}], wait=0)[0]
    assert _rows(_bulk(sf).get_unprocessed_records(result["job_id"])) == []
