"""The account graph writes networkx's dicts directly: the same graph and the same people to re-score as
changing it through networkx's methods, over random streams of updates, moves and deletions."""

from __future__ import annotations

from hypothesis import given, settings

from mappings import Account, CanonicalRecord, Lead
from scoring.graph import AccountGraph
from scoring.matching import lead_match_keys
from tests.scoring.graph_streams import SF, NetworkxGraph, batches, feed, graph_state


@settings(max_examples=300, deadline=None)
@given(batches)
def test_direct_writes_build_the_graph_networkx_methods_build(stream: list[list[CanonicalRecord]]) -> None:
    fast, reference = AccountGraph(), NetworkxGraph()
    for batch in stream:
        assert feed(fast, batch) == feed(reference, batch)
        assert graph_state(fast) == graph_state(reference)
    people = [r for batch in stream for r in batch if isinstance(r, Lead)]
    assert fast.matches_of(people) == reference.matches_of(people)
    for account_id in ("001A", "001B", "001C", "001D"):
        assert fast.members(SF, account_id) == reference.members(SF, account_id)
        assert fast.account_info(SF, account_id) == reference.account_info(SF, account_id)
        assert fast.children(SF, account_id) == reference.children(SF, account_id)
        assert fast.opportunities(SF, account_id) == reference.opportunities(SF, account_id)


def test_a_removed_edge_leaves_no_empty_adjacency_behind() -> None:
    graph = AccountGraph()
    lead = Lead(crm=SF, id="00Q1", email="a@acme.com")
    graph.update(accounts=[Account(crm=SF, id="001A", name="Acme", website="acme.com")], leads=[lead])
    graph.update(accounts=[Account(crm=SF, id="001A", name="Acme", deleted=True)])
    g = graph.graph
    # networkx itself sees the graph consistently: no edges, successors or predecessors left over.
    assert g.number_of_edges(("lead", SF, "00Q1"), ("account", SF, "001A")) == 0
    assert ("account", SF, "001A") not in g
    assert list(g.successors(("lead", SF, "00Q1"))) == []


def test_lead_match_keys_are_the_same_when_read_again() -> None:
    lead = Lead(
        crm=SF, id="00Q1", email="Ann <ann@Mail.Acme.co.uk>", domain="www.initech.com", company="Acme"
    )
    first = lead_match_keys(lead)
    assert first == (("acme.co.uk", "initech.com"), ("acme",))
    assert lead_match_keys(lead) == first
