"""The outbox and the ledger: idempotency, claim/mark, human-edit detection and atomic batches."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from sync.state import StateStore, json_equal
from sync.state.models import LedgerRow, OutboxRow
from tests.sync.test_state_support import T0, FakeClock


class Boom(RuntimeError):
    """The crash a test simulates in the middle of a batch."""


def _update(store: StateStore, key: str, record_id: str = "00Q1", value: int = 80) -> int:
    item = store.enqueue("salesforce", "field_update", "Lead", record_id, {"Score__c": value}, key)
    return item.id


def test_enqueue_same_key_twice_keeps_one_row(store: StateStore) -> None:
    first = store.enqueue("salesforce", "task", "Lead", "00Q1", {"Subject": "Review"}, "task:00Q1:1")
    second = store.enqueue("salesforce", "task", "Lead", "00Q1", {"Subject": "Other"}, "task:00Q1:1")
    assert second == first and second.payload == {"Subject": "Review"}
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(OutboxRow)) == 1
    assert store.count_pending() == 1
    assert store.outbox_by_key("task:00Q1:1") == first


def test_enqueue_same_key_inside_one_transaction(store: StateStore) -> None:
    with store.transaction():
        a = _update(store, "k")
        b = _update(store, "k", value=99)
    assert a == b and store.count_pending() == 1


def test_claim_marks_sent_in_id_order_and_respects_limit_and_filters(store: StateStore) -> None:
    ids = [_update(store, f"k{i}", record_id=f"00Q{i}") for i in range(5)]
    store.enqueue("hubspot", "note", "contacts", "501", {"body": "hi"}, "note:501")
    claimed = store.claim_pending(3, crm="salesforce")
    assert [c.id for c in claimed] == ids[:3]
    assert all(c.state == "sent" and c.attempts == 1 for c in claimed)
    assert store.count_pending() == 3 and store.count_pending("salesforce") == 2
    assert [c.id for c in store.claim_pending(10, kind="note")] == [ids[-1] + 1]
    assert [c.id for c in store.claim_pending(10)] == ids[3:]
    assert store.claim_pending(10) == []


def test_mark_done_failed_parked_and_requeue(store: StateStore, clock: FakeClock) -> None:
    ok, retry, bad, park = (_update(store, k) for k in ("ok", "retry", "bad", "park"))
    store.claim_pending(10)
    clock.advance(seconds=3)
    done = store.mark_done(ok, {"id": "00Q1", "success": True})
    assert done.state == "done" and done.result == {"id": "00Q1", "success": True} and done.last_error is None
    assert done.updated_at > done.created_at
    again = store.mark_failed(retry, "UNABLE_TO_LOCK_ROW", retryable=True)
    assert again.state == "pending" and again.last_error == "UNABLE_TO_LOCK_ROW"
    failed = store.mark_failed(bad, "INVALID_FIELD", retryable=False)
    assert failed.state == "failed"
    parked = store.mark_parked(park, "field is read-only")
    assert parked.state == "parked" and parked.last_error == "field is read-only"

    [retried] = store.claim_pending(10)  # only the retryable one comes back
    assert retried.id == retry and retried.attempts == 2
    assert [i.id for i in store.outbox_items("parked")] == [park]
    assert store.requeue(park).state == "pending"
    assert store.count_pending() == 1
    assert store.outbox_item(ok) == done
    assert store.outbox_item(12345) is None
    with pytest.raises(KeyError):
        store.mark_done(12345)


def test_ledger_lifecycle(store: StateStore, clock: FakeClock) -> None:
    planned = store.plan_write("salesforce", "Lead", "00Q1", "Score__c", None, 80)
    assert planned.state == "planned" and planned.written_at is None and planned.attempts == 0
    assert store.set_ledger_state("salesforce", "Lead", "00Q1", "Score__c", "sent").attempts == 1
    retry = store.set_ledger_state(
        "salesforce", "Lead", "00Q1", "Score__c", "retryable", "UNABLE_TO_LOCK_ROW"
    )
    assert retry.last_error == "UNABLE_TO_LOCK_ROW"
    store.set_ledger_state("salesforce", "Lead", "00Q1", "Score__c", "sent")
    clock.advance(minutes=1)
    written = store.set_ledger_state("salesforce", "Lead", "00Q1", "Score__c", "written")
    assert written.attempts == 2 and written.written_value == 80 and written.last_error is None
    assert written.written_at == clock.current

    replanned = store.plan_write("salesforce", "Lead", "00Q1", "Score__c", 80, 55)
    assert replanned.attempts == 0 and replanned.written_value == 80 and replanned.old_value == 80
    store.plan_write("salesforce", "Lead", "00Q1", "Tier__c", None, "B")
    entries = store.ledger_for_record("salesforce", "Lead", "00Q1")
    assert set(entries) == {"Score__c", "Tier__c"} and entries["Score__c"] == replanned
    assert [e.field for e in store.ledger_in_state("salesforce", "planned")] == ["Score__c", "Tier__c"]
    assert store.ledger_entry("salesforce", "Lead", "00Q1", "Nope__c") is None
    with pytest.raises(KeyError):
        store.set_ledger_state("salesforce", "Lead", "00Q1", "Nope__c", "sent")


def test_ledger_tells_a_human_edit_from_our_own_write(store: StateStore) -> None:
    changed = store.was_changed_by_a_person
    assert changed("salesforce", "Lead", "00Q1", "Score__c", 12) is False  # never written by us

    store.plan_write("salesforce", "Lead", "00Q1", "Score__c", None, 80)
    assert changed("salesforce", "Lead", "00Q1", "Score__c", 12) is False  # planned, not landed
    store.set_ledger_state("salesforce", "Lead", "00Q1", "Score__c", "written")
    assert changed("salesforce", "Lead", "00Q1", "Score__c", 80) is False  # our own write
    assert changed("salesforce", "Lead", "00Q1", "Score__c", 80.0) is False
    assert changed("salesforce", "Lead", "00Q1", "Score__c", 95) is True  # a person moved it
    assert changed("salesforce", "Lead", "00Q1", "Score__c", None) is True  # a person blanked it

    # A newer write in flight whose outcome is unknown: either our value is ours.
    store.plan_write("salesforce", "Lead", "00Q1", "Score__c", 80, 60)
    store.set_ledger_state("salesforce", "Lead", "00Q1", "Score__c", "sent")
    assert changed("salesforce", "Lead", "00Q1", "Score__c", 60) is False
    assert changed("salesforce", "Lead", "00Q1", "Score__c", 80) is False
    assert changed("salesforce", "Lead", "00Q1", "Score__c", 70) is True

    store.plan_write("salesforce", "Lead", "00Q1", "Hot__c", None, True)
    store.set_ledger_state("salesforce", "Lead", "00Q1", "Hot__c", "written")
    assert changed("salesforce", "Lead", "00Q1", "Hot__c", 1) is True  # 1 is not True in a CRM field


def test_json_equal_is_strict_about_booleans() -> None:
    assert json_equal({"a": [1, 2.0]}, {"a": [1.0, 2]})
    assert not json_equal(True, 1) and not json_equal([0], [False]) and not json_equal({"a": 1}, {"b": 1})


def _plan_batch(store: StateStore, n: int, fail_at: int | None) -> None:
    with store.transaction():
        for i in range(n):
            store.plan_write("salesforce", "Lead", f"00Q{i}", "Score__c", None, i)
            _update(store, f"batch:{i}", record_id=f"00Q{i}", value=i)
            if i == fail_at:
                raise Boom


def _counts(store: StateStore) -> tuple[int, int]:
    with store.session() as s:
        outbox = s.scalar(select(func.count()).select_from(OutboxRow)) or 0
        ledger = s.scalar(select(func.count()).select_from(LedgerRow)) or 0
    return outbox, ledger


def test_an_exception_inside_a_batch_writes_neither_outbox_nor_ledger(store: StateStore) -> None:
    with pytest.raises(Boom):
        _plan_batch(store, 10, fail_at=6)
    assert _counts(store) == (0, 0)
    _plan_batch(store, 10, fail_at=None)
    assert _counts(store) == (10, 10)


def test_a_failed_mark_batch_leaves_the_claim_intact(store: StateStore) -> None:
    ids = [_update(store, f"k{i}") for i in range(3)]
    for i in range(3):
        store.plan_write("salesforce", "Lead", "00Q1", f"F{i}", None, i)
    claimed = store.claim_pending(10)
    with pytest.raises(Boom), store.transaction():
        for item, i in zip(claimed, range(3), strict=True):
            store.mark_done(item.id)
            store.set_ledger_state("salesforce", "Lead", "00Q1", f"F{i}", "written")
            if i == 1:
                raise Boom
    assert [store.outbox_item(i).state for i in ids] == ["sent"] * 3  # type: ignore[union-attr]
    assert all(e.state == "planned" for e in store.ledger_for_record("salesforce", "Lead", "00Q1").values())


def test_nested_transactions_join_the_outer_one(store: StateStore) -> None:
    with pytest.raises(Boom), store.transaction():
        with store.transaction():
            _update(store, "inner")
        raise Boom
    assert store.count_pending() == 0


def test_the_clock_stamps_outbox_rows(store: StateStore) -> None:
    item = store.outbox_item(_update(store, "k"))
    assert item is not None and item.created_at == T0 == item.updated_at
