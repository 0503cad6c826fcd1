"""Hostile JSON (quotes, emoji, control characters, huge text) round-trips exactly through every JSON column."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync.snapshots import SnapshotSpool
from sync.state import StateStore
from sync.state.bulk import SnapshotPut
from sync.state.columns import EncodedJSON
from tests.sync.test_state_support import BACKENDS, open_store

# Lone surrogates cannot be encoded as UTF-8, so no CRM can hand them to us; everything else is fair game.
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
HOSTILE = st.sampled_from(
    [
        '"',
        "'",
        "\\",
        '\\"',
        "\x00",
        "\x1f",
        "\u2028",
        "\ufeff",
        "😀👩‍👩‍👧",
        "'); DROP TABLE outbox; --",
        "null",
        "{}",
    ]
)
KEYS = st.one_of(TEXT, HOSTILE)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    TEXT,
    HOSTILE,
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(KEYS, children, max_size=4)),
    max_leaves=12,
)


@pytest.fixture(scope="module", params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StateStore]:
    # One store for all examples: opening (and migrating) per example would dominate the run time.
    with open_store(request.param, tmp_path_factory.mktemp("json")) as opened:
        yield opened


def _same(a: Any, b: Any) -> bool:
    # Exact: equal values of the same types all the way down (so 1 never comes back as 1.0 or True).
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return (
            isinstance(b, list) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
        )
    return type(a) is type(b) and a == b


_counter = iter(range(10**9))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=JSON_VALUES)
def test_outbox_payload_round_trips_exactly(store: StateStore, payload: Any) -> None:
    key = f"json:{next(_counter)}"
    item = store.enqueue("hubspot", "note", "contacts", "501", payload, key)
    got = store.outbox_by_key(key)
    assert got is not None and got.id == item.id
    assert _same(got.payload, payload)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(old=JSON_VALUES, new=JSON_VALUES, detail=JSON_VALUES)
def test_ledger_and_audit_values_round_trip_exactly(
    store: StateStore, old: Any, new: Any, detail: Any
) -> None:
    n = next(_counter)
    store.plan_write("hubspot", "contacts", str(n), "leadq_reasons", old, new)
    entry = store.ledger_entry("hubspot", "contacts", str(n), "leadq_reasons")
    assert entry is not None and _same(entry.old_value, old) and _same(entry.new_value, new)
    store.put_snapshot("hubspot", "contacts", str(n), {"v": detail})
    snap = store.get_snapshot("hubspot", "contacts", str(n))
    assert snap is not None and _same(snap.values, {"v": detail})


def test_huge_text_round_trips(store: StateStore) -> None:
    huge = ('lorem ipsum "quoted" 😀 \x01\n' * 40_000) + "end"  # about 1 MB
    store.enqueue("salesforce", "note", "Lead", "00Q1", {"Body": huge}, "huge")
    got = store.outbox_by_key("huge")
    assert got is not None and got.payload == {"Body": huge}
    store.set_cursor("salesforce", "Lead", {"value": huge[:1000]})
    assert store.get_cursor("salesforce", "Lead") == {"value": huge[:1000]}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    values=st.dictionaries(KEYS, JSON_VALUES, max_size=4),
    stamp=st.none()
    | st.datetimes(
        datetime(1900, 1, 1),
        datetime(2200, 1, 1),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5))]),
    ),
)
def test_snapshots_spooled_as_json_text_are_stored_as_their_values(
    store: StateStore, values: Any, stamp: datetime | None
) -> None:
    """The commit hands the store a pulled record as the JSON text the pull spooled, and its stamp as the
    UTC text: they read back as the record itself and its time, as if decoded values had been stored."""
    spool = SnapshotSpool()
    n = str(next(_counter))
    spool.add("contacts", [SnapshotPut(n, values, "digest", stamp)])
    ((obj, batch),) = list(spool.batches())
    assert obj == "contacts" and [type(v) for v in batch.values] == [EncodedJSON]
    store.put_snapshot_batch("hubspot", "contacts", batch)
    snap = store.get_snapshot("hubspot", "contacts", n)
    assert snap is not None and _same(snap.values, values) and snap.content_hash == "digest"
    assert snap.modified_at == stamp and (snap.modified_at is None or snap.modified_at.tzinfo is UTC)
    spool.close()


def test_pulled_stamps_without_a_zone_or_unreadable_are_stored_not_fatal(store: StateStore) -> None:
    """A record whose stamp has no zone is stored at that time in UTC (what the CRMs write); one whose stamp
    does not read is stored without one. Neither stops the commit of the others."""
    spool = SnapshotSpool()
    records = [
        {"Id": "00Qd1", "SystemModstamp": "2024-03-01"},
        {"Id": "00Qd2", "SystemModstamp": "not a time"},
        {"Id": "00Qd3", "SystemModstamp": "2024-03-01T10:15:00.000+0200"},
    ]
    spool.add_pulled("Lead", records, [r["Id"] for r in records], ["a", "b", "c"])
    ((obj, batch),) = list(spool.batches())
    store.put_snapshot_batch("salesforce", obj, batch)
    stored = store.get_snapshots("salesforce", "Lead", ["00Qd1", "00Qd2", "00Qd3"])
    assert {i: s.modified_at for i, s in stored.items()} == {
        "00Qd1": datetime(2024, 3, 1, tzinfo=UTC),
        "00Qd2": None,
        "00Qd3": datetime(2024, 3, 1, 8, 15, tzinfo=UTC),
    }
    spool.close()
