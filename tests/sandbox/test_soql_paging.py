"""Answers served a page at a time from a snapshot of a file-backed store (sandbox.soql.lazy).

Every slice must equal the materialised answer's (the whole answer rendered when the query ran): same
records, same order, same bytes, whatever is written between pages.
"""

from __future__ import annotations

import csv
import io
import ssl
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from simple_salesforce.exceptions import SalesforceMalformedRequest

from sandbox import SandboxServer, running_sandbox
from sandbox.soql import execute
from sandbox.soql.compiler import compile_query
from sandbox.soql.lazy import PagedResult
from sandbox.soql.parser import parse
from sandbox.soql.result import MaterialisedResult, QueryResult
from sandbox.store import SfValue, Store
from sandbox.store_base import ReadSnapshot, SnapshotExpired, Snapshots
from tests.conftest import salesforce_client

QUERIES = [
    "SELECT Id, LastName, Company FROM Lead",
    "SELECT Id, LastName, NumberOfEmployees, IsConverted FROM Lead ORDER BY LastName DESC",
    "SELECT Id, Company, ConvertedAccount.Name, Owner.Name FROM Lead ORDER BY Company NULLS FIRST, Id",
    "SELECT Id, SystemModstamp FROM Lead WHERE NumberOfEmployees > 3 ORDER BY SystemModstamp, Id",
    "SELECT Id, LastName FROM Lead WHERE IsConverted = false ORDER BY NumberOfEmployees LIMIT 7 OFFSET 2",
    "SELECT Id, IsDeleted, LastName FROM Lead WHERE IsDeleted = true ORDER BY SystemModstamp, Id",
    "SELECT Id, LastName FROM Lead WHERE ConvertedAccount.Name LIKE 'Acc%' ORDER BY ConvertedAccount.Name",
    # booleans, numbers and stamps through a parent that is often null (rows read straight from columns)
    "SELECT Id, ConvertedAccount.IsDeleted, IsConverted, ConvertedAccount.NumberOfEmployees, CreatedDate, "
    "Owner.IsActive FROM Lead ORDER BY Id",
]


@pytest.fixture()
def file_store(tmp_path: Path) -> Iterator[Store]:
    store = Store(str(tmp_path / "org.db"))
    yield store
    store.close()


def add_leads(store: Store, n: int, *, accounts: list[str] | None = None) -> list[str]:
    rows: list[dict[str, SfValue]] = [
        {
            "LastName": f"Lead {i % 11:02d}",
            "Company": None if i % 5 == 0 else f"Co {i % 3}",
            "NumberOfEmployees": i % 9,
            "IsConverted": i % 4 == 0,
            "ConvertedAccountId": accounts[i % len(accounts)] if accounts and i % 4 == 0 else None,
        }
        for i in range(n)
    ]
    return store.sf_insert_many("Lead", rows)


def materialised(store: Store, soql: str, *, include_deleted: bool) -> MaterialisedResult:
    """The answer as the sandbox computed it before paging: every record rendered at once."""
    plan = compile_query(store, soql, parse(soql), include_deleted=include_deleted, version="59.0")
    with store.lock:
        return MaterialisedResult(plan, store.conn.execute(plan.sql, plan.params).fetchall())


def paged(store: Store, soql: str, *, include_deleted: bool) -> PagedResult:
    result = execute(store, soql, include_deleted=include_deleted)
    assert isinstance(result, PagedResult), "a file-backed store pages records queries"
    return result


slices = st.lists(st.tuples(st.integers(0, 45), st.integers(0, 30)), min_size=1, max_size=6)
writes = st.lists(st.tuples(st.sampled_from(["update", "delete", "insert"]), st.integers(0, 39)), max_size=4)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(0, 40),
    query=st.sampled_from(QUERIES),
    include_deleted=st.booleans(),
    deleted=st.sets(st.integers(0, 39), max_size=6),
    reads=slices,
    changes=writes,
)
def test_every_slice_equals_the_materialised_answer_despite_writes_between_pages(
    n: int,
    query: str,
    include_deleted: bool,
    deleted: set[int],
    reads: list[tuple[int, int]],
    changes: list[tuple[str, int]],
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(str(Path(tmp) / "org.db"))
        try:
            accounts = store.sf_insert_many("Account", [{"Name": f"Acc {i}"} for i in range(3)])
            ids = add_leads(store, n, accounts=accounts)
            for i in sorted(deleted):
                if i < n:
                    store.sf_delete("Lead", ids[i])
            want = materialised(store, query, include_deleted=include_deleted)
            got = paged(store, query, include_deleted=include_deleted)
            assert got.total_size == want.total_size and len(got) == len(want)
            for (start, size), (change, i) in zip(
                reads, [*changes, *[("none", 0)] * len(reads)], strict=False
            ):
                assert got.records_json(start, start + size) == want.records_json(start, start + size)
                assert got.rows_between(start, start + size) == want.rows_between(start, start + size)
                if change == "update" and i < n:
                    store.sf_update("Lead", ids[i], {"LastName": "Changed", "NumberOfEmployees": 99})
                elif change == "delete" and i < n:
                    store.sf_delete("Lead", ids[i])
                elif change == "insert":
                    add_leads(store, 3, accounts=accounts)
            assert got.records_json() == want.records_json(), "the whole answer, read after the writes"
            assert got.rows == want.rows
            got.close()
        finally:
            store.close()


def test_the_first_page_renders_only_itself(file_store: Store) -> None:
    add_leads(file_store, 5000)
    result = paged(
        file_store, "SELECT Id, LastName FROM Lead ORDER BY SystemModstamp, Id", include_deleted=False
    )
    assert result.rendered == 0
    page = result.records(0, 200)
    assert result.total_size == 5000, "counted, not rendered"
    assert (len(page), result.rendered) == (200, 200)
    result.records(4900, 5000)
    assert result.rendered == 300
    reference = materialised(file_store, "SELECT Id FROM Lead", include_deleted=False)
    assert reference.rendered == 5000


def test_a_query_runs_and_pages_while_another_thread_holds_the_store_lock(file_store: Store) -> None:
    ids = add_leads(file_store, 3000)
    out: list[QueryResult | BaseException] = []

    def query() -> None:
        try:
            result = execute(file_store, "SELECT Id FROM Lead", include_deleted=False)
            result.records(0, 2000)
            result.records(2000, 3000)
            out.append(result)
        except BaseException as exc:  # handed to the test thread
            out.append(exc)

    with file_store.lock:  # as a long write would hold it
        worker = threading.Thread(target=query)
        worker.start()
        worker.join(timeout=60)  # a deadlock guard, not a timing check
        finished = not worker.is_alive()
    worker.join()
    assert finished, "the query waited for the store lock"
    result = out[0]
    assert isinstance(result, PagedResult) and result.total_size == 3000
    assert [r["Id"] for r in result.records()] == ids


def test_a_query_inside_this_threads_write_transaction_sees_its_writes(file_store: Store) -> None:
    with file_store.transaction():
        file_store.sf_insert("Account", {"Name": "Uncommitted"})
        result = execute(file_store, "SELECT Name FROM Account", include_deleted=False)
    assert isinstance(result, MaterialisedResult)
    assert [r["Name"] for r in result.records()] == ["Uncommitted"]


def test_a_released_snapshot_expires_its_answer(file_store: Store) -> None:
    add_leads(file_store, 10)
    result = paged(file_store, "SELECT Id FROM Lead", include_deleted=False)
    assert len(result.records(0, 5)) == 5
    result.close()
    with pytest.raises(SnapshotExpired):
        result.records(5, 10)
    assert len(file_store.snapshots) == 0


def test_a_half_read_answer_whose_snapshot_went_no_longer_pins_the_wal(file_store: Store) -> None:
    """A locator left half-read (its keys statement mid-way) must not hold a read transaction once its
    snapshot is released: at 1M leads the WAL grew by every write of a whole write-back (tens of GB)."""
    ids = add_leads(file_store, 3000)
    result = paged(file_store, "SELECT Id FROM Lead ORDER BY SystemModstamp, Id", include_deleted=False)
    assert len(result.records(0, 5)) == 5  # and never read further, nor closed
    file_store.snapshots.release_idle(0)
    file_store.sf_update_many("Lead", [(i, {"Company": "After"}) for i in ids[:100]])
    busy, _, _ = file_store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    assert busy == 0, "a reader still pins the WAL"
    assert Path(f"{file_store.path}-wal").stat().st_size == 0
    with pytest.raises(SnapshotExpired):
        result.records(5, 10)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_snapshots_are_bounded_and_idle_ones_go_at_the_next_write(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "org.db"))
    clock = FakeClock()
    store.snapshots = Snapshots(store.path, ttl_seconds=900, write_idle_seconds=60, max_open=2, clock=clock)
    try:
        opened: list[ReadSnapshot] = []
        for _ in range(3):
            snap = store.snapshots.open()
            assert snap is not None
            opened.append(snap)
            clock.now += 1
        assert [s.closed for s in opened] == [True, False, False], "the least recently used went"
        assert len(store.snapshots) == 2
        with opened[1].use():
            pass  # used at t=3: now the more recent of the two
        clock.now = 61.5
        store.sf_insert("Account", {"Name": "A write"})
        assert [s.closed for s in opened] == [True, False, False], "nothing idle for 60 s yet"
        clock.now = 61.5 + 61
        with opened[2].use():
            store.sf_insert("Account", {"Name": "Another"})  # a snapshot in use is never pulled away
        assert [s.closed for s in opened] == [True, True, False]
        clock.now += 900
        assert store.snapshots.open() is not None
        assert opened[2].closed, "idle past the TTL"
    finally:
        store.close()
    assert Snapshots(None).open() is None, "an in-memory store has no second connection to snapshot"


# ---------------------------------------------------------------- through the wire, on a file-backed sandbox
@pytest.fixture()
def file_sandbox(sandbox_state_dir: Path, tmp_path: Path) -> Iterator[SandboxServer]:
    with running_sandbox(state_dir=sandbox_state_dir, db=str(tmp_path / "org.db")) as server:
        yield server


def test_query_more_pages_are_the_snapshot_and_an_expired_locator_is_refused(
    file_sandbox: SandboxServer,
) -> None:
    sf = salesforce_client(file_sandbox)
    store = file_sandbox.store
    ids = add_leads(store, 4100)
    first = sf.query("SELECT Id, LastName FROM Lead ORDER BY SystemModstamp, Id")
    assert (first["totalSize"], first["done"], len(first["records"])) == (4100, False, 2000)
    store.sf_update("Lead", ids[2500], {"LastName": "Changed"})
    store.sf_delete("Lead", ids[-1])
    second = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    third = sf.query_more(second["nextRecordsUrl"], identifier_is_url=True)
    records = first["records"] + second["records"] + third["records"]
    assert [r["Id"] for r in records] == ids and third["done"] is True
    assert records[2500]["LastName"] == "Lead 03", "the value when the query ran"
    assert len(file_sandbox.state.query_cursors) == 0 and len(store.snapshots) == 0, "read out: released"

    again = sf.query("SELECT Id FROM Lead")
    store.snapshots.close_all()  # as if idle while writes went on
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query_more(again["nextRecordsUrl"], identifier_is_url=True)
    content: Any = caught.value.content  # typed as bytes by simple-salesforce; it holds the decoded body
    assert content == [{"message": "invalid query locator", "errorCode": "INVALID_QUERY_LOCATOR"}]
    assert len(file_sandbox.state.query_cursors) == 0


def test_bulk_query_results_are_read_a_page_at_a_time_from_the_snapshot(file_sandbox: SandboxServer) -> None:
    sf = salesforce_client(file_sandbox)
    store = file_sandbox.store
    ids = add_leads(store, 2500)
    soql = "SELECT Id, LastName, IsConverted, Owner.Name FROM Lead"
    want = materialised(store, soql, include_deleted=False).rows
    bulk: Any = sf.bulk2
    pages = bulk.Lead.query(soql, max_records=1000, wait=0)
    first = next(pages)
    job = next(j for j in file_sandbox.state.bulk_jobs.values() if j.kind == "query")
    assert job.processed == 2500 and job.result.rendered == 1000, "only the page read so far was rendered"
    store.sf_update("Lead", ids[2400], {"LastName": "Changed"})
    rows = [tuple(r) for page in [first, *pages] for r in list(csv.reader(io.StringIO(page)))[1:]]
    assert rows == [(i, last, "true" if conv else "false", owner) for i, last, conv, owner in want]
    job.result.close()
    with httpx.Client(
        verify=ssl.create_default_context(cafile=str(file_sandbox.ca_path)),
        headers={"Authorization": f"Bearer {file_sandbox.token}"},
    ) as c:
        gone = c.get(f"{file_sandbox.url}/services/data/v59.0/jobs/query/{job.id}/results")
    assert gone.status_code == 400 and gone.json()[0]["errorCode"] == "INVALIDJOB"
