"""A fake paged source for the read-ahead tests (tests/connector/test_readahead.py, test_lookahead.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

WAIT_S = 30.0  # a liveness bound for a background fetch that must happen, not a speed threshold


class PageFailedError(Exception):
    pass


class Source:
    """A fake paged source: records which pages were started and finished, on which thread, and whether
    it was closed; fails at page `fail_at` if given."""

    def __init__(self, pages: int, fail_at: int | None = None) -> None:
        self.pages = pages
        self.fail_at = fail_at
        self.started = 0
        self.finished = 0
        self.threads: list[str] = []
        self.closed = False
        self.fetched = [threading.Event() for _ in range(pages + 1)]
        self.error: PageFailedError | None = None

    def __iter__(self) -> Iterator[int]:
        try:
            for n in range(self.pages):
                self.started += 1
                self.threads.append(threading.current_thread().name)
                if n == self.fail_at:
                    self.error = PageFailedError(f"page {n} failed: HTTP 503")
                    raise self.error
                self.finished += 1
                self.fetched[n].set()
                yield n
        finally:
            self.closed = True


def workers(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(name)]
