"""Bulk API 2.0 pulls are streamed: each results chunk is parsed and handed on as it arrives, unordered;
only the last page carries a `high_water` (the highest stamp of the whole pull)."""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Generator, Iterator
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.accounting import CallLog, endpoint_of
from connector.errors import RetryableError
from connector.protocol import ChangePage
from connector.salesforce import SalesforceSettings
from connector.salesforce.client import SalesforceClient
from connector.salesforce.describe import DescribeCache
from connector.salesforce.pull import Puller
from connector.salesforce.values import parse_stamp
from sandbox import SandboxServer
from tests.connector.test_salesforce_support import T0, freeze, later, leads, settings_for

RESULTS = "GET /services/data/vXX.X/jobs/query/{locator}/results"


@pytest.fixture()
def client(sandbox: SandboxServer) -> Iterator[SalesforceClient]:
    made = SalesforceClient(settings_for(sandbox, bulk_threshold=50, query_page_size=200), CallLog())
    yield made
    made.close()


def test_bulk_pull_streams_results_chunks_and_marks_only_the_last_page(
    sandbox: SandboxServer, client: SalesforceClient
) -> None:
    store = sandbox.store
    freeze(sandbox, T0)
    first = store.sf_insert_many("Lead", leads(250))
    store.clock.freeze(later(T0, 1))
    store.sf_insert_many("Lead", leads(250))
    store.clock.freeze(later(T0, 5))
    store.sf_update("Lead", first[3], {"Title": "CTO"})  # the newest stamp, early in the results
    puller = Puller(client, DescribeCache(client), client.settings, results_page=120)
    pages: list[ChangePage] = []
    fetched: list[int] = []
    for page in puller.changes("Lead", ["LastName", "Title"], None, run_started=later(T0, 60)):
        fetched.append(client.calls.snapshot()[RESULTS])
        pages.append(page)
    ids = [r["Id"] for p in pages for r in p.records]
    assert len(ids) == len(set(ids)) == 500
    assert all(0 < len(p.records) <= 120 for p in pages), "a page never spans two results chunks"
    assert [p.high_water for p in pages[:-1]] == [None] * (len(pages) - 1)
    assert pages[-1].high_water == later(T0, 5)
    # Lazy: when page k (1-based) is handed out, at most k + 2 results chunks have been fetched (the one
    # held back, and the next one read ahead), so the pull never holds the whole result (500 rows = 5 chunks).
    assert fetched[0] <= 3 and all(n <= k + 3 for k, n in enumerate(fetched))
    assert client.calls.snapshot()[RESULTS] == 5
    assert client.calls.snapshot()["POST /services/data/vXX.X/jobs/query"] == 1


def test_bulk_pull_over_an_empty_result_yields_nothing(
    sandbox: SandboxServer, client: SalesforceClient
) -> None:
    freeze(sandbox, T0)
    sandbox.store.sf_insert_many("Lead", leads(60))
    puller = Puller(client, DescribeCache(client), client.settings, results_page=120)
    # The REST page counts 60 > 50 records, but the window of the Bulk job is the same: every row comes.
    pages = list(puller.changes("Lead", ["LastName"], None, run_started=later(T0, 60)))
    assert sum(len(p.records) for p in pages) == 60 and pages[-1].high_water == T0


# ---- the same contract over arbitrary unordered results, duplicates across chunks included -------------


class _Jobs:
    """simple-salesforce's Bulk API 2.0 client, serving canned rows in `maxRecords` chunks."""

    def __init__(self, rows: list[tuple[str, str]]) -> None:
        self.rows = rows
        self.served = 0

    def create_job(self, operation: Any, query: str) -> dict[str, Any]:
        return {"id": "750J"}

    def wait_for_job(self, job_id: str, is_query: bool, wait: float) -> str:
        return "JobComplete"

    def get_query_results(self, job_id: str, locator: str, max_records: int) -> dict[str, Any]:
        start = int(locator or 0)
        part = self.rows[start : start + max_records]
        self.served += len(part)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)
        writer.writerow(["Id", "SystemModstamp"])
        writer.writerows(part)
        end = start + len(part)
        return {"records": out.getvalue(), "locator": str(end) if end < len(self.rows) else ""}


class _Client:
    """Stands in for `SalesforceClient`: runs each operation once against a fake `sf`."""

    def __init__(self, jobs: _Jobs) -> None:
        self.sf = SimpleNamespace(bulk2=SimpleNamespace(Lead=SimpleNamespace(_client=jobs)))
        self.describe = {
            "name": "Lead",
            "fields": [{"name": "Id", "type": "id"}, {"name": "SystemModstamp", "type": "datetime"}],
        }

    def call(self, what: str, fn: Any, *, retry: bool = True) -> Any:
        if what.startswith("describe"):
            return self.describe
        if what.startswith("query"):  # the first REST page: its count sends the pull to Bulk
            return {"totalSize": 10**6, "done": True, "records": []}
        return fn(self.sf)


def _stamp(seconds: int) -> str:
    return (T0 + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(st.tuples(st.integers(0, 40), st.integers(0, 3600)), min_size=1, max_size=700),
    results_page=st.integers(1, 450),
)
def test_bulk_pages_give_each_record_once_and_the_highest_stamp_last(
    rows: list[tuple[int, int]], results_page: int
) -> None:
    wire = [(f"00Q{i:03d}", _stamp(s)) for i, s in rows]  # ids repeat: duplicates across chunks
    jobs = _Jobs(wire)
    client: Any = _Client(jobs)
    config = SalesforceSettings(instance_url="https://example.invalid", auth="access_token", access_token="x")
    puller = Puller(client, DescribeCache(client), config, results_page=results_page)
    pages: list[ChangePage] = []
    for page in puller.changes("Lead", [], None, run_started=T0 + timedelta(days=1)):
        pages.append(page)
        # Only the chunks behind this page, the one held back and the one read ahead have been read.
        assert jobs.served <= (len(pages) + 2) * results_page
    got = [r["Id"] for p in pages for r in p.records]
    assert got == list(dict.fromkeys(i for i, _ in wire)), "each id once, where it first came"
    assert all(len(p.records) <= config.query_page_size for p in pages)
    assert [p.high_water for p in pages[:-1]] == [None] * (len(pages) - 1)
    highest: datetime | None = max(parse_stamp(s) for _, s in wire)  # type: ignore[type-var]
    assert pages[-1].high_water == highest


# ---- read-ahead: the next results chunk or REST page is requested while this one is used ---------------


class _ThreadLog(CallLog):
    """A `CallLog` that also notes which thread made each call (injected into the client)."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: list[tuple[str, str]] = []

    def record(self, method: str, path: str) -> None:
        super().record(method, path)
        self.threads.append((endpoint_of(method, path), threading.current_thread().name))


def _workers() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(("leadq-bulk-", "leadq-query-"))]


@pytest.mark.parametrize(("threshold", "endpoint", "worker"), [
    (50, RESULTS, "leadq-bulk-Lead"),
    (10_000, "GET /services/data/vXX.X/query/{locator}", "leadq-query-Lead"),
])  # fmt: skip
def test_the_pages_after_the_first_are_requested_on_the_read_ahead_worker(
    sandbox: SandboxServer, threshold: int, endpoint: str, worker: str
) -> None:
    freeze(sandbox, T0)
    made = sandbox.store.sf_insert_many("Lead", leads(450))
    calls = _ThreadLog()
    client = SalesforceClient(settings_for(sandbox, bulk_threshold=threshold, query_page_size=200), calls)
    try:
        puller = Puller(client, DescribeCache(client), client.settings, results_page=120)
        pages = list(puller.changes("Lead", ["LastName"], None, run_started=later(T0, 60)))
    finally:
        client.close()
    assert sorted(r["Id"] for p in pages for r in p.records) == sorted(made)
    paged = [name for what, name in calls.threads if what == endpoint]
    assert len(paged) == (4 if threshold == 50 else 2)  # 450 rows: 4 chunks of 120, or 3 REST pages of 200
    assert all(name.startswith(worker) for name in paged), paged
    others = [name for what, name in calls.threads if what != endpoint]
    assert all(not name.startswith(worker) for name in others), "job, describe and first page: caller's"
    assert not _workers(), "no read-ahead thread outlives the pull"


class _FailingJobs(_Jobs):
    """Fails the results call of chunk `fail_at` (0-based) the way `SalesforceClient.call` would give up."""

    def __init__(self, rows: list[tuple[str, str]], fail_at: int) -> None:
        super().__init__(rows)
        self.fail_at = fail_at
        self.calls = 0
        self.error = RetryableError("Bulk API 2.0 query of Lead, results page failed: 503", crm="salesforce")

    def get_query_results(self, job_id: str, locator: str, max_records: int) -> dict[str, Any]:
        self.calls += 1
        if self.calls - 1 == self.fail_at:
            raise self.error
        return super().get_query_results(job_id, locator, max_records)


@settings(max_examples=40, deadline=None)
@given(chunks=st.integers(1, 8), data=st.data())
def test_a_failed_results_call_surfaces_unchanged_and_no_further_call_is_made(
    chunks: int, data: st.DataObject
) -> None:
    fail_at = data.draw(st.integers(0, chunks - 1))
    size = 10
    wire = [(f"00Q{i:04d}", _stamp(i)) for i in range(chunks * size)]
    jobs = _FailingJobs(wire, fail_at)
    client: Any = _Client(jobs)
    config = SalesforceSettings(instance_url="https://example.invalid", auth="access_token", access_token="x")
    puller = Puller(client, DescribeCache(client), config, results_page=size)
    got: list[str] = []
    with pytest.raises(RetryableError) as raised:
        for page in puller.changes("Lead", [], None, run_started=T0 + timedelta(days=1)):
            got.extend(r["Id"] for r in page.records)
    assert raised.value is jobs.error and str(raised.value) == str(jobs.error)
    # One page is held back to mark the last: the chunks before the failed one, less that one, came out.
    assert got == [i for i, _ in wire[: max(0, fail_at - 1) * size]]
    assert jobs.calls == fail_at + 1, "no results call after the failed one"
    assert not _workers()


@settings(max_examples=30, deadline=None)
@given(chunks=st.integers(2, 8), taken=st.integers(1, 3))
def test_closing_a_bulk_pull_early_stops_the_read_ahead(chunks: int, taken: int) -> None:
    size = 10
    wire = [(f"00Q{i:04d}", _stamp(i)) for i in range(chunks * size)]
    jobs = _Jobs(wire)
    client: Any = _Client(jobs)
    config = SalesforceSettings(instance_url="https://example.invalid", auth="access_token", access_token="x")
    pull = Puller(client, DescribeCache(client), config, results_page=size)
    pages = cast(Generator[ChangePage], pull.changes("Lead", [], None, run_started=T0 + timedelta(days=1)))
    for _ in range(min(taken, chunks - 1)):
        next(pages)
    pages.close()
    served = jobs.served
    assert served <= (min(taken, chunks - 1) + 2) * size
    assert not _workers(), "the read-ahead worker is joined by close()"
    assert jobs.served == served, "nothing is fetched after close()"
