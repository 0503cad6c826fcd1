"""The one place every HubSpot request goes through: auth header, pacing, accounting, retries, classification.

`Transport` is a `urllib3.PoolManager` whose `urlopen` wraps the real one; the generated API clients are built
(by `connector.hubspot.client`) to use it as their pool, so each of their calls, whatever the endpoint, is
paced under the rolling 10-second and per-second search limits (`pyrate-limiter`), counted in the `CallLog`,
retried with exponential backoff and jitter (`tenacity`) on 5xx, connection errors and 429 (POST and PATCH
too, which urllib3's own retry leaves alone), renewed once on 401, and classified by `connector.classify`.
Answers the caller must judge per record (400, 404, 409) are returned for the generated client to raise.
"""

from __future__ import annotations

import io
import logging
import random
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import urllib3
from pyrate_limiter import Duration, Limiter, Rate
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)
from urllib3.exceptions import HTTPError, SSLError

from connector.accounting import CallLog, endpoint_of
from connector.classify import Action
from connector.errors import (
    AuthError,
    ConnectorConfigError,
    QuotaExhaustedError,
    RateLimitedError,
    RetryableError,
)
from connector.hubspot.auth import TokenSource
from connector.hubspot.settings import HubSpotSettings
from connector.hubspot.wire import CRM, ErrorInfo, error_info

log = logging.getLogger("connector.hubspot")

TOKEN_PATH = "/oauth/v1/token"  # noqa: S105 (a path, not a secret)
# how long to wait on a 429 without a Retry-After header, per HubSpot policy
POLICY_WAIT_S = {"SECONDLY": 1.0, "TEN_SECONDLY_ROLLING": 10.0}


class _Transient(Exception):
    """An attempt that may succeed if repeated (5xx, 429, connection trouble)."""

    def __init__(self, info: ErrorInfo, retry_after: float | None) -> None:
        super().__init__(info.message)
        self.info = info
        self.retry_after = retry_after


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    return None if value is None else str(value)


def rate_limit_wait(info: ErrorInfo, headers: Mapping[str, str]) -> float:
    """Seconds to wait after a 429: `Retry-After`, else the policy's window, else the advertised interval."""
    retry_after = _header(headers, "Retry-After")
    if retry_after is not None:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            pass
    if info.policy in POLICY_WAIT_S:
        return POLICY_WAIT_S[info.policy]
    interval = _header(headers, "X-HubSpot-RateLimit-Interval-Milliseconds")
    if interval is not None and interval.isdigit():
        return int(interval) / 1000
    return 1.0


def _detached(response: urllib3.BaseHTTPResponse) -> urllib3.HTTPResponse:
    """An in-memory copy of a fully read response.

    The generated clients keep their last response (`ApiClient.last_response`); a response still tied to
    its socket would keep that socket open after the pool is closed.
    """
    copy = urllib3.HTTPResponse(
        body=io.BytesIO(response.data or b""),  # a file, so `.data` of an empty body is b"", not None
        headers=response.headers,
        status=response.status,
        reason=response.reason,
        preload_content=True,
        decode_content=False,
    )
    response.release_conn()
    return copy


class Transport(urllib3.PoolManager):
    """A pool manager that paces, accounts, authenticates and retries every request it sends."""

    def __init__(self, settings: HubSpotSettings, calls: CallLog, tokens: TokenSource | None = None) -> None:
        super().__init__(
            num_pools=4,
            maxsize=8,
            cert_reqs="CERT_REQUIRED",
            ca_certs=settings.ca_bundle,
            retries=False,  # ours, below, retry POST too and read HubSpot's 429 policies
            timeout=urllib3.Timeout(connect=settings.connect_timeout, read=settings.read_timeout),
        )
        self.settings = settings
        self.calls = calls
        self.tokens = tokens
        self._limiter = Limiter(Rate(settings.requests_per_10s, Duration.SECOND * 10))
        self._search_limiter = Limiter(Rate(settings.search_per_second, Duration.SECOND))
        self._default_timeout = urllib3.Timeout(connect=settings.connect_timeout, read=settings.read_timeout)
        self._backoff = wait_exponential_jitter(
            multiplier=settings.backoff_initial, max=settings.backoff_max, jitter=settings.backoff_initial
        )

    def urlopen(  # type: ignore[override]
        self, method: str, url: str, redirect: bool = True, **kw: Any
    ) -> urllib3.BaseHTTPResponse:
        path = urlsplit(url).path
        token_call = path == TOKEN_PATH
        renewed = False
        while True:
            bearer: str | None = None
            headers = dict(kw.get("headers") or {})
            headers.pop("Authorization", None)
            if not token_call and self.tokens is not None:
                bearer = self.tokens.bearer()
                headers["Authorization"] = f"Bearer {bearer}"
            kw["headers"] = headers
            response, info = self._send(method, url, path, redirect, kw)
            if info is None:
                return response
            rule, code = info.lookup()
            if rule.action is Action.REFRESH and not token_call and self.tokens is not None and bearer:
                if renewed or not self.tokens.refreshable:
                    if not self.tokens.refreshable:
                        self.tokens.refresh(bearer)  # raises the credential error
                    raise AuthError(
                        f"{endpoint_of(method, path)} still answered 401 after the token was renewed",
                        crm=CRM,
                        status=401,
                        code=code,
                    )
                log.info("hubspot: %s answered 401; renewing the access token", endpoint_of(method, path))
                self.tokens.refresh(bearer)
                renewed = True
                continue
            if rule.action is Action.CONFIG:
                hint = f"; {rule.hint}" if rule.hint else ""
                raise ConnectorConfigError(
                    f"{endpoint_of(method, path)} answered {info.status}: {info.message}{hint}",
                    crm=CRM,
                    status=info.status,
                    code=code,
                )
            return response

    def _send(
        self, method: str, url: str, path: str, redirect: bool, kw: dict[str, Any]
    ) -> tuple[urllib3.BaseHTTPResponse, ErrorInfo | None]:
        """One logical request, repeated while the outcome is transient; (response, error info or None)."""
        retrying = Retrying(
            stop=stop_after_attempt(self.settings.max_retries + 1),
            wait=self._wait,
            retry=retry_if_exception_type(_Transient),
            before_sleep=lambda state: self._log_retry(method, path, state),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._attempt(method, url, path, redirect, kw)
        except _Transient as exc:
            name = endpoint_of(method, path)
            info = exc.info
            if info.status == 429:
                raise RateLimitedError(
                    f"{name} stayed rate limited after {self.settings.max_retries} retries: {info.message}",
                    retry_after=exc.retry_after or 1.0,
                    policy=info.policy or "",
                    crm=CRM,
                    status=429,
                    code=info.policy,
                ) from None
            status = f"HTTP {info.status}" if info.status else "no answer"
            raise RetryableError(
                f"{name} failed after {self.settings.max_retries} retries ({status}: {info.message})",
                crm=CRM,
                status=info.status,
                code=info.codes[0] if info.codes else None,
            ) from None
        raise AssertionError("tenacity either returns or raises")

    def _attempt(
        self, method: str, url: str, path: str, redirect: bool, kw: dict[str, Any]
    ) -> tuple[urllib3.BaseHTTPResponse, ErrorInfo | None]:
        if path.endswith("/search"):
            self._search_limiter.try_acquire("search")
        self._limiter.try_acquire("hubspot")
        self.calls.record(method, path)
        if kw.get("timeout") is None:
            kw["timeout"] = self._default_timeout
        kw["preload_content"] = True  # the body is needed to classify errors
        try:
            response = super().urlopen(method, url, redirect=redirect, **kw)
        except SSLError as exc:
            raise ConnectorConfigError(
                f"TLS verification of {urlsplit(url).netloc} failed ({type(exc).__name__}); "
                "check `ca_bundle` points at the CA that signed the server's certificate",
                crm=CRM,
            ) from None
        except HTTPError as exc:
            raise _Transient(ErrorInfo(None, f"{type(exc).__name__}: {exc}"), None) from exc
        response = _detached(response)
        if response.status < 400:
            return response, None
        info = error_info(response.status, response.data)
        rule, code = info.lookup()
        if rule.action is Action.RETRY:
            raise _Transient(info, None)
        if rule.action is Action.RATE_LIMIT:
            raise _Transient(info, rate_limit_wait(info, response.headers))
        if rule.action is Action.QUOTA:
            raise QuotaExhaustedError(
                f"{endpoint_of(method, path)} answered 429 {info.policy or ''}: {info.message}; {rule.hint}",
                crm=CRM,
                status=429,
                code=code,
            )
        return response, info

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Transient) and exc.retry_after is not None:
            # HubSpot said how long; a little jitter keeps parallel workers from returning in lockstep
            return exc.retry_after + random.uniform(0.0, 0.1 * max(exc.retry_after, 1.0))
        return float(self._backoff(state))

    def _log_retry(self, method: str, path: str, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        what = "no answer"
        if isinstance(exc, _Transient):
            code = f" {exc.info.codes[0]}" if exc.info.codes else ""
            what = f"HTTP {exc.info.status}{code}" if exc.info.status else f"no answer ({exc.info.message})"
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning(
            "hubspot: %s got %s; retry %d/%d in %.1fs",
            endpoint_of(method, path),
            what,
            state.attempt_number,
            self.settings.max_retries,
            wait,
        )

    def close(self) -> None:
        """Drop pooled connections and stop the limiters' background leak threads."""
        self.clear()
        self._limiter.close()
        self._search_limiter.close()
