"""Everything a running sandbox holds: the store, faults, limits, tokens and the request log."""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

from sandbox.faults import FaultConfig, FaultInjector, RequestLog
from sandbox.limits import LimitConfig, RollingWindow, SalesforceQuota
from sandbox.soql.cursors import QueryCursors
from sandbox.store import Store

DEFAULT_TOKEN = "sandbox"  # noqa: S105 (the documented sandbox token, not a secret)
DEFAULT_CLIENT_ID = "leadq-sandbox"
DEFAULT_CLIENT_SECRET = "sandbox-secret"  # noqa: S105


@dataclass
class SandboxState:
    """Shared by every handler through `request.app.state.sandbox`."""

    store: Store
    token: str = DEFAULT_TOKEN
    client_id: str = DEFAULT_CLIENT_ID
    client_secret: str = DEFAULT_CLIENT_SECRET
    limits: LimitConfig = field(default_factory=LimitConfig)
    faults: FaultInjector = field(default_factory=FaultInjector)
    log: RequestLog = field(default_factory=RequestLog)
    base_url: str = ""
    sf_quota: SalesforceQuota = field(init=False)
    hs_window: RollingWindow = field(init=False)
    hs_search_window: RollingWindow = field(init=False)
    bulk_jobs: dict[str, Any] = field(default_factory=dict, init=False)  # Bulk API 2.0 jobs by id
    query_cursors: QueryCursors = field(default_factory=QueryCursors, init=False)  # open SOQL locators
    _issued: dict[str, str] = field(default_factory=dict, init=False)  # access token -> refresh token
    _refresh: set[str] = field(default_factory=set, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _hs_daily_used: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.sf_quota = SalesforceQuota(self.limits.sf_daily_quota)
        self.hs_window = RollingWindow(self.limits.hs_ten_second_limit, 10.0)
        self.hs_search_window = RollingWindow(self.limits.hs_search_per_second, 1.0)

    # tokens: the configured token never expires (like a private-app key); issued ones can be expired
    def issue_token(self, *, with_refresh: bool = True) -> tuple[str, str | None]:
        access = "00D" + secrets.token_urlsafe(24)
        refresh = "5Aep" + secrets.token_urlsafe(32) if with_refresh else None
        with self._lock:
            self._issued[access] = refresh or ""
            if refresh:
                self._refresh.add(refresh)
        return access, refresh

    def is_valid_token(self, token: str) -> bool:
        if secrets.compare_digest(token, self.token):
            return True
        with self._lock:
            return token in self._issued

    def is_issued_token(self, token: str) -> bool:
        with self._lock:
            return token in self._issued

    def is_refresh_token(self, token: str) -> bool:
        with self._lock:
            return token in self._refresh

    def expire_sessions(self) -> int:
        """Invalidate every issued access token (refresh tokens stay valid); how many were expired."""
        with self._lock:
            n = len(self._issued)
            self._issued.clear()
            return n

    def hs_daily_hit(self) -> int:
        """Count one HubSpot request against the daily limit; the remaining count, negative when spent."""
        with self._lock:
            if self._hs_daily_used >= self.limits.hs_daily_limit:
                return -1
            self._hs_daily_used += 1
            return self.limits.hs_daily_limit - self._hs_daily_used

    def configure_faults(self, config: FaultConfig) -> None:
        self.faults.configure(config)

    def set_limits(self, limits: LimitConfig) -> None:
        self.limits = limits
        self.sf_quota.reset(limits.sf_daily_quota)
        with self._lock:
            self._hs_daily_used = 0
        self.hs_window.limit = limits.hs_ten_second_limit
        self.hs_search_window.limit = limits.hs_search_per_second
