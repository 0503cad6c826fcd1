"""Open query locators: a query's snapshot kept in memory while its pages are read.

A cursor is dropped once its last page has been served, or after `ttl_seconds` without being read (the
real API keeps an idle locator about 15 minutes). At most `max_open` are kept; opening one more drops the
least recently used, as a real org drops the oldest of a user's open cursors. A dropped cursor's answer is
closed, releasing its snapshot.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from sandbox.ids import sf_id
from sandbox.soql.result import QueryResult

DEFAULT_TTL_SECONDS = 15 * 60
DEFAULT_MAX_OPEN = 50


@dataclass
class Cursor:
    """One open locator: the snapshot, the page size chosen when it opened, and when it was last read."""

    locator: str
    result: QueryResult
    batch_size: int
    touched: float


class QueryCursors:
    """Thread-safe store of open cursors, keyed by locator id (`01g...`, 18 characters)."""

    def __init__(self, ttl_seconds: float = DEFAULT_TTL_SECONDS, max_open: int = DEFAULT_MAX_OPEN) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_open = max_open
        self._lock = threading.Lock()
        self._open: OrderedDict[str, Cursor] = OrderedDict()
        # a random start so a restarted sandbox does not hand out the locators of the previous run
        self._numbers = itertools.count(random.randrange(62**6, 62**8))

    def open(self, result: QueryResult, batch_size: int) -> str:
        """Keep `result` for paging; returns its locator."""
        now = time.monotonic()
        with self._lock:
            dropped = self._expire(now)
            locator = sf_id("01g", next(self._numbers), pod="D0")
            self._open[locator] = Cursor(locator, result, batch_size, now)
            while len(self._open) > self.max_open:
                dropped.append(self._open.popitem(last=False)[1])
        _close(dropped)
        return locator

    def get(self, locator: str) -> Cursor | None:
        """The cursor for a locator (marking it used), or None if unknown or expired."""
        now = time.monotonic()
        with self._lock:
            dropped = self._expire(now)
            cursor = self._open.get(locator)
            if cursor is not None:
                cursor.touched = now
                self._open.move_to_end(locator)
        _close(dropped)
        return cursor

    def close(self, locator: str) -> None:
        """Forget a locator and close its answer."""
        with self._lock:
            cursor = self._open.pop(locator, None)
        if cursor is not None:
            cursor.result.close()

    def __len__(self) -> int:
        with self._lock:
            return len(self._open)

    def _expire(self, now: float) -> list[Cursor]:
        stale = [k for k, c in self._open.items() if now - c.touched > self.ttl_seconds]
        return [self._open.pop(k) for k in stale]


def _close(cursors: list[Cursor]) -> None:
    # outside the registry's lock: closing waits for a page being read from that answer to finish
    for cursor in cursors:
        cursor.result.close()
