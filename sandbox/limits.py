"""API limits the real CRMs enforce: Salesforce's daily request quota, HubSpot's rolling rate limits."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass


@dataclass
class LimitConfig:
    """Salesforce daily quota; HubSpot requests per rolling 10 s and search requests per second."""

    sf_daily_quota: int = 15_000
    hs_ten_second_limit: int = 190
    hs_search_per_second: int = 5
    hs_daily_limit: int = 1_000_000


class SalesforceQuota:
    """Counts API requests against the org's daily allocation (as `Sforce-Limit-Info` reports it)."""

    def __init__(self, limit: int) -> None:
        self._lock = threading.Lock()
        self.limit = limit
        self.used = 0

    def consume(self) -> bool:
        """Count one request; False when the quota is already spent (the request is refused)."""
        with self._lock:
            if self.used >= self.limit:
                return False
            self.used += 1
            return True

    def header(self) -> str:
        return f"api-usage={self.used}/{self.limit}"

    def reset(self, limit: int | None = None) -> None:
        with self._lock:
            self.used = 0
            if limit is not None:
                self.limit = limit


class RollingWindow:
    """Per-key count of events in a sliding window, for HubSpot's TEN_SECONDLY_ROLLING and SECONDLY policies."""

    def __init__(self, limit: int, window_s: float) -> None:
        self._lock = threading.Lock()
        self.limit = limit
        self.window_s = window_s
        self._events: dict[str, deque[float]] = defaultdict(deque)

    def hit(self, key: str) -> tuple[bool, int]:
        """Record one request; (allowed, remaining after it)."""
        now = time.monotonic()
        with self._lock:
            q = self._events[key]
            while q and now - q[0] >= self.window_s:
                q.popleft()
            if len(q) >= self.limit:
                return False, 0
            q.append(now)
            return True, self.limit - len(q)

    def reset(self) -> None:
        with self._lock:
            self._events.clear()
