"""Shared pieces of the feedback tests: a fake world, configs, people and a trainable org."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from mappings import Contact, Crm, Lead, Opportunity
from mappings.config.loader import parse_config
from scoring.graph import AccountGraph
from sync.context import CycleContext
from sync.feedback_models import holdout_ids
from sync.state import StateStore

NOW = datetime(2026, 6, 12, 12, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=200)
YOUNG = NOW - timedelta(days=10)
SF: Crm = "salesforce"
HS: Crm = "hubspot"
SOURCES = ("Web", "Partner Referral", "Phone Inquiry", "Purchased List", "Other")


@dataclass
class FakeWorld:
    """What feedback reads of `sync.world.World`."""

    people: dict[str, Lead]
    opportunities: dict[str, Opportunity] = field(default_factory=dict)
    graph: AccountGraph = field(default_factory=AccountGraph)


def make_config(scoring: str = "", hubspot_label: str = "") -> object:
    text = f"""
salesforce:
  connection:
    instance_url: https://127.0.0.1:1
    auth: {{method: access_token, access_token: {{env: LEADQ_TEST_NO_TOKEN}}}}
hubspot:
  connection:
    auth: {{method: private_app, token: {{env: LEADQ_TEST_NO_TOKEN}}}}
{hubspot_label}
scoring:
  min_labels_per_class: 50
{scoring}
"""
    return parse_config(text, resolve=False)


def context(store: StateStore, tmp_path: Path, scoring: str = "", hubspot_label: str = "") -> CycleContext:
    config = make_config(scoring, hubspot_label)
    return CycleContext(config=config, store=store, connectors={}, state_dir=tmp_path / ".leadq")  # type: ignore[arg-type]


def lead(lead_id: str, *, created: datetime | None = OLD, **kw: object) -> Lead:
    return Lead(crm=SF, id=lead_id, created_at=created, **kw)  # type: ignore[arg-type]


def contact(contact_id: str, *, created: datetime | None = OLD, **kw: object) -> Contact:
    return Contact(crm=HS, id=contact_id, created_at=created, **kw)  # type: ignore[arg-type]


def trainable_world(n: int = 800, seed: int = 0) -> FakeWorld:
    """Salesforce leads whose conversion follows lead source and company size (mapped features)."""
    rng = np.random.default_rng(seed)
    source = rng.choice(SOURCES, size=n, p=[0.4, 0.15, 0.15, 0.2, 0.1])
    employees = np.round(np.exp(rng.normal(4, 1.5, size=n)))
    logit = (-0.8 + 2.5 * (source == "Partner Referral") + 1.5 * (source == "Phone Inquiry")
             - 2.0 * (source == "Purchased List") + 0.8 * (np.log1p(employees) - 4))  # fmt: skip
    converted = rng.random(n) < 1 / (1 + np.exp(-logit))
    people: dict[str, Lead] = {}
    for i in range(n):
        mapped = {"lead_source": str(source[i]), "employees": float(employees[i])}
        people[f"00Q{i:012d}"] = lead(f"00Q{i:012d}", is_converted=bool(converted[i]), fields=mapped)
    return with_graph(people)


def with_graph(people: dict[str, Lead]) -> FakeWorld:
    world = FakeWorld(people)
    world.graph.update(leads=list(people.values()))
    return world


def shuffled_training_part(world: FakeWorld, seed: int = 1) -> FakeWorld:
    """The same leads with the outcomes outside the holdout shuffled: a model of noise."""
    outcomes = pd.Series({i: int(p.is_converted) for i, p in world.people.items()})
    train_ids, _ = holdout_ids(list(world.people), outcomes)
    shuffled = np.random.default_rng(seed).permutation([world.people[i].is_converted for i in train_ids])
    people = dict(world.people)
    for lead_id, value in zip(train_ids, shuffled, strict=True):
        people[lead_id] = replace(people[lead_id], is_converted=bool(value))
    return with_graph(people)
