"""Canonical records: what leadq knows about CRM records, the same shape whichever CRM they came from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from mappings.config.base import Crm
from mappings.config.crm import ActivityKind
from mappings.config.features import FeatureValue

LeadKind = Literal["lead", "contact"]
ReviewDecision = Literal["approve", "reject", "override"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Record:
    """What every canonical record has: where it lives and whether it was deleted there."""

    crm: Crm
    id: str
    deleted: bool = False
    modified_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Lead(Record):
    """A person leadq scores: a Salesforce Lead, or a contact (`Contact`, a subclass with kind "contact").

    `fields` holds the mapped feature values by feature name (translated records hold a compact, read-only
    `mappings.rows.Row`; any mapping does). `writeback` holds what our writeback fields
    read now, decoded to canonical types and keyed by slot (score, tier, ...); `writeback_raw` holds the
    same values exactly as the CRM sent them, for telling a person's edit from our own last write.
    The mappings take no part in hashing, so records can still go in sets and dict keys.
    """

    kind: LeadKind = "lead"
    email: str | None = None
    name: str | None = None
    company: str | None = None
    domain: str | None = None
    title: str | None = None
    owner_id: str | None = None
    account_id: str | None = None
    created_at: datetime | None = None
    is_converted: bool = False
    converted_at: datetime | None = None
    converted_contact_id: str | None = None
    converted_opportunity_id: str | None = None
    fields: Mapping[str, FeatureValue] = field(default_factory=dict, hash=False)
    writeback: Mapping[str, object] = field(default_factory=dict, hash=False)
    writeback_raw: Mapping[str, object] = field(default_factory=dict, hash=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Contact(Lead):
    """A contact: scored like a lead (HubSpot contacts, Salesforce Contacts) and a member of an account."""

    kind: LeadKind = "contact"


@dataclass(frozen=True, slots=True, kw_only=True)
class Account(Record):
    """A company: Salesforce Account or HubSpot company."""

    name: str | None = None
    website: str | None = None
    domain: str | None = None
    parent_id: str | None = None
    industry: str | None = None
    employees: float | None = None
    revenue: float | None = None
    is_customer: bool = False
    owner_id: str | None = None
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Opportunity(Record):
    """A deal: Salesforce Opportunity or HubSpot deal."""

    name: str | None = None
    account_id: str | None = None
    stage: str | None = None
    is_won: bool = False
    is_closed: bool = False
    amount: float | None = None
    close_date: date | None = None
    created_at: datetime | None = None
    owner_id: str | None = None
    contact_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Activity(Record):
    """Something that happened with a person or account: an email, call, meeting, visit, form, campaign...

    `who_id` is the person (lead/contact), `what_id` the related record (account, opportunity, campaign);
    `count` is above 1 only for activity summarised from HubSpot's engagement counters.
    """

    kind: ActivityKind = "other"
    source_object: str = ""
    who_id: str | None = None
    what_id: str | None = None
    account_id: str | None = None
    at: datetime | None = None
    subject: str | None = None
    count: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class Task(Record):
    """A review task leadq created (it carries our idempotency key), as the CRM reports it now."""

    who_id: str | None = None
    owner_id: str | None = None
    subject: str | None = None
    status: str | None = None
    is_completed: bool = False
    completed_at: datetime | None = None
    due_at: datetime | None = None
    decision: ReviewDecision | None = None
    idempotency_key: str = ""
    created_at: datetime | None = None


CanonicalRecord = Lead | Account | Opportunity | Activity | Task
"""Any canonical record (`Contact` is a `Lead`)."""
