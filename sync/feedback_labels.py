"""Labels: what the CRM's outcomes and the reviewers' decisions say about each person (1 good lead, 0 not).

The configured label kind (`label:` of a CRM block) decides what counts:

* Salesforce `converted`: the lead was converted -> 1; not converted and created more than
  `negative_after_days` ago -> 0; otherwise not known yet.
* Salesforce `converted_opportunity_won`: converted and the opportunity it became is won -> 1; that
  opportunity closed lost -> 0; not converted (or converted without an opportunity) and old -> 0.
* HubSpot `lifecycle_stage`: the contact reached one of `stages` -> 1; old otherwise -> 0. The translator
  (`mappings.from_hubspot.contact`) already sets `Lead.is_converted` to exactly "the contact's
  lifecyclestage is one of the label's stages", so that flag is what is read here.
* HubSpot `won_deal`: a won deal associated with the contact (`Opportunity.contact_ids`) or with its
  company -> 1; a lost deal associated with the contact and none won -> 0; old otherwise -> 0.

Salesforce contacts have no outcome under the Salesforce label kinds (the lead they were converted from
carries it), so they get labels only from review decisions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, Protocol, cast

import pandas as pd
from sqlalchemy import Table, func, insert, select

from mappings import Crm, Lead, Opportunity
from mappings.config.crm import (
    ConvertedLabel,
    ConvertedOpportunityWonLabel,
    LifecycleStageLabel,
    WonDealLabel,
)
from scoring.graph import AccountGraph
from sync.context import CycleContext
from sync.state import LabelSource, StateStore, as_utc
from sync.state.models import LabelRow

__all__ = [
    "LabelConfig",
    "OutcomeIndex",
    "WorldLike",
    "label_high_water",
    "labels_after",
    "latest_labels",
    "outcome_label",
    "record_outcome_labels",
    "training_labels",
]

LabelConfig = ConvertedLabel | ConvertedOpportunityWonLabel | LifecycleStageLabel | WonDealLabel
"""A CRM block's `label:` setting."""
_INSERT_CHUNK = 5000
_ID_CHUNK = 500  # bound parameters per IN (...), well under SQLite's limit
_READ_ALL_ABOVE = 2_000  # without an index on labels (crm, lead_id) each IN chunk scans the table
_LABELS = cast(Table, LabelRow.__table__)  # Core insert: the ORM's bulk path costs 10x for a backfill
AUDIT_EACH_UP_TO = 1000
"""Outcome labels added in one cycle up to this many are audited one by one (`label_added`); more (a
backfill) get one `labels_added` entry with the counts."""


class WorldLike(Protocol):
    """What feedback reads of a CRM's in-memory world (`sync.world.World` has it)."""

    @property
    def people(self) -> Mapping[str, Lead]: ...

    @property
    def opportunities(self) -> Mapping[str, Opportunity]: ...

    @property
    def graph(self) -> AccountGraph: ...


@dataclass(frozen=True)
class OutcomeIndex:
    """The opportunities of a CRM, indexed once for labelling many people."""

    opportunities: Mapping[str, Opportunity]
    won_people: frozenset[str]
    lost_people: frozenset[str]
    won_accounts: frozenset[str]

    @classmethod
    def of(cls, opportunities: Mapping[str, Opportunity]) -> OutcomeIndex:
        won_people: set[str] = set()
        lost_people: set[str] = set()
        won_accounts: set[str] = set()
        for opportunity in opportunities.values():
            if opportunity.deleted:
                continue
            if opportunity.is_won:
                won_people.update(opportunity.contact_ids)
                if opportunity.account_id:
                    won_accounts.add(opportunity.account_id)
            elif opportunity.is_closed:
                lost_people.update(opportunity.contact_ids)
        return cls(opportunities, frozenset(won_people), frozenset(lost_people), frozenset(won_accounts))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@lru_cache(maxsize=8)
def _cutoff(now: datetime, days: int) -> datetime:
    return _aware(now) - timedelta(days=days)


def _old(person: Lead, label_config: LabelConfig, now: datetime) -> bool:
    """Created more than `negative_after_days` ago (an unknown creation date is never old)."""
    if person.created_at is None:
        return False
    return _aware(person.created_at) < _cutoff(now, label_config.negative_after_days)


def _negative_if_old(person: Lead, label_config: LabelConfig, now: datetime) -> int | None:
    return 0 if _old(person, label_config, now) else None


def label_of(
    crm: Crm, label_config: LabelConfig, person: Lead, index: OutcomeIndex, now: datetime
) -> int | None:
    """`outcome_label` with the opportunities already indexed (for batches)."""
    if person.deleted:
        return None
    if isinstance(label_config, ConvertedLabel | ConvertedOpportunityWonLabel):
        if crm == "salesforce" and person.kind == "contact":
            return None
        if not person.is_converted:
            return _negative_if_old(person, label_config, now)
        if isinstance(label_config, ConvertedLabel):
            return 1
        if person.converted_opportunity_id is None:
            return _negative_if_old(person, label_config, now)
        opportunity = index.opportunities.get(person.converted_opportunity_id)
        if opportunity is None or opportunity.deleted:
            return None  # not pulled (yet): unknown rather than a guess
        if opportunity.is_won:
            return 1
        return 0 if opportunity.is_closed else None
    if isinstance(label_config, LifecycleStageLabel):
        return 1 if person.is_converted else _negative_if_old(person, label_config, now)
    if person.id in index.won_people or (person.account_id and person.account_id in index.won_accounts):
        return 1
    if person.id in index.lost_people:
        return 0
    return _negative_if_old(person, label_config, now)


def outcome_label(
    crm: Crm,
    label_config: LabelConfig,
    person: Lead,
    opportunities: Mapping[str, Opportunity],
    now: datetime,
) -> int | None:
    """1, 0, or None (not known yet) for one person from the configured label kind (see the module doc)."""
    return label_of(crm, label_config, person, OutcomeIndex.of(opportunities), now)


# ---- the store's labels ---------------------------------------------------------------------------


def latest_labels(
    store: StateStore, crm: str, source: LabelSource | None = None, lead_ids: Sequence[str] | None = None
) -> dict[str, int]:
    """The latest stored label of each person (by time, then insertion): of everyone in one query, or of
    `lead_ids` only (in chunks; cheaper when they are a small part of the CRM)."""
    query = select(LabelRow.lead_id, LabelRow.label).where(LabelRow.crm == crm)
    if source is not None:
        query = query.where(LabelRow.source == source)
    query = query.order_by(LabelRow.at, LabelRow.id)
    chunks = (
        [None]
        if lead_ids is None
        else [lead_ids[i : i + _ID_CHUNK] for i in range(0, len(lead_ids), _ID_CHUNK)]
    )
    latest: dict[str, int] = {}
    with store.session() as s:
        for chunk in chunks:
            selected = query if chunk is None else query.where(LabelRow.lead_id.in_(chunk))
            latest.update({str(lead_id): int(label) for lead_id, label in s.execute(selected)})
    return latest


def label_high_water(store: StateStore, crm: str) -> int:
    """The id of the newest label row of `crm` (0 when there is none): labels after it are new."""
    with store.session() as s:
        found = s.execute(select(func.max(LabelRow.id)).where(LabelRow.crm == crm)).scalar()
    return int(found or 0)


def labels_after(
    store: StateStore, crm: str, *, label_id: int | None = None, at: datetime | None = None
) -> int:
    """How many labels of `crm` were added after row `label_id` (or, without it, stamped after `at`)."""
    query = select(func.count()).select_from(LabelRow).where(LabelRow.crm == crm)
    if label_id is not None:
        query = query.where(LabelRow.id > label_id)
    elif at is not None:
        query = query.where(LabelRow.at > as_utc(_aware(at)))
    with store.session() as s:
        return int(s.execute(query).scalar() or 0)


def _object_of(crm: Crm, person: Lead) -> str:
    if crm == "hubspot":
        return "contacts"
    return "Contact" if person.kind == "contact" else "Lead"


def record_outcome_labels(
    ctx: CycleContext, crm: Crm, world: WorldLike, changed: Iterable[str], now: datetime
) -> int:
    """Store an outcome label (source `outcome`) for each changed person whose outcome is known and new,
    or differs from the last outcome label stored for them; each is audited as `label_added` (a backfill
    of more than `AUDIT_EACH_UP_TO` as one `labels_added` entry).

    Returns how many labels were added. The existing labels are read in one query and the new ones
    written in bulk, in one transaction.
    """
    label_config: LabelConfig = ctx.mapping(crm).label
    index = OutcomeIndex.of(world.opportunities)
    people = [lead_id for lead_id in dict.fromkeys(changed) if lead_id in world.people]
    subset = None if len(people) > _READ_ALL_ABOVE else people
    stored = latest_labels(ctx.store, crm, source="outcome", lead_ids=subset)
    at = as_utc(_aware(now))
    # What is new, as small tuples: a first cycle over a 1M-lead org finds hundreds of thousands, and a row
    # and an audit entry as dicts each would hold ~1 KB a person at the cycle's peak of memory.
    found: list[tuple[str, str, int, int | None]] = []  # lead id, object, label, previous label
    for lead_id in people:
        person = world.people[lead_id]
        label = label_of(crm, label_config, person, index, now)
        previous = stored.get(lead_id)
        if label is None or label == previous:
            continue
        found.append((lead_id, _object_of(crm, person), label, previous))
    if not found:
        return 0
    with ctx.store.transaction() as session:
        connection = session.connection()
        for start in range(0, len(found), _INSERT_CHUNK):
            # A first label needs no detail (the kind is in the config); a changed one says what it was.
            rows = [{"crm": crm, "lead_id": lead_id, "label": label, "source": "outcome", "at": at,
                     "detail": None if previous is None else {"kind": label_config.kind, "previous": previous}}
                    for lead_id, _, label, previous in found[start : start + _INSERT_CHUNK]]  # fmt: skip
            connection.execute(insert(_LABELS), rows)
        ctx.store.audit_many(_label_audits(crm, label_config.kind, found, at))
    return len(found)


def _label_audits(
    crm: Crm, kind: str, found: list[tuple[str, str, int, int | None]], at: datetime
) -> list[dict[str, Any]]:
    """One `label_added` entry a label, or for a backfill of more than `AUDIT_EACH_UP_TO` (the first
    cycle over an org) one `labels_added` entry with the counts: the label rows keep each person's label
    and its previous value."""
    if len(found) > AUDIT_EACH_UP_TO:
        positives = sum(label for _, _, label, _ in found)
        summary = {
            "kind": kind,
            "source": "outcome",
            "positive": positives,
            "negative": len(found) - positives,
        }
        return [{"actor": "leadq", "action": "labels_added", "crm": crm, "new": len(found), "at": at,
                 "detail": summary}]  # fmt: skip
    return [{"actor": "leadq", "action": "label_added", "crm": crm, "obj": obj, "record_id": lead_id,
             "old": previous, "new": label, "at": at, "detail": {"kind": kind, "source": "outcome"}}
            for lead_id, obj, label, previous in found]  # fmt: skip


def training_labels(ctx: CycleContext, crm: Crm, world: WorldLike, now: datetime) -> pd.Series:
    """Lead id -> 0/1 to train on: the outcome of each person in the world, and for people without a
    known outcome their latest review label from the store (people no longer in the world are left out:
    there is nothing to build their features from)."""
    label_config: LabelConfig = ctx.mapping(crm).label
    index = OutcomeIndex.of(world.opportunities)
    labels: dict[str, int] = {}
    for lead_id, person in world.people.items():
        label = label_of(crm, label_config, person, index, now)
        if label is not None:
            labels[lead_id] = label
    for lead_id, label in latest_labels(ctx.store, crm, source="review").items():
        if lead_id not in labels and lead_id in world.people and not world.people[lead_id].deleted:
            labels[lead_id] = label
    series = pd.Series(labels, dtype="int64", name="label")
    series.index = series.index.astype(object)
    return series
