"""How leadq reaches each CRM: endpoints, authentication method, TLS trust, and API budget."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, Tag, model_validator

from mappings.config.base import (
    ConfigFile,
    NonEmptyStr,
    StrictModel,
    Url,
    invalid,
    tag,
    variant_discriminator,
)
from mappings.config.secrets import SecretRef

SALESFORCE_AUTH_METHODS = ("client_credentials", "jwt_bearer", "refresh_token", "password", "access_token")
HUBSPOT_AUTH_METHODS = ("private_app", "oauth_refresh")
DEFAULT_SALESFORCE_LOGIN_URL = "https://login.salesforce.com"
DEFAULT_HUBSPOT_BASE_URL = "https://api.hubapi.com"
DEFAULT_API_VERSION = "59.0"


class SalesforceClientCredentials(StrictModel):
    """OAuth client credentials flow of a Connected App (runs as the app's integration user)."""

    method: Literal["client_credentials"]
    client_id: NonEmptyStr
    client_secret: SecretRef


class SalesforceJwtBearer(StrictModel):
    """OAuth JWT bearer flow: a Connected App's certificate signs a token for `username`."""

    method: Literal["jwt_bearer"]
    client_id: NonEmptyStr
    username: NonEmptyStr
    private_key: SecretRef


class SalesforceRefreshToken(StrictModel):
    """A refresh token obtained once through the web flow, exchanged for access tokens as needed."""

    method: Literal["refresh_token"]
    client_id: NonEmptyStr
    client_secret: SecretRef | None = None
    refresh_token: SecretRef


class SalesforcePassword(StrictModel):
    """Username-password flow (legacy; prefer client_credentials or jwt_bearer)."""

    method: Literal["password"]
    client_id: NonEmptyStr
    client_secret: SecretRef
    username: NonEmptyStr
    password: SecretRef
    security_token: SecretRef | None = None


class SalesforceAccessToken(StrictModel):
    """A ready session id / access token (the sandbox, or a token minted elsewhere)."""

    method: Literal["access_token"]
    access_token: SecretRef


SalesforceAuth = Annotated[
    Annotated[SalesforceClientCredentials, Tag(tag("method", "client_credentials"))]
    | Annotated[SalesforceJwtBearer, Tag(tag("method", "jwt_bearer"))]
    | Annotated[SalesforceRefreshToken, Tag(tag("method", "refresh_token"))]
    | Annotated[SalesforcePassword, Tag(tag("method", "password"))]
    | Annotated[SalesforceAccessToken, Tag(tag("method", "access_token"))],
    variant_discriminator("method", SALESFORCE_AUTH_METHODS),
]


def _api_version(value: Any) -> Any:
    # `api_version: 59.0` arrives as a float; `59` as an int.
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = f"{float(value):.1f}"
    if isinstance(value, str):
        value = value.strip().removeprefix("v")
        if not re.fullmatch(r"\d{2,3}\.0", value):
            raise invalid(f"{value!r} is not a Salesforce API version", 'write it like "59.0"')
    return value


class SalesforceConnection(StrictModel):
    """Where and how to reach one Salesforce org."""

    instance_url: Url | None = None
    login_url: Url | None = None
    api_version: Annotated[str, BeforeValidator(_api_version)] = DEFAULT_API_VERSION
    auth: SalesforceAuth
    ca_bundle: ConfigFile | None = None
    daily_quota_share: float = Field(default=0.25, gt=0, le=1)
    bulk_threshold: int = Field(default=2000, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _default_login(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("instance_url") is None and data.get("login_url") is None:
            return {**data, "login_url": DEFAULT_SALESFORCE_LOGIN_URL}
        return data

    @model_validator(mode="after")
    def _endpoints(self) -> SalesforceConnection:
        needs_instance = self.auth.method in ("client_credentials", "access_token")
        if needs_instance and self.instance_url is None:
            raise invalid(
                f"auth method {self.auth.method} needs instance_url (the org's My Domain URL)",
                "add instance_url: https://YOUR-DOMAIN.my.salesforce.com",
            )
        return self


class HubSpotPrivateApp(StrictModel):
    """A private app's access token."""

    method: Literal["private_app"]
    token: SecretRef


class HubSpotOAuthRefresh(StrictModel):
    """A public app's OAuth refresh token, exchanged for short-lived access tokens."""

    method: Literal["oauth_refresh"]
    client_id: NonEmptyStr
    client_secret: SecretRef
    refresh_token: SecretRef


HubSpotAuth = Annotated[
    Annotated[HubSpotPrivateApp, Tag(tag("method", "private_app"))]
    | Annotated[HubSpotOAuthRefresh, Tag(tag("method", "oauth_refresh"))],
    variant_discriminator("method", HUBSPOT_AUTH_METHODS),
]


class HubSpotConnection(StrictModel):
    """Where and how to reach one HubSpot portal."""

    base_url: Url = DEFAULT_HUBSPOT_BASE_URL
    auth: HubSpotAuth
    ca_bundle: ConfigFile | None = None
