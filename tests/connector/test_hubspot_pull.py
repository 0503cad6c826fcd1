"""Incremental pulls through the search API: windows, restarts before the 10,000 cap, archives, associations."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Generator
from datetime import timedelta
from typing import cast

from connector.accounting import CallLog, endpoint_of
from connector.hubspot import HubSpotConnector
from connector.protocol import ChangePage
from sandbox import SandboxServer
from tests.connector.test_hubspot_support import (
    KEY,
    T0,
    all_records,
    connector_for,
    contacts,
    freeze,
    later,
    settings_for,
    unlimited,
)


def test_first_pull_reads_every_record_once_oldest_first(sandbox: SandboxServer) -> None:
    store = sandbox.store
    run = freeze(sandbox, later(T0, 3600))
    store.hs_insert_many("contacts", contacts(150, "b"), when=later(T0, 2))
    store.hs_insert_many("contacts", contacts(150, "a"), when=T0)
    store.hs_insert_many("contacts", contacts(150, "c"), when=later(T0, 4))
    with connector_for(sandbox) as hub:
        pages = list(hub.pull_changes("contacts", ["email", "firstname"], None, run_started=run))
    records = all_records(pages)
    assert len(records) == 450 == len({r["id"] for r in records})
    stamps = [r["lastmodifieddate"] for r in records]
    assert stamps == sorted(stamps)
    assert {"id", "email", "firstname", "lastmodifieddate", "hs_object_id"} <= set(records[0])
    assert records[0]["id"] == records[0]["hs_object_id"]
    assert [len(p.records) for p in pages] == [200, 200, 50]
    assert pages[-1].high_water == later(T0, 4)
    assert all(p.object == "contacts" for p in pages)
    assert hub.calls.snapshot() == {"POST /crm/v3/objects/contacts/search": 3}


def test_window_is_closed_at_the_cursor_minus_lookback_and_open_at_the_run_start(
    sandbox: SandboxServer,
) -> None:
    store = sandbox.store
    cursor = {"value": later(T0, 1000).isoformat()}
    old = store.hs_insert_many("deals", [{"dealname": "old"}], when=later(T0, 1000 - 301))
    lookback = store.hs_insert_many("deals", [{"dealname": "lookback"}], when=later(T0, 1000 - 300))
    at_cursor = store.hs_insert_many(
        "deals", [{"dealname": f"same{i}"} for i in range(3)], when=later(T0, 1000)
    )
    run = later(T0, 2000)
    during = store.hs_insert_many("deals", [{"dealname": "during"}], when=run)
    with connector_for(sandbox) as hub:
        got = {r["id"] for r in all_records(hub.pull_changes("deals", ["dealname"], cursor, run_started=run))}
    assert got == {str(r.id) for r in [*lookback, *at_cursor]}
    assert str(old[0].id) not in got
    assert str(during[0].id) not in got  # stamped at the run's start: the next run's


def test_a_record_changed_during_the_run_is_left_for_the_next_one(sandbox: SandboxServer) -> None:
    store = sandbox.store
    freeze(sandbox, T0)
    first = store.hs_insert_many("companies", [{"name": f"Acme {i}"} for i in range(5)])
    run = later(T0, 60)
    freeze(sandbox, later(run, 1))
    store.hs_update("companies", first[0].id, {"name": "Acme renamed during the run"})
    with connector_for(sandbox, lookback_seconds=30) as hub:
        pages = list(hub.pull_changes("companies", ["name"], None, run_started=run))
        got = {r["id"] for r in all_records(pages)}
        assert got == {str(r.id) for r in first[1:]}
        assert max(p.high_water for p in pages if p.high_water) <= run
        # the caller advances the cursor no further than the run's start; the next run sees the change
        next_pages = list(
            hub.pull_changes("companies", ["name"], {"value": run.isoformat()}, run_started=later(run, 60))
        )
    assert [r["name"] for r in all_records(next_pages)] == ["Acme renamed during the run"]


def test_restarts_before_the_cap_and_walks_a_crowded_stamp_by_id(sandbox: SandboxServer) -> None:
    # a small cap exercises the same paths as HubSpot's 10,000: stamp restarts, then a stamp walked by id
    unlimited(sandbox)
    store = sandbox.store
    store.hs_insert_many("contacts", contacts(30, "a"), when=T0)
    store.hs_insert_many("contacts", contacts(95, "b"), when=later(T0, 1))
    store.hs_insert_many("contacts", contacts(7, "c"), when=later(T0, 2))
    with connector_for(sandbox, search_page_size=10, search_result_cap=40) as hub:
        records = all_records(hub.pull_changes("contacts", ["email"], None, run_started=later(T0, 60)))
    ids = [r["id"] for r in records]
    assert len(ids) == 132 == len(set(ids))
    assert [r["lastmodifieddate"] for r in records] == sorted(r["lastmodifieddate"] for r in records)


def test_more_than_10000_records_at_one_stamp_are_pulled_exactly_once(sandbox: SandboxServer) -> None:
    unlimited(sandbox)
    store = sandbox.store
    before = store.hs_insert_many("contacts", contacts(20, "before"), when=later(T0, -1))
    crowd = store.hs_insert_many("contacts", contacts(10_500, "crowd"), when=T0)
    after = store.hs_insert_many("contacts", contacts(230, "after"), when=later(T0, 1))
    with connector_for(sandbox) as hub:
        records = all_records(hub.pull_changes("contacts", ["email"], None, run_started=later(T0, 60)))
        searches = hub.calls.snapshot()["POST /crm/v3/objects/contacts/search"]
    counts = Counter(r["id"] for r in records)
    assert len(counts) == 20 + 10_500 + 230
    assert set(counts.values()) == {1}
    assert set(counts) == {str(r.id) for r in [*before, *crowd, *after]}
    # every query stayed under the cap (the sandbox refuses past it, as HubSpot does), and the crowded
    # stamp was read at most twice: once by stamp, once walked by id
    assert searches <= 10_750 // 200 + 10_500 // 200 + 5


def test_archived_records_in_the_window(sandbox: SandboxServer) -> None:
    store = sandbox.store
    freeze(sandbox, T0)
    rows = store.hs_insert_many("contacts", contacts(120))
    store.hs_archive("contacts", rows[0].id)  # before the window
    freeze(sandbox, later(T0, 1000))
    archived = [r.id for r in rows[1:106]]
    for rid in archived:
        store.hs_archive("contacts", rid)
    freeze(sandbox, later(T0, 3000))
    store.hs_archive("contacts", rows[110].id)  # during the run
    cursor = {"value": later(T0, 900).isoformat()}
    with connector_for(sandbox, lookback_seconds=0) as hub:
        pages = list(hub.pull_deletions("contacts", cursor, run_started=later(T0, 2000)))
        calls = hub.calls.snapshot()
    got = [d for page in pages for d in page]
    assert sorted(d.id for d in got) == sorted(str(i) for i in archived)
    assert {d.deleted_at for d in got} == {later(T0, 1000)}
    assert calls == {"GET /crm/v3/objects/contacts": 2}  # 107 archived, 100 a page


def test_associations_batch_read(sandbox: SandboxServer) -> None:
    store = sandbox.store
    people = store.hs_insert_many("contacts", contacts(150))
    firms = store.hs_insert_many("companies", [{"name": "Acme"}, {"name": "Globex"}])
    for p in people[:120]:
        store.hs_associate("contacts", p.id, "companies", firms[0].id, 279)
    store.hs_associate("contacts", people[0].id, "companies", firms[1].id, 279)
    with connector_for(sandbox) as hub:
        links = hub.associations("contacts", [str(p.id) for p in people], "companies")
        calls = hub.calls.snapshot()
    assert links[str(people[0].id)] == [str(firms[0].id), str(firms[1].id)]
    assert links[str(people[1].id)] == [str(firms[0].id)]
    assert links[str(people[140].id)] == []
    assert len(links) == 150
    assert calls == {"POST /crm/v4/associations/contacts/companies/batch/read": 1}  # up to 1,000 ids a call


def test_completed_review_tasks_with_their_contact(sandbox: SandboxServer) -> None:
    from connector.protocol import TaskSpec

    store = sandbox.store
    freeze(sandbox, T0)
    people = store.hs_insert_many("contacts", contacts(3))
    with connector_for(sandbox) as hub:
        hub.create_fields([KEY])
        specs = [
            TaskSpec(f"review-{i}", "contacts", str(p.id), None, f"Review {i}", "why", later(T0, 86400))
            for i, p in enumerate(people)
        ]
        created = hub.create_tasks(specs)
        other = store.hs_insert(
            "tasks", {"hs_task_subject": "not ours", "hs_timestamp": "2031-03-02T00:00:00Z"}
        )
        freeze(sandbox, later(T0, 100))
        for task_id in (created[0].crm_id, created[2].crm_id):
            assert task_id is not None
            store.hs_update("tasks", int(task_id), {"hs_task_status": "COMPLETED"})
        store.hs_update("tasks", other.id, {"hs_task_status": "COMPLETED"})
        run = later(T0, 200)
        pages = list(hub.completed_tasks(["hs_task_subject"], {"value": T0.isoformat()}, run_started=run))
    records = all_records(pages)
    assert {r["id"] for r in records} == {created[0].crm_id, created[2].crm_id}
    by_id = {r["id"]: r for r in records}
    assert by_id[created[0].crm_id]["contact_id"] == str(people[0].id)
    assert by_id[created[2].crm_id]["leadq_key"] == "review-2"
    assert all(r["hs_task_status"] == "COMPLETED" for r in records)
    assert pages[0].object == "tasks"
    assert pages[-1].high_water == later(T0, 100)
    assert timedelta(0) < run - later(T0, 100)


class _ThreadLog(CallLog):
    """A `CallLog` that also notes the order of calls and the thread that made each (injected)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, str]] = []

    def record(self, method: str, path: str) -> None:
        super().record(method, path)
        self.seen.append((endpoint_of(method, path), threading.current_thread().name))


def _read_ahead_workers() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("leadq-search-")]


SEARCH = "POST /crm/v3/objects/contacts/search"
LINKS = "POST /crm/v4/associations/contacts/companies/batch/read"


def test_a_pull_with_associations_reads_ahead_with_fewer_association_calls(sandbox: SandboxServer) -> None:
    store = sandbox.store
    unlimited(sandbox)
    run = freeze(sandbox, later(T0, 3600))
    people = store.hs_insert_many("contacts", contacts(450), when=T0)
    firms = store.hs_insert_many("companies", [{"name": "Acme"}, {"name": "Globex"}])
    for i, p in enumerate(people):
        if i % 3:
            store.hs_associate("contacts", p.id, "companies", firms[i % 2].id, 279)
    # Today's way, the caller reading each page's associations between pages (as sync.pull does) ...
    plain = _ThreadLog()
    with HubSpotConnector(settings_for(sandbox), calls=plain) as hub:
        expected = []
        for page in hub.pull_changes("contacts", ["email"], None, run_started=run):
            links = hub.associations("contacts", [r["id"] for r in page.records], "companies")
            for r in page.records:
                expected.append(
                    {**r, "associations": {"companies": {"results": [{"id": i} for i in links[r["id"]]]}}}
                )
    # ... and the connector doing it, one page ahead: same records, same requests in the same order.
    ahead = _ThreadLog()
    with HubSpotConnector(settings_for(sandbox), calls=ahead) as hub:
        pages = list(
            hub.pull_changes("contacts", ["email"], None, run_started=run, associations=["companies"])
        )
    assert all_records(pages) == expected and len(expected) == 450
    assert expected[1]["associations"]["companies"]["results"] == [{"id": str(firms[1].id)}]
    assert [what for what, _ in plain.seen] == [SEARCH, LINKS] * 3
    assert [what for what, _ in ahead.seen] == [SEARCH] * 3 + [LINKS]
    assert [len(p.records) for p in pages] == [200, 200, 50]
    assert all(name.startswith("leadq-search-contacts") for _, name in ahead.seen)
    assert pages[-1].high_water == T0
    assert not _read_ahead_workers()


def test_closing_a_pull_with_associations_early_stops_reading(sandbox: SandboxServer) -> None:
    unlimited(sandbox)
    run = freeze(sandbox, later(T0, 3600))
    sandbox.store.hs_insert_many("contacts", contacts(1000), when=T0)
    calls = _ThreadLog()
    with HubSpotConnector(settings_for(sandbox), calls=calls) as hub:
        pull = cast(
            Generator[ChangePage], hub.pull_changes("contacts", [], None, run_started=run, associations=())
        )
        first = next(pull)
        pull.close()
        made = len(calls.seen)
        assert not _read_ahead_workers(), "the worker is joined by close()"
    assert len(first.records) == 200
    assert made <= 2 and [what for what, _ in calls.seen] == [SEARCH] * made, "at most one page ahead"


def test_a_pull_without_associations_does_not_read_ahead(sandbox: SandboxServer) -> None:
    unlimited(sandbox)
    run = freeze(sandbox, later(T0, 3600))
    sandbox.store.hs_insert_many("contacts", contacts(450), when=T0)
    calls = _ThreadLog()
    with HubSpotConnector(settings_for(sandbox), calls=calls) as hub:
        pull = hub.pull_changes("contacts", [], None, run_started=run)
        next(pull)
        # The caller may make its own calls here (sync reads associations): nothing runs beside them.
        assert [what for what, _ in calls.seen] == [SEARCH]
        assert len(list(pull)) == 2
    assert all(not name.startswith("leadq-") for _, name in calls.seen)
