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
