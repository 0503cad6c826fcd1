"""The allocator setting of leadq's processes: large blocks stay in their own mappings after big frees."""

from __future__ import annotations

import platform
import subprocess
import sys
import textwrap

import pytest

from sync.memory import keep_large_blocks_apart

glibc = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt and mallinfo2 only")

# A fresh process frees a 28 MiB block (glibc then raises its mmap threshold to 28 MiB, unless told not
# to), allocates 20 MiB and prints whether that block came from a mapping of its own (mallinfo2's hblkhd).
PROBE = textwrap.dedent(
    """
    import ctypes, ctypes.util, sys
    from sync.memory import keep_large_blocks_apart

    class Mallinfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
            "keepcost")]

    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.mallinfo2.restype = Mallinfo2
    if sys.argv[1] == "set":
        assert keep_large_blocks_apart()
    big = bytearray(28 << 20)
    del big
    mapped = libc.mallinfo2().hblkhd
    block = bytearray(20 << 20)
    print(libc.mallinfo2().hblkhd - mapped >= 20 << 20)
    """
)


def _large_block_mapped(setting: str) -> bool:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, setting], capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout.strip() == "True"


@glibc
def test_after_a_big_free_large_blocks_come_from_the_heap_by_default() -> None:
    # What the setting is for: without it, the 20 MiB block lands in the heap, among the world's objects.
    assert not _large_block_mapped("default")


@glibc
def test_with_the_setting_large_blocks_keep_their_own_mapping() -> None:
    assert _large_block_mapped("set")


@glibc
def test_the_setting_is_taken_and_can_be_made_again() -> None:
    assert keep_large_blocks_apart()
    assert keep_large_blocks_apart()
