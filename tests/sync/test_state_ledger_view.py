"""The ledger read through the outbox (`sync.state.ledger_view`): a planned field reads as written once the
item carrying it is done, and whatever order plans, landings, failures and a person's edits come in, the
value in the CRM is always one the ledger knows as leadq's (no false human edit), every reader agrees,
and what each reads is what a field-by-field model of the ledger says."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text

from sync.state import LedgerEntry, StateStore
from sync.state.bulk import NewOutboxItem
from sync.state.migrate import alembic_config
from tests.sync.test_state_support import FakeClock

FIELDS = ("Score", "Tier")
WAITING = ("planned", "sent", "retryable")
_runs = itertools.count()


@dataclass
class _Row:
    state: str
    new: Any
    written: Any = None
    link: int | None = None
    error: bool = False


@dataclass
class _Model:
    """The ledger field by field, as `ledger_view` documents it, and the CRM's values."""

    rows: dict[str, _Row] = field(default_factory=dict)
    items: dict[int, tuple[dict[str, Any], str]] = field(default_factory=dict)  # id -> (values, state)
    crm: dict[str, tuple[Any, str]] = field(default_factory=dict)  # field -> (value, who set it)

    def _through_item(self, row: _Row) -> bool:
        return row.state in WAITING and row.link is not None and self.items[row.link][1] == "done"

    def _fold(self, row: _Row) -> None:
        if self._through_item(row):
            row.written = row.new

    def plan(self, item: int, values: dict[str, Any]) -> None:
        self.items[item] = (values, "pending")
        for name, value in values.items():
            row = self.rows.setdefault(name, _Row("planned", value))
            self._fold(row)
            row.state, row.new, row.link, row.error = "planned", value, item, False

    def land(self, item: int) -> None:
        values, _ = self.items[item]
        self.items[item] = (values, "done")
        for name, value in values.items():
            self.crm[name] = (value, "leadq")
            row = self.rows[name]
            if row.link == item and row.state in WAITING:
                continue
            if row.state in WAITING and row.link is not None and self.items[row.link][1] != "done":
                row.written = value
            else:
                row.state, row.new, row.written, row.error = "written", value, value, False

    def fail(self, item: int, state: str) -> None:
        values, _ = self.items[item]
        if state == "parked":
            self.items[item] = (values, "parked")
        for name in values:
            row = self.rows[name]
            self._fold(row)
            row.state, row.error = state, True

    def person_edits(self, name: str) -> None:
        self.crm[name] = ("theirs", "person")
        row = self.rows[name]
        self._fold(row)
        row.state, row.error = "parked", True

    def reads(self, name: str) -> tuple[str, Any, Any, bool]:
        row = self.rows[name]
        if self._through_item(row):
            return "written", row.new, row.new, False
        return row.state, row.new, row.written, row.error


_values = st.fixed_dictionaries({}, optional={name: st.integers(0, 3) for name in FIELDS}).filter(bool)
_steps = st.lists(
    st.one_of(
        st.tuples(st.just("plan"), _values),
        st.tuples(st.sampled_from(["land", "retryable", "parked"]), st.integers(0, 5)),
        st.tuples(st.just("person"), st.sampled_from(FIELDS)),
    ),
    min_size=1,
    max_size=14,
)


def _plan(store: StateStore, record: str, values: dict[str, Any], key: str) -> int:
    with store.transaction():
        store.enqueue_many(
            [NewOutboxItem("salesforce", "field_update", "Lead", record, {"values": values}, key)]
        )
        item = store.outbox_ids([key])[key]
        store.plan_records("salesforce", [("Lead", record, values, {})], [item])
    return item


def _settle(store: StateStore, record: str, item: int, values: dict[str, Any], how: str) -> None:
    with store.transaction():
        if how == "land":
            store.mark_done_many([item])
            store.settle_landed("salesforce", [(item, "Lead", record, values)])
        else:
            if how == "parked":
                store.mark_parked(item, "REJECTED")
            store.settle_many("salesforce", [("Lead", record, list(values), {})], how, how.upper())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=_steps)
def test_every_order_of_plans_landings_failures_and_edits_reads_as_the_model_says(
    store: StateStore, clock: FakeClock, steps: list[tuple[str, Any]]
) -> None:
    record = f"00Q{next(_runs)}"
    model = _Model()
    pending: list[int] = []  # items that may still land or fail, oldest first
    for step, arg in steps:
        clock.advance(seconds=1)
        if step == "plan":
            item = _plan(store, record, arg, f"k{record}:{len(model.items)}")
            model.plan(item, arg)
            pending.append(item)
        elif step == "person":
            if arg not in model.rows:
                continue
            store.settle_many("salesforce", [("Lead", record, [arg], {})], "parked", "changed by a person")
            model.person_edits(arg)
        elif pending:
            item = pending[arg % len(pending)]
            values = model.items[item][0]
            _settle(store, record, item, values, step)
            if step == "land":
                model.land(item)
            else:
                model.fail(item, step)
            if step != "retryable":
                pending.remove(item)
        _check(store, record, model)


def _check(store: StateStore, record: str, model: _Model) -> None:
    bulk = store.ledger_for_records("salesforce", "Lead", [record]).get(record, {})
    assert sorted(bulk) == sorted(model.rows)
    for name, entry in bulk.items():
        state, new, written, error = model.reads(name)
        assert (entry.state, entry.new_value, entry.written_value, entry.last_error is not None) == (
            state,
            new,
            written,
            error,
        ), name
        assert store.ledger_entry("salesforce", "Lead", record, name) == entry
        assert store.ledger_for_record("salesforce", "Lead", record)[name] == entry
        assert entry in store.ledger_in_state("salesforce", entry.state)
        assert (entry.written_at is not None) == (written is not None or entry.state == "written")
        # What leadq put in the CRM is always a value the ledger knows as its own: never a human edit.
        value, who = model.crm.get(name, (None, "nobody"))
        if who == "leadq":
            assert value in (entry.written_value, entry.new_value), (name, value, entry)
            assert not store.was_changed_by_a_person("salesforce", "Lead", record, name, value)


def test_a_landed_item_reads_as_written_through_it_without_touching_the_ledger(
    store: StateStore, clock: FakeClock
) -> None:
    item = _plan(store, "00Qa", {"Score": 80, "Tier": "A"}, "ka")
    planned = store.ledger_for_record("salesforce", "Lead", "00Qa")
    assert {e.state for e in planned.values()} == {"planned"}
    assert store.ledger_in_state("salesforce", "written") == []
    clock.advance(seconds=5)
    with store.transaction():
        store.mark_done_many([item])
        store.settle_landed("salesforce", [(item, "Lead", "00Qa", {"Score": 80, "Tier": "A"})])
    landed = store.ledger_for_record("salesforce", "Lead", "00Qa")
    done_at = store.outbox_item(item).updated_at  # type: ignore[union-attr]
    assert {name: (e.state, e.written_value, e.written_at, e.updated_at) for name, e in landed.items()} == {
        "Score": ("written", 80, done_at, done_at),
        "Tier": ("written", "A", done_at, done_at),
    }
    assert store.ledger_in_state("salesforce", "planned") == []
    assert [e.field for e in store.ledger_in_state("salesforce", "written")] == ["Score", "Tier"]
    # Planned again: the value that landed through the item is kept as the written value.
    clock.advance(seconds=5)
    store.plan_write("salesforce", "Lead", "00Qa", "Score", 80, 95)
    again = store.ledger_entry("salesforce", "Lead", "00Qa", "Score")
    assert again is not None and (again.state, again.new_value, again.written_value) == ("planned", 95, 80)
    assert again.written_at == done_at


@pytest.mark.parametrize("how", ["plan_records", "plan_write"])
def test_both_ways_of_planning_keep_what_landed_through_the_item(
    store: StateStore, clock: FakeClock, how: str
) -> None:
    item = _plan(store, "00Qb", {"Score": 10}, "kb")
    with store.transaction():
        store.mark_done_many([item])
    if how == "plan_records":
        store.plan_records("salesforce", [("Lead", "00Qb", {"Score": 20}, {"Score": 10})])
    else:
        store.plan_write("salesforce", "Lead", "00Qb", "Score", 10, 20)
    entry = store.ledger_entry("salesforce", "Lead", "00Qb", "Score")
    assert isinstance(entry, LedgerEntry)
    assert (entry.state, entry.new_value, entry.written_value) == ("planned", 20, 10)


def test_downgrading_below_the_link_settles_what_read_as_written_through_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'leadq.db'}"
    store = StateStore.open(url, clock=FakeClock())
    landed = _plan(store, "00Qc", {"Score": 7}, "kc")
    _plan(store, "00Qd", {"Score": 8}, "kd")  # never lands: stays planned
    with store.transaction():
        store.mark_done_many([landed])
    done_at = store.outbox_item(landed).updated_at  # type: ignore[union-attr]
    store.close()
    engine = create_engine(url)
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0002")
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT record_id, state, written_value, written_at FROM ledger ORDER BY record_id")
        ).all()
    engine.dispose()
    assert [(r[0], r[1], r[2]) for r in rows] == [("00Qc", "written", "7"), ("00Qd", "planned", None)]
    assert rows[0][3] is not None and rows[0][3].startswith(done_at.strftime("%Y-%m-%d %H:%M:%S"))
