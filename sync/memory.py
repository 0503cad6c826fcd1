"""How leadq's processes ask the C allocator for memory (glibc's `malloc`, on Linux).

A full pull allocates and frees large blocks all along: each Bulk API results chunk as text, its parsed
rows, a page's lists, the feed batches. glibc serves a block of 128 KiB or more from a mapping of its own
at first, but each time such a mapped block is freed it raises that threshold to the block's size (up to
32 MiB, and the heap's trim threshold to twice that), so later large blocks come from the heap instead,
between the small objects the world keeps for good. The heap then holds hundreds of megabytes it can
neither reuse for the next, larger page nor give back: at 100k leads, a process that pulled everything
held 245 MB of free heap beside a 337 MB world (RSS 1,082 MB). A fixed threshold ends the raising: the
same pull then ends at 881 MB with 16 MiB (870 with 4 MiB, 853 with 1 MiB, 847 with 128 KiB). The
largest blocks, a results chunk's text, are the ones that must not stay in the heap; a lower threshold
would map (and fault in afresh) many more blocks for ~30 MB more.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger("leadq.memory")

M_MMAP_THRESHOLD = -3  # mallopt's parameter number in glibc's malloc.h
MMAP_THRESHOLD = 16 << 20  # a Bulk API results chunk's text and the like: rare, and the largest


def keep_large_blocks_apart(threshold: int = MMAP_THRESHOLD) -> bool:
    """Serve every allocation of `threshold` bytes or more from a mapping of its own, for the rest of the
    process's life (`mallopt(M_MMAP_THRESHOLD)`, which also ends glibc's raising of the threshold).

    Returns whether the allocator took the setting: False where there is no glibc `mallopt` (macOS, or a
    C library that ignores it), where nothing changes. Idempotent; call it once at start-up.
    """
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    taken = bool(mallopt(M_MMAP_THRESHOLD, threshold))
    if not taken:
        log.debug("the C library did not take mallopt(M_MMAP_THRESHOLD, %d)", threshold)
    return taken
