"""API calls accounted per endpoint, per cycle: what `leadq sync --json` and the benchmarks report."""

from __future__ import annotations

import re
import threading
from collections import Counter

_FOLD = (
    (re.compile(r"/v\d+\.\d+/"), "/vXX.X/"),
    (re.compile(r"/(query|queryAll)/[^/?]+"), r"/\1/{locator}"),
    (re.compile(r"/(?=[A-Za-z0-9]*[0-9])[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?(?=/|$|\?)"), "/{id}"),
    (re.compile(r"/\d+(?=/|$|\?)"), "/{id}"),
    (re.compile(r"\?.*$"), ""),
)


def endpoint_of(method: str, path: str) -> str:
    """`GET /services/data/vXX.X/query` style names: versions, ids, locators and query strings folded."""
    for pattern, repl in _FOLD:
        path = pattern.sub(repl, path)
    return f"{method.upper()} {path}"


class CallLog:
    """Thread-safe counters of API calls per endpoint; `take()` returns and clears a cycle's counts."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._total: Counter[str] = Counter()

    def record(self, method: str, path: str) -> None:
        name = endpoint_of(method, path)
        with self._lock:
            self._counts[name] += 1
            self._total[name] += 1

    def snapshot(self) -> dict[str, int]:
        """Calls since the last `take()`."""
        with self._lock:
            return dict(self._counts)

    def take(self) -> dict[str, int]:
        """Calls since the last `take()`, then start counting afresh (one cycle's worth)."""
        with self._lock:
            out = dict(self._counts)
            self._counts.clear()
            return out

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self._total.values())
