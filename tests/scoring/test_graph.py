"""The account graph: incremental updates, who is affected, and graph features with their phrases."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from mappings import Account, Activity, Contact, Crm, Lead, Opportunity
from scoring.graph import AccountGraph
from scoring.graph_features import GRAPH_COLUMNS, graph_facts, graph_features

NOW = datetime(2026, 6, 30, 12, tzinfo=UTC)
SF: Crm = "salesforce"


def acct(id_: str, name: str, website: str | None = None, **kw: object) -> Account:
    return Account(crm=SF, id=id_, name=name, website=website, **kw)  # type: ignore[arg-type]


def person(id_: str, email: str | None = None, **kw: object) -> Lead:
    return Lead(crm=SF, id=id_, email=email, **kw)  # type: ignore[arg-type]


def contact(id_: str, account_id: str | None, **kw: object) -> Contact:
    return Contact(crm=SF, id=id_, account_id=account_id, **kw)  # type: ignore[arg-type]


def act(id_: str, who: str | None, days_ago: float, kind: str = "email", **kw: object) -> Activity:
    return Activity(crm=SF, id=id_, who_id=who, kind=kind, at=NOW - timedelta(days=days_ago), **kw)  # type: ignore[arg-type]


def opp(id_: str, account_id: str, **kw: object) -> Opportunity:
    return Opportunity(crm=SF, id=id_, account_id=account_id, **kw)  # type: ignore[arg-type]


def refs(*ids: str) -> set[tuple[str, str]]:
    return {(SF, i) for i in ids}


@pytest.fixture()
def world() -> AccountGraph:
    """Globex (customer) owns Acme; Acme has sister Initech; two leads and a contact at Acme."""
    graph = AccountGraph()
    graph.update(
        accounts=[
            acct("001G", "Globex", "globex.com"),
            acct("001A", "Acme Corp", "https://www.acme.com", parent_id="001G", owner_id="005O"),
            acct("001I", "Initech", "initech.com", parent_id="001G"),
        ],
        contacts=[contact("003C", "001A", email="cy@acme.com")],
        leads=[
            person("00QA", "ann@acme.com", owner_id="005R"),
            person("00QB", "bob@mail.acme.com"),
            person("00QI", "ian@initech.com"),
            person("00QX", "xi@gmail.com", company="Nobody Ltd"),
        ],
    )
    return graph


def test_first_update_returns_every_new_person() -> None:
    graph = AccountGraph()
    changed = graph.update(accounts=[acct("001A", "Acme", "acme.com")], leads=[person("00Q1", "a@acme.com")])
    assert changed == refs("00Q1")
    assert (
        graph.update(accounts=[acct("001A", "Acme", "acme.com")], leads=[person("00Q1", "a@acme.com")])
        == set()
    )


def test_edges_carry_relations(world: AccountGraph) -> None:
    g = world.graph
    assert g.has_edge(("account", SF, "001A"), ("account", SF, "001G"), "parent")
    assert g.has_edge(("contact", SF, "003C"), ("account", SF, "001A"), "works_at")
    edge = g.edges[("lead", SF, "00QB"), ("account", SF, "001A"), "matched_to"]
    assert (
        edge["method"] == "domain" and edge["reason"] == "email domain acme.com matches Acme Corp's website"
    )
    assert g.has_edge(("owner", SF, "005O"), ("account", SF, "001A"), "owns")
    assert g.has_edge(("owner", SF, "005R"), ("lead", SF, "00QA"), "owns")
    assert world.account_info(SF, "001A") is not None and world.account_info(SF, "001A").owner_id == "005O"  # type: ignore[union-attr]


def test_colleague_engagement_affects_colleagues(world: AccountGraph) -> None:
    changed = world.update(activities=[act("00T1", "00QA", 2)])
    assert changed == refs("00QA", "00QB", "003C")
    edge = world.graph.edges[("lead", SF, "00QA"), ("account", SF, "001A"), "engaged_in"]
    assert edge["count"] == 1
    assert world.update(activities=[act("00T1", "00QA", 2)]) == set()  # re-sent: nothing new
    assert world.update(activities=[act("00T1", "00QA", 2, deleted=True)]) == refs("00QA", "00QB", "003C")
    assert not world.graph.has_edge(("lead", SF, "00QA"), ("account", SF, "001A"), "engaged_in")


def test_account_becoming_customer_affects_its_family(world: AccountGraph) -> None:
    changed = world.update(accounts=[acct("001G", "Globex", "globex.com", is_customer=True)])
    assert changed == refs("00QA", "00QB", "003C", "00QI")  # subsidiaries' people: parent is a customer
    assert world.update(
        accounts=[acct("001A", "Acme Corp", "acme.com", parent_id="001G", owner_id="005O", is_customer=True)]
    ) == refs("00QA", "00QB", "003C", "00QI")  # Initech's sister became a customer


def test_opportunity_changes_affect_account_members(world: AccountGraph) -> None:
    assert world.update(opportunities=[opp("006A", "001A")]) == refs("00QA", "00QB", "003C")
    assert world.update(opportunities=[opp("006A", "001A")]) == set()
    assert world.update(opportunities=[opp("006A", "001A", is_won=True, is_closed=True)]) == refs(
        "00QA", "00QB", "003C"
    )
    assert world.update(deleted=[opp("006A", "001A")]) == refs("00QA", "00QB", "003C")


def test_new_account_rematches_waiting_leads(world: AccountGraph) -> None:
    changed = world.update(accounts=[acct("001N", "Nobody", "nobody.io")])
    assert changed == refs("00QX")
    assert world.match_of(person("00QX", "xi@gmail.com", company="Nobody Ltd")).method == "name"
    renamed = world.update(accounts=[acct("001N", "Somebody Else", "somebody.io")])
    assert renamed == refs("00QX") and world.match_of(person("00QX")).method == "none"


def test_placeholder_account_fills_in(world: AccountGraph) -> None:
    assert world.update(contacts=[contact("003Z", "001Z")]) == refs("003Z")
    info = world.account_info(SF, "001Z")
    assert info is not None and not info.known
    assert world.update(accounts=[acct("001Z", "Zeta")]) == refs("003Z")
    assert world.account_info(SF, "001Z").name == "Zeta"  # type: ignore[union-attr]
    assert world.match_of(contact("003Z", "001Z")).reason == "linked to account Zeta in the CRM"


def test_deletions(world: AccountGraph) -> None:
    world.update(activities=[act("00T1", "00QA", 2)])
    assert world.update(deleted=[person("00QA")]) == refs("00QB", "003C")
    assert ("lead", SF, "00QA") not in world.graph
    changed = world.update(deleted=[acct("001I", "Initech")])
    assert changed == refs("00QI") and world.match_of(person("00QI", "ian@initech.com")).method == "none"
    assert ("account", SF, "001I") not in world.graph


def test_person_moving_accounts_moves_engagement(world: AccountGraph) -> None:
    world.update(activities=[act("00T1", "003C", 1)])
    changed = world.update(contacts=[contact("003C", "001I", email="cy@acme.com")])
    assert changed == refs("003C", "00QA", "00QB", "00QI")
    assert world.graph.has_edge(("contact", SF, "003C"), ("account", SF, "001I"), "engaged_in")
    assert not world.graph.has_edge(("contact", SF, "003C"), ("account", SF, "001A"), "engaged_in")


def test_activity_before_its_person_arrives() -> None:
    graph = AccountGraph()
    graph.update(accounts=[acct("001A", "Acme", "acme.com")], activities=[act("00T1", "00Q1", 1)])
    assert graph.update(leads=[person("00Q1", "a@acme.com")]) == refs("00Q1")
    assert graph.graph.edges[("lead", SF, "00Q1"), ("account", SF, "001A"), "engaged_in"]["count"] == 1


def features_of(graph: AccountGraph, *people: Lead, now: datetime = NOW) -> dict[str, dict[str, object]]:
    values, _ = graph_features(graph, list(people), now=now)
    return {str(k): {str(c): v for c, v in row.items()} for k, row in values.to_dict(orient="index").items()}


def test_graph_feature_values(world: AccountGraph) -> None:
    world.update(
        accounts=[acct("001G", "Globex", "globex.com", is_customer=True)],
        opportunities=[
            opp("006O", "001A", created_at=NOW - timedelta(days=5)),
            opp("006W", "001A", is_won=True, is_closed=True, close_date=date(2026, 1, 5)),
            opp("006L", "001A", is_closed=True, close_date=date(2026, 2, 5)),
            opp("006F", "001A", created_at=NOW + timedelta(days=5)),  # after now: not seen
        ],
        activities=[
            act("00T1", "00QB", 3),
            act("00T2", "003C", 45),
            act("00T3", "00QA", 1),
            act("00T4", "003C", -2),
        ],
    )
    a, x = features_of(
        world, person("00QA", "ann@acme.com"), person("00QX", "xi@gmail.com", company="Nobody Ltd")
    ).values()
    assert a["matched"] == 1.0 and a["match_method"] == "domain"
    assert (a["account_open_opps"], a["account_won_opps"], a["account_lost_opps"]) == (1.0, 1.0, 1.0)
    assert a["account_is_customer"] == 0.0 and a["parent_or_sibling_is_customer"] == 1.0
    assert (a["colleagues_engaged_30d"], a["colleagues_engaged_90d"]) == (1.0, 2.0)  # not herself
    assert a["account_days_since_engagement"] == pytest.approx(1.0)
    assert (
        x["matched"] == 0.0
        and x["match_method"] == "none"
        and x["account_is_customer"] != x["account_is_customer"]
    )


def test_customer_status_is_point_in_time(world: AccountGraph) -> None:
    world.update(
        accounts=[acct("001A", "Acme Corp", "acme.com", parent_id="001G", is_customer=True)],
        opportunities=[opp("006W", "001A", is_won=True, is_closed=True, close_date=date(2026, 5, 1))],
    )
    assert features_of(world, person("00QA"))["00QA"]["account_is_customer"] == 1.0
    before = features_of(world, person("00QA"), now=datetime(2026, 4, 1, tzinfo=UTC))["00QA"]
    assert before["account_is_customer"] == 0.0 and before["account_won_opps"] == 0.0
    assert before["account_open_opps"] == 1.0


def test_graph_phrases(world: AccountGraph) -> None:
    world.update(
        accounts=[acct("001G", "Globex", "globex.com", is_customer=True)],
        opportunities=[opp("006O", "001A")],
        activities=[act("00T1", "00QB", 3), act("00T2", "003C", 10)],
    )
    facts = {f.name: f for f in graph_facts(world, person("00QA", "ann@acme.com"), now=NOW)}
    assert [*facts] == list(GRAPH_COLUMNS)
    assert facts["colleagues_engaged_30d"].phrase == "2 colleagues at Acme Corp engaged this month"
    assert facts["parent_or_sibling_is_customer"].phrase == "Parent company Globex is a customer"
    assert facts["account_open_opps"].phrase == "Acme Corp has 1 open opportunity"
    assert facts["account_won_opps"].phrase == "Acme Corp has no won opportunities"
    assert facts["account_is_customer"].phrase == "Acme Corp is not a customer yet"
    assert facts["account_days_since_engagement"].phrase == "Acme Corp last engaged 3 days ago"
    assert facts["match_method"].phrase == "Email domain acme.com matches Acme Corp's website"
    sister = {f.name: f for f in graph_facts(world, person("00QI", "ian@initech.com"), now=NOW)}
    assert sister["parent_or_sibling_is_customer"].phrase == "Parent company Globex is a customer"
    world.update(
        accounts=[
            acct("001G", "Globex", "globex.com"),
            acct("001A", "Acme Corp", "acme.com", parent_id="001G", is_customer=True),
        ]
    )
    sister = {f.name: f for f in graph_facts(world, person("00QI", "ian@initech.com"), now=NOW)}
    assert sister["parent_or_sibling_is_customer"].phrase == "Sister company Acme Corp is a customer"
    assert sister["colleagues_engaged_30d"].phrase == "No colleagues at Initech engaged this month"
    assert sister["account_days_since_engagement"].phrase == "No recorded engagement with Initech"
    nobody = {f.name: f for f in graph_facts(world, person("00QX", company="Nobody Ltd"), now=NOW)}
    assert nobody["matched"].phrase == "No matching account found"


def test_unseen_lead_is_matched_on_the_fly(world: AccountGraph) -> None:
    values, context = graph_features(world, [person("00QNEW", "new@initech.com")], now=NOW)
    assert (
        values.loc["00QNEW", "match_method"] == "domain"
        and context.loc["00QNEW", "account_name"] == "Initech"
    )
    assert ("lead", SF, "00QNEW") not in world.graph
    _, acme = graph_features(world, [person("00QA")], now=NOW)
    assert acme.loc["00QA", "account_owner_id"] == "005O"


def test_quiet_newcomer_leaves_colleagues_alone(world: AccountGraph) -> None:
    assert world.update(leads=[person("00QN", "new@acme.com")]) == refs("00QN")
    world.update(activities=[act("00T9", "00QZ", 1)])  # activity of someone not yet known
    assert world.update(leads=[person("00QZ", "zed@acme.com")]) == refs(
        "00QZ", "00QA", "00QB", "003C", "00QN"
    )


def test_a_lead_without_an_account_has_no_context_whoever_shares_its_batch(world: AccountGraph) -> None:
    """The context (account name, owner, related customer) of an unmatched lead is None whether or not
    another lead of the same batch has an account: under pandas 3 text columns read a missing name as
    NaN, and reps saw "No recorded engagement with nan" depending on who else was scored."""
    ann = person("00QA", "ann@acme.com", owner_id="005R")
    xi = person("00QX", "xi@gmail.com", company="Nobody Ltd")
    alone = graph_features(world, [xi], now=NOW)[1]
    together = graph_features(world, [ann, xi], now=NOW)[1]
    assert together.loc["00QA", "account_name"] == "Acme Corp"
    for frame in (alone, together):
        row = frame.loc["00QX"]
        assert row["account_name"] is None
        assert row["account_owner_id"] is None
        assert row["related_customer"] is None
        assert frame["account_name"].dtype == object
