"""How to reach one HubSpot portal: base URL, credentials, TLS, timeouts, retry and pacing limits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import SecretStr

from connector.errors import AuthConfigError, ConnectorConfigError

AuthKind = Literal["private_app", "oauth_refresh"]
DEFAULT_BASE_URL = "https://api.hubapi.com"


def _secret(value: SecretStr | str | None) -> SecretStr | None:
    if value is None or isinstance(value, SecretStr):
        return value
    return SecretStr(value)


@dataclass
class HubSpotSettings:
    """Connection settings; secrets are `SecretStr`, so `repr`, `str`, logs and errors show `**********`.

    `auth="private_app"` sends `token` (a private app access token, or a service key) as the bearer token.
    `auth="oauth_refresh"` exchanges `refresh_token` (with `client_id`, `client_secret`) at
    `POST /oauth/v1/token` for an access token, again when it expires or a 401 arrives.
    Plain strings given for secrets are wrapped on construction.
    """

    base_url: str = DEFAULT_BASE_URL
    auth: AuthKind = "private_app"
    token: SecretStr | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    refresh_token: SecretStr | None = None
    ca_bundle: str | None = None
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    max_retries: int = 5
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    lookback_seconds: int = 300
    # kept under the portal's limit (100 or 190 per rolling 10 s per app) so other apps keep working
    requests_per_10s: int = 100
    search_per_second: int = 4
    search_page_size: int = 200
    # HubSpot refuses to page a search past 10,000 results; restart the window before that
    search_result_cap: int = 10_000
    batch_size: int = 100
    # associations v4 batch read takes up to 1,000 ids a call (object batch endpoints only 100)
    association_batch_size: int = 1000

    def __post_init__(self) -> None:
        self.token = _secret(self.token)
        self.client_secret = _secret(self.client_secret)
        self.refresh_token = _secret(self.refresh_token)
        self.base_url = self.base_url.rstrip("/")
        if not self.base_url.startswith(("https://", "http://")):
            raise ConnectorConfigError(
                f"base_url {self.base_url!r} must start with https:// (the default is {DEFAULT_BASE_URL})",
                crm="hubspot",
            )
        if self.auth == "private_app":
            if self.token is None or not self.token.get_secret_value():
                raise AuthConfigError(
                    "auth private_app needs `token`: a private app access token or a service key",
                    crm="hubspot",
                )
        elif self.auth == "oauth_refresh":
            missing = [
                name
                for name, value in (
                    ("client_id", self.client_id),
                    ("client_secret", self.client_secret),
                    ("refresh_token", self.refresh_token),
                )
                if not value
            ]
            if missing:
                raise AuthConfigError(f"auth oauth_refresh needs {', '.join(missing)}", crm="hubspot")
        else:
            raise AuthConfigError(
                f"unknown auth {self.auth!r}; use private_app or oauth_refresh", crm="hubspot"
            )
        for name in (
            "requests_per_10s",
            "search_per_second",
            "search_page_size",
            "batch_size",
            "association_batch_size",
        ):
            if int(getattr(self, name)) < 1:
                raise ConnectorConfigError(f"{name} must be at least 1", crm="hubspot")
        if not 1 <= self.search_page_size <= 200:
            raise ConnectorConfigError("search_page_size must be between 1 and 200", crm="hubspot")
        if not 1 <= self.batch_size <= 100:
            raise ConnectorConfigError("batch_size must be between 1 and 100", crm="hubspot")
        if not 1 <= self.association_batch_size <= 1000:
            raise ConnectorConfigError("association_batch_size must be between 1 and 1000", crm="hubspot")
        if self.search_result_cap < self.search_page_size:
            raise ConnectorConfigError("search_result_cap must be at least search_page_size", crm="hubspot")
