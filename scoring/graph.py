"""The account graph: who works where, which lead belongs to which account, deals, owners, engagement.

Nodes are typed keys `(kind, crm, id)` with kind one of account, contact, lead, opportunity, owner, in a
networkx `MultiDiGraph` whose edge keys name the relation:

- `parent`: account -> its parent account (a subsidiary points at its parent)
- `works_at`: contact -> account (the CRM's own link)
- `matched_to`: lead (or contact without an account) -> account, with `method`, `score` and `reason`
- `engaged_in`: person -> their account, with `last_at` (epoch seconds) and `count` of activities
- `opportunity_of`: opportunity -> account
- `owns`: owner -> account, lead or contact

Activities are not nodes: each person's dated timeline lives in the `ActivityIndex` (a few numpy columns),
and the `engaged_in` edge only summarises it. Accounts referred to before they arrive are placeholders
(`known=False`) until their record comes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Literal, TypeVar

import networkx as nx
import numpy as np

from mappings import Account, Activity, Crm, Lead, Opportunity, Record
from scoring.activity import ActivityIndex, epoch_seconds
from scoring.matching import NO_MATCH, AccountMatcher, Match, account_match_keys, lead_match_keys

__all__ = ["AccountGraph", "AccountInfo", "LeadRef", "NodeKey", "OpportunityInfo"]

NodeKind = Literal["account", "contact", "lead", "opportunity", "owner"]
NodeKey = tuple[NodeKind, Crm, str]
"""A node: `("account", "salesforce", "001...")`."""
LeadRef = tuple[Crm, str]
"""A scored person (lead or contact) by CRM and id."""
_MEMBER = ("works_at", "matched_to")
_PERSONS: tuple[NodeKind, NodeKind] = ("lead", "contact")


@dataclass(frozen=True, slots=True)
class AccountInfo:
    """What the graph knows of an account (a placeholder has only an id)."""

    crm: Crm
    id: str
    name: str
    is_customer: bool
    parent_id: str | None
    known: bool


@dataclass(frozen=True, slots=True)
class OpportunityInfo:
    """An opportunity's state, with the moments needed to see it as of any date."""

    id: str
    is_won: bool
    is_closed: bool
    created_at: float | None
    closed_at: float | None


class AccountGraph:
    """The account graph, updated incrementally each cycle.

    `match_threshold` is the fuzzy company-name threshold (0-100). The graph owns an `ActivityIndex`
    (`activities`) fed by `update(activities=...)`.
    """

    def __init__(self, *, match_threshold: float = 90.0, activities: ActivityIndex | None = None) -> None:
        self._g: nx.MultiDiGraph[NodeKey] = nx.MultiDiGraph()
        self._threshold = match_threshold
        self._matchers: dict[Crm, AccountMatcher] = {}
        self._recent: dict[tuple[Crm, str], float] = {}
        self._by_domain: defaultdict[tuple[Crm, str], set[NodeKey]] = defaultdict(set)
        self._by_block: defaultdict[tuple[Crm, str], set[NodeKey]] = defaultdict(set)
        self.activities = activities if activities is not None else ActivityIndex()

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

    # ---- update -------------------------------------------------------------------------------------

    def update(
        self,
        *,
        accounts: Iterable[Account] = (),
        contacts: Iterable[Lead] = (),
        leads: Iterable[Lead] = (),
        opportunities: Iterable[Opportunity] = (),
        activities: Iterable[Activity] = (),
        deleted: Iterable[Record] = (),
    ) -> set[LeadRef]:
        """Apply what changed; return the leads and contacts whose context changed and need re-scoring.

        Context changes: the lead is new or now belongs to another account; its account's name, customer
        status, parent or opportunities changed; a parent or sister company became (or stopped being) a
        customer; the lead or a colleague at its account has new, changed or deleted activity. Records
        flagged `deleted` in any argument are removed like those in `deleted`.
        """
        affected: set[NodeKey] = set()
        touched: set[NodeKey] = set()
        rematch: set[NodeKey] = set()
        for record in deleted:
            self._delete(record, affected, touched, rematch)
        for account in accounts:
            self._upsert_account(account, affected, touched, rematch)
        for opportunity in opportunities:
            self._upsert_opportunity(opportunity, touched)
        people = [*contacts, *leads]
        unlinked = [p for p in people if self._upsert_person(p, affected, touched, rematch)]
        for person in unlinked:
            rematch.discard(_person_key(person))
        self._match(unlinked, affected, touched)
        self._rematch(rematch, affected, touched)
        self._engage(activities, affected, touched)
        for touched_account in touched:
            if touched_account in self._g:
                affected.update(self.members(touched_account[1], touched_account[2]))
        return {(crm, id_) for kind, crm, id_ in affected if kind in _PERSONS and (kind, crm, id_) in self._g}

    def _delete(
        self, record: Record, affected: set[NodeKey], touched: set[NodeKey], rematch: set[NodeKey]
    ) -> None:
        if isinstance(record, Account):
            self._upsert_account(_gone(record), affected, touched, rematch)
        elif isinstance(record, Opportunity):
            self._upsert_opportunity(_gone(record), touched)
        elif isinstance(record, Lead):
            self._upsert_person(_gone(record), affected, touched, rematch)
        elif isinstance(record, Activity):
            self._engage([_gone(record)], affected, touched)

    def _upsert_account(
        self, account: Account, affected: set[NodeKey], touched: set[NodeKey], rematch: set[NodeKey]
    ) -> None:
        key: NodeKey = ("account", account.crm, account.id)
        matcher = self.matcher(account.crm)
        old = dict(self._g.nodes[key]) if key in self._g else None
        if old is not None and old["known"]:
            # People who matched under the old name or domains may belong elsewhere now.
            rematch.update(self._match_candidates(account.crm, account.id))
        if account.deleted:
            matcher.remove(account.id)
            if old is not None:
                touched.update(self._family(key))
                self._set_parent(key, None)
                self._set_owner(key, None)
                self._g.nodes[key].update(name=account.id, is_customer=False, known=False, keys=((), ()))
                self._drop_if_orphan(key)
            return
        parent = account.parent_id if account.parent_id and account.parent_id != account.id else None
        context: dict[str, object] = {
            "name": (account.name or "").strip() or account.id,
            "is_customer": account.is_customer,
            "parent": parent,
            "known": True,
        }
        keys = account_match_keys(account)
        if old is None or any(old.get(name) != value for name, value in context.items()):
            touched.update(self._family(key))
            self._g.add_node(key, **context)
            self._set_parent(key, parent)
            touched.update(self._family(key))
        if old is None or old != {**old, **context, "keys": keys}:
            self._g.nodes[key]["keys"] = keys
            matcher.upsert(account)
            rematch.update(self._match_candidates(account.crm, account.id))
        self._set_owner(key, account.owner_id)

    def _upsert_opportunity(self, opportunity: Opportunity, touched: set[NodeKey]) -> None:
        key: NodeKey = ("opportunity", opportunity.crm, opportunity.id)
        old_account = self._account_of(key)
        if opportunity.deleted:
            if key in self._g:
                self._g.remove_node(key)
            touched.update(a for a in (old_account,) if a)
            return
        attrs = {
            "is_won": opportunity.is_won,
            "is_closed": opportunity.is_closed or opportunity.is_won,
            "created_at": _epoch(opportunity.created_at),
            "closed_at": _epoch(opportunity.close_date),
        }
        account = self._account(opportunity.crm, opportunity.account_id)
        previous = self._g.nodes[key] if key in self._g else {}
        if old_account != account or any(previous.get(name) != value for name, value in attrs.items()):
            touched.update(a for a in (old_account, account) if a)
        self._g.add_node(key, **attrs)
        self._set_link(key, "opportunity_of", account)
        if old_account and old_account != account:
            self._drop_if_orphan(old_account)

    def _upsert_person(
        self, person: Lead, affected: set[NodeKey], touched: set[NodeKey], rematch: set[NodeKey]
    ) -> bool:
        """Add or update a person; True when it needs matching (no CRM link to an account)."""
        key = _person_key(person)
        self._index_person(key, None)
        if person.deleted:
            if key in self._g:
                old = self._account_of(key)
                if old and self._has_activity(key):
                    touched.add(old)
                self._set_owner(key, None)
                self._g.remove_node(key)
                if old:
                    self._drop_if_orphan(old)
            return False
        if key not in self._g:
            self._g.add_node(key, linked=False)
            affected.add(key)
        self._set_owner(key, person.owner_id)
        linked = bool(person.account_id)
        self._g.nodes[key]["linked"] = linked
        if linked:
            account = self._account(person.crm, person.account_id)
            shown = self._g.nodes[account]["name"] if account else person.account_id
            match = Match(person.account_id, "linked", 100.0, f"linked to account {shown} in the CRM")
            self._set_member(key, match, affected, touched)
            return False
        self._index_person(key, person)
        return True

    def _match(self, people: list[Lead], affected: set[NodeKey], touched: set[NodeKey]) -> None:
        by_crm: defaultdict[Crm, list[Lead]] = defaultdict(list)
        for person in people:
            by_crm[person.crm].append(person)
        for crm, group in by_crm.items():
            matches = self.matcher(crm).match_many(group)
            for person in group:
                self._set_member(_person_key(person), matches[person.id], affected, touched)

    def _rematch(self, keys: set[NodeKey], affected: set[NodeKey], touched: set[NodeKey]) -> None:
        people = [self._g.nodes[key]["record"] for key in keys if key in self._g and not self._linked(key)]
        self._match(people, affected, touched)

    def _engage(self, activities: Iterable[Activity], affected: set[NodeKey], touched: set[NodeKey]) -> None:
        changes = self.activities.update(activities)
        for crm, account_id in changes.accounts:
            touched.add(("account", crm, account_id))
        if not changes.persons:
            return
        by_crm: defaultdict[Crm, list[str]] = defaultdict(list)
        for crm, person_id in changes.persons:
            by_crm[crm].append(person_id)
        for crm, ids in by_crm.items():
            last, count = self.activities.summary(crm, ids)
            for person_id, last_at, n in zip(ids, last, count, strict=True):
                key = self._person(crm, person_id)
                if key is None:
                    continue
                affected.add(key)
                account = self._account_of(key)
                if account is None:
                    continue
                touched.add(account)
                self._drop(key, account, "engaged_in")
                if n > 0:
                    self._g.add_edge(key, account, key="engaged_in", last_at=float(last_at), count=int(n))
                    recent = self._recent.get((crm, account[2]), -np.inf)
                    self._recent[(crm, account[2])] = max(recent, float(last_at))

    # ---- edges and indexes --------------------------------------------------------------------------

    def _set_member(self, key: NodeKey, match: Match, affected: set[NodeKey], touched: set[NodeKey]) -> None:
        old = self._account_of(key)
        account = self._account(key[1], match.account_id)
        previous = self._g.nodes[key].get("match")
        self._g.nodes[key]["match"] = match
        if old == account and previous is not None and previous.method == match.method:
            if account:
                self._g.edges[key, account, _membership(key, match)].update(
                    score=match.score, reason=match.reason
                )
            return
        engaged = (
            self._g.edges[key, old, "engaged_in"]
            if old and self._g.has_edge(key, old, "engaged_in")
            else None
        )
        if old:
            for rel in (*_MEMBER, "engaged_in"):
                self._drop(key, old, rel)
        if account:
            self._g.add_edge(
                key,
                account,
                key=_membership(key, match),
                method=match.method,
                score=match.score,
                reason=match.reason,
            )
            if engaged:
                self._g.add_edge(key, account, key="engaged_in", **engaged)
        affected.add(key)
        if self._has_activity(key):
            touched.update(a for a in (old, account) if a)
        if old and old != account:
            self._drop_if_orphan(old)

    def _set_link(self, key: NodeKey, rel: str, target: NodeKey | None) -> None:
        for _, v, k in list(self._g.out_edges(key, keys=True)):
            if k == rel:
                self._drop(key, v, rel)
        if target is not None:
            self._g.add_edge(key, target, key=rel)

    def _drop(self, u: NodeKey, v: NodeKey, rel: str) -> None:
        if self._g.has_edge(u, v, rel):
            self._g.remove_edge(u, v, rel)

    def _set_parent(self, key: NodeKey, parent_id: str | None) -> None:
        old = self._parent(key)
        target = self._account(key[1], parent_id) if parent_id and parent_id != key[2] else None
        self._set_link(key, "parent", target)
        if old and old != target:
            self._drop_if_orphan(old)

    def _set_owner(self, key: NodeKey, owner_id: str | None) -> None:
        owners = [u for u in self._g.pred[key] if u[0] == "owner"]
        if owner_id and owners == [("owner", key[1], owner_id)]:
            return
        for owner in owners:
            self._drop(owner, key, "owns")
        self._g.remove_nodes_from([u for u in owners if self._g.degree(u) == 0])
        if owner_id:
            self._g.add_edge(("owner", key[1], owner_id), key, key="owns")

    def _index_person(self, key: NodeKey, person: Lead | None) -> None:
        """Keep the reverse indexes (domain / name block -> unlinked people) in step with `person`."""
        if key in self._g:
            self._g.nodes[key].pop("record", None)
            for domain in self._g.nodes[key].pop("domains", ()):
                self._by_domain[(key[1], domain)].discard(key)
            for block in self._g.nodes[key].pop("blocks", ()):
                self._by_block[(key[1], block)].discard(key)
        if person is None:
            return
        domains, blocks = lead_match_keys(person)
        self._g.nodes[key].update(domains=domains, blocks=blocks, record=person)
        for domain in domains:
            self._by_domain[(key[1], domain)].add(key)
        for block in blocks:
            self._by_block[(key[1], block)].add(key)

    def _match_candidates(self, crm: Crm, account_id: str) -> set[NodeKey]:
        """Unlinked people who might match this account: same domain or name block, or matched to it."""
        found = {m for m in self.members(crm, account_id) if not self._linked(m)}
        domains, blocks = self._g.nodes[("account", crm, account_id)].get("keys", ((), ()))
        for domain in domains:
            found.update(self._by_domain.get((crm, domain), ()))
        for block in blocks:
            found.update(self._by_block.get((crm, block), ()))
        return found

    def _account(self, crm: Crm, account_id: str | None) -> NodeKey | None:
        """The account's node, added as a placeholder when its record has not arrived yet."""
        if not account_id:
            return None
        key: NodeKey = ("account", crm, account_id)
        if key not in self._g:
            self._g.add_node(key, name=account_id, is_customer=False, parent=None, known=False)
        return key

    def _drop_if_orphan(self, key: NodeKey) -> None:
        if key in self._g and not self._g.nodes[key].get("known", True) and self._g.degree(key) == 0:
            self._g.remove_node(key)

    def _account_of(self, key: NodeKey) -> NodeKey | None:
        if key not in self._g:
            return None
        for _, target, rel in self._g.out_edges(key, keys=True):
            if rel in _MEMBER or rel == "opportunity_of":
                return target
        return None

    def _parent(self, key: NodeKey) -> NodeKey | None:
        return next((v for _, v, rel in self._g.out_edges(key, keys=True) if rel == "parent"), None)

    def _children(self, key: NodeKey) -> list[NodeKey]:
        return [u for u, rels in self._g.pred[key].items() if "parent" in rels]

    def _family(self, key: NodeKey) -> set[NodeKey]:
        """An account, its subsidiaries and its sister companies: whose context its status is part of."""
        if key not in self._g:
            return set()
        family = {key, *self._children(key)}
        parent = self._parent(key)
        if parent is not None:
            family.update(self._children(parent))
        return family

    def _linked(self, key: NodeKey) -> bool:
        return bool(self._g.nodes[key].get("linked")) if key in self._g else False

    def _has_activity(self, key: NodeKey) -> bool:
        return bool(self.activities.person_codes(key[1], [key[2]])[0] >= 0)

    def _person(self, crm: Crm, person_id: str) -> NodeKey | None:
        for kind in _PERSONS:
            key: NodeKey = (kind, crm, person_id)
            if key in self._g:
                return key
        return None

    # ---- reading ------------------------------------------------------------------------------------

    def members(self, crm: Crm, account_id: str) -> list[NodeKey]:
        """People (leads and contacts) who work at or were matched to the account."""
        key: NodeKey = ("account", crm, account_id)
        if key not in self._g:
            return []
        return [
            u for u, rels in self._g.pred[key].items() if u[0] in _PERSONS and any(r in rels for r in _MEMBER)
        ]

    def match_of(self, lead: Lead) -> Match:
        """The account `lead` belongs to: as recorded by `update`, else matched now without recording it."""
        key = self._person(lead.crm, lead.id)
        if key is not None and key[0] == _person_key(lead)[0]:
            match = self._g.nodes[key].get("match")
            if isinstance(match, Match):
                return match
        if lead.account_id:
            info = self.account_info(lead.crm, lead.account_id)
            shown = info.name if info else lead.account_id
            return Match(lead.account_id, "linked", 100.0, f"linked to account {shown} in the CRM")
        return self.matcher(lead.crm).match(lead) if lead.crm in self._matchers else NO_MATCH

    def account_info(self, crm: Crm, account_id: str) -> AccountInfo | None:
        """The account as the graph knows it, or None if it was never mentioned."""
        key: NodeKey = ("account", crm, account_id)
        if key not in self._g:
            return None
        node = self._g.nodes[key]
        parent = self._parent(key)
        return AccountInfo(
            crm, account_id, node["name"], node["is_customer"], parent[2] if parent else None, node["known"]
        )

    def children(self, crm: Crm, account_id: str) -> list[str]:
        """Ids of the account's direct subsidiaries, sorted."""
        key: NodeKey = ("account", crm, account_id)
        return sorted(child[2] for child in self._children(key)) if key in self._g else []

    def opportunities(self, crm: Crm, account_id: str) -> list[OpportunityInfo]:
        """The account's opportunities."""
        key: NodeKey = ("account", crm, account_id)
        if key not in self._g:
            return []
        found: list[OpportunityInfo] = []
        for u, rels in self._g.pred[key].items():
            if u[0] == "opportunity" and "opportunity_of" in rels:
                node = self._g.nodes[u]
                found.append(
                    OpportunityInfo(
                        u[2], node["is_won"], node["is_closed"], node["created_at"], node["closed_at"]
                    )
                )
        return found

    def nodes_of(self, kind: NodeKind) -> Iterator[NodeKey]:
        """Every node of one kind."""
        return (key for key in self._g if key[0] == kind)


def _person_key(person: Lead) -> NodeKey:
    return ("contact" if person.kind == "contact" else "lead", person.crm, person.id)


def _membership(key: NodeKey, match: Match) -> str:
    return "works_at" if key[0] == "contact" and match.method == "linked" else "matched_to"


def _epoch(moment: datetime | date | None) -> float | None:
    if moment is None:
        return None
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day)
    return float(epoch_seconds(moment))


_R = TypeVar("_R", bound=Record)


def _gone(record: _R) -> _R:
    """The record marked deleted (deletions arrive as records or as bare ids turned into records)."""
    return record if record.deleted else replace(record, deleted=True)
