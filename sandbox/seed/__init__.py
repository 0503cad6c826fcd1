"""The seeded org (to be filled in)."""

from __future__ import annotations

from collections.abc import Callable

from sandbox.store import Store

ProgressFn = Callable[[str, int, int], None]


def seed_org(store: Store, *, leads: int, seed: int, progress: ProgressFn | None = None) -> dict[str, int]:
    """Generate a realistic org in both CRMs, deterministic under `seed`."""
    return {}
