"""Feeding the world: the people it flags for re-scoring and the graph it builds, whatever the batches."""

from __future__ import annotations

import copy
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from mappings import Account, CanonicalRecord, Contact, Lead
from sync.world import World
from tests.scoring.graph_oracle import NetworkxGraph
from tests.scoring.graph_streams import SF, batches, graph_state


@settings(max_examples=200, deadline=None)
@given(batches)
def test_world_flags_and_builds_what_the_networkx_graph_does(stream: list[list[CanonicalRecord]]) -> None:
    fast, reference = World(SF), World(SF)
    reference.graph = NetworkxGraph()  # type: ignore[assignment]  # the same public behaviour
    for batch in stream:
        applied, expected = fast.apply(batch), reference.apply(batch)
        assert (applied.rescore, applied.accounts) == (expected.rescore, expected.accounts)
    assert graph_state(fast.graph) == graph_state(reference.graph)
    assert fast.people == reference.people


@settings(max_examples=200, deadline=None)
@given(batches)
def test_people_of_changed_accounts_looked_up_once_at_the_end_are_those_looked_up_after_each_batch(
    stream: list[list[CanonicalRecord]],
) -> None:
    # A pull asks for the people of the accounts its pages changed once, after the last page; they used to
    # be looked up after each page, with the graph as it stood then.
    deferred, eager = World(SF), World(SF)
    rescore: set[str] = set()
    accounts: set[str] = set()
    flagged: set[str] = set()
    for batch in stream:
        applied = deferred.apply(batch)
        rescore |= applied.rescore
        accounts |= applied.accounts
        now = eager.apply(batch)
        flagged |= now.rescore | eager.people_at(now.accounts)
    assert {i for i in rescore if i in deferred.people} | deferred.people_at(accounts) == {
        i for i in flagged if i in eager.people
    }


def test_rescore_names_only_known_people_of_the_worlds_crm() -> None:
    world = World(SF)
    stream: list[CanonicalRecord] = [
        Account(crm=SF, id="001A", name="Acme", website="acme.com"),
        Lead(crm=SF, id="00Q1", email="ann@acme.com"),
        Lead(crm="hubspot", id="7", email="bo@acme.com"),
    ]
    assert world.apply(stream).rescore == {"00Q1"}
    assert world.apply([Lead(crm=SF, id="00Q1", deleted=True)]).rescore == set()


_TEXT = st.sampled_from(["005A", "005B", "Acme", "acme.com", "VP Sales", "Banking", ""]).map(
    lambda s: "".join(list(s))  # a fresh string object each time, as the JSON decoder makes them
)
_WRITEBACK = st.dictionaries(st.sampled_from(["score", "tier", "reasons"]), st.none() | st.integers(0, 100))


@st.composite
def _people(draw: st.DrawFn) -> list[Lead]:
    people = []
    for n in range(draw(st.integers(1, 8))):
        wb = draw(_WRITEBACK)
        raw: dict[str, object] = draw(st.sampled_from([dict(wb), dict.fromkeys(wb), {}]))
        cls = draw(st.sampled_from([Lead, Contact]))
        people.append(
            cls(
                crm=SF, id=f"p{n}", owner_id=draw(st.none() | _TEXT), account_id=draw(st.none() | _TEXT),
                domain=draw(_TEXT), title=draw(_TEXT), company=draw(_TEXT),
                fields={"industry": draw(_TEXT), "employees": draw(st.none() | st.floats(0, 10)), "x": True},
                writeback=wb, writeback_raw=raw,
            )
        )  # fmt: skip
    return people


@settings(max_examples=200, deadline=None)
@given(_people(), st.booleans())
def test_the_world_keeps_every_person_equal_to_what_was_pulled(people: list[Lead], echo: bool) -> None:
    pulled = copy.deepcopy(people)
    pulled_by_id = {p.id: p for p in pulled}
    world = World(SF)
    if echo:
        world.apply([replace(p, title="before") for p in people])
        world.refresh(people)
    else:
        world.apply(people)
    for original in pulled:
        kept = world.people[original.id]
        assert kept == original
        assert type(kept) is type(original)
        assert dict(kept.fields) == dict(original.fields)
        assert dict(kept.writeback) == dict(original.writeback)
        assert dict(kept.writeback_raw) == dict(original.writeback_raw)
    for a in world.people.values():
        assert list(a.writeback) == list(pulled_by_id[a.id].writeback)
        assert list(a.writeback_raw) == list(pulled_by_id[a.id].writeback_raw)


def test_written_values_keep_their_own_mappings() -> None:
    world = World(SF)
    scored = Lead(crm=SF, id="00Q1", writeback={"score": 71, "tier": None}, writeback_raw={"score": "71"})
    fresh = Lead(crm=SF, id="00Q2", writeback={"score": None}, writeback_raw={"score": None})
    world.apply([scored, fresh])
    assert world.people["00Q1"].writeback is scored.writeback
    assert world.people["00Q1"].writeback_raw is scored.writeback_raw
    assert world.people["00Q2"].writeback == {"score": None}


def test_refreshed_echoes_replace_what_the_graph_kept_and_match_the_same() -> None:
    world = World(SF)
    account = Account(crm=SF, id="001A", name="Acme", website="acme.com")
    first = Lead(crm=SF, id="00Q1", email="ann@acme.com", company="Acme", writeback={"score": None})
    moved = Lead(crm=SF, id="00Q2", email="bo@acme.com", company="Acme")
    world.apply([account, first, moved])
    before = world.graph.matches_of([first, moved])
    echo = replace(first, writeback={"score": 71})
    renamed = replace(moved, company="Globex")  # not an echo: the graph must keep what it matched on
    world.refresh([echo, renamed])
    # The graph holds the new record, not the one it was fed (else both stay alive).
    assert world.graph._unlinked[("lead", SF, "00Q1")] is echo
    assert world.graph._unlinked[("lead", SF, "00Q2")] is moved
    assert world.graph.matches_of([echo, moved]) == before
    assert world.people["00Q1"] is echo
