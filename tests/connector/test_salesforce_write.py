"""SalesforceConnector writes against the sandbox: collections, per-record errors, faults, the bulk path."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connector.errors import ConnectorConfigError
from connector.protocol import RecordUpdate, WriteStatus
from sandbox import FaultConfig, SandboxServer
from tests.connector.test_salesforce_support import SCORE, close_connectors, connector_for, leads

COLLECTIONS = "PATCH /services/data/vXX.X/composite/sobjects"


@pytest.fixture(autouse=True)
def _close() -> Iterator[None]:
    yield
    close_connectors()


def _setup(sandbox: SandboxServer, n: int) -> list[str]:
    ids = sandbox.store.sf_insert_many("Lead", leads(n, Title="Engineer"))
    connector_for(sandbox).create_fields([SCORE])
    return ids


def test_collections_write_only_given_fields_with_per_record_errors_in_order(sandbox: SandboxServer) -> None:
    ids = _setup(sandbox, 250)
    conn = connector_for(sandbox)
    updates = [RecordUpdate(i, {"leadq_Score__c": n % 100}) for n, i in enumerate(ids)]
    updates[3] = RecordUpdate(ids[3], {"LastName": "x" * 81})  # Lead.LastName holds 80
    updates[210] = RecordUpdate(ids[210], {"leadq_Score__c": 7, "title": None})
    outcomes = conn.apply_updates("Lead", updates)

    assert [o.key for o in outcomes] == ids
    bad = outcomes[3]
    assert bad.status is WriteStatus.REJECTED and bad.code == "STRING_TOO_LONG"
    assert bad.fields == ("LastName",) and bad.message
    assert all(o.ok and o.crm_id == o.key for n, o in enumerate(outcomes) if n != 3)
    assert conn.calls.snapshot()[COLLECTIONS] == 2, "250 records: two calls of at most 200"
    first = sandbox.store.sf_get("Lead", ids[1])
    assert first is not None and first["leadq_Score__c"] == 1 and first["Title"] == "Engineer"
    cleared = sandbox.store.sf_get("Lead", ids[210])
    assert cleared is not None and cleared["Title"] is None and cleared["leadq_Score__c"] == 7


def test_updates_of_one_record_are_merged_in_order(sandbox: SandboxServer) -> None:
    ids = _setup(sandbox, 2)
    conn = connector_for(sandbox)
    outcomes = conn.apply_updates(
        "Lead",
        [
            RecordUpdate(ids[0], {"leadq_Score__c": 1, "Title": "A"}),
            RecordUpdate(ids[1], {"leadq_Score__c": 5}),
            RecordUpdate(ids[0], {"leadq_Score__c": 2}),
        ],
    )
    assert [o.key for o in outcomes] == [ids[0], ids[1], ids[0]] and all(o.ok for o in outcomes)
    record = sandbox.store.sf_get("Lead", ids[0])
    assert record is not None and (record["leadq_Score__c"], record["Title"]) == (2, "A")


def test_missing_and_read_only_fields_stop_with_what_to_fix(sandbox: SandboxServer) -> None:
    ids = sandbox.store.sf_insert_many("Lead", leads(1))
    conn = connector_for(sandbox)
    with pytest.raises(ConnectorConfigError) as missing:
        conn.apply_updates("Lead", [RecordUpdate(ids[0], {"leadq_Score__c": 3})])
    assert (
        "Lead.leadq_Score__c does not exist or is not visible to the integration user: run `leadq setup`"
        in str(missing.value)
    )
    with pytest.raises(ConnectorConfigError, match=r"Lead.Name is read-only for the integration user"):
        conn.apply_updates("Lead", [RecordUpdate(ids[0], {"Name": "x"})])
    assert COLLECTIONS not in conn.calls.snapshot(), "nothing is sent when the config is wrong"


def test_locked_rows_are_retried_then_reported_retryable(sandbox: SandboxServer) -> None:
    ids = _setup(sandbox, 60)
    updates = [RecordUpdate(i, {"leadq_Score__c": 50}) for i in ids]

    sandbox.state.configure_faults(FaultConfig(seed=11, lock_row=0.3))
    no_retry = connector_for(sandbox, max_retries=0).apply_updates("Lead", updates)
    locked = [o for o in no_retry if not o.ok]
    assert locked and all(
        o.status is WriteStatus.RETRYABLE and o.code == "UNABLE_TO_LOCK_ROW" for o in locked
    )
    assert all(o.ok for o in no_retry if o not in locked)

    sandbox.state.configure_faults(FaultConfig(seed=11, lock_row=0.3))
    conn = connector_for(sandbox, max_retries=6)
    outcomes = conn.apply_updates("Lead", updates)
    assert all(o.ok for o in outcomes), "locked rows were sent again until written"
    assert conn.calls.snapshot()[COLLECTIONS] > 1
    assert sandbox.state.faults.snapshot()["injected"]["lock_row"] >= len(locked)


def test_server_errors_are_retried_with_backoff(sandbox: SandboxServer) -> None:
    ids = _setup(sandbox, 30)
    conn = connector_for(sandbox, max_retries=8)
    conn.describe("Lead")
    sandbox.state.configure_faults(FaultConfig(seed=1, error_5xx=0.5))
    outcomes = conn.apply_updates("Lead", [RecordUpdate(i, {"leadq_Score__c": 9}) for i in ids])
    assert all(o.ok for o in outcomes)
    assert sandbox.state.faults.snapshot()["injected"]["error_5xx"] >= 1
    assert conn.calls.snapshot()[COLLECTIONS] >= 2


def test_persistent_server_errors_leave_records_retryable(sandbox: SandboxServer) -> None:
    ids = _setup(sandbox, 3)
    conn = connector_for(sandbox, max_retries=2)
    conn.describe("Lead")
    sandbox.state.configure_faults(FaultConfig(seed=1, error_5xx=1.0))
    outcomes = conn.apply_updates("Lead", [RecordUpdate(i, {"leadq_Score__c": 9}) for i in ids])
    assert {o.status for o in outcomes} == {WriteStatus.RETRYABLE}
    assert {o.code for o in outcomes} <= {"SERVER_UNAVAILABLE", "UNKNOWN_EXCEPTION"}
    assert conn.calls.snapshot()[COLLECTIONS] == 3, "one call and two retries"


def test_bulk_ingest_above_threshold_maps_results_back(sandbox: SandboxServer) -> None:
    ids = _setup(sandbox, 40)
    conn = connector_for(sandbox, bulk_threshold=25)
    updates = [RecordUpdate(i, {"leadq_Score__c": 70, "Title": None}) for i in ids]
    updates[5] = RecordUpdate(ids[5], {"LastName": "y" * 90})
    outcomes = conn.apply_updates("Lead", updates)
    assert [o.key for o in outcomes] == ids
    assert outcomes[5].status is WriteStatus.REJECTED and outcomes[5].code == "STRING_TOO_LONG"
    assert all(o.ok for n, o in enumerate(outcomes) if n != 5)
    calls = conn.calls.snapshot()
    assert calls["POST /services/data/vXX.X/jobs/ingest"] == 1 and COLLECTIONS not in calls
    record = sandbox.store.sf_get("Lead", ids[0])
    assert record is not None and record["leadq_Score__c"] == 70 and record["Title"] is None
    untouched = sandbox.store.sf_get("Lead", ids[5])
    assert untouched is not None and untouched["Title"] == "Engineer", "an empty cell leaves a field alone"


def test_locked_rows_in_a_bulk_job_are_sent_again(sandbox: SandboxServer) -> None:
    ids = _setup(sandbox, 40)
    sandbox.state.configure_faults(FaultConfig(seed=2, lock_row=0.2))
    conn = connector_for(sandbox, bulk_threshold=25, max_retries=6)
    outcomes = conn.apply_updates("Lead", [RecordUpdate(i, {"leadq_Score__c": 12}) for i in ids])
    assert all(o.ok for o in outcomes)
    assert sandbox.state.faults.snapshot()["injected"]["lock_row"] >= 1
    calls = conn.calls.snapshot()
    assert calls["POST /services/data/vXX.X/jobs/ingest"] == 1 and calls[COLLECTIONS] >= 1
