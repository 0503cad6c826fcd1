"""One authenticated simple-salesforce client with accounting, quota budget, re-auth and retries.

Every HTTP call simple-salesforce makes goes through one `requests.Session`, whose response hook counts
the call in the `CallLog` (per endpoint) and reads `Sforce-Limit-Info` into the cycle's `QuotaBudget`.
`SalesforceClient.call(what, fn)` runs one logical operation `fn(sf)` (a query page, a collections batch,
a Bulk API job) and decides what to do about a failure from `connector.classify`:

* transient (`RETRY`, no response at all): retried with exponential backoff and jitter (tenacity), POST
  and PATCH included, since leadq's writes are idempotent (collections by Id, tasks by key);
* `401 INVALID_SESSION_ID`: sign in again and retry once; a second refusal is an `AuthError`;
* `403 REQUEST_LIMIT_EXCEEDED`, or this cycle's quota share spent: `QuotaExhaustedError`;
* config problems: `ConnectorConfigError` saying what to fix; anything else: `RecordRejectedError`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from simple_salesforce.api import Salesforce
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
)

from connector.accounting import CallLog
from connector.classify import Action
from connector.errors import AuthError, ConnectorError, RateLimitedError, RetryableError
from connector.salesforce.auth import Token, fetch_token
from connector.salesforce.failures import CRM, Failure, failure_of, tls_error, to_error
from connector.salesforce.outcomes import backoff_of
from connector.salesforce.quota import QuotaBudget, QuotaUsage, org_limit_error, parse_limit_info
from connector.salesforce.settings import AuthMethod, SalesforceSettings

log = logging.getLogger("leadq.connector.salesforce")
T = TypeVar("T")


class _TimeoutAdapter(HTTPAdapter):
    """Gives every request a timeout: simple-salesforce passes none on describe and Bulk API calls."""

    def __init__(self, timeout: tuple[float, float]) -> None:
        super().__init__(max_retries=0)  # retries are decided by the outcome table, not by urllib3
        self._timeout = timeout

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self._timeout
        return super().send(request, *args, **kwargs)


class SalesforceClient:
    """The session, the signed-in simple-salesforce client, and the retry/re-auth policy around it."""

    def __init__(self, settings: SalesforceSettings, calls: CallLog) -> None:
        self.settings = settings
        self.calls = calls
        self.budget = QuotaBudget(settings.daily_quota_share)
        self.session = self._build_session()
        self._lock = threading.RLock()
        self._sf: Salesforce | None = None

    def __repr__(self) -> str:
        return f"SalesforceClient(api_version={self.settings.api_version!r})"

    # ------------------------------------------------------------------ session and accounting
    def _build_session(self) -> requests.Session:
        session = requests.Session()
        if self.settings.ca_bundle:
            # With trust_env on, requests lets REQUESTS_CA_BUNDLE override `verify`; the config must win.
            session.trust_env = False
            session.verify = str(self.settings.ca_bundle)
        if self.settings.proxy:
            session.proxies = {"https": self.settings.proxy, "http": self.settings.proxy}
        adapter = _TimeoutAdapter((self.settings.connect_timeout, self.settings.read_timeout))
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        session.hooks["response"].append(self._on_response)
        return session

    def _on_response(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        request = response.request
        self.calls.record(request.method or "GET", urlsplit(request.url or "").path)
        usage = parse_limit_info(response.headers.get("Sforce-Limit-Info"))
        if usage is not None:
            self.budget.observe(*usage)

    def begin_cycle(self) -> None:
        """Count the quota share afresh from the next response."""
        self.budget.begin_cycle()

    def usage(self) -> QuotaUsage:
        return self.budget.usage()

    def close(self) -> None:
        self.session.close()

    # ------------------------------------------------------------------ sign-in
    @property
    def sf(self) -> Salesforce:
        """The signed-in client (signing in on first use)."""
        with self._lock:
            if self._sf is None:
                self._sf = self._client(self._sign_in())
            return self._sf

    def _client(self, token: Token) -> Salesforce:
        return Salesforce(
            instance_url=token.instance_url,
            session_id=token.access_token.reveal(),
            session=self.session,
            version=self.settings.api_version,
        )

    def _sign_in(self) -> Token:
        retrying = self._retrying("signing in", self.settings.max_retries + 1)
        return retrying(fetch_token, self.settings, self.session)

    def _renew(self, stale: Salesforce, what: str) -> None:
        with self._lock:
            if self._sf is not stale:
                return  # another caller renewed it already
            if self.settings.method is AuthMethod.ACCESS_TOKEN:
                raise AuthError(
                    f"{what}: the session expired, and a configured access_token cannot be renewed; "
                    "configure client_credentials, jwt_bearer, refresh_token or password auth",
                    crm=CRM,
                    status=401,
                    code="INVALID_SESSION_ID",
                )
            log.info("salesforce: session expired during %s; signing in again", what)
            self._sf = self._client(self._sign_in())

    # ------------------------------------------------------------------ calls
    def call(self, what: str, fn: Callable[[Salesforce], T], *, retry: bool = True) -> T:
        """Run `fn(sf)` under the quota budget, re-auth once on an expired session, retry transients.

        `what` names the operation in messages ("query Lead page 2"). With `retry=False` a transient
        failure raises `RetryableError` at once (for calls whose caller re-checks state before repeating).
        """
        attempts = self.settings.max_retries + 1 if retry else 1
        result: T = self._retrying(what, attempts)(self._once, what, fn)
        return result

    def _retrying(self, what: str, attempts: int) -> Retrying:
        backoff = backoff_of(self.settings)

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            floor = exc.retry_after if isinstance(exc, RateLimitedError) else 0.0
            return max(float(backoff(state)), floor)

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            code = getattr(exc, "code", None) or getattr(exc, "status", None) or type(exc).__name__
            sleep = state.next_action.sleep if state.next_action else 0.0
            log.warning(
                "salesforce: %s failed (%s), attempt %d of %d; retrying in %.2fs",
                what, code, state.attempt_number, attempts, sleep,
            )  # fmt: skip

        return Retrying(
            stop=stop_after_attempt(attempts),
            wait=wait,
            retry=retry_if_exception_type((RetryableError, RateLimitedError)),
            before_sleep=before_sleep,
            reraise=True,
        )

    def _once(self, what: str, fn: Callable[[Salesforce], T]) -> T:
        self.budget.check(what)
        try:
            return self._signed_in(what, fn)
        finally:
            self.budget.done()

    def _signed_in(self, what: str, fn: Callable[[Salesforce], T]) -> T:
        sf = self.sf
        try:
            return fn(sf)
        except Exception as exc:
            failure = failure_of(exc)
            if failure is None or isinstance(exc, ConnectorError):
                raise
            tls = tls_error(exc, what)
            if tls is not None:
                raise tls from None
            if failure.rule.action is not Action.REFRESH:
                raise self._error(failure, what) from exc
        self._renew(sf, what)
        try:
            return fn(self.sf)
        except Exception as exc:
            failure = failure_of(exc)
            if failure is None or isinstance(exc, ConnectorError):
                raise
            if failure.rule.action is Action.REFRESH:
                raise AuthError(
                    f"{what}: Salesforce refused a session it had just issued ({failure.code}); check that "
                    "the integration user is active and the connected app's session policy",
                    crm=CRM,
                    status=failure.status,
                    code=failure.code,
                ) from exc
            raise self._error(failure, what) from exc

    def _error(self, failure: Failure, what: str) -> ConnectorError:
        if failure.rule.action is Action.QUOTA:
            usage = self.budget.usage()
            return org_limit_error(what, usage.org_used, usage.org_limit)
        return to_error(failure, what)


def bulk_jobs(sf: Salesforce, obj: str) -> Any:
    """simple-salesforce's Bulk API 2.0 client of `obj`, on `sf`'s current session.

    `SFBulk2Type.query` runs create, poll and every results call as one generator, which cannot be retried
    or re-authenticated part-way, and its `update` writes the rows through `csv.DictWriter` and then reads
    them back to count and split them: the client's calls are made one by one instead.
    """
    return getattr(sf.bulk2, obj)._client
