"""Feeding the world: the people it flags for re-scoring and the graph it builds, whatever the batches."""

from __future__ import annotations

from hypothesis import given, settings

from mappings import Account, CanonicalRecord, Lead
from sync.world import World
from tests.scoring.graph_streams import SF, NetworkxGraph, batches, graph_state


@settings(max_examples=200, deadline=None)
@given(batches)
def test_world_flags_and_builds_what_the_networkx_graph_does(stream: list[list[CanonicalRecord]]) -> None:
    fast, reference = World(SF), World(SF)
    reference.graph = NetworkxGraph()
    for batch in stream:
        assert fast.apply(batch).rescore == reference.apply(batch).rescore
    assert graph_state(fast.graph) == graph_state(reference.graph)
    assert fast.people == reference.people


def test_rescore_names_only_known_people_of_the_worlds_crm() -> None:
    world = World(SF)
    stream: list[CanonicalRecord] = [
        Account(crm=SF, id="001A", name="Acme", website="acme.com"),
        Lead(crm=SF, id="00Q1", email="ann@acme.com"),
        Lead(crm="hubspot", id="7", email="bo@acme.com"),
    ]
    assert world.apply(stream).rescore == {"00Q1"}
    assert world.apply([Lead(crm=SF, id="00Q1", deleted=True)]).rescore == set()
