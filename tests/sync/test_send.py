"""The send phase books every outcome of a batch: landed fields, retryable failures and rejections."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest

from connector.protocol import CRMConnector, RecordUpdate, TaskSpec, WriteOutcome, WriteStatus
from sync.report import CrmReport
from sync.send import Sender, task_payload
from sync.state import StateStore
from sync.state.bulk import NewOutboxItem, PlannedField
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
    store.plan_writes(
        "salesforce", [PlannedField("Lead", r, f, None, v) for r in ids for f, v in FIELDS.items()]
    )
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
