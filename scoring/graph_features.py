"""Account-context features of each lead, read off the account graph as of an explicit `now`.

Every feature has a name, a value and a phrase for explanations ("2 colleagues at Acme Corp engaged this
month"). Values are point-in-time: opportunities created, won or lost after `now`, activity after `now`
and customer status that began with a deal closed after `now` are not seen, so training snapshots agree
with what scoring would have seen then. Account features are NaN for a lead with no account.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt
import pandas as pd

from mappings import Crm, Lead
from scoring.activity import epoch_seconds
from scoring.graph import AccountGraph
from scoring.graph_types import AccountInfo, OpportunityInfo
from scoring.matching import MATCH_METHODS

__all__ = [
    "GRAPH_COLUMNS",
    "GRAPH_CONTEXT_COLUMNS",
    "GRAPH_LABELS",
    "GraphFact",
    "graph_facts",
    "graph_features",
    "graph_phrase",
]

GRAPH_COLUMNS: tuple[str, ...] = (
    "matched",
    "match_method",
    "account_is_customer",
    "account_open_opps",
    "account_won_opps",
    "account_lost_opps",
    "parent_or_sibling_is_customer",
    "colleagues_engaged_30d",
    "colleagues_engaged_90d",
    "account_days_since_engagement",
)
"""Feature columns, in order; `match_method` is categorical (`MATCH_METHODS`), the rest float64."""
GRAPH_LABELS: Mapping[str, str] = {
    "matched": "Matched to an account",
    "match_method": "How the account was found",
    "account_is_customer": "Account is a customer",
    "account_open_opps": "Open opportunities at the account",
    "account_won_opps": "Won opportunities at the account",
    "account_lost_opps": "Lost opportunities at the account",
    "parent_or_sibling_is_customer": "Parent or sister company is a customer",
    "colleagues_engaged_30d": "Colleagues engaged (30 days)",
    "colleagues_engaged_90d": "Colleagues engaged (90 days)",
    "account_days_since_engagement": "Days since the account last engaged",
}
GRAPH_CONTEXT_COLUMNS: tuple[str, ...] = (
    "account_id",
    "account_name",
    "account_owner_id",
    "match_reason",
    "related_customer",
    "related_relation",
)
"""Per-lead context for phrases and routing (the matched account's owner); never model inputs."""
_DAY = 86_400


@dataclass(frozen=True, slots=True)
class GraphFact:
    """One graph feature of one lead: its name, value and the phrase explanations show."""

    name: str
    value: float | str
    phrase: str


@dataclass(frozen=True, slots=True)
class _Account:
    name: str
    owner_id: str | None
    is_customer: float
    open: float
    won: float
    lost: float
    related: tuple[str, str] | None


def graph_features(
    graph: AccountGraph, leads: Sequence[Lead], *, now: datetime
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`GRAPH_COLUMNS` and `GRAPH_CONTEXT_COLUMNS` for each lead, both indexed by lead id in input order."""
    now_s = float(epoch_seconds(now))
    matches = graph.matches_of(leads)
    ordinal: dict[tuple[Crm, str], int] = {}
    for lead, match in zip(leads, matches, strict=True):
        if match.account_id is not None:
            ordinal.setdefault((lead.crm, match.account_id), len(ordinal))
    accounts = list(ordinal)
    person_last, account_last = graph.activities.last_engaged(now)
    known = _accounts_known(graph, accounts, now_s, person_last, account_last)
    facts = [known[key][0] for key in accounts]
    engaged_30, engaged_90, latest = (np.array([known[key][n] for key in accounts]) for n in (1, 2, 3))
    at = np.array(
        [ordinal.get((lead.crm, m.account_id or ""), -1) for lead, m in zip(leads, matches, strict=True)]
    )
    own = _own_last(graph, leads, person_last)
    member = np.array([graph.has_person(lead) for lead in leads], dtype=bool) & (at >= 0)
    pick = np.where(at >= 0, at, 0)
    has = at >= 0

    def per_lead(values: list[float] | npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.where(has, np.asarray(values, dtype=np.float64)[pick] if len(values) else np.nan, np.nan)

    columns: dict[str, object] = {
        "matched": has.astype(np.float64),
        "match_method": pd.Categorical([m.method for m in matches], categories=list(MATCH_METHODS)),
        "account_is_customer": per_lead([f.is_customer for f in facts]),
        "account_open_opps": per_lead([f.open for f in facts]),
        "account_won_opps": per_lead([f.won for f in facts]),
        "account_lost_opps": per_lead([f.lost for f in facts]),
        "parent_or_sibling_is_customer": per_lead([float(f.related is not None) for f in facts]),
        "colleagues_engaged_30d": per_lead(engaged_30) - (member & (own >= now_s - 30 * _DAY)),
        "colleagues_engaged_90d": per_lead(engaged_90) - (member & (own >= now_s - 90 * _DAY)),
        "account_days_since_engagement": (now_s - per_lead(latest)) / _DAY,
    }
    index = pd.Index([lead.id for lead in leads])
    positions = at.tolist()

    def per_lead_object(values: list[str | None]) -> list[str | None]:
        return [values[i] if i >= 0 else None for i in positions]

    # Column by column: a frame built from one dict per lead costs several times more.
    context = {
        "account_id": [m.account_id for m in matches],
        "account_name": per_lead_object([f.name for f in facts]),
        "account_owner_id": per_lead_object([f.owner_id for f in facts]),
        "match_reason": [m.reason for m in matches],
        "related_customer": per_lead_object([f.related[1] if f.related else None for f in facts]),
        "related_relation": per_lead_object([f.related[0] if f.related else None for f in facts]),
    }
    values = pd.DataFrame(columns, index=index)
    # dtype=object from the start: pandas 3 would build text columns as `str`, where a missing name is NaN,
    # not None, whenever another lead of the batch has one ("No recorded engagement with nan").
    return values, pd.DataFrame(context, index=index, columns=list(GRAPH_CONTEXT_COLUMNS), dtype=object)


_AccountRow = tuple[_Account, float, float, float]  # the facts, colleagues engaged in 30 and 90 days, latest


def _accounts_known(
    graph: AccountGraph,
    accounts: list[tuple[Crm, str]],
    now_s: float,
    person_last: npt.NDArray[np.float64],
    account_last: npt.NDArray[np.float64],
) -> dict[tuple[Crm, str], _AccountRow]:
    """Each account's facts and engagement as of `now_s`, kept in the graph's memo until it changes.

    A cycle builds the features of its people a chunk at a time while the graph stands still; at 1M
    leads most accounts have people in most chunks, and working their facts out again in each one made
    the features phase grow with the square of the org."""
    memo: dict[tuple[Crm, str], _AccountRow] = graph.memo(("graph_features", now_s))
    fresh = [key for key in accounts if key not in memo]
    if fresh:
        known = _Known(graph)
        engaged_30, engaged_90, latest = _engagement(graph, fresh, now_s, person_last, account_last)
        for n, key in enumerate(fresh):
            memo[key] = (_account(known, key, now_s), engaged_30[n], engaged_90[n], latest[n])
    return memo


def _engagement(
    graph: AccountGraph,
    accounts: list[tuple[Crm, str]],
    now_s: float,
    person_last: npt.NDArray[np.float64],
    account_last: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Per account: people engaged in the last 30 and 90 days, and the latest engagement (epoch s, NaN)."""
    owner: list[int] = []
    people: defaultdict[Crm, list[str]] = defaultdict(list)
    rows: defaultdict[Crm, list[int]] = defaultdict(list)
    for position, (crm, account_id) in enumerate(accounts):
        for member in graph.members(crm, account_id):
            rows[crm].append(len(owner))
            owner.append(position)
            people[crm].append(member[2])
    last = np.full(len(owner), np.nan)
    for crm, ids in people.items():
        last[rows[crm]] = _lookup(person_last, graph.activities.person_codes(crm, ids))
    groups = np.asarray(owner, dtype=np.int64)
    size = len(accounts)
    engaged_30 = np.bincount(groups[last >= now_s - 30 * _DAY], minlength=size).astype(np.float64)
    engaged_90 = np.bincount(groups[last >= now_s - 90 * _DAY], minlength=size).astype(np.float64)
    latest = np.full(size, np.nan)
    seen = ~np.isnan(last)
    np.fmax.at(latest, groups[seen], last[seen])
    for crm in {crm for crm, _ in accounts}:
        positions = [i for i, (c, _) in enumerate(accounts) if c == crm]
        codes = graph.activities.account_codes(crm, [accounts[i][1] for i in positions])
        latest[positions] = np.fmax(latest[positions], _lookup(account_last, codes))
    return engaged_30, engaged_90, latest


def _lookup(values: npt.NDArray[np.float64], codes: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """`values[codes]`, NaN where a code is -1."""
    if not len(values):
        return np.full(len(codes), np.nan)
    return np.where(codes >= 0, values[np.where(codes >= 0, codes, 0)], np.nan)


def _own_last(
    graph: AccountGraph, leads: Sequence[Lead], person_last: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Each lead's own latest engagement at or before now (-inf for none)."""
    own = np.full(len(leads), -np.inf)
    for crm in {lead.crm for lead in leads}:
        positions = [i for i, lead in enumerate(leads) if lead.crm == crm]
        found = _lookup(person_last, graph.activities.person_codes(crm, [leads[i].id for i in positions]))
        own[positions] = np.where(np.isnan(found), -np.inf, found)
    return own


class _Known:
    """What one `graph_features` call has read about accounts: each account's record, opportunities and
    customer standing are looked up once, however many leads, subsidiaries and sisters share them."""

    def __init__(self, graph: AccountGraph) -> None:
        self.graph = graph
        self._info: dict[tuple[Crm, str], AccountInfo | None] = {}
        self._opportunities: dict[tuple[Crm, str], list[OpportunityInfo]] = {}
        self._children: dict[tuple[Crm, str], list[str]] = {}
        self.customers: dict[tuple[Crm, str], bool] = {}

    def info(self, key: tuple[Crm, str]) -> AccountInfo | None:
        if key not in self._info:
            self._info[key] = self.graph.account_info(*key)
        return self._info[key]

    def children(self, key: tuple[Crm, str]) -> list[str]:
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = self.graph.children(*key)
        return found

    def opportunities(self, key: tuple[Crm, str]) -> list[OpportunityInfo]:
        found = self._opportunities.get(key)
        if found is None:
            found = self._opportunities[key] = self.graph.opportunities(*key)
        return found


def _account(known: _Known, key: tuple[Crm, str], now_s: float) -> _Account:
    info = known.info(key)
    open_, won, lost = _opportunity_counts(known, key, now_s)
    return _Account(
        name=info.name if info else key[1],
        owner_id=info.owner_id if info else None,
        is_customer=float(_customer(known, key, now_s)),
        open=open_,
        won=won,
        lost=lost,
        related=_related_customer(known, key, now_s),
    )


def _opportunity_counts(known: _Known, key: tuple[Crm, str], now_s: float) -> tuple[float, float, float]:
    open_ = won = lost = 0
    for opp in known.opportunities(key):
        if opp.created_at is not None and opp.created_at > now_s:
            continue
        if opp.is_closed and (opp.closed_at is None or opp.closed_at <= now_s):
            won += opp.is_won
            lost += not opp.is_won
        else:
            open_ += 1
    return float(open_), float(won), float(lost)


def _customer(known: _Known, key: tuple[Crm, str], now_s: float) -> bool:
    """Customer as of `now`: the flag, unless every won deal closed after `now` (then not yet)."""
    cache = known.customers
    if key not in cache:
        info = known.info(key)
        if not (info and info.is_customer):
            cache[key] = False  # no need to read its deals
        else:
            closes = [o.closed_at for o in known.opportunities(key) if o.is_won and o.closed_at is not None]
            cache[key] = not closes or min(closes) <= now_s
    return cache[key]


def _related_customer(known: _Known, key: tuple[Crm, str], now_s: float) -> tuple[str, str] | None:
    crm, account_id = key
    info = known.info(key)
    if info is None or info.parent_id is None:
        return None
    parent = known.info((crm, info.parent_id))
    if parent is not None and _customer(known, (crm, parent.id), now_s):
        return ("parent company", parent.name)
    sisters = [known.info((crm, sister)) for sister in known.children((crm, info.parent_id))]
    names = sorted(
        s.name for s in sisters if s and s.id != account_id and _customer(known, (crm, s.id), now_s)
    )
    return ("sister company", names[0]) if names else None


def _count(n: float, one: str, many: str) -> str:
    return f"{n:.0f} {one if n == 1 else many}"


def graph_phrase(name: str, value: object, context: Mapping[str, object]) -> str:
    """The words for one graph feature value, given the lead's context row (`GRAPH_CONTEXT_COLUMNS`)."""
    account = str(context.get("account_name") or "the account")
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    if name == "matched":
        return f"Belongs to account {account}" if value == 1 else "No matching account found"
    if name == "match_method":
        reason = str(context.get("match_reason") or "no account matches")
        return reason[:1].upper() + reason[1:]
    if missing and name == "account_days_since_engagement" and context.get("account_name"):
        return f"No recorded engagement with {account}"
    if missing or not isinstance(value, int | float):
        return f"{GRAPH_LABELS.get(name, name)}: unknown (no matching account)"
    if name == "account_is_customer":
        return f"{account} is already a customer" if value else f"{account} is not a customer yet"
    if name in ("account_open_opps", "account_won_opps", "account_lost_opps"):
        state = name.split("_")[1]
        if value == 0:
            return f"{account} has no {state} opportunities"
        return f"{account} has {_count(value, f'{state} opportunity', f'{state} opportunities')}"
    if name == "parent_or_sibling_is_customer":
        if value and context.get("related_customer"):
            relation = str(context.get("related_relation") or "related company")
            return f"{relation.capitalize()} {context.get('related_customer')} is a customer"
        return f"No parent or sister company of {account} is a customer"
    if name.startswith("colleagues_engaged_"):
        when = "this month" if name.endswith("30d") else "in the last 90 days"
        if value == 0:
            return f"No colleagues at {account} engaged {when}"
        return f"{_count(value, 'colleague', 'colleagues')} at {account} engaged {when}"
    if name == "account_days_since_engagement":
        days = math.floor(value)
        ago = "today" if days <= 0 else "yesterday" if days == 1 else f"{days} days ago"
        return f"{account} last engaged {ago}"
    return f"{GRAPH_LABELS.get(name, name)}: {value:g}"


def graph_facts(graph: AccountGraph, lead: Lead, *, now: datetime) -> list[GraphFact]:
    """Every graph feature of one lead with its phrase (for explanations and debugging)."""
    values, context = graph_features(graph, [lead], now=now)
    row, ctx = values.iloc[0], {str(k): v for k, v in context.iloc[0].items()}
    facts: list[GraphFact] = []
    for name in GRAPH_COLUMNS:
        value = row[name]
        shown: float | str = str(value) if name == "match_method" else float(value)
        facts.append(GraphFact(name, shown, graph_phrase(name, value, ctx)))
    return facts
