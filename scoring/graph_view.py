"""Reading the account graph: members of an account, matches, account and opportunity facts.

`GraphView` holds the graph's state and answers questions about it; `AccountGraph` (scoring/graph.py)
adds the incremental bookkeeping that changes it. See scoring/graph.py for the nodes and edges.

The state is one small slotted object a node (`PersonNode`, `AccountNode`, `DealNode`) instead of a
networkx graph: each edge is an attribute of the node it leaves (a person's account and owner, an
account's parent and owner, a deal's account), and an account keeps the reverse sides it is asked about
(its members, subsidiaries and deals). networkx kept a dict of attributes a node, two adjacency dicts, and
a dict of edge keys plus one of attributes an edge: ~2.0 KB a person, half the world's memory (~3.3 GB of
the 1M-lead org's people). `graph` still gives the networkx picture, built on request.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Iterator
from dataclasses import replace
from typing import Any

import networkx as nx

from mappings import Crm, Lead
from scoring.activity import ActivityIndex
from scoring.graph_types import AccountInfo, LeadRef, NodeKey, NodeKind, OpportunityInfo
from scoring.matching import AccountMatcher, Match

__all__ = ["MEMBER_RELATIONS", "PERSONS", "GraphView", "person_key"]

MEMBER_RELATIONS = ("works_at", "matched_to")
"""The edges that make a person a member of an account."""
PERSONS: tuple[NodeKind, NodeKind] = ("lead", "contact")
NO_KEYS: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())


class PersonNode:
    """A lead or contact: its owner, its match and the account it makes it a member of, and its
    engagement there (the `engaged_in` edge: `count` activities, the latest at `last_at`; none when 0)."""

    __slots__ = ("account", "count", "last_at", "match", "owner")

    def __init__(self) -> None:
        self.owner: NodeKey | None = None
        self.match: Match | None = None
        self.account: NodeKey | None = None
        self.last_at: float | None = None
        self.count = 0


class AccountNode:
    """An account (a placeholder, `known` False, until its record arrives): what it is, where its `parent`
    edge and its owner point, and who points at it (members, subsidiaries, deals; None while none)."""

    __slots__ = ("children", "deals", "is_customer", "keys", "known", "linked", "members", "name", "owner",
                 "parent", "parent_key")  # fmt: skip

    def __init__(self, name: str, *, is_customer: bool = False, known: bool = False) -> None:
        self.name = name
        self.is_customer = is_customer
        self.parent: str | None = None  # the parent id the record gave (what a change is compared with)
        self.known = known
        self.keys = NO_KEYS  # the match keys it is filed under
        self.parent_key: NodeKey | None = None
        self.owner: NodeKey | None = None
        self.members: dict[NodeKey, None] | None = None  # ordered: in the order they joined
        self.children: dict[NodeKey, None] | None = None
        self.deals: dict[NodeKey, None] | None = None
        self.linked: Match | None = None  # the match of the people the CRM links here: one for them all

    def isolated(self) -> bool:
        """No edge in or out (what networkx's `degree == 0` said)."""
        return not (self.parent_key or self.owner or self.members or self.children or self.deals)


class DealNode:
    """An opportunity: its state, its moments (epoch seconds) and its account."""

    __slots__ = ("account", "closed_at", "created_at", "is_closed", "is_won")

    def __init__(
        self, is_won: bool, is_closed: bool, created_at: float | None, closed_at: float | None
    ) -> None:
        self.is_won, self.is_closed, self.created_at, self.closed_at = (
            is_won,
            is_closed,
            created_at,
            closed_at,
        )
        self.account: NodeKey | None = None

    def state(self) -> tuple[bool, bool, float | None, float | None]:
        return self.is_won, self.is_closed, self.created_at, self.closed_at


def join_index(index: dict[NodeKey, None] | None, key: NodeKey) -> dict[NodeKey, None]:
    """`index` with `key` added at its end (a new dict for the first)."""
    if index is None:
        return {key: None}
    index[key] = None
    return index


def leave_index(index: dict[NodeKey, None] | None, key: NodeKey) -> dict[NodeKey, None] | None:
    """`index` without `key` (None once empty, so an account without such edges holds no dict)."""
    if index is not None:
        index.pop(key, None)
        if not index:
            return None
    return index


class GraphView:
    """The account graph's state and the questions asked of it; changes come from `AccountGraph.update`."""

    def __init__(self, *, match_threshold: float = 90.0, activities: ActivityIndex | None = None) -> None:
        self._people: dict[NodeKey, PersonNode] = {}
        self._accounts: dict[NodeKey, AccountNode] = {}
        self._deals: dict[NodeKey, DealNode] = {}
        self._threshold = match_threshold
        self._matchers: dict[Crm, AccountMatcher] = {}
        self._recent: dict[tuple[Crm, str], float] = {}  # an account's latest engagement, for tie-breaks
        self.activities = activities if activities is not None else ActivityIndex()
        self._memo_key: Hashable = None
        self._memo: dict[Any, Any] = {}

    def memo(self, key: Hashable) -> dict[Any, Any]:
        """A dict where readers keep what they derive from the graph under `key` (e.g. the facts of each
        account as of one moment), emptied when the graph or its activities change, or another key is
        asked for: one key is kept at a time, so memory stays bounded whatever the readers ask."""
        full = (key, self.activities.generation)
        if self._memo_key != full:
            self._memo_key, self._memo = full, {}
        return self._memo

    def forget_derived(self) -> None:
        """Drop what readers derived from the graph and its activities (`memo`, the activity index's
        own), to free the memory between cycles; the next read works it out again."""
        self._forget()
        self.activities.forget_derived()

    def _forget(self) -> None:
        """Drop what readers derived (`memo`): the graph is about to change."""
        self._memo_key, self._memo = None, {}

    @property
    def graph(self) -> nx.MultiDiGraph[NodeKey]:
        """A networkx picture of the graph as it stands, built on each call (for reading and inspecting:
        the graph keeps its own compact state). Nodes and edges as scoring/graph.py describes them."""
        g: nx.MultiDiGraph[NodeKey] = nx.MultiDiGraph()
        for key, account in self._accounts.items():
            g.add_node(key, name=account.name, is_customer=account.is_customer, parent=account.parent,
                       known=account.known, keys=account.keys, parent_key=account.parent_key,
                       owner=account.owner)  # fmt: skip
            if account.parent_key is not None:
                g.add_edge(key, account.parent_key, key="parent")
        for key, deal in self._deals.items():
            g.add_node(key, is_won=deal.is_won, is_closed=deal.is_closed, created_at=deal.created_at,
                       closed_at=deal.closed_at, account=deal.account)  # fmt: skip
            if deal.account is not None:
                g.add_edge(key, deal.account, key="opportunity_of")
        for key, person in self._people.items():
            g.add_node(key, owner=person.owner, match=person.match, account=person.account)
            match = person.match
            if person.account is not None and match is not None:
                rel = _member_relation(key, match)
                g.add_edge(key, person.account, key=rel, method=match.method, score=match.score,
                           reason=match.reason)  # fmt: skip
                if person.count:
                    g.add_edge(
                        key, person.account, key="engaged_in", last_at=person.last_at, count=person.count
                    )
        for key, owner in self._owned():
            g.add_edge(owner, key, key="owns")
        return g

    def _owned(self) -> Iterator[tuple[NodeKey, NodeKey]]:
        for key, account in self._accounts.items():
            if account.owner is not None:
                yield key, account.owner
        for key, person in self._people.items():
            if person.owner is not None:
                yield key, person.owner

    def matcher(self, crm: Crm) -> AccountMatcher:
        """The lead-to-account matcher over this CRM's accounts."""
        if crm not in self._matchers:
            self._matchers[crm] = AccountMatcher(
                threshold=self._threshold,
                recent_activity=lambda account_id: self._recent.get((crm, account_id)),
            )
        return self._matchers[crm]

    # ---- reading ------------------------------------------------------------------------------------

    def has_person(self, person: Lead) -> bool:
        """Whether `update` has recorded this lead or contact."""
        return person_key(person) in self._people

    def members(self, crm: Crm, account_id: str) -> list[NodeKey]:
        """People (leads and contacts) who work at or were matched to the account, in the order they
        joined it."""
        account = self._accounts.get(("account", crm, account_id))
        return list(account.members) if account is not None and account.members else []

    def people_at(self, accounts: Iterable[tuple[Crm, str]]) -> set[LeadRef]:
        """The people who work at or were matched to any of these accounts (unknown accounts have none)."""
        found: set[LeadRef] = set()
        nodes = self._accounts
        for crm, account_id in accounts:
            account = nodes.get(("account", crm, account_id))
            if account is not None and account.members:
                found.update((key[1], key[2]) for key in account.members)
        return found

    def match_of(self, lead: Lead) -> Match:
        """The account `lead` belongs to: as recorded by `update`, else matched now without recording it."""
        return self.matches_of([lead])[0]

    def matches_of(self, leads: Iterable[Lead]) -> list[Match]:
        """`match_of` for many leads; those the graph has not seen are matched in one batch per CRM.

        CRM links are re-read each time so their reason names the account as it is known now.
        """
        batch = list(leads)
        found: list[Match | None] = []
        fresh: defaultdict[Crm, list[Lead]] = defaultdict(list)
        for lead in batch:
            node = self._people.get(person_key(lead))
            recorded = node.match if node is not None else None
            if recorded is not None and recorded.method != "linked":
                found.append(recorded)
            else:
                found.append(None)
                # `replace` copies the whole record: only when the recorded link differs.
                link = recorded.account_id if recorded is not None else lead.account_id
                fresh[lead.crm].append(replace(lead, account_id=link) if link != lead.account_id else lead)
        matched = {crm: self.matcher(crm).match_many(group) for crm, group in fresh.items()}
        return [match or matched[lead.crm][lead.id] for lead, match in zip(batch, found, strict=True)]

    def account_info(self, crm: Crm, account_id: str) -> AccountInfo | None:
        """The account as the graph knows it, or None if it was never mentioned."""
        node = self._accounts.get(("account", crm, account_id))
        if node is None:
            return None
        parent, owner = node.parent_key, node.owner
        parent_id, owner_id = parent[2] if parent else None, owner[2] if owner else None
        return AccountInfo(crm, account_id, node.name, node.is_customer, parent_id, owner_id, node.known)

    def children(self, crm: Crm, account_id: str) -> list[str]:
        """Ids of the account's direct subsidiaries, sorted."""
        return sorted(child[2] for child in self._children(("account", crm, account_id)))

    def opportunities(self, crm: Crm, account_id: str) -> list[OpportunityInfo]:
        """The account's opportunities, in the order they were linked to it."""
        account = self._accounts.get(("account", crm, account_id))
        if account is None or not account.deals:
            return []
        deals = self._deals
        return [OpportunityInfo(key[2], *deals[key].state()) for key in account.deals]

    # ---- looking around (shared with the bookkeeping in AccountGraph) -----------------------------

    def _account_of(self, key: NodeKey) -> NodeKey | None:
        """A person's or opportunity's account."""
        node = self._deals.get(key) if key[0] == "opportunity" else self._people.get(key)
        return node.account if node is not None else None

    def _children(self, key: NodeKey) -> list[NodeKey]:
        account = self._accounts.get(key)
        return list(account.children) if account is not None and account.children else []

    def _family(self, key: NodeKey) -> set[NodeKey]:
        """An account, its subsidiaries and its sister companies: whose context its status is part of."""
        node = self._accounts.get(key)
        if node is None:
            return set()
        parent = node.parent_key
        return {key, *self._children(key), *(self._children(parent) if parent else ())}

    def _person(self, crm: Crm, person_id: str) -> NodeKey | None:
        for kind in PERSONS:
            key: NodeKey = (kind, crm, person_id)
            if key in self._people:
                return key
        return None


def _member_relation(key: NodeKey, match: Match) -> str:
    """The edge a match makes: a contact's own CRM link is `works_at`, anything else `matched_to`."""
    return "works_at" if key[0] == "contact" and match.method == "linked" else "matched_to"


def person_key(person: Lead) -> NodeKey:
    """The node of a lead or contact."""
    return ("contact" if person.kind == "contact" else "lead", person.crm, person.id)
