"""Connectors built from leadq.yaml: the config's connection blocks turned into connector settings.

Secrets travel once, from the config's resolved `SecretRef` straight into the connector's own secret
wrapper (`Secret` for Salesforce, `SecretStr` for HubSpot); nothing here logs or formats them. `redact`
scrubs any secret of a config out of a text before it is shown, as a last guard for messages that quote
a server's answer. `CachedDescriber` is the `describe` the admin commands share.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import SecretStr

from connector.errors import ConnectorConfigError
from connector.hubspot import HubSpotConnector, HubSpotSettings
from connector.protocol import CRMConnector, ObjectDescription
from connector.salesforce import SalesforceConnector, SalesforceSettings, Secret
from mappings import HubSpotConnection, LeadqConfig, SalesforceConnection, SecretRef, SecretUnavailableError

Connector = SalesforceConnector | HubSpotConnector
CRM_NAMES = {"salesforce": "Salesforce", "hubspot": "HubSpot"}
_MASK = "**********"


class ConnectionSetupError(RuntimeError):
    """The config's connection block cannot become connector settings (e.g. secrets not resolved)."""

    def __init__(self, crm: str, message: str) -> None:
        super().__init__(f"{CRM_NAMES.get(crm, crm)}: {message}")
        self.crm = crm


def _sf_secret(crm: str, ref: SecretRef | None) -> Secret | None:
    if ref is None:
        return None
    try:
        return Secret(ref.reveal())
    except SecretUnavailableError:
        raise ConnectionSetupError(
            crm, f"the secret from {ref.source} was not read; load the config with its secrets resolved"
        ) from None


def _hs_secret(crm: str, ref: SecretRef | None) -> SecretStr | None:
    if ref is None:
        return None
    try:
        return SecretStr(ref.reveal())
    except SecretUnavailableError:
        raise ConnectionSetupError(
            crm, f"the secret from {ref.source} was not read; load the config with its secrets resolved"
        ) from None


def salesforce_settings(connection: SalesforceConnection, **overrides: Any) -> SalesforceSettings:
    """`SalesforceSettings` for a config's `salesforce.connection`; `overrides` set tuning fields."""
    auth = connection.auth
    values: dict[str, Any] = {
        "instance_url": connection.instance_url,
        "login_url": connection.login_url,
        "api_version": connection.api_version,
        "auth": auth.method,
        "ca_bundle": connection.ca_bundle,
        "daily_quota_share": connection.daily_quota_share,
        "bulk_threshold": connection.bulk_threshold,
    }
    # Each auth variant carries its own subset of fields; copy what this one has.
    for name in ("client_id", "username"):
        if hasattr(auth, name):
            values[name] = getattr(auth, name)
    for name in (
        "client_secret",
        "password",
        "security_token",
        "private_key",
        "refresh_token",
        "access_token",
    ):
        if hasattr(auth, name):
            values[name] = _sf_secret("salesforce", getattr(auth, name))
    values.update(overrides)
    return SalesforceSettings(**values)


def hubspot_settings(connection: HubSpotConnection, **overrides: Any) -> HubSpotSettings:
    """`HubSpotSettings` for a config's `hubspot.connection`; `overrides` set tuning fields."""
    auth = connection.auth
    values: dict[str, Any] = {
        "base_url": connection.base_url,
        "auth": auth.method,
        "ca_bundle": str(connection.ca_bundle) if connection.ca_bundle else None,
    }
    if auth.method == "private_app":
        values["token"] = _hs_secret("hubspot", auth.token)
    else:
        values["client_id"] = auth.client_id
        values["client_secret"] = _hs_secret("hubspot", auth.client_secret)
        values["refresh_token"] = _hs_secret("hubspot", auth.refresh_token)
    values.update(overrides)
    return HubSpotSettings(**values)


def build_connector(config: LeadqConfig, crm: str, **overrides: Any) -> Connector:
    """The connector of one configured CRM; `overrides` tune its settings (retries, timeouts, pacing).

    Raises `ConnectionSetupError` when the CRM is not configured or its secrets were not resolved, and the
    connector's `AuthConfigError` when the auth block lacks what its method needs.
    """
    if crm == "salesforce" and config.salesforce is not None:
        return SalesforceConnector(salesforce_settings(config.salesforce.connection, **overrides))
    if crm == "hubspot" and config.hubspot is not None:
        return HubSpotConnector(hubspot_settings(config.hubspot.connection, **overrides))
    raise ConnectionSetupError(crm, "is not configured in leadq.yaml")


def endpoint(config: LeadqConfig, crm: str) -> str:
    """Where a CRM is reached, for messages: the instance, login or base URL."""
    if crm == "salesforce" and config.salesforce is not None:
        conn = config.salesforce.connection
        return str(conn.instance_url or conn.login_url)
    if crm == "hubspot" and config.hubspot is not None:
        return str(config.hubspot.connection.base_url)
    return "(not configured)"


def secret_refs(config: LeadqConfig, crm: str) -> list[SecretRef]:
    """The secret references of a CRM's auth block (where they come from is safe to show)."""
    block = config.crm(crm)
    if block is None:
        return []
    auth = block.connection.auth
    return [value for value in vars(auth).values() if isinstance(value, SecretRef)]


def secret_sources(config: LeadqConfig, crm: str) -> str:
    """`env LEADQ_SANDBOX_TOKEN, file /etc/leadq/key`: where a CRM's secrets come from."""
    return ", ".join(ref.source for ref in secret_refs(config, crm)) or "no secrets"


def _revealed(refs: Iterable[SecretRef]) -> list[str]:
    out = []
    for ref in refs:
        if ref.resolved:
            value = ref.reveal()
            # Real credentials are long; masking a short one (the sandbox's documented `sandbox` token)
            # would shred ordinary words of the message instead.
            if len(value) >= 8:
                out.append(value)
    return out


def redact(text: str, config: LeadqConfig) -> str:
    """`text` with every secret value of the config replaced by a mask."""
    for crm in config.crms:
        for value in _revealed(secret_refs(config, crm)):
            text = text.replace(value, _MASK)
    return text


class CachedDescriber:
    """`connector.describe` with a cache; None for an object the CRM says does not exist (404).

    Any other failure (TLS, credentials, permissions, network) propagates: the CRM is unusable as a whole.
    """

    def __init__(self, connector: CRMConnector) -> None:
        self._connector = connector
        self._cache: dict[str, ObjectDescription | None] = {}

    def __call__(self, obj: str) -> ObjectDescription | None:
        if obj not in self._cache:
            try:
                self._cache[obj] = self._connector.describe(obj)
            except ConnectorConfigError as exc:
                if exc.status != 404:
                    raise
                self._cache[obj] = None
        return self._cache[obj]
