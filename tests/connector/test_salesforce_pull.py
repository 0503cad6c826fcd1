"""SalesforceConnector reads against the sandbox: incremental windows, paging, deletions, the bulk path."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from connector.cursor import advance
from connector.errors import ConnectorConfigError
from connector.salesforce.describe import DescribeCache
from connector.salesforce.pull import Puller
from sandbox import SandboxServer
from tests.connector.test_salesforce_support import (
    T0,
    all_records,
    close_connectors,
    connector_for,
    freeze,
    later,
    leads,
)


@pytest.fixture(autouse=True)
def _close() -> Iterator[None]:
    yield
    close_connectors()


def test_window_sees_same_stamp_records_leaves_run_changes_and_dedupes(sandbox: SandboxServer) -> None:
    store = sandbox.store
    freeze(sandbox, T0)
    first_ids = store.sf_insert_many("Lead", leads(3))  # three records on one stamp
    conn = connector_for(sandbox, lookback_seconds=60)

    run1 = later(T0, 10)
    store.clock.freeze(later(T0, 12))
    late_id = store.sf_insert("Lead", leads(1)[0])  # stamped after the run started: next run's
    pages = list(conn.pull_changes("Lead", ["LastName", "Company"], None, run_started=run1))
    got = all_records(pages)
    assert [r["Id"] for r in got] == sorted(first_ids)
    assert all(set(r) == {"LastName", "Company", "Id", "SystemModstamp"} for r in got)
    assert pages[-1].high_water == T0
    cursor = advance(None, confirmed_up_to=pages[-1].high_water, run_started=run1)

    store.clock.freeze(later(T0, 20))
    store.sf_update("Lead", first_ids[1], {"Title": "CTO"})
    run2 = later(T0, 30)
    got2 = all_records(conn.pull_changes("Lead", ["Title"], cursor, run_started=run2))
    ids2 = [r["Id"] for r in got2]
    assert len(ids2) == len(set(ids2)) == 4, "the lookback re-reads the cursor's stamp; each id once"
    assert ids2[-2:] == [late_id, first_ids[1]], "oldest first: T0 records, then T0+12, then T0+20"
    assert got2[-1]["Title"] == "CTO"


def test_closed_start_without_lookback_rereads_the_cursor_stamp(sandbox: SandboxServer) -> None:
    freeze(sandbox, T0)
    ids = sandbox.store.sf_insert_many("Lead", leads(2))
    sandbox.store.clock.freeze(later(T0, -5))
    sandbox.store.sf_insert("Lead", leads(1)[0])  # before the cursor: not seen again
    conn = connector_for(sandbox, lookback_seconds=0)
    cursor = {"value": T0.isoformat()}
    got = all_records(conn.pull_changes("Lead", ["LastName"], cursor, run_started=later(T0, 1)))
    assert sorted(r["Id"] for r in got) == sorted(ids)


def test_rest_pages_follow_next_records_url(sandbox: SandboxServer) -> None:
    freeze(sandbox, T0)
    for step in range(3):  # 450 records over three stamps
        sandbox.store.clock.freeze(later(T0, step))
        sandbox.store.sf_insert_many("Lead", leads(150))
    conn = connector_for(sandbox, query_page_size=200)
    pages = list(conn.pull_changes("Lead", ["LastName"], None, run_started=later(T0, 60)))
    assert [len(p.records) for p in pages] == [200, 200, 50]
    marks = [p.high_water for p in pages if p.high_water is not None]
    assert len(marks) == 3 and marks == sorted(marks) and marks[-1] == later(T0, 2)
    ids = [r["Id"] for r in all_records(pages)]
    assert len(set(ids)) == 450
    calls = conn.calls.snapshot()
    assert calls["GET /services/data/vXX.X/query/"] == 1
    assert calls["GET /services/data/vXX.X/query/{locator}"] == 2


def test_relationship_paths_are_flattened_without_attributes(sandbox: SandboxServer) -> None:
    account = sandbox.store.sf_insert("Account", {"Name": "Acme Corp", "Industry": "Energy"})
    sandbox.store.sf_insert("Contact", {"LastName": "Hopper", "AccountId": account})
    sandbox.store.sf_insert("Contact", {"LastName": "Orphan"})
    conn = connector_for(sandbox)
    got = all_records(
        conn.pull_changes(
            "Contact", ["LastName", "account.name", "Account.Industry"], None, run_started=later(T0, 1e6)
        )
    )
    by_name = {r["LastName"]: r for r in got}
    assert by_name["Hopper"]["Account.Name"] == "Acme Corp"
    assert by_name["Hopper"]["Account.Industry"] == "Energy"
    assert by_name["Orphan"]["Account.Name"] is None
    assert all("attributes" not in r and "Account" not in r for r in got)


def test_deletions_come_from_query_all(sandbox: SandboxServer) -> None:
    freeze(sandbox, T0)
    ids = sandbox.store.sf_insert_many("Lead", leads(3))
    sandbox.store.clock.freeze(later(T0, 5))
    sandbox.store.sf_delete("Lead", ids[0])
    sandbox.store.sf_delete("Lead", ids[2])
    conn = connector_for(sandbox)
    batches = list(conn.pull_deletions("Lead", {"value": later(T0, 1).isoformat()}, run_started=later(T0, 9)))
    deleted = [d for batch in batches for d in batch]
    assert sorted(d.id for d in deleted) == sorted([ids[0], ids[2]])
    assert {d.deleted_at for d in deleted} == {later(T0, 5)}
    assert conn.calls.snapshot()["GET /services/data/vXX.X/queryAll/"] == 1


def test_bulk_path_above_threshold_matches_rest_records(sandbox: SandboxServer) -> None:
    freeze(sandbox, T0)
    rows = leads(60, NumberOfEmployees=250, AnnualRevenue=1.5e6, HasOptedOutOfEmail=True)
    rows[7]["Title"] = 'He said "hi",\nthen left'
    sandbox.store.sf_insert_many("Lead", rows)
    sandbox.store.clock.freeze(later(T0, 1))
    sandbox.store.sf_insert_many("Lead", leads(30))
    fields = ["FirstName", "Title", "NumberOfEmployees", "AnnualRevenue", "HasOptedOutOfEmail", "CreatedDate"]
    run = later(T0, 10)
    rest = connector_for(sandbox, bulk_threshold=10_000)
    bulk = connector_for(sandbox, bulk_threshold=50, query_page_size=500)
    rest_records = all_records(rest.pull_changes("Lead", fields, None, run_started=run))
    bulk_pages = list(bulk.pull_changes("Lead", fields, None, run_started=run))
    by_id = sorted(all_records(bulk_pages), key=lambda r: str(r["Id"]))
    assert by_id == sorted(rest_records, key=lambda r: str(r["Id"])), "Bulk results come unordered"
    assert [r["HasOptedOutOfEmail"] for r in rest_records[:2]] == [True, True]
    assert bulk_pages[-1].high_water == later(T0, 1)
    calls = bulk.calls.snapshot()
    assert calls["POST /services/data/vXX.X/jobs/query"] == 1
    assert calls["GET /services/data/vXX.X/query/"] == 1, "the first REST page decided: 90 > 50"


def test_unknown_field_names_the_field_and_the_fix(sandbox: SandboxServer) -> None:
    conn = connector_for(sandbox)
    with pytest.raises(ConnectorConfigError) as info:
        list(conn.pull_changes("Lead", ["leadq_Score__c"], None, run_started=T0))
    assert str(info.value).startswith(
        "salesforce: Lead.leadq_Score__c does not exist or is not visible to the integration user: "
        "run `leadq setup`, or grant field-level security"
    )
    with pytest.raises(ConnectorConfigError, match=r"Lead\.Name; DROP"):
        list(conn.pull_changes("Lead", ["Name; DROP"], None, run_started=T0))
    with pytest.raises(ConnectorConfigError, match="object Leed does not exist"):
        conn.describe("Leed")


class _FakeClient:
    """Stands in for `SalesforceClient`: answers queries with canned pages (duplicates across pages)."""

    def __init__(self, pages: list[dict[str, Any]], describe: dict[str, Any]) -> None:
        self.pages = pages
        self.describe = describe

    def call(self, what: str, fn: Any, *, retry: bool = True) -> Any:
        if what.startswith("describe"):
            return self.describe
        return self.pages.pop(0)


def test_records_repeated_across_pages_are_yielded_once() -> None:
    stamp = "2031-03-01T09:00:00.000+0000"

    def rec(i: str) -> dict[str, Any]:
        return {"attributes": {"type": "Lead"}, "Id": i, "SystemModstamp": stamp}

    pages = [
        {"totalSize": 4, "done": False, "nextRecordsUrl": "/next", "records": [rec("a"), rec("b")]},
        {"totalSize": 4, "done": True, "records": [rec("b"), rec("c")]},
    ]
    describe = {
        "name": "Lead",
        "fields": [{"name": "Id", "type": "id"}, {"name": "SystemModstamp", "type": "datetime"}],
    }
    client: Any = _FakeClient(pages, describe)
    puller = Puller(client, DescribeCache(client), connector_for_settings())
    got = list(puller.changes("Lead", [], None, run_started=T0 + timedelta(days=1)))
    assert [[r["Id"] for r in p.records] for p in got] == [["a", "b"], ["c"]]


def connector_for_settings() -> Any:
    from connector.salesforce import SalesforceSettings

    return SalesforceSettings(instance_url="https://example.invalid", auth="access_token", access_token="x")
