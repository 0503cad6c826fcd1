"""The account graph's vocabulary: node keys, and what it tells about accounts and opportunities."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mappings import Crm

__all__ = ["AccountInfo", "LeadRef", "NodeKey", "NodeKind", "OpportunityInfo"]

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
