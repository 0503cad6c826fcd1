"""How leadq reaches one Salesforce org: where, as whom, and within which limits.

Secrets (client secret, password, security token, private key, refresh and access tokens) are held in
`Secret`, whose `repr` and `str` never show the value, so printing or logging the settings is safe.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

from connector.errors import AuthConfigError

_MASK: Final = "**********"


class Secret:
    """A credential that never shows itself in `repr`, `str`, f-strings, logs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The value itself: only for the one place that sends it to Salesforce."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{_MASK}')"

    def __str__(self) -> str:
        return _MASK

    def __format__(self, spec: str) -> str:
        return _MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> Any:
        # Pickling would write the value to disk unmasked; settings are rebuilt from config, never pickled.
        raise TypeError("Secret values are not picklable")


class AuthMethod(StrEnum):
    """The OAuth flows leadq speaks (see `SalesforceSettings`)."""

    CLIENT_CREDENTIALS = "client_credentials"
    JWT_BEARER = "jwt_bearer"
    REFRESH_TOKEN = "refresh_token"  # noqa: S105 (a flow name, not a credential)
    PASSWORD = "password"  # noqa: S105
    ACCESS_TOKEN = "access_token"  # noqa: S105


_REQUIRED: dict[AuthMethod, tuple[str, ...]] = {
    AuthMethod.CLIENT_CREDENTIALS: ("client_id", "client_secret"),
    AuthMethod.JWT_BEARER: ("client_id", "username"),
    AuthMethod.REFRESH_TOKEN: ("client_id", "refresh_token"),
    AuthMethod.PASSWORD: ("client_id", "client_secret", "username", "password"),
    AuthMethod.ACCESS_TOKEN: ("access_token", "instance_url"),
}
_SECRET_FIELDS = (
    "client_secret",
    "password",
    "security_token",
    "private_key",
    "refresh_token",
    "access_token",
)


@dataclass
class SalesforceSettings:
    """Connection, credentials and limits for one org.

    Auth (`auth`):

    * `client_credentials`: `client_id` + `client_secret` of a connected app with a run-as user; the token
      endpoint must be the org's My Domain (`login_url` or `instance_url`).
    * `jwt_bearer`: `client_id`, `username` and `private_key` (PEM text) or `private_key_path`; the
      connected app holds the matching certificate. The JWT audience is `jwt_audience`, else
      `https://test.salesforce.com` for sandbox orgs, else `https://login.salesforce.com`.
    * `refresh_token`: `client_id`, `refresh_token`, and `client_secret` if the app requires it.
    * `password`: the username-password OAuth flow (`client_id`, `client_secret`, `username`, `password`,
      `security_token` appended to the password when the org requires it).
    * `access_token`: a given token and `instance_url`; it cannot be renewed when it expires.

    `ca_bundle`: a PEM file to trust instead of the system store. It wins over `REQUESTS_CA_BUNDLE`
    (the session is built with `trust_env = False`, which also ignores proxy variables; set `proxy`).

    Limits: a cycle may use at most `daily_quota_share` of the org's daily API limit, counted from the
    cycle's first response; pulls and writes above `bulk_threshold` records use Bulk API 2.0.
    """

    instance_url: str | None = None
    login_url: str | None = None
    api_version: str = "59.0"
    auth: AuthMethod | str = AuthMethod.CLIENT_CREDENTIALS
    client_id: str | None = None
    client_secret: Secret | str | None = None
    username: str | None = None
    password: Secret | str | None = None
    security_token: Secret | str | None = None
    private_key: Secret | str | None = None
    private_key_path: Path | str | None = None
    jwt_audience: str | None = None
    refresh_token: Secret | str | None = None
    access_token: Secret | str | None = None
    ca_bundle: Path | str | None = None
    proxy: str | None = None
    daily_quota_share: float = 0.25
    bulk_threshold: int = 2000
    lookback_seconds: float = 300.0
    connect_timeout: float = 10.0
    read_timeout: float = 120.0
    max_retries: int = 4
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    query_page_size: int = 2000
    bulk_poll_seconds: float = 2.0

    def __post_init__(self) -> None:
        for name in _SECRET_FIELDS:
            value = getattr(self, name)
            if isinstance(value, str):
                setattr(self, name, Secret(value))
        try:
            self.auth = AuthMethod(self.auth)
        except ValueError:
            known = ", ".join(m.value for m in AuthMethod)
            raise AuthConfigError(
                f"unknown auth method {self.auth!r}; use one of: {known}", crm="salesforce"
            ) from None
        missing = [name for name in _REQUIRED[self.auth] if not getattr(self, name)]
        if self.auth is AuthMethod.JWT_BEARER and not (self.private_key or self.private_key_path):
            missing.append("private_key or private_key_path")
        if missing:
            raise AuthConfigError(
                f"auth method {self.auth.value} needs {', '.join(missing)} in the Salesforce settings",
                crm="salesforce",
            )
        if not 0.0 < self.daily_quota_share <= 1.0:
            raise ValueError(f"daily_quota_share must be in (0, 1], not {self.daily_quota_share}")
        if not 200 <= self.query_page_size <= 2000:
            raise ValueError("query_page_size must be between 200 and 2000 (the API's batchSize range)")
        for name in ("instance_url", "login_url"):
            url = getattr(self, name)
            if url is not None:
                setattr(self, name, str(url).rstrip("/"))

    @property
    def method(self) -> AuthMethod:
        """`auth` as the enum (normalised in `__post_init__`)."""
        return AuthMethod(self.auth)

    @property
    def token_url(self) -> str:
        """Where OAuth tokens come from: the login URL, else the instance (My Domain), else login."""
        base = self.login_url or self.instance_url or "https://login.salesforce.com"
        return f"{base}/services/oauth2/token"

    @property
    def audience(self) -> str:
        """The `aud` claim of a JWT bearer assertion."""
        if self.jwt_audience:
            return self.jwt_audience
        where = f"{self.login_url or ''} {self.instance_url or ''}"
        sandbox_org = "test.salesforce.com" in where or ".sandbox.my.salesforce.com" in where
        return "https://test.salesforce.com" if sandbox_org else "https://login.salesforce.com"

    def secret(self, name: str) -> str | None:
        """The revealed value of one secret field (None when unset)."""
        value = getattr(self, name)
        if value is None:
            return None
        return value.reveal() if isinstance(value, Secret) else str(value)
