from __future__ import annotations

import gc
import weakref

from sync import gc_policy


def test_settle_freezes_live_objects_and_collects_in_full_only_when_due() -> None:
    gc_policy.reset()
    try:
        keep = [[i] for i in range(1000)]
        assert gc_policy.settle(now=0.0) is True  # the first call collects
        frozen = gc.get_freeze_count()
        assert frozen >= len(keep)
        more = [[i] for i in range(1000)]
        assert gc_policy.settle(now=10.0) is False  # not due: freeze only
        assert gc.get_freeze_count() >= frozen + len(more)
        assert gc_policy.settle(now=10.0 + gc_policy.FULL_EVERY) is True
    finally:
        gc_policy.reset()
    assert gc.get_freeze_count() == 0


def test_cyclic_garbage_frozen_by_mistake_is_freed_by_the_next_full_pass() -> None:
    gc_policy.reset()
    try:
        gc_policy.settle(now=0.0)

        class Node:
            def __init__(self) -> None:
                self.me = self

        node = Node()
        ref = weakref.ref(node)
        gc_policy.settle(now=1.0)  # the cycle is alive, and frozen
        del node
        gc.collect()
        assert ref() is not None  # frozen: a normal collection does not see it
        gc_policy.settle(now=1.0 + gc_policy.FULL_EVERY)
        assert ref() is None
    finally:
        gc_policy.reset()


def test_a_cycle_has_only_young_passes_inside_and_frees_its_reference_cycles_at_the_end() -> None:
    class Node:
        def __init__(self) -> None:
            self.me = self

    before = gc.get_threshold()
    passes: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            passes.append(info["generation"])

    gc.callbacks.append(count)
    try:
        with gc_policy.cycle():
            young, middle, oldest = gc.get_threshold()
            assert young == max(before[0], gc_policy.YOUNG_THRESHOLD)
            assert (middle, oldest) == (gc_policy.NO_FULL_PASS, gc_policy.NO_FULL_PASS)
            early = Node()
            young_ref = weakref.ref(early)
            del early
            held = [[i, {"i": i}] for i in range(300_000)]  # survivors enough to set off older passes
            assert young_ref() is None, "a young pass frees the cycle's young reference cycles as it runs"
            node = Node()
            ref = weakref.ref(node)
            del node
            assert passes and set(passes) == {0}, "no middle or full pass inside the cycle"
            del held
        assert gc.get_threshold() == before
        assert ref() is None, "the end-of-cycle pass frees what the cycle left in reference cycles"
        assert passes[-1] == 2
    finally:
        gc.callbacks.remove(count)
