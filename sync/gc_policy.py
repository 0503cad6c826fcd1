"""Garbage-collector policy for a process that keeps a large world in memory between cycles.

A 100k-lead world is millions of long-lived objects (records, graph nodes, index entries). CPython's
cyclic collector walks all of them on every full collection, which allocations trigger at unpredictable
points: in a profile, building one small dict cost 1.2 ms because it set off a full pass. Once the world is
built or updated, `settle()` moves everything alive into the collector's permanent generation
(`gc.freeze`), so later collections only walk what the cycle itself allocates. Frozen objects are still
freed by reference counting; only cyclic garbage that was alive-looking at freeze time waits, so once in a
while (`FULL_EVERY`) `settle()` unfreezes, collects in full and freezes again.
"""

from __future__ import annotations

import gc
import time

FULL_EVERY = 3600.0  # seconds between full collections of the frozen world

_last_full: float | None = None


def settle(*, now: float | None = None) -> bool:
    """Freeze what is alive now; collect in full first when the last full pass is `FULL_EVERY` old.

    Returns whether a full collection ran (the first call in a process always collects)."""
    global _last_full
    current = time.monotonic() if now is None else now
    full = _last_full is None or current - _last_full >= FULL_EVERY
    if full:
        gc.unfreeze()
        gc.collect()
        _last_full = current
    gc.freeze()
    return full


def reset() -> None:
    """Forget the frozen generation and the last full pass (tests, or a process that drops its world)."""
    global _last_full
    gc.unfreeze()
    _last_full = None
