"""The set-at-a-time review task methods store what their one-row counterparts do, on every backend."""

from __future__ import annotations

from datetime import timedelta

from sync.state import StateStore
from sync.state.review_bulk import NewReviewTask
from tests.sync.test_state_support import T0, FakeClock


def test_many_review_tasks_are_recorded_as_one_by_one_and_known_keys_are_skipped(
    store: StateStore, clock: FakeClock
) -> None:
    due = T0 + timedelta(days=2)
    one = store.add_review_task("salesforce", "00Q1", "k-one", reviewer="005A", due=due, detail={"a": [1]})
    added = store.add_review_tasks(
        "salesforce",
        [
            NewReviewTask("00Q9", "k-one", "005B"),  # already recorded: left as it is
            NewReviewTask("00Q2", "k-two", "005A", due, {"a": [1]}),
            NewReviewTask("00Q3", "k-three"),
            NewReviewTask("00Q4", "k-two", "005C"),  # the same key twice: the first wins
        ],
    )
    assert added == 2
    two = store.review_task("k-two")
    three = store.review_task("k-three")
    assert two is not None and three is not None
    assert (two.crm, two.lead_id, two.reviewer, two.due, two.detail, two.state, two.task_id) == (
        one.crm, "00Q2", one.reviewer, one.due, one.detail, "open", None,
    )  # fmt: skip
    assert (three.reviewer, three.due, three.detail, three.created_at) == (None, None, None, clock.current)
    assert store.review_task("k-one") == one
    assert [t.idempotency_key for t in store.review_tasks("salesforce")] == ["k-one", "k-two", "k-three"]
    assert store.add_review_tasks("salesforce", []) == 0


def test_task_ids_are_remembered_for_review_tasks_and_other_keys_ignored(store: StateStore) -> None:
    store.add_review_tasks("hubspot", [NewReviewTask("101", "k-a"), NewReviewTask("102", "k-b")])
    store.set_review_task_ids([("k-a", "9001"), ("note-x", "9002")])
    a, b = store.review_task("k-a"), store.review_task("k-b")
    assert a is not None and b is not None
    assert (a.task_id, b.task_id) == ("9001", None)
    assert store.review_task("note-x") is None


def test_sent_items_are_marked_done_with_their_results(store: StateStore, clock: FakeClock) -> None:
    first = store.enqueue("hubspot", "task", "tasks", "101", {"n": 1}, "t-1")
    second = store.enqueue("hubspot", "task", "tasks", "102", {"n": 2}, "t-2")
    untouched = store.enqueue("hubspot", "task", "tasks", "103", {"n": 3}, "t-3")
    claimed = store.claim_pending_many(2, "hubspot")
    assert [i.id for i in claimed] == [first.id, second.id]
    clock.advance(seconds=5)
    store.mark_done_with_results(
        [(first.id, {"task_id": "9001", "created": True}), (second.id, {"task_id": "9002", "created": False})]
    )
    done = [store.outbox_item(i) for i in (first.id, second.id, untouched.id)]
    assert [(d.state, d.result, d.last_error) for d in done if d is not None] == [
        ("done", {"task_id": "9001", "created": True}, None),
        ("done", {"task_id": "9002", "created": False}, None),
        ("pending", None, None),
    ]
    assert all(d is not None and d.updated_at == clock.current for d in done[:2])
