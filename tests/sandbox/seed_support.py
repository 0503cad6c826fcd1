"""The seeded org the seed tests read (tests/sandbox/test_seed*.py), and small readers of its rows."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import cache

from sandbox.clock import Clock
from sandbox.seed import seed_org
from sandbox.store import Store

NOW = datetime(2026, 3, 2, 15, 30, tzinfo=UTC)
SIGNAL_LEADS = 4000


def seed_store(leads: int, seed: int) -> tuple[Store, dict[str, int]]:
    """A fresh store seeded with `leads` leads from `seed`, its clock frozen at `NOW`, and the seed's summary."""
    clock = Clock()
    clock.freeze(NOW)
    store = Store(None, clock=clock)
    return store, seed_org(store, leads=leads, seed=seed)


@cache
def signal_org() -> tuple[Store, dict[str, int]]:
    """The 4,000-lead org, seeded once per test process: both seed test modules only read it."""
    return seed_store(SIGNAL_LEADS, 11)


def hs_ids(store: Store, type_: str) -> list[int]:
    """The ids of every HubSpot object of `type_`, ascending."""
    return [int(r[0]) for r in store.sql("SELECT id FROM hs_object WHERE type = ? ORDER BY id", (type_,))]


def domain_of(website: str | None) -> str | None:
    """A website's bare domain (no scheme, no www, no path), lower-case."""
    if not website:
        return None
    return re.sub(r"^(https?://)?(www\.)?", "", website).split("/")[0].lower()
