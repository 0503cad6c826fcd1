"""Who a routed lead goes to: the account owner, the lead's owner, a named owner, or a pool's turn.

Pools share leads by least load first, round robin among equals: each lead goes to the owner with the
fewest open leads (open before this batch plus assigned in it) who is under their cap; among owners
with equal load, the one whose turn comes first, starting at the pool's rotation cursor. Leads are
dealt best score first (then by lead id), so when every owner is at cap, the weakest leads are the
ones left unassigned. The same inputs always give the same assignment.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from mappings.config.policy import ACCOUNT_OWNER, LEAD_OWNER, Pool, Routing
from scoring.policy.values import BoolArray, FloatArray, ObjectArray


@dataclass(frozen=True, slots=True)
class Dealt:
    """A pool's owners for leads in dealing order (None: everyone was at cap) and the next cursor."""

    owners: tuple[str | None, ...]
    next_start: int
    assigned: Mapping[str, int] = field(default_factory=dict)


def deal(pool: Pool, count: int, open_counts: Mapping[str, int], start: int = 0) -> Dealt:
    """Deal `count` leads over `pool`'s owners, least loaded first, round robin among equals."""
    size = len(pool.owners)
    start %= size
    heap: list[tuple[int, int, int]] = []
    for index, owner in enumerate(pool.owners):
        load, cap = open_counts.get(owner, 0), pool.cap_of(owner)
        if cap is None or load < cap:
            heap.append((load, (index - start) % size, index))
    heapq.heapify(heap)
    owners: list[str | None] = []
    assigned: dict[str, int] = {}
    turn, last = size, None
    for _ in range(count):
        if not heap:
            owners.append(None)
            continue
        load, _, index = heapq.heappop(heap)
        owner = pool.owners[index]
        owners.append(owner)
        assigned[owner] = assigned.get(owner, 0) + 1
        last = index
        cap = pool.cap_of(owner)
        if cap is None or load + 1 < cap:
            heapq.heappush(heap, (load + 1, turn, index))  # back of the queue among equals
        turn += 1
    next_start = (last + 1) % size if last is not None else start
    return Dealt(tuple(owners), next_start, assigned)


@dataclass(frozen=True, slots=True)
class Routed:
    """Targets per lead (None where unresolved, with a note saying why) and the pools' new state."""

    targets: ObjectArray
    notes: ObjectArray
    rotation: Mapping[str, int]
    assigned: Mapping[str, int]


def _objects(values: ObjectArray | None, rows: int) -> ObjectArray:
    return values if values is not None else np.full(rows, None, dtype=object)


def route(
    specs: ObjectArray,
    routing: Routing,
    *,
    owner_ids: ObjectArray | None,
    account_owner_ids: ObjectArray | None,
    scores: FloatArray,
    order: npt.NDArray[np.intp],
    open_counts: Mapping[str, int],
    rotation: Mapping[str, int],
) -> Routed:
    """Resolve each lead's target spec (None: not routed) to an owner.

    `account_owner` falls back to the lead's owner, and both to `routing.fallback`; `order` breaks ties
    between equal scores when dealing pool leads (ranks of lead ids, or row numbers).
    """
    rows = len(specs)
    owners, account_owners = _objects(owner_ids, rows), _objects(account_owner_ids, rows)
    has_owner, has_account_owner = _present(owners), _present(account_owners)
    targets = np.full(rows, None, dtype=object)
    notes = np.full(rows, None, dtype=object)
    pending = np.zeros(rows, dtype=bool)
    codes, kinds = pd.factorize(pd.Series(specs, dtype=object), use_na_sentinel=True)
    for code, spec in enumerate(kinds):
        rows_of = codes == code
        if spec == ACCOUNT_OWNER:
            use_account = rows_of & has_account_owner
            targets[use_account] = account_owners[use_account]
            use_owner = rows_of & ~has_account_owner & has_owner
            targets[use_owner] = owners[use_owner]
            pending |= rows_of & ~has_account_owner & ~has_owner
        elif spec == LEAD_OWNER:
            targets[rows_of & has_owner] = owners[rows_of & has_owner]
            pending |= rows_of & ~has_owner
        else:  # a pool (dealt below) or a named owner
            targets[rows_of] = spec
    if pending.any():
        if routing.fallback is None:
            notes[pending] = "No owner is known to route to; assign it by hand"
        else:
            targets[pending] = routing.fallback
    new_rotation = dict(rotation)
    assigned: dict[str, int] = {}
    loads = dict(open_counts)
    for name, pool in routing.pools.items():
        rows_of = np.flatnonzero(targets == f"pool:{name}")
        if not len(rows_of):
            continue
        # Best score first, then the caller's order, so dealing does not depend on row order alone.
        ranked = rows_of[np.lexsort((order[rows_of], -np.nan_to_num(scores[rows_of], nan=-1.0)))]
        dealt = deal(pool, len(ranked), loads, rotation.get(name, 0))
        targets[ranked] = np.array(dealt.owners, dtype=object)
        full = ranked[np.array([owner is None for owner in dealt.owners], dtype=bool)]
        notes[full] = f"Every owner in pool {name} is at their cap; assign it by hand"
        new_rotation[name] = dealt.next_start
        for owner, count in dealt.assigned.items():
            assigned[owner] = assigned.get(owner, 0) + count
            loads[owner] = loads.get(owner, 0) + count
    return Routed(targets, notes, new_rotation, assigned)


def _present(values: ObjectArray) -> BoolArray:
    series = pd.Series(values, dtype=object)
    return np.asarray((series.notna() & (series != "")).to_numpy(dtype=bool))
