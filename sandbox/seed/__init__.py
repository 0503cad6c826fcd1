"""The seeded org (to be filled in)."""

from __future__ import annotations

from sandbox.store import Store


def seed_org(store: Store, *, leads: int, seed: int) -> None:
    """Generate a realistic org in both CRMs, deterministic under `seed`."""
