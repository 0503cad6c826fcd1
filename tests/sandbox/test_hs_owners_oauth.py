"""HubSpot owners and the OAuth token endpoint through the real client."""

from __future__ import annotations

import json

import pytest
from hubspot import HubSpot
from hubspot.crm.owners import ApiException as OwnersApiException
from hubspot.oauth import ApiException as OAuthApiException

from sandbox import SandboxServer

OWNERS = [
    {"id": 70000 + i, "email": f"rep{i}@example.com", "firstName": f"Rep{i}", "lastName": "Seller",
     "userId": 9000 + i, "createdAt": "2025-01-02T03:04:05.678Z", "updatedAt": "2025-01-02T03:04:05.678Z"}
    for i in range(5)
]  # fmt: skip


def _seed_owners(sandbox: SandboxServer) -> None:
    for o in OWNERS:
        sandbox.store.hs_put_owner(o)
    sandbox.store.hs_put_owner(OWNERS[0] | {"id": 69999, "email": "gone@example.com", "archived": True})
    sandbox.store.hs_put_owner(OWNERS[1] | {"teams": [{"id": 12, "name": "EMEA", "primary": True}]})


def test_owners_list_paging_email_and_get(hs: HubSpot, sandbox: SandboxServer) -> None:
    _seed_owners(sandbox)
    api = hs.crm.owners.owners_api
    first = api.get_page(limit=3)
    assert [o.id for o in first.results] == ["70000", "70001", "70002"]
    rest = api.get_page(limit=3, after=first.paging.next.after)
    assert [o.id for o in rest.results] == ["70003", "70004"] and rest.paging is None
    owner = first.results[0]
    assert (owner.type, owner.user_id, owner.archived, owner.first_name) == ("PERSON", 9000, False, "Rep0")
    assert first.results[1].teams[0].name == "EMEA" and owner.teams is None
    assert [o.id for o in api.get_page(email="REP3@example.com").results] == ["70003"]
    assert [o.id for o in api.get_page(archived=True).results] == ["69999"]
    assert api.get_by_id(70002).email == "rep2@example.com"
    assert api.get_by_id(9004, id_property="userId").id == "70004"
    with pytest.raises(OwnersApiException) as err:
        api.get_by_id(123)
    assert err.value.status == 404


def test_oauth_code_then_refresh(hs: HubSpot, sandbox: SandboxServer) -> None:
    st = sandbox.state
    tokens = hs.oauth.tokens_api
    first = tokens.create(
        grant_type="authorization_code", code="any-code", redirect_uri="https://localhost/callback",
        client_id=st.client_id, client_secret=st.client_secret,
    )  # fmt: skip
    assert first.token_type == "bearer" and first.expires_in == 1800
    refreshed = tokens.create(
        grant_type="refresh_token", refresh_token=first.refresh_token, client_id=st.client_id,
        client_secret=st.client_secret,
    )  # fmt: skip
    assert refreshed.refresh_token == first.refresh_token and refreshed.access_token != first.access_token
    assert st.is_issued_token(refreshed.access_token)
    with_new_token = HubSpot(
        access_token=refreshed.access_token, host=sandbox.url, ssl_ca_cert=str(sandbox.ca_path)
    )
    assert with_new_token.crm.owners.owners_api.get_page().results == []
    with pytest.raises(OwnersApiException) as denied:
        HubSpot(
            access_token="bogus", host=sandbox.url, ssl_ca_cert=str(sandbox.ca_path)
        ).crm.owners.owners_api.get_page()
    assert denied.value.status == 401

    for kwargs, status in (
        ({"grant_type": "refresh_token", "refresh_token": "nope"}, "BAD_REFRESH_TOKEN"),
        ({"grant_type": "refresh_token", "refresh_token": first.refresh_token, "client_secret": "x"},
         "BAD_CLIENT_SECRET"),
        ({"grant_type": "refresh_token", "refresh_token": first.refresh_token, "client_id": "x"}, "BAD_CLIENT_ID"),
        ({"grant_type": "password"}, "BAD_GRANT_TYPE"),
    ):  # fmt: skip
        args = {"client_id": st.client_id, "client_secret": st.client_secret} | kwargs
        with pytest.raises(OAuthApiException) as err:
            tokens.create(**args)
        assert err.value.status == 400
        body = json.loads(err.value.body)
        assert body["status"] == status and body["message"] and body["correlationId"]
