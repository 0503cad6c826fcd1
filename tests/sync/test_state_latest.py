"""Reads of many records at once: `latest_scores` gives each lead's newest history entry, as reading the whole
history and keeping the last row in (scored_at, id) order did; `snapshot_hashes` answers per record."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import cast

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Table, select

from sync.state import ScoreRecord, StateStore
from sync.state.bulk import SnapshotPut
from sync.state.models import ScoreRow
from tests.sync.test_state_support import T0

_batches = itertools.count()

# (lead, minutes after T0, score, crm): few leads and few times, so that ties on scored_at are common.
ENTRY = st.tuples(
    st.integers(0, 4), st.integers(0, 3), st.integers(0, 100), st.sampled_from(["salesforce", "hubspot"])
)


def _every_row_last_wins(store: StateStore, crm: str, lead_ids: list[str]) -> dict[str, ScoreRecord]:
    """The definition `latest_scores` had: every row of the leads in (lead, scored_at, id) order, the last
    of each lead kept."""
    table = cast(Table, ScoreRow.__table__)
    columns = [table.c[name] for name in ScoreRecord.__dataclass_fields__]
    query = (
        select(*columns)
        .where(table.c.crm == crm, table.c.lead_id.in_(lead_ids))
        .order_by(table.c.lead_id, table.c.scored_at, table.c.id)
    )
    out: dict[str, ScoreRecord] = {}
    with store.session() as s:
        for row in s.connection().execute(query).all():
            record = ScoreRecord(*row)
            out[record.lead_id] = record
    return out


def _score(crm: str, lead_id: str, minutes: int, score: int) -> ScoreRecord:
    return ScoreRecord(
        crm, lead_id, T0 + timedelta(minutes=minutes), score, "B", score / 100, f"r{score}",
        {"points": {"x": score / 7}, "values": {"n": score}}, f"m{score}", None,
    )  # fmt: skip


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    batches=st.lists(st.lists(ENTRY, max_size=8), min_size=1, max_size=4), asked=st.lists(st.integers(0, 6))
)
def test_latest_scores_equals_the_last_row_of_the_whole_history(
    store: StateStore, batches: list[list[tuple[int, int, int, str]]], asked: list[int]
) -> None:
    prefix = f"b{next(_batches)}-"  # the store outlives one example: each example has its own leads
    for batch in batches:  # several inserts: ids grow across batches while scored_at may go back
        store.add_scores_bulk([_score(crm, f"{prefix}{lead}", at, score) for lead, at, score, crm in batch])
    # Asked ids repeat and include leads never scored (5, 6).
    lead_ids = [f"{prefix}{lead}" for lead in asked]
    for crm in ("salesforce", "hubspot"):
        got = store.latest_scores(crm, lead_ids)
        want = _every_row_last_wins(store, crm, lead_ids)
        assert list(got.items()) == list(want.items())


def test_a_tie_on_scored_at_goes_to_the_entry_stored_last(store: StateStore) -> None:
    store.add_scores_bulk([_score("salesforce", "00Q1", 5, 10), _score("salesforce", "00Q1", 5, 20)])
    store.add_scores_bulk([_score("salesforce", "00Q1", 1, 99), _score("salesforce", "00Q2", 0, 7)])
    store.add_scores_bulk([_score("salesforce", "00Q1", 5, 30), _score("hubspot", "00Q1", 9, 1)])
    latest = store.latest_scores("salesforce", ["00Q2", "00Q1", "00Q3"])
    assert [r.lead_id for r in latest.values()] == ["00Q1", "00Q2"]
    assert latest["00Q1"].score == 30 and latest["00Q1"].contributions == {
        "points": {"x": 30 / 7},
        "values": {"n": 30},
    }
    assert latest["00Q2"].score == 7


def test_latest_scores_reads_more_leads_than_one_statement_binds(store: StateStore) -> None:
    store.add_scores_bulk([_score("hubspot", str(i), i % 3, i % 101) for i in range(1200)])
    store.add_scores_bulk([_score("hubspot", str(i), 0, 100) for i in range(0, 1200, 2)])
    latest = store.latest_scores("hubspot", [str(i) for i in range(1300)])
    assert len(latest) == 1200
    # Even leads scored at T0 (i % 3 == 0) tie with their second entry, which is stored later and wins.
    assert latest["0"].score == 100 and latest["3"].score == 3 and latest["6"].score == 100
    assert latest["2"].score == 2 and latest["1199"].score == 1199 % 101


def test_snapshot_hashes_of_more_records_than_one_statement_binds(store: StateStore) -> None:
    puts = [SnapshotPut(f"r{i}", {"i": i}, f"h{i}", None) for i in range(1200)]
    store.put_snapshots("salesforce", "Lead", puts)
    store.put_snapshots("salesforce", "Contact", [SnapshotPut("r1", {}, "contact", None)])
    store.put_snapshots("hubspot", "Lead", [SnapshotPut("r2", {}, "hubspot", None)])
    asked = [f"r{i}" for i in range(1300)] + ["r5", "r1"]  # unknown and repeated ids too
    hashes = store.snapshot_hashes("salesforce", "Lead", asked)
    assert hashes == {f"r{i}": f"h{i}" for i in range(1200)}
    assert store.snapshot_hashes("salesforce", "Contact", asked) == {"r1": "contact"}
    assert store.snapshot_hashes("hubspot", "Lead", []) == {}


def test_snapshot_hashes_of_an_object_never_stored_and_of_one_stored_inside_the_transaction(
    store: StateStore,
) -> None:
    store.put_snapshots("salesforce", "Lead", [SnapshotPut("r1", {}, "lead", None)])
    store.put_snapshots("hubspot", "Account", [SnapshotPut("r1", {}, "hubspot", None)])
    # Neither another object of the CRM nor the object in another CRM counts.
    assert store.snapshot_hashes("salesforce", "Account", ["r1", "r2"]) == {}
    with store.transaction():
        store.put_snapshots("salesforce", "Account", [SnapshotPut("r2", {}, "account", None)])
        assert store.snapshot_hashes("salesforce", "Account", ["r1", "r2"]) == {"r2": "account"}
    assert store.snapshot_hashes("salesforce", "Account", ["r2"]) == {"r2": "account"}
    store.drop_snapshots("salesforce", "Account", ["r2"])
    assert store.snapshot_hashes("salesforce", "Account", ["r2"]) == {}
