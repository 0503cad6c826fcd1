"""Connector settings built from leadq.yaml: every auth method, secrets wrapped, never shown."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from connector.hubspot import HubSpotConnector
from connector.salesforce import AuthMethod, SalesforceConnector, Secret
from mappings import parse_config
from sync.connectors import (
    ConnectionSetupError,
    build_connector,
    hubspot_settings,
    redact,
    salesforce_settings,
    secret_sources,
)

SECRETS = {
    "LQ_CLIENT_SECRET": "cs-5d1e0c2b9a",
    "LQ_PASSWORD": "pw-77a1b2c3d4",
    "LQ_TOKEN": "st-0f9e8d7c6b",
    "LQ_REFRESH": "rt-4a5b6c7d8e",
    "LQ_ACCESS": "at-1234abcd5678",
    "LQ_HUBSPOT": "pat-na1-9b8c7d6e",
}


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)


def _salesforce(auth: str, extra: str = "") -> str:
    return (
        "salesforce:\n  connection:\n    instance_url: https://acme.my.salesforce.com\n"
        f"    daily_quota_share: 0.1\n    bulk_threshold: 5000\n{extra}    auth: {auth}\n"
    )


@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        (
            "{method: client_credentials, client_id: app, client_secret: {env: LQ_CLIENT_SECRET}}",
            {"client_id": "app", "client_secret": "cs-5d1e0c2b9a"},
        ),
        (
            "{method: password, client_id: app, client_secret: {env: LQ_CLIENT_SECRET}, username: u@acme.com, "
            "password: {env: LQ_PASSWORD}, security_token: {env: LQ_TOKEN}}",
            {"username": "u@acme.com", "password": "pw-77a1b2c3d4", "security_token": "st-0f9e8d7c6b"},
        ),
        (
            "{method: refresh_token, client_id: app, refresh_token: {env: LQ_REFRESH}}",
            {"refresh_token": "rt-4a5b6c7d8e", "client_secret": None},
        ),
        ("{method: access_token, access_token: {env: LQ_ACCESS}}", {"access_token": "at-1234abcd5678"}),
    ],
)
def test_salesforce_settings_from_each_auth_method(auth: str, expected: dict[str, str | None]) -> None:
    config = parse_config(_salesforce(auth))
    assert config.salesforce is not None
    settings = salesforce_settings(config.salesforce.connection)
    assert settings.method is AuthMethod(auth.split(",")[0].removeprefix("{method: "))
    assert (settings.instance_url, settings.api_version) == ("https://acme.my.salesforce.com", "59.0")
    assert (settings.daily_quota_share, settings.bulk_threshold) == (0.1, 5000)
    for name, value in expected.items():
        if name in ("client_id", "username"):
            assert getattr(settings, name) == value
        elif value is None:
            assert getattr(settings, name) is None
        else:
            assert isinstance(getattr(settings, name), Secret) and settings.secret(name) == value
    for value in SECRETS.values():
        assert value not in repr(settings) and value not in str(settings)


def test_jwt_private_key_from_a_file(tmp_path: Path) -> None:
    key = tmp_path / "server.key"
    key.write_text("-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n", encoding="utf-8")
    auth = f'{{method: jwt_bearer, client_id: app, username: u@acme.com, private_key: {{file: "{key}"}}}}'
    config = parse_config(_salesforce(auth).replace("instance_url", "login_url"))
    assert config.salesforce is not None
    settings = salesforce_settings(config.salesforce.connection, max_retries=1)
    assert settings.method is AuthMethod.JWT_BEARER and settings.max_retries == 1
    assert (settings.secret("private_key") or "").startswith("-----BEGIN PRIVATE KEY-----")


def test_hubspot_settings(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("not checked here\n", encoding="utf-8")
    config = parse_config(
        f'hubspot:\n  connection:\n    ca_bundle: "{ca}"\n    auth: {{method: private_app, token: {{env: LQ_HUBSPOT}}}}\n'
    )
    assert config.hubspot is not None
    settings = hubspot_settings(config.hubspot.connection, search_per_second=2)
    assert isinstance(settings.token, SecretStr) and settings.token.get_secret_value() == "pat-na1-9b8c7d6e"
    assert (settings.base_url, settings.ca_bundle, settings.search_per_second) == (
        "https://api.hubapi.com",
        str(ca),
        2,
    )
    assert "pat-na1-9b8c7d6e" not in repr(settings)
    oauth = parse_config(
        "hubspot:\n  connection:\n    auth: {method: oauth_refresh, client_id: app, "
        "client_secret: {env: LQ_CLIENT_SECRET}, refresh_token: {env: LQ_REFRESH}}\n"
    )
    assert oauth.hubspot is not None
    refreshing = hubspot_settings(oauth.hubspot.connection)
    assert refreshing.auth == "oauth_refresh" and refreshing.client_id == "app"
    assert (
        refreshing.refresh_token is not None
        and refreshing.refresh_token.get_secret_value() == "rt-4a5b6c7d8e"
    )


def test_build_connector_per_crm() -> None:
    config = parse_config(
        _salesforce("{method: access_token, access_token: {env: LQ_ACCESS}}")
        + "hubspot:\n  connection:\n    auth: {method: private_app, token: {env: LQ_HUBSPOT}}\n"
    )
    with build_connector(config, "salesforce") as sf, build_connector(config, "hubspot") as hs:
        assert isinstance(sf, SalesforceConnector) and isinstance(hs, HubSpotConnector)
    only_sf = parse_config(_salesforce("{method: access_token, access_token: {env: LQ_ACCESS}}"))
    with pytest.raises(ConnectionSetupError, match="HubSpot: is not configured"):
        build_connector(only_sf, "hubspot")


def test_unresolved_secrets_are_named_by_source_only() -> None:
    config = parse_config(
        _salesforce("{method: access_token, access_token: {env: LQ_ACCESS}}"), resolve=False
    )
    assert config.salesforce is not None
    with pytest.raises(ConnectionSetupError) as caught:
        salesforce_settings(config.salesforce.connection)
    assert "env LQ_ACCESS" in str(caught.value) and "at-1234abcd5678" not in str(caught.value)


def test_redact_masks_every_configured_secret() -> None:
    config = parse_config(
        _salesforce("{method: access_token, access_token: {env: LQ_ACCESS}}")
        + "hubspot:\n  connection:\n    auth: {method: private_app, token: {env: LQ_HUBSPOT}}\n"
    )
    text = "echo at-1234abcd5678 and pat-na1-9b8c7d6e from the sandbox"
    assert redact(text, config) == "echo ********** and ********** from the sandbox"
    assert secret_sources(config, "salesforce") == "env LQ_ACCESS"
