"""The compact account graph (one slotted object a node) against its definition, the networkx graph of
`graph_oracle`: the same edges, the same people to re-score and the same answers, over random streams of
updates, moves and deletions."""

from __future__ import annotations

from hypothesis import given, settings

from mappings import Account, CanonicalRecord, Contact, Lead
from scoring.graph import AccountGraph
from scoring.matching import lead_match_keys
from tests.scoring.graph_oracle import NetworkxGraph
from tests.scoring.graph_streams import SF, batches, feed, graph_state

ACCOUNTS = ("001A", "001B", "001C", "001D")


@settings(max_examples=300, deadline=None)
@given(batches)
def test_the_compact_graph_is_the_networkx_graph(stream: list[list[CanonicalRecord]]) -> None:
    compact, reference = AccountGraph(), NetworkxGraph()
    for batch in stream:
        assert feed(compact, batch) == feed(reference, batch)
        assert graph_state(compact) == graph_state(reference)
        for account_id in ACCOUNTS:
            assert compact.members(SF, account_id) == reference.members(SF, account_id)  # in joining order
            assert compact.account_info(SF, account_id) == reference.account_info(SF, account_id)
            assert compact.children(SF, account_id) == reference.children(SF, account_id)
            assert compact.opportunities(SF, account_id) == reference.opportunities(SF, account_id)
    people = [r for batch in stream for r in batch if isinstance(r, Lead)]
    assert compact.matches_of(people) == reference.matches_of(people)


def test_a_deleted_placeholder_leaves_nothing_behind() -> None:
    graph = AccountGraph()
    lead = Lead(crm=SF, id="00Q1", email="a@acme.com")
    graph.update(accounts=[Account(crm=SF, id="001A", name="Acme", website="acme.com")], leads=[lead])
    assert graph.members(SF, "001A") == [("lead", SF, "00Q1")]
    graph.update(accounts=[Account(crm=SF, id="001A", name="Acme", deleted=True)])
    g = graph.graph
    assert g.number_of_edges(("lead", SF, "00Q1"), ("account", SF, "001A")) == 0
    assert ("account", SF, "001A") not in g
    assert graph.account_info(SF, "001A") is None
    assert list(g.successors(("lead", SF, "00Q1"))) == []


def test_lead_match_keys_are_the_same_when_read_again() -> None:
    lead = Lead(
        crm=SF, id="00Q1", email="Ann <ann@Mail.Acme.co.uk>", domain="www.initech.com", company="Acme"
    )
    first = lead_match_keys(lead)
    assert first == (("acme.co.uk", "initech.com"), ("acme",))
    assert lead_match_keys(lead) == first


def test_people_matched_alike_share_one_match() -> None:
    graph = AccountGraph()
    graph.update(
        accounts=[Account(crm=SF, id="001A", name="Acme", website="acme.com")],
        contacts=[Contact(crm=SF, id=f"003{n}", account_id="001A") for n in range(3)],
        leads=[Lead(crm=SF, id=f"00Q{n}", email=f"p{n}@acme.com") for n in range(3)],
    )
    linked = {id(graph._people[("contact", SF, f"003{n}")].match) for n in range(3)}
    by_domain = {id(graph._people[("lead", SF, f"00Q{n}")].match) for n in range(3)}
    assert len(linked) == 1 and len(by_domain) == 1  # one object each, not one a person
    assert graph._people[("lead", SF, "00Q0")].match == graph.match_of(
        Lead(crm=SF, id="00Q9", email="x@acme.com")
    )
