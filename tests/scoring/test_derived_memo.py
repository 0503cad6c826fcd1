"""What readers derive from the graph and the activity index is kept while they stand still (a cycle reads
its people a chunk at a time): features, engagement and aggregates read between changes, chunk by chunk,
are those of a graph or index built afresh and read once."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mappings import Account, Activity, CanonicalRecord, Lead
from scoring.activity import ActivityIndex
from scoring.graph import AccountGraph
from scoring.graph_features import graph_features
from scoring.matching import AccountMatcher
from tests.scoring.graph_streams import NOW, SF, activities, batches, feed


def _people(stream: list[list[CanonicalRecord]]) -> list[Lead]:
    latest = {r.id: r for batch in stream for r in batch if isinstance(r, Lead) and not r.deleted}
    return list(latest.values())


def _frames(graph: AccountGraph, people: list[Lead], now_days: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    values, context = graph_features(graph, people, now=NOW - timedelta(days=now_days))
    return values, context


@settings(max_examples=60, deadline=None)
@given(stream=batches, split=st.integers(0, 5), nows=st.lists(st.sampled_from([0, 0, 45]), min_size=1))
def test_graph_features_read_between_changes_and_by_chunks_are_those_of_a_fresh_graph(
    stream: list[list[CanonicalRecord]], split: int, nows: list[int]
) -> None:
    read = AccountGraph()
    for n, batch in enumerate(stream):
        feed(read, batch)
        people = _people(stream[: n + 1])
        fresh = AccountGraph()
        for earlier in stream[: n + 1]:
            feed(fresh, earlier)
        for now_days in nows:  # another moment is another memo; coming back to one reads it again
            want_values, want_context = _frames(fresh, people, now_days)
            parts = [_frames(read, people[:split], now_days), _frames(read, people[split:], now_days)]
            got_values = pd.concat([p[0] for p in parts])
            got_context = pd.concat([p[1] for p in parts])
            pd.testing.assert_frame_equal(got_values, want_values, check_exact=True)
            pd.testing.assert_frame_equal(got_context, want_context, check_exact=True)
            whole = _frames(read, people, now_days)
            pd.testing.assert_frame_equal(whole[0], want_values, check_exact=True)


def test_an_account_that_becomes_a_customer_is_seen_by_the_next_chunk() -> None:
    graph = AccountGraph()
    lead_a, lead_b = Lead(crm=SF, id="00QA", account_id="001A"), Lead(crm=SF, id="00QB", account_id="001A")
    graph.update(accounts=[Account(crm=SF, id="001A", name="Acme")], leads=[lead_a, lead_b])
    first, _ = graph_features(graph, [lead_a], now=NOW)
    assert first["account_is_customer"].tolist() == [0.0]
    assert first["colleagues_engaged_30d"].tolist() == [0.0]
    graph.update(
        accounts=[Account(crm=SF, id="001A", name="Acme", is_customer=True)],
        activities=[Activity(crm=SF, id="00TA", who_id="00QB", kind="call", at=NOW - timedelta(days=2))],
    )
    second, _ = graph_features(graph, [lead_a], now=NOW)
    assert second["account_is_customer"].tolist() == [1.0]
    assert second["colleagues_engaged_30d"].tolist() == [1.0]
    # Activity fed to the index directly (not through the graph) is seen too.
    graph.activities.update(
        [
            Activity(
                crm=SF, id="00TB", who_id="00QA", account_id="001A", kind="call", at=NOW - timedelta(days=1)
            )
        ]
    )
    third, _ = graph_features(graph, [lead_b], now=NOW)
    assert third["account_days_since_engagement"].tolist() == [1.0]


def _aggregate(index: ActivityIndex, ids: list[str], now_days: int) -> pd.DataFrame:
    return index.aggregate(SF, ids, now=NOW - timedelta(days=now_days))


_IDS = st.lists(st.sampled_from(["00QA", "00QB", "00QC", "003A", "003B", "nobody"]), max_size=7)


@settings(max_examples=150, deadline=None)
@given(
    stream=st.lists(st.lists(activities(), max_size=10), min_size=1, max_size=5),
    asked=st.lists(_IDS, min_size=1, max_size=3),
    now_days=st.sampled_from([0, 30]),
)
def test_aggregates_and_engagement_read_between_updates_are_those_of_a_fresh_index(
    stream: list[list[Activity]], asked: list[list[str]], now_days: int
) -> None:
    read = ActivityIndex()
    for n, batch in enumerate(stream):
        read.update(batch)
        fresh = ActivityIndex()
        for earlier in stream[: n + 1]:
            fresh.update(earlier)
        now = NOW - timedelta(days=now_days)
        for got, want in zip(read.last_engaged(now), fresh.last_engaged(now), strict=True):
            np.testing.assert_array_equal(got, want)
        for ids in asked:
            # A chunk's rows, found through the person order, are the rows a pass over all selects.
            slots = read._slots(SF, ids)
            picked, positions = read._rows_of(SF, ids)
            np.testing.assert_array_equal(picked, np.flatnonzero(slots >= 0))
            np.testing.assert_array_equal(positions, slots[slots >= 0])
            distinct = list(dict.fromkeys(ids))
            want_frame = _aggregate(fresh, distinct, now_days)
            got_frame = _aggregate(read, ids, now_days)
            # An id asked twice has its rows at its last position; earlier ones read as no activity.
            for position, person in enumerate(ids):
                row = got_frame.iloc[position]
                if position == len(ids) - 1 - ids[::-1].index(person):
                    pd.testing.assert_series_equal(
                        row, want_frame.iloc[distinct.index(person)], check_exact=True, check_names=False
                    )
                else:
                    assert row.drop("days_since_last_activity").eq(0).all()
                    assert np.isnan(row["days_since_last_activity"])


def test_the_engagement_arrays_handed_out_cannot_be_changed() -> None:
    index = ActivityIndex()
    index.update([Activity(crm=SF, id="00TA", who_id="00QA", kind="email", at=NOW)])
    person_last, _ = index.last_engaged(NOW)
    with pytest.raises(ValueError, match="read-only"):
        person_last[0] = 0.0
    assert index.last_engaged(NOW)[0] is person_last  # kept while the index stands still
    index.update([Activity(crm=SF, id="00TB", who_id="00QA", kind="email", at=NOW)])
    assert index.last_engaged(NOW)[0] is not person_last


def test_fuzzy_matching_sees_the_accounts_added_and_removed_since_it_last_ran() -> None:
    matcher = AccountMatcher(
        [
            Account(crm=SF, id="001A", name="Acme Logistics Partners"),
            Account(crm=SF, id="001R", name="Robotic Labs"),
        ]
    )
    typo = Lead(crm=SF, id="00QA", company="Acme Robotcs")
    # Compared with the "acme" block (as rare as "robo", and first), where nothing is close enough.
    assert matcher.match(typo).account_id is None
    matcher.upsert(Account(crm=SF, id="001B", name="Acme Robotics"))
    found = matcher.match(typo)
    assert (found.account_id, found.method) == ("001B", "fuzzy")
    matcher.remove("001B")
    assert matcher.match(typo).account_id is None


def test_what_readers_derive_is_kept_until_a_change_another_key_or_forgetting() -> None:
    graph = AccountGraph()
    graph.memo("facts")["001A"] = 1
    assert graph.memo("facts") == {"001A": 1}  # kept while nothing changes
    graph.memo("other")
    assert graph.memo("facts") == {}  # one key at a time
    graph.memo("facts")["001A"] = 1
    graph.update(accounts=[Account(crm=SF, id="001A", name="Acme")])
    assert graph.memo("facts") == {}  # a change
    graph.memo("facts")["001A"] = 1
    graph.activities.update([Activity(crm=SF, id="00TA", who_id="00QA", kind="email", at=NOW)])
    assert graph.memo("facts") == {}  # a change of the activities alone
    graph.memo("facts")["001A"] = 1
    engaged = graph.activities.last_engaged(NOW)[0]
    lead = Lead(crm=SF, id="00QA", account_id="001A")
    before = graph_features(graph, [lead], now=NOW)
    graph.forget_derived()
    assert graph.memo("facts") == {}
    assert graph.activities.last_engaged(NOW)[0] is not engaged
    after = graph_features(graph, [lead], now=NOW)
    pd.testing.assert_frame_equal(after[0], before[0], check_exact=True)
