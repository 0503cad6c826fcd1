"""The sandbox reports a HubSpot token's scopes as HubSpot does: OAuth metadata and private-app token info."""

from __future__ import annotations

import ssl

import httpx
import pytest
from hubspot import HubSpot
from hubspot.oauth import ApiException as OAuthApiException
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mappings import HubSpotMapping, default_mapping
from sandbox import SandboxServer
from sandbox.hubspot.common import PORTAL_ID
from sandbox.hubspot.token_info import DEFAULT_SCOPES, OAUTH_SCOPE, token_scopes
from sync.permissions import hubspot_scopes

PRIVATE_APP_INFO = "/oauth/v2/private-apps/get/access-token-info"
SCOPE = st.from_regex(r"crm\.(objects|schemas)\.[a-z_]{3,12}\.(read|write)", fullmatch=True)


def _oauth_token(hs: HubSpot, sandbox: SandboxServer) -> str:
    """An access token from the sandbox's token endpoint (the install flow), through the real client."""
    grant = hs.oauth.tokens_api.create(
        grant_type="authorization_code", code="c", redirect_uri="https://localhost/cb",
        client_id=sandbox.state.client_id, client_secret=sandbox.state.client_secret,
    )  # fmt: skip
    token: str = grant.access_token
    return token


def _is_hubspot_error(body: dict[str, object], category: str) -> None:
    assert body["status"] == "error" and body["category"] == category
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["correlationId"], str) and len(body["correlationId"]) == 36


def test_the_default_scopes_are_what_leadq_needs_with_its_shipped_mapping() -> None:
    block = default_mapping("hubspot")
    assert isinstance(block, HubSpotMapping)
    assert sorted(DEFAULT_SCOPES) == hubspot_scopes(block)


def test_private_app_token_info_answers_the_apps_scopes(sandbox: SandboxServer, api: httpx.Client) -> None:
    answer = api.post(PRIVATE_APP_INFO, json={"tokenKey": sandbox.token})
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"userId", "hubId", "appId", "scopes"}
    assert body["hubId"] == PORTAL_ID and body["scopes"] == sorted(DEFAULT_SCOPES)
    token_scopes(sandbox.state).grant(["crm.objects.contacts.read"])
    assert api.post(PRIVATE_APP_INFO, json={"tokenKey": sandbox.token}).json()["scopes"] == [
        "crm.objects.contacts.read"
    ]


def test_private_app_token_info_refuses_unknown_keys_and_bad_input(
    hs: HubSpot, sandbox: SandboxServer, api: httpx.Client
) -> None:
    unknown = api.post(PRIVATE_APP_INFO, json={"tokenKey": "pat-na1-not-a-token"})
    assert unknown.status_code == 401
    _is_hubspot_error(unknown.json(), "INVALID_AUTHENTICATION")
    # an OAuth access token is not a private app token
    oauth = api.post(PRIVATE_APP_INFO, json={"tokenKey": _oauth_token(hs, sandbox)})
    assert oauth.status_code == 401
    assert api.post(PRIVATE_APP_INFO, json={}).status_code == 400
    malformed = api.post(PRIVATE_APP_INFO, content=b"{", headers={"Content-Type": "application/json"})
    assert malformed.status_code == 400
    _is_hubspot_error(malformed.json(), "VALIDATION_ERROR")


def test_oauth_metadata_through_the_real_client(hs: HubSpot, sandbox: SandboxServer) -> None:
    access = _oauth_token(hs, sandbox)
    # The sandbox's gate wants a bearer on every /oauth/ path but /oauth/v1/token (see the xfail below).
    info = hs.oauth.access_tokens_api.get(access, _headers={"Authorization": f"Bearer {sandbox.token}"})
    assert info.token == access and info.token_type == "access" and info.hub_id == PORTAL_ID
    assert set(info.scopes) == DEFAULT_SCOPES | {OAUTH_SCOPE}
    assert 0 < info.expires_in <= 1800 and info.app_id and info.user_id and "@" in info.user
    assert info.hub_domain


def test_oauth_metadata_needs_no_other_credential(hs: HubSpot, sandbox: SandboxServer) -> None:
    access = _oauth_token(hs, sandbox)
    assert hs.oauth.access_tokens_api.get(access).token == access


def test_oauth_tokens_keep_the_scopes_of_their_issue(
    hs: HubSpot, sandbox: SandboxServer, api: httpx.Client
) -> None:
    before = _oauth_token(hs, sandbox)
    token_scopes(sandbox.state).grant(["crm.objects.contacts.read", "crm.objects.deals.write"])
    after = _oauth_token(hs, sandbox)
    assert api.get(f"/oauth/v1/access-tokens/{before}").json()["scopes"] == sorted(DEFAULT_SCOPES | {"oauth"})
    assert api.get(f"/oauth/v1/access-tokens/{after}").json()["scopes"] == [
        "crm.objects.contacts.read", "crm.objects.deals.write", "oauth"
    ]  # fmt: skip
    token_scopes(sandbox.state).grant(["tickets"], token=before)
    assert api.get(f"/oauth/v1/access-tokens/{before}").json()["scopes"] == ["tickets"]


def test_oauth_metadata_of_unknown_and_expired_tokens(
    hs: HubSpot, sandbox: SandboxServer, api: httpx.Client
) -> None:
    unknown = api.get("/oauth/v1/access-tokens/CKDZpunPLhICAQEYs-not-issued")
    assert unknown.status_code == 404
    _is_hubspot_error(unknown.json(), "OBJECT_NOT_FOUND")
    # the private app token is no OAuth access token either
    assert api.get(f"/oauth/v1/access-tokens/{sandbox.token}").status_code == 404
    access = _oauth_token(hs, sandbox)
    assert sandbox.state.expire_sessions() >= 1
    expired = api.get(f"/oauth/v1/access-tokens/{access}")
    assert expired.status_code == 401
    _is_hubspot_error(expired.json(), "EXPIRED_AUTHENTICATION")
    assert access not in expired.text
    with pytest.raises(OAuthApiException) as err:
        hs.oauth.access_tokens_api.get("nope", _headers={"Authorization": f"Bearer {sandbox.token}"})
    assert err.value.status == 404


def test_the_admin_route_sets_and_resets_scopes(sandbox: SandboxServer, api: httpx.Client) -> None:
    assert api.get("/__sandbox/hubspot/scopes").json() == {"scopes": sorted(DEFAULT_SCOPES)}
    put = api.put("/__sandbox/hubspot/scopes", json={"scopes": ["crm.objects.contacts.read"]})
    assert put.json() == {"scopes": ["crm.objects.contacts.read"]}
    assert api.put("/__sandbox/hubspot/scopes", json={"scopes": "all"}).status_code == 400
    api.put("/__sandbox/hubspot/scopes", json={"scopes": ["x.read"], "token": sandbox.token})
    assert api.post(PRIVATE_APP_INFO, json={"tokenKey": sandbox.token}).json()["scopes"] == ["x.read"]
    assert api.delete("/__sandbox/hubspot/scopes").json() == {"scopes": sorted(DEFAULT_SCOPES)}
    assert api.post(PRIVATE_APP_INFO, json={"tokenKey": sandbox.token}).json()["scopes"] == sorted(
        DEFAULT_SCOPES
    )
    anonymous = httpx.put(
        f"{sandbox.url}/__sandbox/hubspot/scopes",
        json={"scopes": []},
        verify=ssl.create_default_context(cafile=str(sandbox.ca_path)),
    )
    assert anonymous.status_code == 401
    assert api.get("/__sandbox/hubspot/scopes").json() == {"scopes": sorted(DEFAULT_SCOPES)}


def test_each_sandbox_has_its_own_scopes(sandbox: SandboxServer) -> None:
    token_scopes(sandbox.state).grant([])
    other = token_scopes(type(sandbox.state)(sandbox.store))
    assert other.of("anything") == DEFAULT_SCOPES and token_scopes(sandbox.state).of("x") == frozenset()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(granted=st.frozensets(SCOPE, max_size=8))
def test_any_granted_set_is_reported_exactly_by_both_endpoints(
    hs: HubSpot, sandbox: SandboxServer, api: httpx.Client, granted: frozenset[str]
) -> None:
    token_scopes(sandbox.state).grant(granted)
    assert api.post(PRIVATE_APP_INFO, json={"tokenKey": sandbox.token}).json()["scopes"] == sorted(granted)
    access = _oauth_token(hs, sandbox)
    assert api.get(f"/oauth/v1/access-tokens/{access}").json()["scopes"] == sorted(granted | {OAUTH_SCOPE})
