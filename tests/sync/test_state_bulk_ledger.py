"""`ledger_for_records` (driver cursor on SQLite, column-wise reads) gives exactly the entries the one-row
ORM path gives, on every backend; repeated values are read once, but no two entries share a JSON object."""

from __future__ import annotations

import itertools
import json
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sync.state import LedgerEntry, StateStore
from tests.sync.test_state_bulk import SCALARS, VALUES, _same
from tests.sync.test_state_support import FakeClock

_counter = itertools.count()


def _same_entry(a: LedgerEntry, b: LedgerEntry) -> bool:
    return all(_same(x, y) for x, y in zip(a, b, strict=True)) and a._fields == b._fields


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    values=st.lists(st.one_of(VALUES, SCALARS), min_size=1, max_size=8),
    repeat=st.integers(1, 4),
    settle=st.sampled_from(["written", "retryable", None]),
)
def test_bulk_ledger_read_matches_the_one_row_read(
    store: StateStore, clock: FakeClock, values: list[Any], repeat: int, settle: str | None
) -> None:
    run = next(_counter)
    ids = [f"00Q{run}x{i}" for i in range(len(values) * repeat)]
    planned = [
        (
            "Lead",
            r,
            dict.fromkeys("AB", values[-1 - i % len(values)]),
            dict.fromkeys("AB", values[i % len(values)]),
        )
        for i, r in enumerate(ids)
    ]
    store.plan_records("salesforce", planned)
    clock.advance(seconds=1)
    if settle == "written":
        landed = {"A": values[0]}
        store.settle_many("salesforce", [("Lead", r, ["A"], landed) for r in ids[::2]], "written")
    elif settle:
        store.settle_many("salesforce", [("Lead", r, ["B"], {}) for r in ids[1::2]], settle, "LOCKED")
    got = store.ledger_for_records("salesforce", "Lead", [*ids, "00Qmissing", ids[0]])
    assert sorted(got) == sorted(ids)
    for r in ids:
        assert sorted(got[r]) == ["A", "B"]
        for field, entry in got[r].items():
            one = store.ledger_entry("salesforce", "Lead", r, field)
            assert one is not None and _same_entry(entry, one)
    # A JSON object or array read for one entry is that entry's own: changing it changes no other.
    olds = [got[r]["A"].old_value for r in ids]
    shared = [v for v in olds if isinstance(v, dict | list)]
    assert len({id(v) for v in shared}) == len(shared)


def test_ledger_entries_are_immutable_and_read_by_name(store: StateStore, clock: FakeClock) -> None:
    store.plan_records("salesforce", [("Lead", "00Q1", {"Score__c": 2**70}, {})])
    entry = store.ledger_for_records("salesforce", "Lead", ["00Q1"])["00Q1"]["Score__c"]
    assert (entry.record_id, entry.field, entry.state, entry.new_value) == (
        "00Q1",
        "Score__c",
        "planned",
        2**70,
    )
    assert entry.updated_at == clock.current and entry.written_at is None
    with pytest.raises(AttributeError):
        entry.state = "written"  # type: ignore[misc]


def test_ledger_read_over_many_chunks_keeps_each_records_fields(store: StateStore, clock: FakeClock) -> None:
    ids = [f"00Q{i:05d}" for i in range(1203)]  # three IN chunks of different lengths
    store.plan_records(
        "salesforce", [("Lead", r, {"Tier__c": i % 3}, {"Tier__c": "A"}) for i, r in enumerate(ids)]
    )
    clock.advance(minutes=1)
    store.settle_many(
        "salesforce", [("Lead", r, ["Tier__c"], {"Tier__c": 1.0}) for r in ids[:700]], "written"
    )
    got = store.ledger_for_records("salesforce", "Lead", reversed(ids))
    assert len(got) == 1203
    assert [got[r]["Tier__c"].new_value for r in ids[:3]] == [1.0, 1.0, 1.0]
    assert all(type(got[r]["Tier__c"].new_value) is float for r in ids[:700])
    assert [got[r]["Tier__c"].new_value for r in ids[700:703]] == [700 % 3, 701 % 3, 702 % 3]
    assert all(type(got[r]["Tier__c"].new_value) is int for r in ids[700:])
    assert got[ids[0]]["Tier__c"].written_at == clock.current
    assert got[ids[-1]]["Tier__c"].updated_at == clock.current - timedelta(minutes=1)


FIELD_NAMES = st.text(alphabet='ab.$"\\ [é]', min_size=1, max_size=6)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    records=st.lists(st.dictionaries(FIELD_NAMES, VALUES, min_size=1, max_size=4), min_size=1, max_size=6),
    missing=st.booleans(),
)
@example(
    records=[{"score": 1.0, "n": 1, "ok": True, "nul": "\x00", "odd": "\ud800"}, {"a.b": [1, {"c": None}]}],
    missing=True,
)
def test_a_landed_write_keeps_each_fields_own_value_whatever_its_name_or_type(
    store: StateStore, clock: FakeClock, records: list[dict[str, Any]], missing: bool
) -> None:
    # Many records with different fields settle in one call: each field gets its own landed value (of any
    # JSON type, whatever the field's name), the fields not named keep their plan.
    run = next(_counter)
    ids = [f"00Q{run}w{i}" for i in range(len(records))]
    planned = [
        (
            "Lead",
            r,
            dict.fromkeys([*fields, "untouched"], "planned"),
            dict.fromkeys([*fields, "untouched"], "before"),
        )
        for r, fields in zip(ids, records, strict=True)
    ]
    store.plan_records("salesforce", planned)
    clock.advance(seconds=5)
    landed = [
        # A field the connector confirmed without a value lands as null, as it always has.
        (
            "Lead",
            r,
            list(fields),
            {k: v for n, (k, v) in enumerate(fields.items()) if not (missing and n == 0)},
        )
        for r, fields in zip(ids, records, strict=True)
    ]
    store.settle_many("salesforce", landed, "written")
    for r, fields in zip(ids, records, strict=True):
        got = store.ledger_for_record("salesforce", "Lead", r)
        for n, (name, value) in enumerate(fields.items()):
            expected = None if missing and n == 0 else json.loads(json.dumps(value))
            entry = got[name]
            assert entry.state == "written" and entry.last_error is None
            assert _same(entry.written_value, expected) and _same(entry.new_value, expected)
            assert entry.written_at == clock() and entry.old_value == "before"
        assert got["untouched"].state == "planned" and got["untouched"].written_at is None
        assert got["untouched"].new_value == "planned"


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    records=st.lists(
        st.tuples(
            st.sampled_from(["Lead", "Contact"]),
            st.dictionaries(st.sampled_from(["A", "B", "C", "D"]), st.one_of(VALUES, SCALARS), max_size=4),
            st.dictionaries(st.sampled_from(["A", "B", "C", "E"]), st.one_of(VALUES, SCALARS), max_size=4),
        ),
        min_size=1,
        max_size=6,
    ),
    before=st.sampled_from([None, "written", "retryable"]),
)
def test_planning_whole_records_plans_what_planning_one_field_at_a_time_does(
    store: StateStore,
    clock: FakeClock,
    records: list[tuple[str, dict[str, Any], dict[str, Any]]],
    before: str | None,
) -> None:
    """`plan_records` (the cycle's commit) and the one-row `plan_write` of the same fields leave the same
    ledger: each field of the new values, its old value the old values' entry or None (an old value of a
    field not planned is not planned); over an earlier plan, attempts and error are reset and what landed
    is kept."""
    run = next(_counter)
    by_records = [(obj, f"00Q{run}r{n}", new, old) for n, (obj, new, old) in enumerate(records)]
    by_fields = [(obj, f"00Q{run}f{n}", new, old) for n, (obj, new, old) in enumerate(records)]
    if before is not None:
        for obj, r, new, _ in [*by_records, *by_fields]:
            for f in new:
                store.plan_write("salesforce", obj, r, f, None, "earlier")
                store.settle_fields("salesforce", obj, r, [f], before, "LOCKED", values={f: "landed"})
        clock.advance(seconds=1)
    store.plan_records("salesforce", by_records)
    for obj, r, new, old in by_fields:
        for f, v in new.items():
            store.plan_write("salesforce", obj, r, f, old.get(f), v)
    for (obj, mine, new, _), (_, theirs, _, _) in zip(by_records, by_fields, strict=True):
        got = store.ledger_for_records("salesforce", obj, [mine]).get(mine, {})
        want = store.ledger_for_records("salesforce", obj, [theirs]).get(theirs, {})
        assert sorted(got) == sorted(want) == sorted(new)
        for field, entry in got.items():
            assert _same_entry(entry._replace(record_id=theirs), want[field])
            assert (entry.state, entry.attempts, entry.last_error) == ("planned", 0, None)
            assert entry.written_value == ("landed" if before == "written" else None)
