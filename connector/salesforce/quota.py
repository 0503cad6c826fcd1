"""The share of the org's daily API quota one sync cycle may spend, read from `Sforce-Limit-Info`.

Salesforce reports `api-usage=<used>/<limit>` on every REST response: the org's requests in the last 24
hours (a rolling window) against its allocation. Other integrations spend from the same pool, so a cycle
counts its own use from the usage reported by its first response, and stops before a call once it has
used `share x limit` calls.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from connector.errors import QuotaExhaustedError

_USAGE = re.compile(r"(?:^|[;\s,])api-usage=(\d+)/(\d+)")
SHARE_CODE = "LEADQ_QUOTA_SHARE"
"""`code` of the `QuotaExhaustedError` raised when this cycle's share is spent (the org's quota is not)."""


@dataclass(frozen=True)
class QuotaUsage:
    """What the last response said, and what this cycle used of it."""

    org_used: int | None
    org_limit: int | None
    cycle_used: int
    cycle_allowed: int | None


def parse_limit_info(header: str | None) -> tuple[int, int] | None:
    """`(used, limit)` from a `Sforce-Limit-Info` header value, if it carries `api-usage`."""
    if not header:
        return None
    m = _USAGE.search(header)
    return (int(m.group(1)), int(m.group(2))) if m else None


class QuotaBudget:
    """Thread-safe per-cycle budget; `begin_cycle()` starts counting afresh."""

    def __init__(self, share: float) -> None:
        self.share = share
        self._lock = threading.Lock()
        self.begin_cycle()

    def begin_cycle(self) -> None:
        with self._lock:
            self._baseline: int | None = None
            self._used: int | None = None
            self._limit: int | None = None
            self._in_flight = 0

    def observe(self, used: int, limit: int) -> None:
        """Record one response's header. The first of a cycle sets the baseline (it counted itself)."""
        with self._lock:
            if self._baseline is None:
                self._baseline = max(0, used - 1)
            self._used = max(used, self._used or 0)
            self._limit = limit

    def usage(self) -> QuotaUsage:
        with self._lock:
            return self._usage()

    def _usage(self) -> QuotaUsage:
        cycle = 0 if self._used is None or self._baseline is None else self._used - self._baseline
        allowed = None if self._limit is None else max(1, int(self._limit * self.share))
        return QuotaUsage(self._used, self._limit, cycle, allowed)

    def check(self, what: str) -> None:
        """Raise `QuotaExhaustedError` (code `LEADQ_QUOTA_SHARE`) before `what` if the share is spent,
        counting calls that passed this check and are not answered yet; otherwise hold a place for `what`
        until `done()`."""
        with self._lock:
            u = self._usage()
            if u.cycle_allowed is None or u.cycle_used + self._in_flight < u.cycle_allowed:
                self._in_flight += 1
                return
        raise QuotaExhaustedError(
            f"stopped before {what}: this cycle has used {u.cycle_used} API calls, its share of "
            f"{self.share:.0%} of the org's daily limit of {u.org_limit} (the org has used {u.org_used} "
            "in the last 24 hours). Work done so far is kept; the next cycle resumes with a fresh share",
            crm="salesforce",
            code=SHARE_CODE,
        )

    def done(self) -> None:
        """A call that passed `check` was answered (or failed): its place is free again."""
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)


def org_limit_error(what: str, used: int | None, limit: int | None) -> QuotaExhaustedError:
    """The error for a `403 REQUEST_LIMIT_EXCEEDED`: the org's own 24-hour quota is spent."""
    usage = f" ({used} of {limit} calls in the last 24 hours)" if used is not None else ""
    return QuotaExhaustedError(
        f"stopped at {what}: the org's daily API request limit is spent{usage}. Work done so far is kept; "
        "Salesforce counts a rolling 24-hour window, so calls are accepted again as older ones age out, "
        "and leadq retries on its next cycle",
        crm="salesforce",
        status=403,
        code="REQUEST_LIMIT_EXCEEDED",
    )
