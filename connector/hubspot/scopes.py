"""The scopes HubSpot granted the token leadq runs with, read from HubSpot itself.

- A private app token (or service key): `POST /oauth/v2/private-apps/get/access-token-info` with
  `{"tokenKey": token}` answers `{userId, hubId, appId, scopes}`. `hubspot-api-client` has no API for it,
  so it goes through the shared `Transport` like any raw call (paced, accounted, retried). The token
  travels in the body, never in a URL.
- An OAuth access token: `GET /oauth/v1/access-tokens/{token}` answers its metadata with `scopes`, through
  the client's own `oauth.AccessTokensApi`. Its path holds the token, so that one request is sent by
  `MetadataPool` rather than the shared transport: the call log records it as
  `GET /oauth/v1/access-tokens/{token}` and no log line or error can carry the path.

`None` means HubSpot did not say (an endpoint the portal does not offer, a refusal other than a bad
credential, an answer without scopes): `leadq check` then says where to compare by hand.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import orjson
import urllib3
from hubspot import oauth
from urllib3.exceptions import HTTPError, SSLError

from connector.accounting import CallLog
from connector.errors import AuthError, ConnectorConfigError, RetryableError
from connector.hubspot.client import HubSpotApis, raw_json
from connector.hubspot.settings import HubSpotSettings
from connector.hubspot.wire import CRM, error_info

log = logging.getLogger("connector.hubspot")

PRIVATE_APP_INFO_PATH = "/oauth/v2/private-apps/get/access-token-info"
METADATA_ENDPOINT = "/oauth/v1/access-tokens/{token}"  # as accounted and reported: never the token itself
_TRANSIENT = frozenset({429, 500, 502, 503, 504})
_METADATA_ATTEMPTS = 3


def scopes_from(answer: Any) -> frozenset[str] | None:
    """The `scopes` list of a token-info answer, or None when it has none."""
    if not isinstance(answer, dict):
        return None
    scopes = answer.get("scopes")
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        return None
    return frozenset(scopes)


def granted_scopes(apis: HubSpotApis) -> frozenset[str] | None:
    """The scopes of the configured credential, from the endpoint that matches its kind."""
    if apis.settings.auth == "private_app":
        return private_app_scopes(apis)
    return oauth_scopes(apis)


def private_app_scopes(apis: HubSpotApis) -> frozenset[str] | None:
    """A private app token's scopes; a refused token raises `AuthConfigError` (from the transport)."""
    url = f"{apis.settings.base_url}{PRIVATE_APP_INFO_PATH}"
    body = orjson.dumps({"tokenKey": apis.tokens.bearer()})
    try:
        response = apis.transport.request(
            "POST", url, body=body, headers={"Content-Type": "application/json"}
        )
    except ConnectorConfigError as exc:
        log.warning("hubspot: the private app's scopes are unknown: %s", exc)
        return None
    if response.status >= 300:
        info = error_info(response.status, response.data)
        log.warning(
            "hubspot: the private app's scopes are unknown: HTTP %s %s", response.status, info.message
        )
        return None
    try:
        return scopes_from(orjson.loads(response.data))
    except orjson.JSONDecodeError:
        return None


class MetadataPool(urllib3.PoolManager):
    """Sends `GET /oauth/v1/access-tokens/{token}` for the generated OAuth client, keeping the token out of
    the call log, logs and errors; retries connection trouble, 429 and 5xx a few times, then raises
    `RetryableError` as the shared transport does.

    HubSpot needs no credential beyond the token in the path; the same token goes as the bearer too, for
    gateways that authenticate every `/oauth/` call.
    """

    def __init__(
        self,
        settings: HubSpotSettings,
        calls: CallLog,
        bearer: str,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(
            num_pools=1,
            maxsize=1,
            cert_reqs="CERT_REQUIRED",
            ca_certs=settings.ca_bundle,
            retries=False,
            timeout=urllib3.Timeout(connect=settings.connect_timeout, read=settings.read_timeout),
        )
        self._settings = settings
        self._calls = calls
        self._bearer = bearer
        self._sleep = sleep

    def urlopen(  # type: ignore[override]
        self, method: str, url: str, redirect: bool = True, **kw: Any
    ) -> urllib3.BaseHTTPResponse:
        headers = dict(kw.get("headers") or {})
        headers["Authorization"] = f"Bearer {self._bearer}"
        kw["headers"] = headers
        kw["preload_content"] = True
        if kw.get("timeout") is None:
            kw.pop("timeout", None)
        name = f"{method.upper()} {METADATA_ENDPOINT}"
        for attempt in range(1, _METADATA_ATTEMPTS + 1):
            self._calls.record(method, METADATA_ENDPOINT)
            last = attempt == _METADATA_ATTEMPTS
            try:
                response = super().urlopen(method, url, redirect=False, **kw)
            except SSLError:
                raise ConnectorConfigError(
                    f"TLS verification failed on {name}; check `ca_bundle` points at the CA that signed the "
                    "server's certificate",
                    crm=CRM,
                ) from None
            except HTTPError as exc:
                if last:
                    raise RetryableError(
                        f"{name} got no answer after {attempt} attempts ({type(exc).__name__})", crm=CRM
                    ) from None
            else:
                if response.status not in _TRANSIENT:
                    return response
                if last:
                    raise RetryableError(
                        f"{name} failed after {attempt} attempts (HTTP {response.status})",
                        crm=CRM,
                        status=response.status,
                    )
            self._sleep(min(self._settings.backoff_max, self._settings.backoff_initial * 2 ** (attempt - 1)))
        raise AssertionError("the loop returns or raises")


def _metadata(settings: HubSpotSettings, calls: CallLog, bearer: str) -> Any:
    configuration = oauth.Configuration(host=settings.base_url)
    configuration.client_side_validation = False
    api_client = oauth.ApiClient(configuration=configuration)
    api_client.rest_client.pool_manager = MetadataPool(settings, calls, bearer)
    try:
        return raw_json(oauth.AccessTokensApi(api_client=api_client).get, bearer)
    finally:
        api_client.rest_client.pool_manager.clear()


def oauth_scopes(apis: HubSpotApis) -> frozenset[str] | None:
    """The current OAuth access token's scopes; renewed once if HubSpot calls it expired."""
    for attempt in (1, 2):
        bearer = apis.tokens.bearer()
        try:
            return scopes_from(_metadata(apis.settings, apis.transport.calls, bearer))
        except oauth.ApiException as exc:
            status = getattr(exc, "status", None)
            if status == 401 and attempt == 1:
                log.info("hubspot: the access token expired before its metadata was read; renewing it")
                apis.tokens.refresh(bearer)
                continue
            if status == 401:
                raise AuthError(
                    f"GET {METADATA_ENDPOINT} still answered 401 after the token was renewed",
                    crm=CRM,
                    status=401,
                ) from None
            # the category only: a message about this request could quote the token
            info = error_info(status, getattr(exc, "body", None))
            log.warning(
                "hubspot: the OAuth token's scopes are unknown: HTTP %s %s", status, info.category or ""
            )
            return None
    return None
