"""`HubSpotConnector.granted_scopes()` reads the token's scopes from HubSpot, for either kind of auth."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from connector.errors import AuthConfigError, RetryableError
from connector.hubspot import HubSpotConnector
from connector.hubspot.scopes import scopes_from
from sandbox import FaultConfig, SandboxServer
from sandbox.hubspot.token_info import DEFAULT_SCOPES, OAUTH_SCOPE, token_scopes
from tests.connector.test_hubspot_support import connector_for, settings_for

PRIVATE_APP = "POST /oauth/v2/private-apps/get/access-token-info"
METADATA = "GET /oauth/v1/access-tokens/{token}"
TOKEN = "POST /oauth/v1/token"


def oauth_connector(sandbox: SandboxServer) -> HubSpotConnector:
    _, refresh = sandbox.state.issue_token()
    assert refresh is not None
    return HubSpotConnector(
        settings_for(
            sandbox,
            auth="oauth_refresh",
            token=None,
            client_id=sandbox.state.client_id,
            client_secret=SecretStr(sandbox.state.client_secret),
            refresh_token=SecretStr(refresh),
        )
    )


def metadata_tokens(sandbox: SandboxServer) -> list[str]:
    """The tokens whose metadata the sandbox was asked for, from its own request log."""
    prefix = "/oauth/v1/access-tokens/"
    requests: list[dict[str, Any]] = sandbox.state.log.snapshot()["requests"]
    return [r["path"].removeprefix(prefix) for r in requests if r["path"].startswith(prefix)]


def test_a_private_app_token_reads_its_scopes_in_one_accounted_call(sandbox: SandboxServer) -> None:
    with connector_for(sandbox) as hub:
        assert hub.granted_scopes() == DEFAULT_SCOPES
        token_scopes(sandbox.state).grant(["crm.objects.contacts.read", "tickets"])
        assert hub.granted_scopes() == frozenset({"crm.objects.contacts.read", "tickets"})
        assert hub.calls.snapshot() == {PRIVATE_APP: 2}


def test_an_oauth_token_reads_its_metadata_without_the_token_reaching_counts_or_logs(
    sandbox: SandboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token_scopes(sandbox.state).grant(["crm.objects.contacts.read", "crm.objects.contacts.write"])
    with oauth_connector(sandbox) as hub:
        expected = frozenset({"crm.objects.contacts.read", "crm.objects.contacts.write", OAUTH_SCOPE})
        assert hub.granted_scopes() == expected
        calls = hub.calls.snapshot()
    assert calls == {TOKEN: 1, METADATA: 1}
    [token] = metadata_tokens(sandbox)
    assert len(token) > 20
    assert not [r for r in caplog.records if token in r.getMessage()]


def test_an_expired_oauth_token_is_renewed_once_then_read(sandbox: SandboxServer) -> None:
    with oauth_connector(sandbox) as hub:
        assert hub.granted_scopes() == DEFAULT_SCOPES | {OAUTH_SCOPE}
        assert sandbox.state.expire_sessions() >= 1
        assert hub.granted_scopes() == DEFAULT_SCOPES | {OAUTH_SCOPE}
        calls = hub.calls.snapshot()
    assert calls == {TOKEN: 2, METADATA: 3}  # read, refused as expired, renewed and read again
    first, stale, renewed = metadata_tokens(sandbox)
    assert first == stale != renewed


def test_server_errors_are_retried_then_reported_without_the_token(sandbox: SandboxServer) -> None:
    with oauth_connector(sandbox) as hub:
        hub.granted_scopes()
        sandbox.state.configure_faults(FaultConfig(error_5xx=1.0, paths=["/oauth/v1/access-tokens/"]))
        with pytest.raises(RetryableError) as err:
            hub.granted_scopes()
        assert hub.calls.snapshot()[METADATA] == 1 + 3
    token = metadata_tokens(sandbox)[0]
    assert token not in str(err.value) and "{token}" in str(err.value)


def test_a_portal_without_the_endpoint_means_unknown(sandbox: SandboxServer) -> None:
    with HubSpotConnector(settings_for(sandbox, base_url=f"{sandbox.url}/elsewhere")) as hub:
        assert hub.granted_scopes() is None


def test_a_revoked_private_app_token_is_a_credential_error(sandbox: SandboxServer) -> None:
    hub = HubSpotConnector(settings_for(sandbox, token=SecretStr("pat-na1-revoked")))
    with hub, pytest.raises(AuthConfigError, match="private app token"):
        hub.granted_scopes()


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@given(answer=JSON, scopes=st.lists(st.text(max_size=20), max_size=6))
def test_scopes_come_only_from_a_list_of_strings(answer: Any, scopes: list[str]) -> None:
    assert scopes_from({"scopes": scopes, "hubId": 1}) == frozenset(scopes)
    found = scopes_from(answer)
    if isinstance(answer, dict) and isinstance(answer.get("scopes"), list):
        listed = answer["scopes"]
        assert found == (frozenset(listed) if all(isinstance(s, str) for s in listed) else None)
    else:
        assert found is None
