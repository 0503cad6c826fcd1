"""Reading the account graph: members of an account, matches, account and opportunity facts.

`GraphView` holds the graph's state and answers questions about it; `AccountGraph` (scoring/graph.py)
adds the incremental bookkeeping that changes it. See scoring/graph.py for the nodes and edges.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable
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
Attrs = dict[str, Any]
"""A node's or an edge's attributes, as networkx stores them."""
_NO_EDGES: dict[NodeKey, dict[str, Attrs]] = {}


class GraphView:
    """The account graph's state and the questions asked of it; changes come from `AccountGraph.update`."""

    def __init__(self, *, match_threshold: float = 90.0, activities: ActivityIndex | None = None) -> None:
        self._g: nx.MultiDiGraph[NodeKey] = nx.MultiDiGraph()
        # networkx's own dicts (node -> attributes; node -> neighbour -> edge key -> attributes), read and
        # written directly on the paths every record takes: the public methods and views cost more in
        # checks, view objects and cache clearing than the dict work itself, which adds up to seconds a
        # cycle over hundreds of thousands of records. They are the same objects for the graph's life.
        self._nodes: dict[NodeKey, Attrs] = self._g._node  # type: ignore[attr-defined]
        self._succ: dict[NodeKey, dict[NodeKey, dict[str, Attrs]]] = self._g._succ  # type: ignore[attr-defined]
        self._preds: dict[NodeKey, dict[NodeKey, dict[str, Attrs]]] = self._g._pred  # type: ignore[attr-defined]
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
        """The networkx graph itself, for reading (change it only through `update`)."""
        return self._g

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
        return person_key(person) in self._nodes

    def members(self, crm: Crm, account_id: str) -> list[NodeKey]:
        """People (leads and contacts) who work at or were matched to the account."""
        pred = self._pred(("account", crm, account_id))
        return [
            u
            for u, rels in pred.items()
            if u[0] in PERSONS and ("works_at" in rels or "matched_to" in rels)  # MEMBER_RELATIONS
        ]

    def people_at(self, accounts: Iterable[tuple[Crm, str]]) -> set[LeadRef]:
        """The people who work at or were matched to any of these accounts (unknown accounts have none)."""
        found: set[LeadRef] = set()
        for crm, account_id in accounts:
            if ("account", crm, account_id) in self._nodes:
                found.update((key[1], key[2]) for key in self.members(crm, account_id))
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
            node = self._nodes.get(person_key(lead))
            recorded = node.get("match") if node is not None else None
            if isinstance(recorded, Match) and recorded.method != "linked":
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
        node = self._nodes.get(("account", crm, account_id))
        if node is None:
            return None
        parent, owner = node.get("parent_key"), node.get("owner")
        parent_id, owner_id = parent[2] if parent else None, owner[2] if owner else None
        return AccountInfo(
            crm, account_id, node["name"], node["is_customer"], parent_id, owner_id, node["known"]
        )

    def children(self, crm: Crm, account_id: str) -> list[str]:
        """Ids of the account's direct subsidiaries, sorted."""
        key: NodeKey = ("account", crm, account_id)
        return sorted(child[2] for child in self._children(key)) if key in self._nodes else []

    def opportunities(self, crm: Crm, account_id: str) -> list[OpportunityInfo]:
        """The account's opportunities."""
        nodes = self._nodes
        out = []
        for u, rels in self._pred(("account", crm, account_id)).items():
            if u[0] == "opportunity" and "opportunity_of" in rels:
                node = nodes[u]
                out.append(
                    OpportunityInfo(
                        u[2], node["is_won"], node["is_closed"], node["created_at"], node["closed_at"]
                    )
                )
        return out

    # ---- looking around (shared with the bookkeeping in AccountGraph) -----------------------------

    def _account_of(self, key: NodeKey) -> NodeKey | None:
        """A person's or opportunity's account."""
        node = self._nodes.get(key)
        account: NodeKey | None = node.get("account") if node is not None else None
        return account

    def _children(self, key: NodeKey) -> list[NodeKey]:
        return [u for u, rels in self._pred(key).items() if "parent" in rels]

    def _pred(self, key: NodeKey) -> dict[NodeKey, dict[str, Attrs]]:
        """The node's in-edges as networkx stores them (neighbour -> edge key -> attributes), empty for a
        node not in the graph. Read-only: the public `pred` views cost microseconds per neighbour and
        edge-key test, which adds up to seconds when every account of a big batch is visited."""
        return self._preds.get(key, _NO_EDGES)

    def _family(self, key: NodeKey) -> set[NodeKey]:
        """An account, its subsidiaries and its sister companies: whose context its status is part of."""
        node = self._nodes.get(key)
        if node is None:
            return set()
        parent: NodeKey | None = node.get("parent_key")
        return {key, *self._children(key), *(self._children(parent) if parent else ())}

    def _person(self, crm: Crm, person_id: str) -> NodeKey | None:
        for kind in PERSONS:
            key: NodeKey = (kind, crm, person_id)
            if key in self._nodes:
                return key
        return None

    # ---- changing the graph (networkx's own semantics, on its dicts) ---------------------------------
    # Each mirrors the MultiDiGraph method named in its docstring; a test checks them against networkx.

    def _add_node(self, key: NodeKey, attrs: Attrs) -> None:
        """`add_node(key, **attrs)`: add the node if new, then update its attributes."""
        node = self._nodes.get(key)
        if node is None:
            self._succ[key] = {}
            self._preds[key] = {}
            node = self._nodes[key] = {}
        node.update(attrs)

    def _add_edge(self, u: NodeKey, v: NodeKey, rel: str, attrs: Attrs | None = None) -> None:
        """`add_edge(u, v, key=rel, **attrs)`: both ends added if new; an existing edge's attributes updated."""
        if u not in self._succ:
            self._add_node(u, {})
        if v not in self._succ:
            self._add_node(v, {})
        rels = self._succ[u].get(v)
        if rels is None:
            # One edge-key dict shared by both directions, as networkx keeps it.
            rels = self._succ[u][v] = self._preds[v][u] = {}
        data = rels.get(rel)
        if data is None:
            rels[rel] = dict(attrs) if attrs else {}
        elif attrs:
            data.update(attrs)

    def _has_edge(self, u: NodeKey, v: NodeKey, rel: str) -> bool:
        """`has_edge(u, v, rel)`."""
        rels = self._succ.get(u, _NO_EDGES).get(v)
        return rels is not None and rel in rels

    def _remove_edge(self, u: NodeKey, v: NodeKey, rel: str) -> None:
        """`remove_edge(u, v, rel)` of an edge known to exist."""
        rels = self._succ[u][v]
        del rels[rel]
        if not rels:
            del self._succ[u][v]
            del self._preds[v][u]

    def _isolated(self, key: NodeKey) -> bool:
        """`degree(key) == 0` of a node in the graph."""
        return not self._succ[key] and not self._preds[key]


def person_key(person: Lead) -> NodeKey:
    """The node of a lead or contact."""
    return ("contact" if person.kind == "contact" else "lead", person.crm, person.id)
