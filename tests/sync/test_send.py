"""The send phase books every outcome of a batch: landed fields, retryable failures and rejections."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest

from connector.errors import AuthError, QuotaExhaustedError
from connector.protocol import CRMConnector, RecordUpdate, TaskSpec, WriteOutcome, WriteStatus
from sync.report import CrmReport
from sync.send import Sender, task_payload
from sync.state import OutboxItem, StateStore
from sync.state.bulk import NewOutboxItem
from tests.sync.test_state_support import BACKENDS, FakeClock, open_store

FIELDS = {"Score__c": 80, "Reasons__c": "+ 2 colleagues at Acme"}


class ScriptedCRM:
    """A connector whose update outcomes are given per record id (everything else lands)."""

    def __init__(self, outcomes: dict[str, tuple[WriteStatus, str, str]]) -> None:
        self.outcomes = outcomes
        self.calls: list[list[str]] = []
        self.existing: dict[str, str] = {}  # idempotency key -> a task the CRM has already

    def apply_updates(self, obj: str, updates: Sequence[RecordUpdate]) -> list[WriteOutcome]:
        self.calls.append([u.id for u in updates])
        out = []
        for u in updates:
            status, code, message = self.outcomes.get(u.id, (WriteStatus.WRITTEN, "", ""))
            out.append(WriteOutcome(u.id, status, crm_id=u.id, code=code or None, message=message or None))
        return out

    def create_tasks(self, specs: Sequence[TaskSpec]) -> list[WriteOutcome]:
        self.calls.append([s.idempotency_key for s in specs])
        out = []
        for n, s in enumerate(specs):
            if s.idempotency_key in self.existing:
                out.append(
                    WriteOutcome(s.idempotency_key, WriteStatus.WRITTEN, self.existing[s.idempotency_key])
                )
                continue
            status, code, message = self.outcomes.get(s.idempotency_key, (WriteStatus.WRITTEN, "", ""))
            ok = status is WriteStatus.WRITTEN
            out.append(WriteOutcome(s.idempotency_key, status, crm_id=f"00T{n}" if ok else None,
                                    code=code or None, message=message or None, created=ok))  # fmt: skip
        return out


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateStore]:
    with open_store(request.param, tmp_path, FakeClock()) as opened:
        yield opened


def _plan(store: StateStore, ids: list[str]) -> None:
    store.plan_records("salesforce", [("Lead", r, FIELDS, {}) for r in ids])
    store.enqueue_many(
        [
            NewOutboxItem(
                "salesforce", "field_update", "Lead", r, {"values": FIELDS, "old": {"Score__c": 1}}, f"k:{r}"
            )
            for r in ids
        ]
    )


def test_a_batch_books_landed_retryable_and_rejected_records(store: StateStore) -> None:
    ids = ["00Q1", "00Q2", "00Q3", "00Q4", "00Q5"]
    _plan(store, ids)
    crm = ScriptedCRM(
        {
            "00Q2": (WriteStatus.RETRYABLE, "UNABLE_TO_LOCK_ROW", "locked"),
            "00Q3": (WriteStatus.REJECTED, "INVALID_FIELD", "bad value"),
            "00Q4": (WriteStatus.RETRYABLE, "UNABLE_TO_LOCK_ROW", "locked"),
        }
    )
    report = CrmReport("salesforce")
    Sender(store, cast(CRMConnector, crm), "salesforce", report).send_all()

    assert crm.calls == [ids]
    assert (report.written, report.fields_written, report.write_failures, report.parked) == (2, 4, 2, 1)
    ledger = store.ledger_for_records("salesforce", "Lead", ids)
    for r in ("00Q1", "00Q5"):
        for field, value in FIELDS.items():
            entry = ledger[r][field]
            assert (entry.state, entry.written_value, entry.last_error) == ("written", value, None)
    for r in ("00Q2", "00Q4"):
        assert {(e.state, e.attempts, e.last_error) for e in ledger[r].values()} == {
            ("retryable", 1, "UNABLE_TO_LOCK_ROW: locked")
        }
    assert {(e.state, e.last_error) for e in ledger["00Q3"].values()} == {
        ("parked", "INVALID_FIELD: bad value")
    }

    by_key = {
        item.idempotency_key: item
        for state in ("done", "pending", "parked")
        for item in store.outbox_items(state)
    }
    assert {k: by_key[k].state for k in by_key} == {
        "k:00Q1": "done", "k:00Q2": "pending", "k:00Q3": "parked", "k:00Q4": "pending", "k:00Q5": "done"
    }  # fmt: skip
    audit: list[dict[str, Any]] = list(store.audit_export())
    assert [(a["action"], a["record_id"]) for a in audit] == [
        ("write_parked", "00Q3"),
        *(("fields_written", r) for r in ("00Q1", "00Q5")),
    ]
    assert audit[0]["detail"] == {"reason": "INVALID_FIELD: bad value"}
    assert audit[1]["field"] is None
    assert audit[1]["old"] == {"Score__c": 1, "Reasons__c": None}
    assert audit[1]["new"] == {"Score__c": 80, "Reasons__c": FIELDS["Reasons__c"]}


def test_a_batch_of_tasks_books_created_found_retryable_and_rejected_tasks(store: StateStore) -> None:
    keys = ["t:1", "t:2", "t:3", "t:4"]
    store.enqueue_many(
        [
            NewOutboxItem("salesforce", "task", "Lead", f"00Q{n}", task_payload(_spec(key, f"00Q{n}")), key)
            for n, key in enumerate(keys, 1)
        ]
    )
    crm = ScriptedCRM(
        {
            "t:3": (WriteStatus.RETRYABLE, "UNCONFIRMED", "no result returned"),
            "t:4": (WriteStatus.REJECTED, "INVALID_CROSS_REFERENCE_KEY", "no such lead"),
        }
    )
    crm.existing["t:2"] = "00Tfound"
    told: list[list[tuple[str, str | None]]] = []

    def tell(created: Sequence[tuple[str, str | None]]) -> None:
        told.append(list(created))

    report = CrmReport("salesforce")
    Sender(store, cast(CRMConnector, crm), "salesforce", report, on_tasks_created=tell).send_all()

    assert crm.calls == [keys]
    assert told == [[("t:1", "00T0"), ("t:2", "00Tfound")]], "one call back for the batch, found ones too"
    assert (report.tasks_created, report.write_failures, report.parked) == (1, 1, 1)
    states = {
        i.idempotency_key: (i.state, i.result)
        for s in ("done", "pending", "parked")
        for i in store.outbox_items(s)
    }
    assert states == {
        "t:1": ("done", {"task_id": "00T0", "created": True}),
        "t:2": ("done", {"task_id": "00Tfound", "created": False}),
        "t:3": ("pending", None),
        "t:4": ("parked", None),
    }
    audit = [(a["action"], a["record_id"], a["detail"]) for a in store.audit_export()]
    assert audit == [
        ("task_created", "00Q1", {"key": "t:1", "task_id": "00T0"}),
        ("task_found", "00Q2", {"key": "t:2", "task_id": "00Tfound"}),
        ("task_parked", "00Q4", {"key": "t:4", "reason": "INVALID_CROSS_REFERENCE_KEY: no such lead"}),
    ]


def _spec(key: str, who: str) -> TaskSpec:
    due = datetime(2026, 1, 5, tzinfo=UTC)
    return TaskSpec(key, "Lead", who, "005A", "Review 00Q", "Why: score 61", due, "normal", {})


# ---- the pipeline: one batch on the wire while the one before is settled and the next claimed -------------


class PipelinedCRM(ScriptedCRM):
    """A scripted connector that runs `hooks[n]` before answering its call number n (from 0), and notes
    whether each call came on a worker thread."""

    def __init__(self, outcomes: dict[str, tuple[WriteStatus, str, str]] | None = None) -> None:
        super().__init__(outcomes or {})
        self.hooks: dict[int, Callable[[], None]] = {}
        self.on_main: list[bool] = []

    def _call(self) -> None:
        self.on_main.append(threading.current_thread() is threading.main_thread())
        hook = self.hooks.get(len(self.calls) - 1)
        if hook is not None:
            hook()

    def apply_updates(self, obj: str, updates: Sequence[RecordUpdate]) -> list[WriteOutcome]:
        out = super().apply_updates(obj, updates)
        self._call()
        return out

    def create_tasks(self, specs: Sequence[TaskSpec]) -> list[WriteOutcome]:
        out = super().create_tasks(specs)
        self._call()
        return out


def _enqueue(store: StateStore, entries: list[tuple[str, str]]) -> list[str]:
    """Outbox items in this order, (object, record id) each; object "Task" makes a review task of the lead.
    Returns their idempotency keys."""
    store.plan_records("salesforce", [(obj, r, FIELDS, {}) for obj, r in entries if obj != "Task"])
    items = [
        NewOutboxItem("salesforce", "task", "Lead", r, task_payload(_spec(f"t:{r}", r)), f"t:{r}")
        if obj == "Task"
        else NewOutboxItem("salesforce", "field_update", obj, r, {"values": FIELDS}, f"k:{r}")
        for obj, r in entries
    ]
    store.enqueue_many(items)
    return [i.idempotency_key for i in items]


def _states(store: StateStore) -> dict[str, tuple[str, int]]:
    return {
        i.idempotency_key: (i.state, i.attempts)
        for s in ("pending", "sent", "done", "failed", "parked")
        for i in store.outbox_items(s)
    }


def _no_send_worker_alive() -> bool:
    return not any(t.name.startswith("leadq-send") for t in threading.enumerate())


def test_batches_go_out_in_order_on_a_worker_and_settle_in_the_same_order(store: StateStore) -> None:
    entries = [("Lead", "00Q1"), ("Task", "00Q2"), ("Contact", "003A"), ("Lead", "00Q3"),
               ("Contact", "003B"), ("Task", "00Q4"), ("Lead", "00Q5"), ("Lead", "00Q6"), ("Task", "00Q7")]  # fmt: skip
    _enqueue(store, entries)
    crm = PipelinedCRM()
    told: list[list[str]] = []
    report = CrmReport("salesforce")
    Sender(store, cast(CRMConnector, crm), "salesforce", report, batch_size=4,
           on_tasks_created=lambda created: told.append([k for k, _ in created])).send_all()  # fmt: skip

    # batches of 4 by outbox order; within one, each object's updates in order, then its tasks
    assert crm.calls == [["00Q1", "00Q3"], ["003A"], ["t:00Q2"], ["003B"], ["00Q5", "00Q6"], ["t:00Q4"],
                         ["t:00Q7"]]  # fmt: skip
    assert not any(crm.on_main), "the connector is called on the worker thread only"
    assert told == [["t:00Q2"], ["t:00Q4"], ["t:00Q7"]]
    settled = [a["record_id"] for a in store.audit_export()]
    assert settled == ["00Q1", "00Q3", "003A", "00Q2", "003B", "00Q5", "00Q6", "00Q4", "00Q7"]
    assert {state for state, _ in _states(store).values()} == {"done"}
    assert (report.written, report.tasks_created, report.pending, report.stopped) == (6, 3, 0, None)
    assert "write" in report.phases and _no_send_worker_alive()


def test_a_batch_is_settled_while_the_next_one_is_on_the_wire(store: StateStore) -> None:
    _enqueue(store, [("Task", "00Q1"), ("Task", "00Q2")])
    crm = PipelinedCRM()
    second_call = threading.Event()
    crm.hooks[1] = second_call.set
    seen: list[bool] = []

    def booked(created: Sequence[tuple[str, str | None]]) -> None:
        # Booking the first batch (on the caller's thread) waits for the second call to be on the wire: a
        # sender that settled a batch before sending the next would never see it (the wait gives up then).
        if not seen:
            seen.append(second_call.wait(timeout=60))

    Sender(store, cast(CRMConnector, crm), "salesforce", CrmReport("salesforce"), batch_size=1,
           on_tasks_created=booked).send_all()  # fmt: skip
    assert seen == [True]
    assert _states(store) == {"t:00Q1": ("done", 1), "t:00Q2": ("done", 1)}


class ClaimWatch:
    """The store, with each claim noted and `third` set once three batches were claimed."""

    def __init__(self, store: StateStore) -> None:
        self._store = store
        self.claimed: list[list[str]] = []
        self.third = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def claim_pending_many(self, limit: int, crm: str) -> list[OutboxItem]:
        got = self._store.claim_pending_many(limit, crm)
        self.claimed.append([i.idempotency_key for i in got])
        if len(self.claimed) == 3:
            self.third.set()
        return got


def test_a_stop_request_finishes_and_settles_the_batch_in_flight_then_releases_the_rest(
    store: StateStore,
) -> None:
    keys = _enqueue(store, [("Lead", f"00Q{n}") for n in range(1, 8)])
    watch = ClaimWatch(store)
    crm = PipelinedCRM()
    stop = threading.Event()

    def sigterm() -> None:  # while the second batch is on the wire, once the third one was claimed meanwhile
        watch.third.wait(timeout=60)
        stop.set()

    crm.hooks[1] = sigterm
    report = CrmReport("salesforce")
    Sender(cast(StateStore, watch), cast(CRMConnector, crm), "salesforce", report, batch_size=2,
           should_stop=stop.is_set).send_all()  # fmt: skip

    assert watch.claimed == [keys[0:2], keys[2:4], keys[4:6]]
    assert crm.calls == [["00Q1", "00Q2"], ["00Q3", "00Q4"]]
    states = _states(store)
    assert [states[k] for k in keys] == [("done", 1)] * 4 + [("pending", 0)] * 3, "the rest untouched"
    assert (report.written, report.pending) == (4, 3)
    assert _no_send_worker_alive()


def test_nothing_is_claimed_when_a_stop_was_requested_before_the_phase(store: StateStore) -> None:
    keys = _enqueue(store, [("Lead", "00Q1"), ("Task", "00Q2")])
    crm = PipelinedCRM()
    report = CrmReport("salesforce")
    Sender(store, cast(CRMConnector, crm), "salesforce", report, should_stop=lambda: True).send_all()
    assert crm.calls == []
    assert [_states(store)[k] for k in keys] == [("pending", 0)] * 2
    assert (report.pending, "write" in report.phases) == (2, True)


@pytest.mark.parametrize("how", ["refused", "raised"])
def test_a_quota_stop_releases_what_was_not_sent_and_the_batch_claimed_meanwhile(
    store: StateStore, how: str
) -> None:
    keys = _enqueue(store, [("Lead", "00Q1"), ("Lead", "00Q2"), ("Lead", "00Q9"),
                            ("Lead", "00Q3"), ("Contact", "003A"), ("Task", "00Q4"),
                            ("Lead", "00Q5"), ("Lead", "00Q6")])  # fmt: skip
    crm = PipelinedCRM()
    if how == "refused":  # the CRM answers the second batch's Lead call with the quota code
        crm.outcomes["00Q3"] = (WriteStatus.RETRYABLE, "REQUEST_LIMIT_EXCEEDED", "TotalRequests exceeded")
        stopped = "REQUEST_LIMIT_EXCEEDED: TotalRequests exceeded"
    else:

        def spent() -> None:
            raise QuotaExhaustedError("the cycle's share of the daily quota is spent", crm="salesforce")

        crm.hooks[1] = spent
        stopped = "salesforce: the cycle's share of the daily quota is spent"
    report = CrmReport("salesforce")
    Sender(store, cast(CRMConnector, crm), "salesforce", report, batch_size=3,
           on_tasks_created=lambda created: pytest.fail("no task was sent")).send_all()  # fmt: skip

    assert crm.calls == [["00Q1", "00Q2", "00Q9"], ["00Q3"]], "nothing is sent after the quota stop"
    states = _states(store)
    # 00Q3 was refused, 003A and the task were never sent, 00Q5 and 00Q6 were claimed while the second
    # batch was on the wire: all back to pending with no attempt counted.
    assert [states[k] for k in keys] == [("done", 1)] * 3 + [("pending", 0)] * 5
    assert (report.stopped, report.written, report.pending) == (stopped, 3, 5)
    assert _no_send_worker_alive()


def test_an_auth_error_in_flight_stops_the_phase_and_keeps_what_landed(store: StateStore) -> None:
    keys = _enqueue(store, [("Lead", f"00Q{n}") for n in range(1, 6)])
    crm = PipelinedCRM({"00Q2": (WriteStatus.RETRYABLE, "UNABLE_TO_LOCK_ROW", "locked")})

    def refused() -> None:
        raise AuthError("the session expired and could not be renewed", crm="salesforce")

    crm.hooks[1] = refused
    report = CrmReport("salesforce")
    Sender(store, cast(CRMConnector, crm), "salesforce", report, batch_size=2).send_all()

    states = _states(store)
    assert [states[k] for k in keys] == [("done", 1), ("pending", 1)] + [("pending", 0)] * 3
    assert report.stopped == "salesforce: the session expired and could not be renewed"


def test_an_unexpected_worker_error_reaches_the_caller_unchanged_after_the_batch_before_is_settled(
    store: StateStore,
) -> None:
    keys = _enqueue(store, [("Lead", "00Q1"), ("Lead", "00Q2"), ("Lead", "00Q3"), ("Contact", "003A"),
                            ("Lead", "00Q5"), ("Lead", "00Q6"), ("Contact", "003B"), ("Lead", "00Q7"),
                            ("Lead", "00Q8")])  # fmt: skip
    crm = PipelinedCRM({"00Q2": (WriteStatus.RETRYABLE, "UNABLE_TO_LOCK_ROW", "locked")})
    boom = ConnectionResetError("the sandbox went away")

    def fail() -> None:
        raise boom

    crm.hooks[2] = fail  # the second batch's Lead call; its Contact call is never made
    report = CrmReport("salesforce")
    with pytest.raises(ConnectionResetError) as raised:
        Sender(store, cast(CRMConnector, crm), "salesforce", report, batch_size=4).send_all()

    assert raised.value is boom
    assert _no_send_worker_alive(), "the worker is joined before the error reaches the caller"
    assert crm.calls == [["00Q1", "00Q2", "00Q3"], ["003A"], ["00Q5", "00Q6", "00Q7"]]
    states = _states(store)
    # The first batch was settled (the retryable 00Q2 requeued in `finally`); the failed batch stays `sent`
    # for recover_in_flight, as before the pipeline; 00Q8, claimed meanwhile, goes back untouched.
    assert [states[k] for k in keys] == [("done", 1), ("pending", 1), ("done", 1), ("done", 1),
                                         ("sent", 1), ("sent", 1), ("sent", 1), ("sent", 1),
                                         ("pending", 0)]  # fmt: skip
    assert "write" in report.phases and report.pending == 2
