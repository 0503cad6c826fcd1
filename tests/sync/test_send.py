"""The send phase books every outcome of a batch: landed fields, retryable failures and rejections."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, cast

import pytest

from connector.protocol import CRMConnector, RecordUpdate, TaskSpec, WriteOutcome, WriteStatus
from sync.report import CrmReport
from sync.send import Sender
from sync.state import StateStore
from sync.state.bulk import NewOutboxItem, PlannedField
from tests.sync.test_state_support import BACKENDS, FakeClock, open_store

FIELDS = {"Score__c": 80, "Reasons__c": "+ 2 colleagues at Acme"}


class ScriptedCRM:
    """A connector whose update outcomes are given per record id (everything else lands)."""

    def __init__(self, outcomes: dict[str, tuple[WriteStatus, str, str]]) -> None:
        self.outcomes = outcomes
        self.calls: list[list[str]] = []

    def apply_updates(self, obj: str, updates: Sequence[RecordUpdate]) -> list[WriteOutcome]:
        self.calls.append([u.id for u in updates])
        out = []
        for u in updates:
            status, code, message = self.outcomes.get(u.id, (WriteStatus.WRITTEN, "", ""))
            out.append(WriteOutcome(u.id, status, crm_id=u.id, code=code or None, message=message or None))
        return out

    def create_tasks(self, specs: Sequence[TaskSpec]) -> list[WriteOutcome]:
        raise AssertionError("no tasks in these tests")


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
