"""The account graph: who works where, which lead belongs to which account, deals, owners, engagement.

Nodes are typed keys `(kind, crm, id)` with kind one of account, contact, lead, opportunity, owner, and
the edges (as `graph`'s networkx picture names them) are:

- `parent`: account -> its parent account (a subsidiary points at its parent)
- `works_at`: contact -> account (the CRM's own link)
- `matched_to`: lead (or contact without an account) -> account, with `method`, `score` and `reason`
- `engaged_in`: person -> their account, with `last_at` (epoch seconds) and `count` of activities
- `opportunity_of`: opportunity -> account
- `owns`: owner -> account, lead or contact

Activities are not nodes: each person's dated timeline lives in the `ActivityIndex` (a few numpy columns,
~30 bytes an activity), and the `engaged_in` edge only summarises it. Accounts referred to before their
record arrives are placeholders (`known=False`). Each node is one slotted object holding its edges
(scoring/graph_view.py says how); owners are only the key their records point at.

This module holds the bookkeeping of changes (upserts, deletions, re-matching, what needs re-scoring);
the questions asked of the graph are in `scoring.graph_view`, its types in `scoring.graph_types`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Unpack

from mappings import Account, Activity, Crm, Lead, Opportunity, Record
from scoring.activity import ActivityIndex, epoch_seconds
from scoring.candidates import CandidateIndex
from scoring.graph_types import (
    AccountInfo,
    GraphChanges,
    LeadRef,
    NodeKey,
    NodeKind,
    OpportunityInfo,
    Records,
)
from scoring.graph_view import (
    AccountNode,
    DealNode,
    GraphView,
    PersonNode,
    join_index,
    leave_index,
    person_key,
)
from scoring.matching import (
    NO_MATCH,
    Match,
    account_match_keys,
    lead_match_keys,
)

__all__ = [
    "AccountGraph",
    "AccountInfo",
    "GraphChanges",
    "GraphView",
    "LeadRef",
    "NodeKey",
    "NodeKind",
    "OpportunityInfo",
]


@dataclass(slots=True)
class _Pending:
    """What one `update` has disturbed so far."""

    affected: set[NodeKey] = field(default_factory=set)  # people to re-score
    touched: set[NodeKey] = field(default_factory=set)  # accounts whose members all need re-scoring
    rematch: set[NodeKey] = field(default_factory=set)  # unlinked people to match again
    moved: set[NodeKey] = field(default_factory=set)  # people whose account changed


class AccountGraph(GraphView):
    """The account graph, updated incrementally each cycle.

    `match_threshold` is the fuzzy company-name threshold (0-100). The graph owns an `ActivityIndex`
    (`activities`), fed by `update(activities=...)`; pass one in to share it.
    """

    def __init__(self, *, match_threshold: float = 90.0, activities: ActivityIndex | None = None) -> None:
        super().__init__(match_threshold=match_threshold, activities=activities)
        self._candidates: defaultdict[Crm, CandidateIndex[NodeKey]] = defaultdict(CandidateIndex)
        self._unlinked: dict[NodeKey, Lead] = {}
        self._owners: dict[tuple[Crm, str], NodeKey] = {}

    def update(self, **records: Unpack[Records]) -> set[LeadRef]:
        """Apply what changed; return the leads and contacts whose context changed and need re-scoring.

        `apply` with the members of the changed accounts looked up at once; see there.
        """
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
        """Apply what changed; return the people whose context changed, and the accounts whose members all
        need re-scoring.

        Context changes: the person is new or now belongs to another account; its account's name, customer
        status, parent or opportunities changed; a parent or sister company became (or stopped being) a
        customer; the person or a colleague at its account has new, changed or deleted activity. Records
        flagged `deleted` in any argument are removed like those in `deleted`. Time passing (an activity
        leaving the 30-day window) changes no graph state: re-score everyone periodically for that.
        """
        self._forget()
        p = _Pending()
        for record in deleted:
            self._delete(record if record.deleted else replace(record, deleted=True), p)
        for account in accounts:
            self._upsert_account(account, p)
        for opportunity in opportunities:
            self._upsert_opportunity(opportunity, p)
        for person in [*contacts, *leads]:
            self._upsert_person(person, p)
        self._match(p)
        self._apply_activities(activities, p)
        nodes = self._people
        self._engage({(key[1], key[2]) for key in p.moved if key in nodes}, p)
        return GraphChanges(
            {(key[1], key[2]) for key in p.affected if key in nodes},
            {(key[1], key[2]) for key in p.touched},
        )

    def refresh(self, people: Iterable[Lead]) -> None:
        """Hold these records instead of the versions `update` kept, where nothing matching reads differs.

        A person pulled again with only our writeback fields changed (an echo) is not fed to `update`;
        without this the graph would keep the previous record of every unlinked lead alive beside the
        world's new one (~480 bytes a person once scores are written)."""
        self._forget()
        for person in people:
            key = person_key(person)
            old = self._unlinked.get(key)
            if old is not None and _same_match_input(old, person):
                self._unlinked[key] = person

    # ---- applying records ---------------------------------------------------------------------------

    def _delete(self, record: Record, p: _Pending) -> None:
        if isinstance(record, Account):
            self._upsert_account(record, p)
        elif isinstance(record, Opportunity):
            self._upsert_opportunity(record, p)
        elif isinstance(record, Lead):
            self._upsert_person(record, p)
        elif isinstance(record, Activity):
            self._apply_activities([record], p)

    def _upsert_account(self, account: Account, p: _Pending) -> None:
        key: NodeKey = ("account", account.crm, account.id)
        node = self._accounts.get(key)
        if account.deleted:
            self.matcher(account.crm).remove(account.id)
            if node is not None:
                p.rematch.update(self._match_candidates(key))
                p.touched.update(self._family(key) if node.is_customer else {key})
                self._set_parent(key, None)
                self._set_owner(node, account.crm, None)
                node.name, node.is_customer, node.known, node.keys = account.id, False, False, ((), ())
                self._drop_if_orphan(key)
            return
        parent = account.parent_id if account.parent_id != account.id else None
        name = (account.name or "").strip() or account.id
        context = (name, account.is_customer, parent or None, True)
        keys = account_match_keys(account)
        context_changed = node is None or (node.name, node.is_customer, node.parent, node.known) != context
        match_changed = context_changed or node is None or node.keys != keys
        if match_changed and node is not None:
            # Whoever matched under the old name, domains or standing may belong elsewhere now.
            p.rematch.update(self._match_candidates(key))
        if context_changed:
            # Relatives only care while a customer is involved ("parent company X is a customer").
            spread = account.is_customer or bool(node is not None and node.is_customer)
            p.touched.update(self._family(key) if spread else {key})
            if node is None:
                node = self._accounts[key] = AccountNode(name)
            node.name, node.is_customer, node.parent, node.known = context
            self._set_parent(key, self._account(account.crm, parent))
            p.touched.update(self._family(key) if spread else {key})
        assert node is not None  # made above when it was new (a new account's context always changed)
        if match_changed:
            node.keys = keys
            self.matcher(account.crm).upsert(account)
            p.rematch.update(self._match_candidates(key))
        self._set_owner(node, account.crm, account.owner_id)

    def _upsert_opportunity(self, opportunity: Opportunity, p: _Pending) -> None:
        key: NodeKey = ("opportunity", opportunity.crm, opportunity.id)
        node = self._deals.get(key)
        old_account = node.account if node is not None else None
        if opportunity.deleted:
            if node is not None:
                self._set_deal_account(key, node, None)
                del self._deals[key]
            if old_account:
                p.touched.add(old_account)
                self._drop_if_orphan(old_account)
            return
        state = (
            opportunity.is_won,
            opportunity.is_closed or opportunity.is_won,
            _epoch(opportunity.created_at),
            _epoch(opportunity.close_date),
        )
        account = self._account(opportunity.crm, opportunity.account_id)
        if node is None or old_account != account or node.state() != state:
            p.touched.update(a for a in (old_account, account) if a)
        if node is None:
            node = self._deals[key] = DealNode(*state)
        else:
            node.is_won, node.is_closed, node.created_at, node.closed_at = state
        self._set_deal_account(key, node, account)

    def _upsert_person(self, person: Lead, p: _Pending) -> None:
        key = person_key(person)
        # Filed under its match keys only while unlinked (one `put` replaces what it was filed under).
        account_id = person.account_id
        unlinked = not person.deleted and not account_id
        was = self._unlinked.pop(key, None)  # an unlinked person is filed under its record's keys
        self._candidates[person.crm].put(
            key,
            lead_match_keys(person) if unlinked else None,
            was=None if was is None else lead_match_keys(was),
        )
        p.rematch.discard(key)
        node = self._people.get(key)
        if person.deleted:
            if node is not None:
                self._set_member(key, NO_MATCH, p)
                del self._people[key]
            return
        if node is None:
            node = self._people[key] = PersonNode()
            p.affected.add(key)
        self._set_owner(node, person.crm, person.owner_id)
        if account_id:
            self._set_member(key, self._linked(person.crm, account_id), p)
        else:
            self._unlinked[key] = person
            p.rematch.add(key)

    def _match(self, p: _Pending) -> None:
        by_crm: defaultdict[Crm, list[NodeKey]] = defaultdict(list)
        for key in p.rematch:
            if key in self._unlinked:
                by_crm[key[1]].append(key)
        for crm, keys in by_crm.items():
            matches = self.matcher(crm).match_many(self._unlinked[key] for key in keys)
            for key in keys:
                self._set_member(key, matches[key[2]], p)

    def _apply_activities(self, activities: Iterable[Activity], p: _Pending) -> None:
        changes = self.activities.update(activities)
        for crm, account_id in changes.accounts:
            if ("account", crm, account_id) in self._accounts:
                p.touched.add(("account", crm, account_id))
        self._engage(changes.persons, p)

    def _engage(self, persons: Iterable[LeadRef], p: _Pending) -> None:
        """Refresh the engagement (`engaged_in`) of people whose activity or account changed."""
        by_crm: defaultdict[Crm, list[NodeKey]] = defaultdict(list)
        for crm, person_id in persons:
            key = self._person(crm, person_id)
            if key is not None:
                by_crm[crm].append(key)
                p.affected.add(key)
        people = self._people
        for crm, keys in by_crm.items():
            last, count = self.activities.summary(crm, [key[2] for key in keys])
            for key, last_at, n in zip(keys, last.tolist(), count.tolist(), strict=True):
                node = people[key]
                account = node.account
                if account is None:
                    continue
                if node.count:
                    node.last_at, node.count = None, 0
                    p.touched.add(account)
                if n == 0:
                    continue
                p.touched.add(account)
                node.last_at, node.count = last_at, n
                recent = self._recent.get((crm, account[2]))
                self._recent[(crm, account[2])] = last_at if recent is None else max(recent, last_at)

    # ---- edges --------------------------------------------------------------------------------------

    def _set_member(self, key: NodeKey, match: Match, p: _Pending) -> None:
        """Make the person a member of `match`'s account (none for no match), as matched."""
        node = self._people[key]
        old = node.account
        account = self._account(key[1], match.account_id)
        previous = node.match
        node.match = match
        node.account = account
        if old == account and previous is not None and previous.method == match.method:
            return  # the same edge; its score and reason are the match's
        if old is not None:
            accounts = self._accounts
            accounts[old].members = leave_index(accounts[old].members, key)
            node.last_at, node.count = None, 0  # engagement is at the account: `_engage` sets it again
        if account is not None:
            target = self._accounts[account]
            target.members = join_index(target.members, key)
        p.affected.add(key)
        p.moved.add(key)
        if self._has_activity(key):
            p.touched.update(a for a in (old, account) if a)
        if old is not None and old != account:
            self._drop_if_orphan(old)

    def _set_parent(self, key: NodeKey, target: NodeKey | None) -> None:
        """Point the account's `parent` edge at `target` (an account other than itself, or None)."""
        node = self._accounts[key]
        target = target if target != key else None
        if node.parent_key != target:
            self._move(key, node.parent_key, target, "children")
            node.parent_key = target

    def _set_deal_account(self, key: NodeKey, node: DealNode, target: NodeKey | None) -> None:
        """Point the deal's `opportunity_of` edge at `target` (or at none)."""
        if node.account != target:
            self._move(key, node.account, target, "deals")
            node.account = target

    def _move(self, key: NodeKey, old: NodeKey | None, target: NodeKey | None, side: str) -> None:
        """Take `key` off the `side` (children or deals) of account `old`, which goes if nothing refers to
        it any more, and add it to `target`'s."""
        if old is not None:
            account = self._accounts[old]
            setattr(account, side, leave_index(getattr(account, side), key))
            self._drop_if_orphan(old)
        if target is not None:
            account = self._accounts[target]
            setattr(account, side, join_index(getattr(account, side), key))

    def _set_owner(self, node: AccountNode | PersonNode, crm: Crm, owner_id: str | None) -> None:
        # One shared key tuple per owner, not one per record they own.
        node.owner = self._owners.setdefault((crm, owner_id), ("owner", crm, owner_id)) if owner_id else None

    def _account(self, crm: Crm, account_id: str | None) -> NodeKey | None:
        """The account's node, added as a placeholder when its record has not arrived yet."""
        if not account_id:
            return None
        key: NodeKey = ("account", crm, account_id)
        if key not in self._accounts:
            self._accounts[key] = AccountNode(account_id)
        return key

    def _linked(self, crm: Crm, account_id: str) -> Match:
        """The match of a person the CRM links to the account (one object for all its people)."""
        key = self._account(crm, account_id)
        assert key is not None  # an id always has a node (a placeholder until its record arrives)
        node = self._accounts[key]
        if node.linked is None:
            node.linked = Match(account_id, "linked", 100.0, "linked in the CRM")
        return node.linked

    def _drop_if_orphan(self, key: NodeKey) -> None:
        """Forget a placeholder account nothing refers to any more."""
        node = self._accounts.get(key)
        if node is not None and not node.known and node.isolated():
            del self._accounts[key]

    # ---- looking around -----------------------------------------------------------------------------

    def _match_candidates(self, account: NodeKey) -> set[NodeKey]:
        """Unlinked people who might match this account: same domain or name block, or matched to it."""
        found = {m for m in self.members(account[1], account[2]) if m in self._unlinked}
        return found | self._candidates[account[1]].candidates(self._accounts[account].keys)

    def _has_activity(self, key: NodeKey) -> bool:
        return self.activities.has_person(key[1], key[2])


def _epoch(moment: datetime | date | None) -> float | None:
    if moment is None:
        return None
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day)
    return float(epoch_seconds(moment))


def _same_match_input(old: Lead, new: Lead) -> bool:
    """Whether matching would read the same from both records (what `AccountMatcher` and the keys use)."""
    return (
        old.crm == new.crm
        and old.id == new.id
        and old.deleted == new.deleted
        and old.account_id == new.account_id
        and old.email == new.email
        and old.domain == new.domain
        and old.company == new.company
    )
