"""Account-context features of each lead, read off the account graph as of an explicit `now`.

Every feature has a name, a value and a phrase for explanations ("2 colleagues at Acme Corp engaged this
month"). Values are point-in-time: opportunities created, won or lost after `now`, activity after `now`
and customer status that began with a deal closed after `now` are not seen, so training snapshots agree
with what scoring would have seen then. Account features are NaN for a lead with no account.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt
import pandas as pd

from mappings import Crm, Lead
from scoring.activity import epoch_seconds
from scoring.graph import AccountGraph
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
    "match_reason",
    "related_customer",
    "related_relation",
)
"""Per-lead context the phrases need (not model inputs)."""
_DAY = 86_400


@dataclass(frozen=True, slots=True)
class GraphFact:
    """One graph feature of one lead: its name, value and the phrase explanations show."""

    name: str
    value: float | str
    phrase: str


@dataclass(frozen=True, slots=True)
class _AccountState:
    name: str
    is_customer: float
    open: float
    won: float
    lost: float
    related: tuple[str, str] | None
    engaged_30: int
    engaged_90: int
    last_engaged: float
    members: frozenset[str]


def graph_features(
    graph: AccountGraph, leads: Sequence[Lead], *, now: datetime
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`GRAPH_COLUMNS` and `GRAPH_CONTEXT_COLUMNS` for each lead, both indexed by lead id in input order."""
    now_s = float(epoch_seconds(now))
    person_last, account_last = graph.activities.last_engaged(now)
    matches = graph.matches_of(leads)
    states: dict[tuple[Crm, str], _AccountState] = {}
    customers: dict[tuple[Crm, str], bool] = {}
    own = _own_last(graph, leads, person_last)
    rows: list[dict[str, float | str | None]] = []
    context: list[dict[str, str | None]] = []
    for lead, match, own_last in zip(leads, matches, own, strict=True):
        if match.account_id is None:
            rows.append({"matched": 0.0, "match_method": match.method})
            context.append({"match_reason": match.reason})
            continue
        key = (lead.crm, match.account_id)
        state = states.get(key)
        if state is None:
            state = states[key] = _state(graph, key, now_s, person_last, account_last, customers)
        member = lead.id in state.members
        rows.append(
            {
                "matched": 1.0,
                "match_method": match.method,
                "account_is_customer": state.is_customer,
                "account_open_opps": state.open,
                "account_won_opps": state.won,
                "account_lost_opps": state.lost,
                "parent_or_sibling_is_customer": float(state.related is not None),
                "colleagues_engaged_30d": state.engaged_30 - float(member and own_last >= now_s - 30 * _DAY),
                "colleagues_engaged_90d": state.engaged_90 - float(member and own_last >= now_s - 90 * _DAY),
                "account_days_since_engagement": (now_s - state.last_engaged) / _DAY,
            }
        )
        related = state.related or (None, None)
        context.append(
            {
                "account_id": match.account_id,
                "account_name": state.name,
                "match_reason": match.reason,
                "related_relation": related[0],
                "related_customer": related[1],
            }
        )
    index = pd.Index([lead.id for lead in leads])
    values = pd.DataFrame(rows, index=index, columns=list(GRAPH_COLUMNS))
    for column in GRAPH_COLUMNS:
        if column != "match_method":
            values[column] = values[column].astype(np.float64)
    values["match_method"] = pd.Categorical(values["match_method"], categories=list(MATCH_METHODS))
    return values, pd.DataFrame(context, index=index, columns=list(GRAPH_CONTEXT_COLUMNS)).astype(object)


def _own_last(
    graph: AccountGraph, leads: Sequence[Lead], person_last: npt.NDArray[np.float64]
) -> list[float]:
    """Each lead's own latest engagement at or before now (-inf for none), looked up once per CRM."""
    own = np.full(len(leads), -np.inf)
    for crm in {lead.crm for lead in leads}:
        positions = [i for i, lead in enumerate(leads) if lead.crm == crm]
        codes = graph.activities.person_codes(crm, [leads[i].id for i in positions])
        found = codes >= 0
        values = np.where(
            found, person_last[np.where(found, codes, 0)] if len(person_last) else np.nan, np.nan
        )
        own[positions] = np.where(np.isnan(values), -np.inf, values)
    return own.tolist()


def _state(
    graph: AccountGraph,
    key: tuple[Crm, str],
    now_s: float,
    person_last: npt.NDArray[np.float64],
    account_last: npt.NDArray[np.float64],
    customers: dict[tuple[Crm, str], bool],
) -> _AccountState:
    crm, account_id = key
    info = graph.account_info(crm, account_id)
    open_, won, lost = _opportunity_counts(graph, key, now_s)
    members = [member[2] for member in graph.members(crm, account_id)]
    codes = graph.activities.person_codes(crm, members)
    last = person_last[codes[codes >= 0]]
    last = last[~np.isnan(last)]
    own = graph.activities.account_codes(crm, [account_id])[0]
    candidates = [*last.tolist(), float(account_last[own]) if own >= 0 else math.nan]
    latest = max((value for value in candidates if not math.isnan(value)), default=math.nan)
    return _AccountState(
        name=info.name if info else account_id,
        is_customer=float(_customer(graph, key, now_s, customers)),
        open=open_,
        won=won,
        lost=lost,
        related=_related_customer(graph, key, now_s, customers),
        engaged_30=int((last >= now_s - 30 * _DAY).sum()),
        engaged_90=int((last >= now_s - 90 * _DAY).sum()),
        last_engaged=latest,
        members=frozenset(members),
    )


def _opportunity_counts(
    graph: AccountGraph, key: tuple[Crm, str], now_s: float
) -> tuple[float, float, float]:
    open_ = won = lost = 0
    for opp in graph.opportunities(*key):
        if opp.created_at is not None and opp.created_at > now_s:
            continue
        if opp.is_closed and (opp.closed_at is None or opp.closed_at <= now_s):
            won += opp.is_won
            lost += not opp.is_won
        else:
            open_ += 1
    return float(open_), float(won), float(lost)


def _customer(
    graph: AccountGraph, key: tuple[Crm, str], now_s: float, cache: dict[tuple[Crm, str], bool]
) -> bool:
    """Customer as of `now`: the flag, unless every won deal closed after `now` (then not yet)."""
    if key not in cache:
        info = graph.account_info(*key)
        closes = [o.closed_at for o in graph.opportunities(*key) if o.is_won and o.closed_at is not None]
        cache[key] = bool(info and info.is_customer) and (not closes or min(closes) <= now_s)
    return cache[key]


def _related_customer(
    graph: AccountGraph, key: tuple[Crm, str], now_s: float, cache: dict[tuple[Crm, str], bool]
) -> tuple[str, str] | None:
    crm, account_id = key
    info = graph.account_info(crm, account_id)
    if info is None or info.parent_id is None:
        return None
    parent = graph.account_info(crm, info.parent_id)
    if parent is not None and _customer(graph, (crm, parent.id), now_s, cache):
        return ("parent company", parent.name)
    sisters = [graph.account_info(crm, sister) for sister in graph.children(crm, info.parent_id)]
    names = sorted(
        s.name for s in sisters if s and s.id != account_id and _customer(graph, (crm, s.id), now_s, cache)
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
