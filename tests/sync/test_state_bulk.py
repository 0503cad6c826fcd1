"""The set-at-a-time store methods store and read back exactly what the one-row methods do, and JSON and
datetime values keep the standard library's meaning through the fast SQLite paths."""

from __future__ import annotations

import enum
import itertools
import json
import math
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import StatementError
from sqlalchemy.types import TypeDecorator

from sync.state import ScoreRecord, StateStore
from sync.state.bulk import NewOutboxItem, SnapshotPut
from sync.state.columns import UTCDateTime, json_text, json_value
from tests.sync.test_state_support import T0, FakeClock

TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=20)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),  # beyond 64 bits too: they must stay integers
    st.floats(allow_nan=False, allow_infinity=False),
    TEXT,
)
KEYS = st.one_of(TEXT, st.integers(min_value=-5, max_value=5), st.booleans(), st.none())
VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=3).map(tuple),
        st.dictionaries(KEYS, children, max_size=4),
    ),
    max_leaves=12,
)
# Values nobody should store in a JSON column: each must be refused as the standard library refuses it.
NOT_JSON = st.sampled_from(
    [
        math.nan,
        math.inf,
        -math.inf,
        datetime(2025, 1, 1, tzinfo=UTC),
        uuid.UUID(int=7),
        {1, 2},
        b"bytes",
        object(),
    ]
)


class Plain(enum.Enum):
    A = "a"


def _same(a: Any, b: Any) -> bool:
    """Equal values of the same types all the way down (1 is not 1.0 is not True)."""
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return (
            isinstance(b, list) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
        )
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return type(a) is type(b) and a == b


def _stdlib(value: Any) -> Any:
    """What the store read back before orjson: the standard library's round trip."""
    return json.loads(json.dumps(value, allow_nan=False))


# ---- the JSON codec -----------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(value=VALUES)
def test_json_text_reads_back_as_the_standard_library_would(value: Any) -> None:
    text = json_text(value)
    assert _same(json_value(text), _stdlib(value))
    assert _same(json.loads(text), _stdlib(value))  # any JSON reader gets the same value


@settings(max_examples=100, deadline=None)
@given(bad=NOT_JSON, where=st.sampled_from(["top", "list", "dict", "deep"]))
def test_json_text_refuses_what_the_standard_library_refuses(bad: Any, where: str) -> None:
    value = {"top": bad, "list": [1, bad], "dict": {"p": bad}, "deep": {"a": [{"b": [bad]}]}}[where]
    with pytest.raises((TypeError, ValueError)) as stdlib:
        json.dumps(value, allow_nan=False)
    with pytest.raises(stdlib.type):
        json_text(value)


def test_json_text_refuses_enums_and_numpy_scalars_the_standard_library_refuses() -> None:
    np = pytest.importorskip("numpy")
    for value in ({"action": Plain.A}, [np.int64(3)], {"p": np.float64("nan")}):
        with pytest.raises((TypeError, ValueError)):
            json.dumps(value, allow_nan=False)
        with pytest.raises((TypeError, ValueError)):
            json_text(value)
    assert json_value(json_text({"p": np.float64(0.25)})) == {"p": 0.25}  # a float subclass, as before


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({1: "a", 2: "b"}, {"1": "a", "2": "b"}),
        ({True: 1, None: 2}, {"true": 1, "null": 2}),
        ([1.0, 1, True, -0.0, 1e16, 5e-324], [1.0, 1, True, -0.0, 1e16, 5e-324]),
        (2**70, 2**70),
        (-(2**70), -(2**70)),
        ({"n": [2**64, 2**63 - 1]}, {"n": [2**64, 2**63 - 1]}),
        (("a", ("b",)), ["a", ["b"]]),
        ("Zoë 😀 \u2028 \x00 \"'\\", "Zoë 😀 \u2028 \x00 \"'\\"),
        ("\ud800", "\ud800"),  # a lone surrogate takes the standard library's escaped form
        ([[[[[]]]]], [[[[[]]]]]),
    ],
)
def test_json_edge_cases_round_trip(value: Any, expected: Any) -> None:
    assert _same(json_value(json_text(value)), expected)


def test_json_value_reads_text_the_standard_library_wrote() -> None:
    # Rows stored before the fast path (", " and ": " separators, escaped non-ASCII) read back the same.
    legacy = {"a": [1, 2.5, None], "ü": "Zoë", "big": 2**80, "t": True}
    assert _same(json_value(json.dumps(legacy)), legacy)
    assert _same(json_value(" [1] "), [1])
    with pytest.raises(json.JSONDecodeError):
        json_value("[1] trailing")
    with pytest.raises(json.JSONDecodeError):
        json_value("")


# ---- the SQLite datetime fast path --------------------------------------------------------------------

ZONES = st.sampled_from([UTC, timezone(timedelta(hours=-5)), timezone(timedelta(minutes=330))])
AWARE = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=ZONES)


@settings(max_examples=300, deadline=None)
@given(value=AWARE)
def test_utc_datetime_fast_path_matches_the_general_one(value: datetime) -> None:
    dialect = sqlite.dialect()
    impl = cast(UTCDateTime, UTCDateTime().dialect_impl(dialect))
    fast_bind, fast_read = impl.bind_processor(dialect), impl.result_processor(dialect, None)
    general_bind = TypeDecorator.bind_processor(impl, dialect)
    general_read = TypeDecorator.result_processor(impl, dialect, None)
    assert fast_bind is not None and fast_read is not None
    assert general_bind is not None and general_read is not None
    text = fast_bind(value)
    assert text == general_bind(value)
    read = fast_read(text)
    assert isinstance(read, datetime) and read == general_read(text) == value and read.tzinfo is UTC
    assert fast_read(None) is None and fast_bind(None) is None
    with pytest.raises(ValueError, match="naive"):
        fast_bind(value.replace(tzinfo=None))


# ---- bulk methods against the one-row methods ---------------------------------------------------------


def _score(lead: str, minutes: int, probability: float | None, contributions: Any) -> ScoreRecord:
    return ScoreRecord(
        crm="salesforce", lead_id=lead, scored_at=T0 + timedelta(minutes=minutes), score=42, tier="B",
        probability=probability, reasons="+ 2 colleagues at Acme", contributions=contributions,
        model_version="m1", policy_version="p1",
    )  # fmt: skip


def test_put_snapshots_matches_put_snapshot(store: StateStore) -> None:
    values = [{"Company": "Acme", "n": 1}, {"n": 1.0, "ok": True, "k": [None, "ü"]}, None, [1, {"2": 2.5}]]
    at = datetime(2025, 2, 1, 9, 30, tzinfo=timezone(timedelta(hours=2)))
    store.put_snapshots(
        "salesforce", "Lead", [SnapshotPut(f"b{i}", v, f"h{i}", at) for i, v in enumerate(values)]
    )
    for i, v in enumerate(values):
        store.put_snapshot("salesforce", "Lead", f"s{i}", v, modified_at=at, digest=f"h{i}")
    bulk = store.get_snapshots("salesforce", "Lead", [f"b{i}" for i in range(4)])
    one = store.get_snapshots("salesforce", "Lead", [f"s{i}" for i in range(4)])
    for i, v in enumerate(values):
        b, o = bulk[f"b{i}"], one[f"s{i}"]
        assert _same(b.values, v) and _same(o.values, v)
        assert (b.content_hash, b.modified_at, b.pulled_at) == (o.content_hash, o.modified_at, o.pulled_at)
        assert b.modified_at == at and b.modified_at.tzinfo is UTC
    # An upsert replaces every value column of the stored row.
    store.put_snapshots("salesforce", "Lead", [SnapshotPut("b0", {"n": 2}, "h9", None)])
    again = store.get_snapshot("salesforce", "Lead", "b0")
    assert again is not None and again.values == {"n": 2} and again.modified_at is None
    assert store.snapshot_hashes("salesforce", "Lead", ["b0", "b1", "nope"]) == {"b0": "h9", "b1": "h1"}
    assert dict(store.iter_snapshot_values("salesforce", "Lead", batch=3))["b3"] == [1, {"2": 2.5}]


def test_equal_values_of_different_types_keep_their_types(store: StateStore) -> None:
    # One column with 1, 1.0 and True (equal in Python): each row keeps its own.
    values: list[Any] = [1, 1.0, True, 1, None, "1", {"1": 1}, [1.0]]
    store.plan_records(
        "salesforce", [("Lead", f"00Q{i}", {"Score__c": v}, {"Score__c": v}) for i, v in enumerate(values)]
    )
    ledger = store.ledger_for_records("salesforce", "Lead", [f"00Q{i}" for i in range(len(values))])
    for i, v in enumerate(values):
        entry = ledger[f"00Q{i}"]["Score__c"]
        assert _same(entry.old_value, v) and _same(entry.new_value, v)
        assert entry.state == "planned" and entry.attempts == 0 and entry.updated_at == T0


def test_plan_settle_and_read_many_records_across_statement_chunks(
    store: StateStore, clock: FakeClock
) -> None:
    ids = [f"00Q{i:05d}" for i in range(5003)]
    store.plan_records("salesforce", [("Lead", r, {"A": i, "B": i}, {}) for i, r in enumerate(ids)])
    clock.advance(minutes=1)
    store.settle_many(
        "salesforce", [("Lead", r, ["A"], {"A": i * 1.5}) for i, r in enumerate(ids)], "written"
    )
    store.settle_many(
        "salesforce", [("Lead", r, ["B"], {}) for r in ids[:10]], "retryable", "UNABLE_TO_LOCK_ROW"
    )
    ledger = store.ledger_for_records("salesforce", "Lead", ids)
    assert len(ledger) == 5003
    last = ledger[ids[-1]]
    assert last["A"].state == "written" and _same(last["A"].written_value, 5002 * 1.5)
    assert _same(last["A"].new_value, 5002 * 1.5) and last["A"].written_at == T0 + timedelta(minutes=1)
    assert last["B"].state == "planned" and last["B"].new_value == 5002
    first = ledger[ids[0]]["B"]
    assert (first.state, first.attempts, first.last_error) == ("retryable", 1, "UNABLE_TO_LOCK_ROW")
    assert first.written_value is None and first.written_at is None
    # Planning again resets the attempt count and keeps what landed.
    store.plan_records("salesforce", [("Lead", ids[0], {"A": 7}, {"A": 0.0})])
    entry = store.ledger_entry("salesforce", "Lead", ids[0], "A")
    assert entry is not None and (entry.state, entry.new_value, entry.written_value) == ("planned", 7, 0.0)


def test_enqueue_many_matches_enqueue_and_keeps_first_payloads(store: StateStore) -> None:
    payload = {"values": {"Score__c": 80, "Tier__c": "A"}, "old": {"Score__c": 1.0}, "model_version": None}
    items = [
        NewOutboxItem("salesforce", "field_update", "Lead", "00Q1", payload, "k1"),
        NewOutboxItem(
            "salesforce", "field_update", "Lead", "00Q1", {"values": {}}, "k1"
        ),  # same key: ignored
        NewOutboxItem("salesforce", "task", "Lead", None, {"n": 2**70}, "k2"),
    ]
    single = store.enqueue("salesforce", "note", "Lead", "00Q9", {"first": True}, "k3")
    added = store.enqueue_many([*items, NewOutboxItem("salesforce", "note", "Lead", "00Q9", {}, "k3")])
    assert added == 2
    got = {item.idempotency_key: item for item in store.outbox_items("pending")}
    assert _same(got["k1"].payload, payload) and _same(got["k2"].payload, {"n": 2**70})
    assert _same(got["k3"].payload, {"first": True}) and got["k3"] == single
    assert got["k2"].record_id is None and got["k1"].created_at == got["k1"].updated_at == T0
    claimed = store.claim_pending_many(10, "salesforce")
    assert [c.idempotency_key for c in claimed] == ["k3", "k1", "k2"]
    assert all(c.state == "sent" and c.attempts == 1 for c in claimed)


def test_claim_pending_many_returns_each_item_as_the_store_now_holds_it(
    store: StateStore, clock: FakeClock
) -> None:
    first = store.enqueue("salesforce", "field_update", "Lead", "00Q1", {"values": {"A": 1}}, "k1")
    store.enqueue("salesforce", "task", "Lead", None, {"subject": "ü", "n": [1, None]}, "k2")
    store.enqueue("hubspot", "field_update", "contact", "7", {"values": {}}, "k3")
    assert [i.id for i in store.claim_pending_many(1, "salesforce")] == [first.id]
    store.mark_failed(first.id, "UNABLE_TO_LOCK_ROW: busy", retryable=True, result={"errors": ["busy"]})
    clock.advance(minutes=5)
    claimed = store.claim_pending_many(10, "salesforce")
    stored = {item.id: item for item in store.outbox_items("sent")}
    assert [c.idempotency_key for c in claimed] == ["k1", "k2"]
    assert claimed == [stored[c.id] for c in claimed]  # every field, the failure's error and result too
    again = claimed[0]
    assert (again.attempts, again.last_error, again.updated_at) == (2, "UNABLE_TO_LOCK_ROW: busy", clock())
    assert again.result == {"errors": ["busy"]} and again.created_at == first.created_at


def test_audit_many_matches_audit(store: StateStore, clock: FakeClock) -> None:
    at = T0 - timedelta(days=1)
    entry: dict[str, Any] = {
        "actor": "leadq", "action": "field_written", "crm": "salesforce", "obj": "Lead", "record_id": "00Q1",
        "field": "Score__c", "old": 1, "new": 1.0, "model_version": "m1", "policy_version": None,
        "detail": {"why": ["ü", None]},
    }  # fmt: skip
    store.audit(**entry)
    store.audit_many([entry, {**entry, "at": at}, {"actor": "reviewer:1", "action": "override"}])
    rows = list(store.audit_export())
    assert [r["at"] for r in rows] == [at, T0, T0, T0]
    one, bulk = (r for r in rows if r["at"] == T0 and r["actor"] == "leadq")
    assert {k: v for k, v in one.items() if k != "id"} == {k: v for k, v in bulk.items() if k != "id"}
    assert _same(bulk["old"], 1) and _same(bulk["new"], 1.0) and bulk["detail"] == {"why": ["ü", None]}
    override = next(r for r in rows if r["actor"] == "reviewer:1")
    assert override["crm"] is None and override["new"] is None and override["detail"] is None


def test_add_scores_bulk_matches_add_scores(store: StateStore) -> None:
    contributions = {"points": {"Title": 0.12, "graph": -0.03}, "values": {"n": 1}, "up": [], "down": [1.0]}
    store.add_scores([_score("00Q1", 0, 0.42, contributions)])
    store.add_scores_bulk([_score("00Q2", 0, 0.42, contributions), _score("00Q2", 5, None, None)])
    one = store.score_history("salesforce", "00Q1")[0]
    bulk = store.score_history("salesforce", "00Q2")
    assert bulk[1] == one.__class__(**{**_fields(one), "lead_id": "00Q2"})
    assert _same(bulk[1].contributions, contributions)
    assert bulk[0].probability is None and bulk[0].contributions is None
    assert store.latest_scores("salesforce", ["00Q1", "00Q2"])["00Q2"] == bulk[0]


def _fields(record: ScoreRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in ScoreRecord.__dataclass_fields__}


# ---- what is refused ----------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_non_finite_probability_is_refused_not_stored_as_null(store: StateStore, bad: float) -> None:
    with pytest.raises(ValueError, match=r"lead 00Q2 .*probability"):
        store.add_scores_bulk([_score("00Q1", 0, 0.5, None), _score("00Q2", 0, bad, None)])
    with pytest.raises(ValueError, match=r"lead 00Q3 .*probability"):
        store.add_scores([_score("00Q3", 0, bad, None)])
    assert store.score_history("salesforce", "00Q1") == [] and store.score_history("salesforce", "00Q3") == []


@pytest.mark.parametrize("bad", [math.nan, math.inf, {"p": [math.nan]}, datetime(2025, 1, 1, tzinfo=UTC)])
def test_non_json_values_are_refused_on_every_path_and_nothing_is_stored(store: StateStore, bad: Any) -> None:
    with pytest.raises((ValueError, TypeError, StatementError)) as caught:
        store.plan_records("salesforce", [("Lead", "00Q1", {"A": 1}, {}), ("Lead", "00Q2", {"A": bad}, {})])
    if store.engine.dialect.name == "sqlite":  # the fast path names the column and the record
        assert "ledger.new_value" in str(caught.value) and "00Q2" in str(caught.value)
    assert store.ledger_for_records("salesforce", "Lead", ["00Q1", "00Q2"]) == {}
    with pytest.raises((ValueError, TypeError, StatementError)):
        store.plan_write("salesforce", "Lead", "00Q3", "A", None, bad)
    with pytest.raises((ValueError, TypeError, StatementError)):
        store.audit_many([{"actor": "leadq", "action": "scored", "new": {"score": bad}}])
    assert list(store.audit_export()) == []


def test_naive_datetimes_are_refused_by_bulk_methods(store: StateStore) -> None:
    naive = datetime(2025, 1, 1)
    with pytest.raises((ValueError, StatementError), match="naive"):
        store.put_snapshots("salesforce", "Lead", [SnapshotPut("00Q1", {}, "h", naive)])
    with pytest.raises((ValueError, StatementError), match="naive"):
        store.audit_many([{"actor": "leadq", "action": "scored", "at": naive}])
    assert store.get_snapshot("salesforce", "Lead", "00Q1") is None and list(store.audit_export()) == []


_counter = itertools.count()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(VALUES, min_size=1, max_size=6))
def test_bulk_json_columns_read_back_as_the_standard_library_would(
    store: StateStore, values: list[Any]
) -> None:
    ids = [f"h{next(_counter)}" for _ in values]
    store.put_snapshots(
        "hubspot", "contacts", [SnapshotPut(r, v, "h", None) for r, v in zip(ids, values, strict=True)]
    )
    got = dict(store.iter_snapshot_values("hubspot", "contacts"))
    for r, v in zip(ids, values, strict=True):
        assert _same(got[r], _stdlib(v))
