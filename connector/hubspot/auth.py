"""Bearer tokens for HubSpot: a fixed private-app token, or OAuth access tokens renewed from a refresh token.

The transport asks `bearer()` before every request and `refresh(stale)` after a 401; the OAuth exchange
itself (`POST /oauth/v1/token`) is injected as a callable so it runs through the same accounted transport.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import SecretStr

from connector.errors import AuthConfigError
from connector.hubspot.settings import HubSpotSettings

log = logging.getLogger("connector.hubspot")

# renew a little before HubSpot's stated expiry, so a token never dies in flight
EXPIRY_MARGIN_S = 60.0


class TokenSource(Protocol):
    """Where the transport gets its bearer token."""

    refreshable: bool

    def bearer(self) -> str:
        """The current access token (renewed first if it is known to have expired)."""
        ...

    def refresh(self, stale: str) -> None:
        """Renew after a 401 on `stale`; a no-op if another thread already renewed it."""
        ...


class StaticToken:
    """A private app access token or service key: never renewed, a 401 means it is wrong or revoked."""

    refreshable = False

    def __init__(self, token: SecretStr) -> None:
        self._token = token

    def bearer(self) -> str:
        return self._token.get_secret_value()

    def refresh(self, stale: str) -> None:
        raise AuthConfigError(
            "HubSpot refused the private app token (401); check it has not been rotated or revoked",
            crm="hubspot",
            status=401,
        )

    def __repr__(self) -> str:
        return "StaticToken(**********)"


@dataclass(frozen=True)
class TokenGrant:
    """What the token endpoint answered (secrets kept wrapped)."""

    access_token: SecretStr
    expires_in: float | None
    refresh_token: SecretStr | None


Exchange = Callable[[dict[str, str]], TokenGrant]


class OAuthRefreshToken:
    """OAuth 2.0 refresh-token grant, renewed on expiry and on 401; thread-safe."""

    refreshable = True

    def __init__(
        self, settings: HubSpotSettings, exchange: Exchange, clock: Callable[[], float] = time.monotonic
    ):
        assert settings.client_id and settings.client_secret and settings.refresh_token
        self._client_id = settings.client_id
        self._client_secret = settings.client_secret
        self._refresh_token = settings.refresh_token
        self._exchange = exchange
        self._clock = clock
        self._lock = threading.Lock()
        self._access: SecretStr | None = None
        self._expires_at = 0.0
        self.renewals = 0

    def bearer(self) -> str:
        with self._lock:
            if self._access is None or self._clock() >= self._expires_at:
                self._renew()
            assert self._access is not None
            return self._access.get_secret_value()

    def refresh(self, stale: str) -> None:
        with self._lock:
            if self._access is not None and self._access.get_secret_value() != stale:
                return  # another thread already renewed it
            self._renew()

    def _renew(self) -> None:
        grant = self._exchange(
            {
                "grant_type": "refresh_token",
                "client_id": self._client_id,
                "client_secret": self._client_secret.get_secret_value(),
                "refresh_token": self._refresh_token.get_secret_value(),
            }
        )
        self._access = grant.access_token
        lifetime = grant.expires_in if grant.expires_in is not None else 1800.0
        self._expires_at = self._clock() + max(0.0, lifetime - EXPIRY_MARGIN_S)
        if grant.refresh_token is not None:
            self._refresh_token = grant.refresh_token
        self.renewals += 1
        log.info("hubspot: OAuth access token renewed (valid for %ss)", int(lifetime))

    def __repr__(self) -> str:
        return f"OAuthRefreshToken(client_id={self._client_id!r}, secrets=**********)"


def grant_from(data: Any) -> TokenGrant:
    """A `TokenGrant` from the token endpoint's JSON answer."""
    if not isinstance(data, dict):
        raise AuthConfigError("the HubSpot token endpoint answered without an access token", crm="hubspot")
    access = data.get("access_token")
    if not access:
        raise AuthConfigError("the HubSpot token endpoint answered without an access token", crm="hubspot")
    refresh = data.get("refresh_token")
    expires = data.get("expires_in")
    return TokenGrant(
        access_token=SecretStr(str(access)),
        expires_in=float(expires) if expires is not None else None,
        refresh_token=SecretStr(str(refresh)) if refresh else None,
    )
