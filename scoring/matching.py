"""Lead-to-account matching, the way LeanData does it: email domain first, then company name.

Order of evidence: a CRM link (`account_id`, for contacts and converted leads) is taken as is; then the
lead's email domain (or company website) against account website domains, public-suffix aware, free-mail
never; then the normalised company name, exactly, then fuzzily (rapidfuzz `token_sort_ratio` at or above
a threshold, default 90). Among equally good accounts: customers before prospects, the most recently
engaged, parents before children, then the lowest id, so a rerun gives the same answer.

Names are compared after normalising: legal suffixes go, a common business word and its abbreviation are
one word ("International" and "Intl"), words run together in camel case come apart ("BlueRiver"), and
names that differ only in spacing ("Blueriver", "Blue River") are the same name.

Accounts are indexed by domain, by name with its spaces removed, and by blocking keys (4-letter token
prefixes, and that of the name without spaces). Fuzzy matching compares a company name with one block of
account names: that of its rarest key, the one fewest account names share. The distinctive word of a name
picks its candidates, so the work per lead does not grow with an org's common words ("Solutions",
"Academy"), and "Acme Solutions" is compared with the accounts called Acme, not with every company of
solutions. Each distinct company name is matched once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Hashable, Iterable
from dataclasses import dataclass
from typing import Literal, TypeVar

import numpy as np
from rapidfuzz import fuzz, process

from mappings import Account, Lead
from mappings.wire import remember
from scoring.match_keys import (
    account_match_keys,
    block_keys,
    company_domains,
    lead_domains,
    lead_match_keys,
    normalise_company,
    squash,
)

__all__ = [
    "MATCH_METHODS",
    "NO_MATCH",
    "AccountMatcher",
    "Match",
    "MatchMethod",
    "account_match_keys",
    "lead_match_keys",
    "normalise_company",
    "shared_match",
]

MatchMethod = Literal["linked", "domain", "name", "fuzzy", "none"]
MATCH_METHODS: tuple[MatchMethod, ...] = ("linked", "domain", "name", "fuzzy", "none")


@dataclass(frozen=True, slots=True)
class Match:
    """Which account a lead belongs to, how that was decided (0-100 confidence) and why, in words."""

    account_id: str | None
    method: MatchMethod
    score: float
    reason: str

    @property
    def matched(self) -> bool:
        """Whether an account was found."""
        return self.account_id is not None


NO_MATCH = Match(None, "none", 0.0, "no account matches the email domain or company name")
_MATCHES: dict[tuple[str, ...], Match] = {}


def shared_match(key: tuple[str, ...], account_id: str, method: MatchMethod, reason: str) -> Match:
    """The match `key` names (all that makes it: method, account, its name, what matched), one object for
    all the leads matched alike instead of a `Match` and a reason of ~100 bytes each (the graph keeps every
    person's). Remembered like the other readings (emptied when full)."""
    found = _MATCHES.get(key)
    return found if found is not None else remember(_MATCHES, key, Match(account_id, method, 100.0, reason))


_MAX_BLOCK = 5000
_MIN_FUZZY_LENGTH = 4
_MAX_DEPTH = 32


@dataclass(frozen=True, slots=True)
class _Entry:
    name: str
    norm: str | None
    domains: tuple[str, ...]
    is_customer: bool
    parent_id: str | None


class AccountMatcher:
    """Matches leads of one CRM to that CRM's accounts; accounts can be added and removed at any time.

    `recent_activity(account_id)` (epoch seconds or None) feeds the "most recently engaged" tie-breaker.
    """

    def __init__(
        self,
        accounts: Iterable[Account] = (),
        *,
        threshold: float = 90.0,
        recent_activity: Callable[[str], float | None] | None = None,
    ) -> None:
        self.threshold = min(max(float(threshold), 0.0), 100.0)
        self._recent = recent_activity
        self._accounts: dict[str, _Entry] = {}
        # Domain -> account ids, squashed name -> account ids: tuples, as most hold one account (a set
        # costs 216 bytes, a 1-tuple 48; ~100 MB at 1M leads).
        self._by_domain: dict[str, tuple[str, ...]] = {}
        self._by_name: dict[str, tuple[str, ...]] = {}
        self._names: dict[str, int] = {}  # normalised name -> how many accounts have it
        self._blocks: defaultdict[str, set[str]] = defaultdict(set)  # key -> normalised names
        # A block's names in order, as fuzzy matching compares with them, until the block changes: the
        # people of a pull are matched a batch at a time against blocks that stand still meanwhile.
        self._sorted: dict[str, list[str]] = {}
        for account in accounts:
            self.upsert(account)

    def __len__(self) -> int:
        return len(self._accounts)

    def __contains__(self, account_id: object) -> bool:
        return account_id in self._accounts

    def name_of(self, account_id: str) -> str | None:
        """The display name of an indexed account."""
        entry = self._accounts.get(account_id)
        return entry.name if entry else None

    def upsert(self, account: Account) -> None:
        """Index `account` (replacing what was indexed under its id); a deleted account is removed."""
        self.remove(account.id)
        if account.deleted:
            return
        norm = normalise_company(account.name)
        name = (account.name or "").strip() or account.id
        entry = _Entry(
            name,
            norm,
            company_domains(account.website, account.domain),
            account.is_customer,
            account.parent_id,
        )
        self._accounts[account.id] = entry
        for domain in entry.domains:
            _add(self._by_domain, domain, account.id)
        if norm:
            if norm not in self._names:
                for key in block_keys(norm):
                    self._blocks[key].add(norm)
                    self._sorted.pop(key, None)
            self._names[norm] = self._names.get(norm, 0) + 1
            _add(self._by_name, squash(norm), account.id)

    def remove(self, account_id: str) -> None:
        """Forget an account (no error if it was never indexed)."""
        entry = self._accounts.pop(account_id, None)
        if entry is None:
            return
        for domain in entry.domains:
            _remove(self._by_domain, domain, account_id)
        if entry.norm:
            _remove(self._by_name, squash(entry.norm), account_id)
            left = self._names.pop(entry.norm) - 1
            if left:
                self._names[entry.norm] = left
            else:
                for key in block_keys(entry.norm):
                    _discard(self._blocks, key, entry.norm)
                    self._sorted.pop(key, None)

    def match(self, lead: Lead) -> Match:
        """The account `lead` belongs to, or `NO_MATCH`."""
        return self.match_many([lead])[lead.id]

    def match_many(self, leads: Iterable[Lead]) -> dict[str, Match]:
        """Matches by lead id; each distinct company name is fuzzy-matched once, block by block."""
        result: dict[str, Match] = {}
        pending: defaultdict[str, list[tuple[str, str]]] = defaultdict(list)
        for lead in leads:
            match, norm = self._match_direct(lead)
            result[lead.id] = match
            if match is NO_MATCH and norm and len(norm) >= _MIN_FUZZY_LENGTH:
                pending[norm].append((lead.id, (lead.company or "").strip()))
        for norm, (score, names) in self._fuzzy(list(pending)).items():
            candidates = {account_id for name in names for account_id in self._by_name.get(squash(name), ())}
            best = self._best(candidates)
            for lead_id, company in pending[norm]:
                shown = self._accounts[best].name
                reason = f"company name {company!r} ~ {shown!r} ({score:.0f})"
                result[lead_id] = Match(best, "fuzzy", round(score, 1), reason)
        return result

    def _match_direct(self, lead: Lead) -> tuple[Match, str | None]:
        if lead.account_id:
            entry = self._accounts.get(lead.account_id)
            shown = entry.name if entry else lead.account_id
            return Match(lead.account_id, "linked", 100.0, f"linked to account {shown} in the CRM"), None
        for what, domain in lead_domains(lead):
            candidates = self._by_domain.get(domain)
            if candidates:
                best = self._best(candidates)
                shown = self._accounts[best].name
                reason = f"{what} {domain} matches {_possessive(shown)} website"
                return shared_match(("domain", best, shown, what, domain), best, "domain", reason), None
        norm = normalise_company(lead.company)
        named = self._by_name.get(squash(norm)) if norm else None
        if named:
            best = self._best(named)
            shown, company = self._accounts[best].name, (lead.company or "").strip()
            reason = f"company name {company!r} matches {shown!r}"
            return shared_match(("name", best, shown, company), best, "name", reason), None
        return NO_MATCH, norm

    def _fuzzy(self, queries: list[str]) -> dict[str, tuple[float, set[str]]]:
        """The best-scoring account names (at or above the threshold) of each name, from its rarest block."""
        by_block: defaultdict[str, list[str]] = defaultdict(list)
        for norm in queries:
            key = self._rarest_block(norm)
            if key is not None:
                by_block[key].append(norm)
        best: dict[str, tuple[float, set[str]]] = {}
        for key, block_queries in by_block.items():
            choices = self._sorted.get(key)
            if choices is None:
                choices = self._sorted[key] = sorted(self._blocks[key])
            scores = process.cdist(
                block_queries, choices, scorer=fuzz.token_sort_ratio, score_cutoff=self.threshold, workers=1
            )
            top = scores.max(axis=1)
            for row in np.flatnonzero(top >= self.threshold):
                names = {choices[col] for col in np.flatnonzero(scores[row] == top[row])}
                best[block_queries[row]] = (float(top[row]), names)
        return best

    def _rarest_block(self, norm: str) -> str | None:
        """The key of `norm` fewest account names share (ties: the first key), if any shares one and the
        block is small enough to compare with."""
        sizes = [(len(self._blocks[key]), key) for key in block_keys(norm) if key in self._blocks]
        if not sizes:
            return None
        size, key = min(sizes)
        return key if size <= _MAX_BLOCK else None

    def _best(self, candidates: Collection[str]) -> str:
        if len(candidates) == 1:
            return next(iter(candidates))
        return min(candidates, key=self._rank)

    def _rank(self, account_id: str) -> tuple[bool, float, int, str]:
        entry = self._accounts[account_id]
        recent = self._recent(account_id) if self._recent else None
        return (
            not entry.is_customer,
            -(recent if recent is not None else -np.inf),
            self._depth(entry),
            account_id,
        )

    def _depth(self, entry: _Entry) -> int:
        depth, seen, parent = 0, set[str](), entry.parent_id
        while parent and parent in self._accounts and parent not in seen and depth < _MAX_DEPTH:
            seen.add(parent)
            depth += 1
            parent = self._accounts[parent].parent_id
        return depth


V = TypeVar("V", bound=Hashable)


def _possessive(name: str) -> str:
    return f"{name}'" if name.endswith(("s", "S")) else f"{name}'s"


def _add(index: dict[str, tuple[str, ...]], key: str, value: str) -> None:
    members = index.get(key, ())
    if value not in members:
        index[key] = (*members, value)


def _remove(index: dict[str, tuple[str, ...]], key: str, value: str) -> None:
    members = index.get(key)
    if members is not None and value in members:
        left = tuple(member for member in members if member != value)
        if left:
            index[key] = left
        else:
            del index[key]


def _discard(index: defaultdict[str, set[V]], key: str, value: V) -> None:
    members = index.get(key)
    if members is not None:
        members.discard(value)
        if not members:
            del index[key]
