"""The account graph's vocabulary: node keys, and what it tells about accounts and opportunities."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal, TypedDict

from mappings import Account, Activity, Crm, Lead, Opportunity, Record

__all__ = ["AccountInfo", "GraphChanges", "LeadRef", "NodeKey", "NodeKind", "OpportunityInfo", "Records"]

NodeKind = Literal["account", "contact", "lead", "opportunity", "owner"]
NodeKey = tuple[NodeKind, Crm, str]
"""A node: `("account", "salesforce", "001...")`."""
LeadRef = tuple[Crm, str]
"""A scored person (lead or contact) by CRM and id."""


@dataclass(frozen=True, slots=True)
class AccountInfo:
    """What the graph knows of an account (a placeholder knows only its id)."""

    crm: Crm
    id: str
    name: str
    is_customer: bool
    parent_id: str | None
    owner_id: str | None
    known: bool


@dataclass(frozen=True, slots=True)
class OpportunityInfo:
    """An opportunity's state, with the moments (epoch seconds) needed to see it as of any date."""

    id: str
    is_won: bool
    is_closed: bool
    created_at: float | None
    closed_at: float | None


class Records(TypedDict, total=False):
    """The records `AccountGraph.apply` takes, by kind."""

    accounts: Iterable[Account]
    contacts: Iterable[Lead]
    leads: Iterable[Lead]
    opportunities: Iterable[Opportunity]
    activities: Iterable[Activity]
    deleted: Iterable[Record]


@dataclass(frozen=True, slots=True)
class GraphChanges:
    """Who an `AccountGraph.apply` disturbed: people to re-score, and accounts all of whose members are.

    The accounts are kept apart so that a caller applying many batches can ask for their members once, at
    the end (`AccountGraph.people_at`), instead of after every batch: a batch of activities touches most
    accounts of an org."""

    people: set[LeadRef] = field(default_factory=set)
    accounts: set[tuple[Crm, str]] = field(default_factory=set)
