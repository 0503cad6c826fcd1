"""The account graph as a networkx `MultiDiGraph`, changed only through networkx's public methods: the
definition the compact `AccountGraph` is tested against (it was the product's graph until the graph
became one slotted object a node, for memory: see scoring/graph_view.py).

Nodes and edges as scoring/graph.py describes them; node attributes hold what the compact nodes hold
(`match`, `account`, `owner`, `parent_key`, ...). Kept short and plain on purpose: no fast paths, no memo.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

import networkx as nx

from mappings import Account, Activity, Crm, Lead, Opportunity, Record
from scoring.activity import ActivityIndex, epoch_seconds
from scoring.graph_types import AccountInfo, GraphChanges, LeadRef, NodeKey, OpportunityInfo
from scoring.graph_view import MEMBER_RELATIONS, PERSONS, person_key
from scoring.matching import NO_MATCH, AccountMatcher, Match, account_match_keys, lead_match_keys


@dataclass
class _Pending:
    affected: set[NodeKey] = field(default_factory=set)
    touched: set[NodeKey] = field(default_factory=set)
    rematch: set[NodeKey] = field(default_factory=set)
    moved: set[NodeKey] = field(default_factory=set)


class NetworkxGraph:
    """`AccountGraph`'s public behaviour over a networkx graph."""

    def __init__(self, *, match_threshold: float = 90.0) -> None:
        self.graph: nx.MultiDiGraph[NodeKey] = nx.MultiDiGraph()
        self.activities = ActivityIndex()
        self._threshold = match_threshold
        self._matchers: dict[Crm, AccountMatcher] = {}
        self._recent: dict[tuple[Crm, str], float] = {}
        self._unlinked: dict[NodeKey, Lead] = {}

    def _node(self, key: NodeKey) -> dict[str, Any]:
        return self.graph.nodes[key]

    def matcher(self, crm: Crm) -> AccountMatcher:
        if crm not in self._matchers:
            self._matchers[crm] = AccountMatcher(
                threshold=self._threshold, recent_activity=lambda a: self._recent.get((crm, a))
            )
        return self._matchers[crm]

    # ---- reading ------------------------------------------------------------------------------------

    def members(self, crm: Crm, account_id: str) -> list[NodeKey]:
        key: NodeKey = ("account", crm, account_id)
        if key not in self.graph:
            return []
        return [
            u
            for u in self.graph.predecessors(key)
            if u[0] in PERSONS and any(self.graph.has_edge(u, key, rel) for rel in MEMBER_RELATIONS)
        ]

    def people_at(self, accounts: Iterable[tuple[Crm, str]]) -> set[LeadRef]:
        return {(key[1], key[2]) for crm, a in accounts for key in self.members(crm, a)}

    def matches_of(self, leads: Iterable[Lead]) -> list[Match]:
        """Recorded matches, and the rest matched in one batch per CRM (a batch answers by id)."""
        batch, fresh = list(leads), defaultdict(list)
        recorded: list[Match | None] = []
        for lead in batch:
            key = person_key(lead)
            match = self._node(key).get("match") if key in self.graph else None
            recorded.append(match if match is not None and match.method != "linked" else None)
            if recorded[-1] is None:
                link = match.account_id if match is not None else lead.account_id
                fresh[lead.crm].append(replace(lead, account_id=link))
        matched = {crm: self.matcher(crm).match_many(group) for crm, group in fresh.items()}
        return [m or matched[lead.crm][lead.id] for lead, m in zip(batch, recorded, strict=True)]

    def account_info(self, crm: Crm, account_id: str) -> AccountInfo | None:
        key: NodeKey = ("account", crm, account_id)
        if key not in self.graph:
            return None
        node = self._node(key)
        parent, owner = node.get("parent_key"), node.get("owner")
        return AccountInfo(
            crm, account_id, node["name"], node["is_customer"], parent[2] if parent else None,
            owner[2] if owner else None, node["known"],
        )  # fmt: skip

    def children(self, crm: Crm, account_id: str) -> list[str]:
        return sorted(child[2] for child in self._children(("account", crm, account_id)))

    def opportunities(self, crm: Crm, account_id: str) -> list[OpportunityInfo]:
        key: NodeKey = ("account", crm, account_id)
        if key not in self.graph:
            return []
        out = []
        for u in self.graph.predecessors(key):
            if u[0] == "opportunity" and self.graph.has_edge(u, key, "opportunity_of"):
                n = self._node(u)
                out.append(
                    OpportunityInfo(u[2], n["is_won"], n["is_closed"], n["created_at"], n["closed_at"])
                )
        return out

    def _children(self, key: NodeKey) -> list[NodeKey]:
        if key not in self.graph:
            return []
        return [u for u in self.graph.predecessors(key) if self.graph.has_edge(u, key, "parent")]

    def _family(self, key: NodeKey) -> set[NodeKey]:
        if key not in self.graph:
            return set()
        parent = self._node(key).get("parent_key")
        return {key, *self._children(key), *(self._children(parent) if parent else ())}

    def _account_of(self, key: NodeKey) -> NodeKey | None:
        return self._node(key).get("account") if key in self.graph else None

    # ---- changing -----------------------------------------------------------------------------------

    def update(self, **records: Any) -> set[LeadRef]:
        changes = self.apply(**records)
        return changes.people | self.people_at(changes.accounts)

    def apply(
        self,
        *,
        accounts: Iterable[Account] = (),
        contacts: Iterable[Lead] = (),
        leads: Iterable[Lead] = (),
        opportunities: Iterable[Opportunity] = (),
        activities: Iterable[Activity] = (),
        deleted: Iterable[Record] = (),
    ) -> GraphChanges:
        p = _Pending()
        for record in deleted:
            record = record if record.deleted else replace(record, deleted=True)
            if isinstance(record, Account):
                self._upsert_account(record, p)
            elif isinstance(record, Opportunity):
                self._upsert_opportunity(record, p)
            elif isinstance(record, Lead):
                self._upsert_person(record, p)
            elif isinstance(record, Activity):
                self._apply_activities([record], p)
        for account in accounts:
            self._upsert_account(account, p)
        for opportunity in opportunities:
            self._upsert_opportunity(opportunity, p)
        for person in [*contacts, *leads]:
            self._upsert_person(person, p)
        for key in list(p.rematch):
            if key in self._unlinked:
                match = self.matcher(key[1]).match_many([self._unlinked[key]])[key[2]]
                self._set_member(key, match, p)
        self._apply_activities(activities, p)
        self._engage({(k[1], k[2]) for k in p.moved if k in self.graph}, p)
        return GraphChanges(
            {(k[1], k[2]) for k in p.affected if k in self.graph}, {(k[1], k[2]) for k in p.touched}
        )

    def refresh(self, people: Iterable[Lead]) -> None:
        for person in people:
            old = self._unlinked.get(person_key(person))
            same = ("crm", "id", "deleted", "account_id", "email", "domain", "company")
            if old is not None and all(getattr(old, a) == getattr(person, a) for a in same):
                self._unlinked[person_key(person)] = person

    def _upsert_account(self, account: Account, p: _Pending) -> None:
        key: NodeKey = ("account", account.crm, account.id)
        old = dict(self._node(key)) if key in self.graph else None
        if account.deleted:
            self.matcher(account.crm).remove(account.id)
            if old is not None:
                p.rematch.update(self._match_candidates(key))
                p.touched.update(self._family(key) if old.get("is_customer") else {key})
                self._set_link(key, "parent", "parent_key", None)
                self._set_owner(key, None)
                self._node(key).update(name=account.id, is_customer=False, known=False, keys=((), ()))
                self._drop_if_orphan(key)
            return
        parent = account.parent_id if account.parent_id != account.id else None
        context = {
            "name": (account.name or "").strip() or account.id,
            "is_customer": account.is_customer,
            "parent": parent or None,
            "known": True,
        }
        keys = account_match_keys(account)
        changed = old is None or any(old.get(name) != value for name, value in context.items())
        match_changed = changed or old is None or old.get("keys") != keys
        if match_changed and old is not None:
            p.rematch.update(self._match_candidates(key))
        if changed:
            spread = account.is_customer or bool(old and old.get("is_customer"))
            p.touched.update(self._family(key) if spread else {key})
            self.graph.add_node(key, **context)
            self._set_link(key, "parent", "parent_key", self._account(account.crm, parent))
            p.touched.update(self._family(key) if spread else {key})
        if match_changed:
            self._node(key)["keys"] = keys
            self.matcher(account.crm).upsert(account)
            p.rematch.update(self._match_candidates(key))
        self._set_owner(key, account.owner_id)

    def _upsert_opportunity(self, opportunity: Opportunity, p: _Pending) -> None:
        key: NodeKey = ("opportunity", opportunity.crm, opportunity.id)
        old_account = self._account_of(key)
        if opportunity.deleted:
            if key in self.graph:
                self.graph.remove_node(key)
            if old_account:
                p.touched.add(old_account)
                self._drop_if_orphan(old_account)
            return
        attrs = {
            "is_won": opportunity.is_won,
            "is_closed": opportunity.is_closed or opportunity.is_won,
            "created_at": _epoch(opportunity.created_at),
            "closed_at": _epoch(opportunity.close_date),
        }
        account = self._account(opportunity.crm, opportunity.account_id)
        previous = self._node(key) if key in self.graph else {}
        if old_account != account or any(previous.get(name) != value for name, value in attrs.items()):
            p.touched.update(a for a in (old_account, account) if a)
        self.graph.add_node(key, **attrs)
        self._set_link(key, "opportunity_of", "account", account)

    def _upsert_person(self, person: Lead, p: _Pending) -> None:
        key = person_key(person)
        unlinked = not person.deleted and not person.account_id
        self._unlinked.pop(key, None)
        p.rematch.discard(key)
        if person.deleted:
            if key in self.graph:
                self._set_member(key, NO_MATCH, p)
                self._set_owner(key, None)
                self.graph.remove_node(key)
            return
        if key not in self.graph:
            self.graph.add_node(key)
            p.affected.add(key)
        self._set_owner(key, person.owner_id)
        if unlinked:
            self._unlinked[key] = person
            p.rematch.add(key)
        else:
            self._set_member(key, Match(person.account_id, "linked", 100.0, "linked in the CRM"), p)

    def _apply_activities(self, activities: Iterable[Activity], p: _Pending) -> None:
        changes = self.activities.update(activities)
        p.touched.update(("account", c, a) for c, a in changes.accounts if ("account", c, a) in self.graph)
        self._engage(changes.persons, p)

    def _engage(self, persons: Iterable[LeadRef], p: _Pending) -> None:
        for crm, person_id in persons:
            key = next((k for kind in PERSONS if (k := (kind, crm, person_id)) in self.graph), None)
            if key is None:
                continue
            p.affected.add(key)
            last, count = self.activities.summary(crm, [person_id])
            account, n = self._account_of(key), int(count[0])
            if account is None:
                continue
            if self.graph.has_edge(key, account, "engaged_in"):
                self.graph.remove_edge(key, account, "engaged_in")
                p.touched.add(account)
            if n == 0:
                continue
            p.touched.add(account)
            self.graph.add_edge(key, account, key="engaged_in", last_at=float(last[0]), count=n)
            recent = self._recent.get((crm, account[2]))
            self._recent[(crm, account[2])] = (
                float(last[0]) if recent is None else max(recent, float(last[0]))
            )

    def _set_member(self, key: NodeKey, match: Match, p: _Pending) -> None:
        node = self._node(key)
        old, account, previous = (
            node.get("account"),
            self._account(key[1], match.account_id),
            node.get("match"),
        )
        node.update(match=match, account=account)
        rel = "works_at" if key[0] == "contact" and match.method == "linked" else "matched_to"
        if old == account and previous is not None and previous.method == match.method:
            if account is not None:
                self.graph.edges[key, account, rel].update(score=match.score, reason=match.reason)
            return
        if old is not None:
            for stale in (*MEMBER_RELATIONS, "engaged_in"):
                if self.graph.has_edge(key, old, stale):
                    self.graph.remove_edge(key, old, stale)
        if account is not None:
            self.graph.add_edge(
                key, account, key=rel, method=match.method, score=match.score, reason=match.reason
            )
        p.affected.add(key)
        p.moved.add(key)
        if self.activities.has_person(key[1], key[2]):
            p.touched.update(a for a in (old, account) if a)
        if old is not None and old != account:
            self._drop_if_orphan(old)

    def _set_link(self, key: NodeKey, rel: str, attr: str, target: NodeKey | None) -> None:
        node = self._node(key)
        old, target = node.get(attr), target if target != key else None
        if old == target:
            return
        if old is not None and self.graph.has_edge(key, old, rel):
            self.graph.remove_edge(key, old, rel)
            self._drop_if_orphan(old)
        if target is not None:
            self.graph.add_edge(key, target, key=rel)
        node[attr] = target

    def _set_owner(self, key: NodeKey, owner_id: str | None) -> None:
        node = self._node(key)
        owner: NodeKey | None = ("owner", key[1], owner_id) if owner_id else None
        old = node.get("owner")
        if old == owner:
            return
        if old is not None and self.graph.has_edge(old, key, "owns"):
            self.graph.remove_edge(old, key, "owns")
            if self.graph.degree(old) == 0:
                self.graph.remove_node(old)
        if owner is not None:
            self.graph.add_edge(owner, key, key="owns")
        node["owner"] = owner

    def _account(self, crm: Crm, account_id: str | None) -> NodeKey | None:
        if not account_id:
            return None
        key: NodeKey = ("account", crm, account_id)
        if key not in self.graph:
            self.graph.add_node(key, name=account_id, is_customer=False, parent=None, known=False)
        return key

    def _drop_if_orphan(self, key: NodeKey) -> None:
        if key in self.graph and not self._node(key).get("known", True) and self.graph.degree(key) == 0:
            self.graph.remove_node(key)

    def _match_candidates(self, account: NodeKey) -> set[NodeKey]:
        """Every unlinked person sharing a domain or name block with the account, or matched to it (by
        looking at each: the definition of what the graph's reverse index answers)."""
        domains, blocks = self._node(account).get("keys", ((), ()))
        found = {m for m in self.members(account[1], account[2]) if m in self._unlinked}
        for key, lead in self._unlinked.items():
            lead_domains, lead_blocks = lead_match_keys(lead)
            if key[1] == account[1] and (set(lead_domains) & set(domains) or set(lead_blocks) & set(blocks)):
                found.add(key)
        return found


def _epoch(moment: datetime | date | None) -> float | None:
    if moment is None:
        return None
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day)
    return float(epoch_seconds(moment))
