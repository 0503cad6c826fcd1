"""Random record streams for the account graph's equivalence tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from mappings import Account, Activity, CanonicalRecord, Contact, Crm, Lead, Opportunity
from scoring.graph import AccountGraph
from tests.scoring.graph_oracle import NetworkxGraph

SF: Crm = "salesforce"
NOW = datetime(2026, 6, 30, 12, tzinfo=UTC)
_ACCOUNTS = ("001A", "001B", "001C", "001D")
_PEOPLE = ("00QA", "00QB", "00QC", "003A", "003B")
_OWNERS = (None, "005A", "005B")
_NAMES = (None, "Acme", "Acme Corp", "Acme Corporation Inc", "Initech", "Globex", "Initek")
_SITES = (None, "acme.com", "https://www.initech.com", "globex.co.uk")
_EMAILS = (None, "ann@acme.com", "bo@mail.initech.com", "cy@gmail.com", "di@globex.co.uk", "broken@")


def graph_state(graph: Any) -> tuple[list[Any], list[Any]]:
    """Every node, and every edge with its attributes, in a comparable order (of an `AccountGraph` or the
    oracle's `NetworkxGraph`: both have a networkx `graph`). Node attributes are compared through the
    graphs' readers instead: the two keep different bookkeeping there."""
    g = graph.graph
    nodes = sorted(repr(n) for n in g.nodes)
    edges = sorted(
        ((u, v, k, sorted(a.items(), key=repr)) for u, v, k, a in g.edges(keys=True, data=True)), key=repr
    )
    return nodes, [repr(e) for e in edges]


def _maybe(values: tuple[Any, ...]) -> st.SearchStrategy[Any]:
    return st.sampled_from(values)


accounts = st.builds(
    Account,
    crm=st.just(SF),
    id=_maybe(_ACCOUNTS),
    name=_maybe(_NAMES),
    website=_maybe(_SITES),
    parent_id=_maybe((None, *_ACCOUNTS)),
    is_customer=st.booleans(),
    owner_id=_maybe(_OWNERS),
    deleted=st.sampled_from((False, False, True)),
)


@st.composite
def people(draw: st.DrawFn) -> Lead:
    person_id = draw(_maybe(_PEOPLE))
    kind = Contact if person_id.startswith("003") else Lead
    return kind(
        crm=SF,
        id=person_id,
        email=draw(_maybe(_EMAILS)),
        company=draw(_maybe(_NAMES)),
        domain=draw(_maybe(_SITES)),
        account_id=draw(_maybe((None, None, *_ACCOUNTS))),
        owner_id=draw(_maybe(_OWNERS)),
        deleted=draw(st.sampled_from((False, False, False, True))),
    )


opportunities = st.builds(
    Opportunity,
    crm=st.just(SF),
    id=_maybe(("006A", "006B", "006C")),
    account_id=_maybe((None, *_ACCOUNTS)),
    is_won=st.booleans(),
    is_closed=st.booleans(),
    deleted=st.sampled_from((False, False, True)),
)


@st.composite
def activities(draw: st.DrawFn) -> Activity:
    return Activity(
        crm=SF,
        id=draw(_maybe(("00TA", "00TB", "00TC", "00TD", "00TE"))),
        who_id=draw(_maybe((None, *_PEOPLE))),
        account_id=draw(_maybe((None, *_ACCOUNTS))),
        kind=draw(st.sampled_from(("email", "call", "web_visit"))),
        at=NOW - timedelta(days=draw(st.integers(0, 120))),
        deleted=draw(st.sampled_from((False, False, False, True))),
    )


records: st.SearchStrategy[CanonicalRecord] = st.one_of(accounts, people(), opportunities, activities())
batches = st.lists(st.lists(records, max_size=12), min_size=1, max_size=6)
"""A stream of record batches over a few ids, so records update, move, delete and come back."""


def feed(graph: AccountGraph | NetworkxGraph, batch: list[CanonicalRecord]) -> set[tuple[str, str]]:
    """`graph.update` with one batch of a stream, its records sorted by kind."""
    people = [r for r in batch if isinstance(r, Lead)]
    return set(
        graph.update(
            accounts=[r for r in batch if isinstance(r, Account)],
            contacts=[r for r in people if r.kind == "contact"],
            leads=[r for r in people if r.kind != "contact"],
            opportunities=[r for r in batch if isinstance(r, Opportunity)],
            activities=[r for r in batch if isinstance(r, Activity)],
        )
    )
