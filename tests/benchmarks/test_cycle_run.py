"""The cycle benchmark's memory probe: the peak, and what the main thread was running when it was seen."""

from __future__ import annotations

import time

from benchmarks.cycle_run import RssPeak, rss_mb

HELD_MB = 160


def _hold_a_block() -> int:
    block = b"\x01" * (HELD_MB << 20)  # written, so resident
    time.sleep(0.3)
    return len(block)


def test_the_peak_is_seen_and_named_by_the_function_that_held_it() -> None:
    before = rss_mb()
    with RssPeak(every=0.01, mark_every=0.05, modules=frozenset({"tests"})) as memory:
        _hold_a_block()
        time.sleep(0.1)
    assert memory.peak_mb >= before + HELD_MB * 0.8
    assert memory.where.startswith("tests.benchmarks.test_cycle_run._hold_a_block < ")
    held = [
        rss for _, rss, where in memory.timeline if where.startswith("tests.benchmarks.test_cycle_run._hold")
    ]
    assert held and max(held) >= before + HELD_MB * 0.8
    assert [at for at, _, _ in memory.timeline] == sorted(at for at, _, _ in memory.timeline)
