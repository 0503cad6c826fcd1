"""Completed review tasks read their contacts for several search pages in one association call."""

from __future__ import annotations

from connector.protocol import TaskSpec
from sandbox import SandboxServer
from tests.connector.test_hubspot_support import (
    KEY,
    T0,
    all_records,
    connector_for,
    contacts,
    freeze,
    later,
    unlimited,
)

SEARCH = "POST /crm/v3/objects/tasks/search"
READ = "POST /crm/v4/associations/tasks/contacts/batch/read"


def test_pages_keep_their_order_stamps_and_contacts_with_fewer_association_calls(
    sandbox: SandboxServer,
) -> None:
    unlimited(sandbox)
    store = sandbox.store
    freeze(sandbox, T0)
    people = store.hs_insert_many("contacts", contacts(7))
    with connector_for(sandbox, search_page_size=2, association_batch_size=4) as hub:
        hub.create_fields([KEY])
        specs = [
            TaskSpec(f"review-{i}", "contacts", str(p.id) if i != 3 else "", None, f"Review {i}", "why",
                     later(T0, 86400))
            for i, p in enumerate(people)
        ]  # fmt: skip
        created = [outcome.crm_id for outcome in hub.create_tasks(specs)]
        for n, task_id in enumerate(created):  # completed one second apart, oldest first
            assert task_id is not None
            freeze(sandbox, later(T0, 100 + n))
            store.hs_update("tasks", int(task_id), {"hs_task_status": "COMPLETED"})
        hub.calls.take()
        run = later(T0, 200)
        pages = list(hub.completed_tasks(["hs_task_subject"], {"value": T0.isoformat()}, run_started=run))
        calls = hub.calls.snapshot()
    records = all_records(pages)
    assert [r["id"] for r in records] == created
    assert [r["contact_id"] for r in records] == [
        str(p.id) if i != 3 else None for i, p in enumerate(people)
    ]  # the task about nobody has no contact
    assert all("associations" not in r for r in records)
    assert [len(p.records) for p in pages] == [2, 2, 2, 1]
    assert [p.high_water for p in pages] == [later(T0, 101), later(T0, 103), later(T0, 105), later(T0, 106)]
    # 4 search pages; their 7 ids read 4 at a time (page by page it took 4 association calls)
    assert calls == {SEARCH: 4, READ: 2}
