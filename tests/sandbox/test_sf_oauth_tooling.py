"""OAuth token flows (through httpx and requests with the sandbox CA) and Tooling API custom fields."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from sandbox import SandboxServer, running_sandbox
from sandbox.store import Store
from tests.conftest import salesforce_client


def stored(store: Store, obj: str, record_id: str, **kwargs: Any) -> dict[str, Any]:
    """A stored row that must exist."""
    row = store.sf_get(obj, record_id, **kwargs)
    assert row is not None
    return row


def content_of(raised: Any) -> Any:
    """The decoded body a simple-salesforce exception carries."""
    return raised.value.content


TOKEN_PATH = "/services/oauth2/token"


@pytest.fixture(scope="module")
def shared(sandbox_state_dir: Path) -> Iterator[SandboxServer]:
    """One sandbox for the refused token requests (they change nothing)."""
    with running_sandbox(state_dir=sandbox_state_dir) as server:
        yield server


def http(server: SandboxServer) -> httpx.Client:
    return httpx.Client(base_url=server.url, verify=ssl.create_default_context(cafile=str(server.ca_path)))


def credentials(server: SandboxServer) -> dict[str, str]:
    return {"client_id": server.state.client_id, "client_secret": server.state.client_secret}


def assertion(server: SandboxServer, **claims: Any) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    payload = {"iss": server.state.client_id, "sub": "integration@leadq.sandbox",
               "aud": "https://login.salesforce.com", "exp": int(time.time()) + 180, **claims}  # fmt: skip
    return jwt.encode(payload, key, algorithm="RS256")


# ---------------------------------------------------------------- OAuth
def test_client_credentials_token_works_for_the_api(sandbox: SandboxServer) -> None:
    with http(sandbox) as c:
        answer = c.post(TOKEN_PATH, data={"grant_type": "client_credentials", **credentials(sandbox)})
        assert answer.status_code == 200
        token = answer.json()
        assert set(token) == {
            "access_token",
            "signature",
            "scope",
            "instance_url",
            "id",
            "token_type",
            "issued_at",
        }
        assert token["instance_url"] == sandbox.url and token["token_type"] == "Bearer"
        expected = hmac.new(
            sandbox.state.client_secret.encode(), (token["id"] + token["issued_at"]).encode(), hashlib.sha256
        )
        assert base64.b64decode(token["signature"]) == expected.digest()
        limits = c.get(
            "/services/data/v59.0/limits", headers={"Authorization": f"Bearer {token['access_token']}"}
        )
        assert limits.status_code == 200
        basic = base64.b64encode(f"{sandbox.state.client_id}:{sandbox.state.client_secret}".encode()).decode()
        via_basic = c.post(
            TOKEN_PATH, data={"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {basic}"}
        )
        assert via_basic.status_code == 200


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"grant_type": "client_credentials", "client_id": "nope", "client_secret": "x"}, ("invalid_client_id", "client identifier invalid")),
        ({"grant_type": "client_credentials", "client_id": "leadq-sandbox", "client_secret": "wrong"}, ("invalid_client", "invalid client credentials")),
        ({"grant_type": "password", "client_id": "leadq-sandbox", "client_secret": "sandbox-secret", "username": "nobody@x",
          "password": "sandbox-secret"}, ("invalid_grant", "authentication failure")),
        ({"grant_type": "password", "client_id": "leadq-sandbox", "client_secret": "sandbox-secret",
          "username": "integration@leadq.sandbox", "password": "wrong"}, ("invalid_grant", "authentication failure")),
        ({"grant_type": "refresh_token", "client_id": "leadq-sandbox", "refresh_token": "made-up"}, ("invalid_grant", "expired access/refresh token")),
        ({"grant_type": "implicit"}, ("unsupported_grant_type", "grant type not supported")),
        ({"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": "not.a-jwt"}, ("invalid_grant", "invalid assertion")),
    ],
)  # fmt: skip
def test_token_errors_are_the_real_oauth_bodies(
    shared: SandboxServer, form: dict[str, str], error: tuple[str, str]
) -> None:
    with http(shared) as c:
        answer = c.post(TOKEN_PATH, data=form)
    assert answer.status_code == 400
    assert answer.json() == {"error": error[0], "error_description": error[1]}


def test_password_and_jwt_bearer_flows_through_requests(sandbox: SandboxServer) -> None:
    session = requests.Session()
    session.trust_env = False
    session.verify = str(sandbox.ca_path)
    password = session.post(sandbox.url + TOKEN_PATH, data={"grant_type": "password", "username": "integration@leadq.sandbox",
                                                            "password": sandbox.state.client_secret, **credentials(sandbox)})  # fmt: skip
    assert password.status_code == 200 and "refresh_token" not in password.json()
    grant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
    good = session.post(sandbox.url + TOKEN_PATH, data={"grant_type": grant, "assertion": assertion(sandbox)})
    assert good.status_code == 200, good.text
    assert good.json()["id"].endswith("/0055g0000000001AAA")
    unknown_user = session.post(
        sandbox.url + TOKEN_PATH, data={"grant_type": grant, "assertion": assertion(sandbox, sub="x@y")}
    )
    assert unknown_user.json() == {
        "error": "invalid_grant",
        "error_description": "user hasn't approved this consumer",
    }
    expired = session.post(
        sandbox.url + TOKEN_PATH, data={"grant_type": grant, "assertion": assertion(sandbox, exp=1)}
    )
    assert expired.json()["error"] == "invalid_grant"
    wrong_client = session.post(
        sandbox.url + TOKEN_PATH, data={"grant_type": grant, "assertion": assertion(sandbox, iss="other")}
    )
    assert wrong_client.json()["error"] == "invalid_client_id"


def test_authorization_code_gives_a_refresh_token_that_refreshes(sandbox: SandboxServer) -> None:
    with http(sandbox) as c:
        redirect = c.get("/services/oauth2/authorize", params={"response_type": "code", "client_id": sandbox.state.client_id,
                                                                "redirect_uri": "http://localhost/cb", "state": "s1"})  # fmt: skip
        assert redirect.status_code == 302
        query = parse_qs(urlsplit(redirect.headers["location"]).query)
        assert query["state"] == ["s1"]
        form = {
            "grant_type": "authorization_code",
            "code": query["code"][0],
            "redirect_uri": "http://localhost/cb",
        }
        token = c.post(TOKEN_PATH, data={**form, **credentials(sandbox)}).json()
        assert token["refresh_token"] and "refresh_token" in token["scope"]
        replay = c.post(TOKEN_PATH, data={**form, **credentials(sandbox)})
        assert replay.json()["error"] == "invalid_grant", "a code works once"
        sandbox.state.expire_sessions()
        expired = c.get(
            "/services/data/v59.0/limits", headers={"Authorization": f"Bearer {token['access_token']}"}
        )
        assert expired.status_code == 401
        fresh = c.post(TOKEN_PATH, data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"],
                                         "client_id": sandbox.state.client_id})  # fmt: skip
        assert fresh.status_code == 200 and "refresh_token" not in fresh.json()
        assert (
            c.get(
                "/services/data/v59.0/limits",
                headers={"Authorization": f"Bearer {fresh.json()['access_token']}"},
            ).status_code
            == 200
        )


# ---------------------------------------------------------------- Tooling API
FIELD_TYPES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("leadq_Score__c", {"type": "Number", "precision": 3, "scale": 0}, {"type": "double", "precision": 3, "scale": 0}),
    ("leadq_Tier__c", {"type": "Text", "length": 1}, {"type": "string", "length": 1, "byteLength": 3}),
    ("leadq_Reasons__c", {"type": "LongTextArea", "length": 32768, "visibleLines": 5},
     {"type": "textarea", "length": 32768, "filterable": False, "extraTypeInfo": "plaintextarea"}),
    ("leadq_Review__c", {"type": "Checkbox", "defaultValue": "false"}, {"type": "boolean", "nillable": False, "defaultValue": False}),
    ("leadq_ScoredAt__c", {"type": "DateTime"}, {"type": "datetime", "soapType": "xsd:dateTime"}),
    ("leadq_Due__c", {"type": "Date"}, {"type": "date"}),
    ("leadq_Action__c", {"type": "Picklist", "valueSet": {"restricted": True, "valueSetDefinition": {"value": [
        {"fullName": "Call", "default": True, "label": "Call"}, {"fullName": "Nurture", "default": False, "label": "Nurture"}]}}},
     {"type": "picklist", "restrictedPicklist": True, "defaultValue": "Call"}),
    ("leadq_Prob__c", {"type": "Percent", "precision": 5, "scale": 2}, {"type": "percent", "precision": 5, "scale": 2}),
    ("leadq_Value__c", {"type": "Currency", "precision": 16, "scale": 2}, {"type": "currency", "soapType": "xsd:double"}),
]  # fmt: skip


def test_custom_fields_appear_in_describe_and_take_writes(sf: Any, sandbox: SandboxServer) -> None:
    existing = sf.Lead.create({"LastName": "Before", "Company": "C"})["id"]
    for name, metadata, _ in FIELD_TYPES:
        result = sf.toolingexecute("sobjects/CustomField", method="POST",
                                   data={"FullName": f"Lead.{name}", "Metadata": {"label": name, **metadata}})  # fmt: skip
        assert set(result) == {"id", "success", "errors", "warnings", "infos"} and result["id"].startswith(
            "00N"
        )
    fields = {f["name"]: f for f in sf.Lead.describe()["fields"]}
    for name, _, expected in FIELD_TYPES:
        assert fields[name]["custom"] is True
        assert {k: fields[name][k] for k in expected} == expected, name
    before = sf.Lead.get(existing)
    assert before["leadq_Review__c"] is False and before["leadq_Score__c"] is None
    sf.Lead.update(existing, {"leadq_Score__c": 87, "leadq_ScoredAt__c": "2024-03-01T10:15:00Z", "leadq_Action__c": "Nurture",
                              "leadq_Prob__c": 12.345})  # fmt: skip
    after = sf.Lead.get(existing)
    assert after["leadq_Score__c"] == 87.0 and after["leadq_ScoredAt__c"] == "2024-03-01T10:15:00.000+0000"
    assert after["leadq_Prob__c"] == 12.35
    with pytest.raises(SalesforceMalformedRequest) as restricted:
        sf.Lead.update(existing, {"leadq_Action__c": "Dance"})
    assert content_of(restricted)[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    with pytest.raises(SalesforceMalformedRequest) as too_big:
        sf.Lead.update(existing, {"leadq_Score__c": 1000})
    assert content_of(too_big)[0]["errorCode"] == "NUMBER_OUTSIDE_VALID_RANGE"
    assert sf.Lead.create({"LastName": "New", "Company": "C"})["success"]
    assert sandbox.store.sf_field("Lead", "leadq_Action__c") is not None


def test_tooling_duplicates_bad_names_and_queries(sf: Any, sandbox: SandboxServer) -> None:
    data = {
        "FullName": "Contact.leadq_Score__c",
        "Metadata": {"label": "Score", "type": "Number", "precision": 3},
    }
    created = sf.toolingexecute("sobjects/CustomField", method="POST", data=data)
    with pytest.raises(SalesforceMalformedRequest) as duplicate:
        sf.toolingexecute("sobjects/CustomField", method="POST", data=data)
    assert content_of(duplicate) == [{"message": "There is already a field named leadq_Score on Contact.",
                                        "errorCode": "DUPLICATE_DEVELOPER_NAME", "fields": []}]  # fmt: skip
    for bad in ({"FullName": "Contact.NoSuffix", "Metadata": data["Metadata"]},
                {"FullName": "Contact.Two__Under__c", "Metadata": data["Metadata"]},
                {"FullName": "Contact.Ok__c", "Metadata": {"label": "x", "type": "Text"}},
                {"FullName": "Nope.Ok__c", "Metadata": data["Metadata"]}):  # fmt: skip
        with pytest.raises(SalesforceMalformedRequest) as refused:
            sf.toolingexecute("sobjects/CustomField", method="POST", data=bad)
        assert content_of(refused)[0]["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    found = sf.toolingexecute("query/?q=SELECT Id, DeveloperName, TableEnumOrId FROM CustomField "
                              "WHERE TableEnumOrId = 'Contact' AND DeveloperName = 'leadq_Score'")  # fmt: skip
    assert found["totalSize"] == 1 and found["records"][0]["Id"] == created["id"]
    assert found["records"][0]["attributes"]["type"] == "CustomField"
    none = sf.toolingexecute(
        "query/?q=SELECT Id FROM CustomField WHERE TableEnumOrId = 'Lead' AND DeveloperName = 'leadq_Score'"
    )
    assert none["totalSize"] == 0 and none["records"] == []
    many = sf.toolingexecute(
        "query/?q=SELECT Id, FullName FROM CustomField WHERE DeveloperName IN ('leadq_Score', 'x') LIMIT 5"
    )
    assert [r["FullName"] for r in many["records"]] == ["Contact.leadq_Score__c"]
    one = sf.toolingexecute(f"sobjects/CustomField/{created['id']}")
    assert one["FullName"] == "Contact.leadq_Score__c" and one["Metadata"]["type"] == "Number"
    with pytest.raises(SalesforceMalformedRequest):
        sf.toolingexecute("query/?q=SELECT Nope FROM CustomField")


def test_custom_fields_are_visible_to_soql_when_the_query_module_serves(sandbox: SandboxServer) -> None:
    sf: Any = salesforce_client(sandbox)
    data = {
        "FullName": "Lead.leadq_Score__c",
        "Metadata": {"label": "Score", "type": "Number", "precision": 3},
    }
    sf.toolingexecute("sobjects/CustomField", method="POST", data=data)
    sf.Lead.create({"LastName": "Q", "Company": "C", "leadq_Score__c": 42})
    try:
        result = sf.query("SELECT Id, leadq_Score__c FROM Lead WHERE leadq_Score__c > 40")
    except Exception as exc:  # the SOQL module is another engineer's; skip until it serves
        if "NOT_FOUND" in str(exc):
            pytest.skip("SOQL endpoint not served yet")
        raise
    assert [r["leadq_Score__c"] for r in result["records"]] == [42.0]


def test_activity_custom_fields_appear_on_task_and_event(sf: Salesforce) -> None:
    body = {
        "FullName": "Activity.leadq_Key__c",
        "Metadata": {"label": "leadq key", "type": "Text", "length": 64},
    }
    created = sf.toolingexecute("sobjects/CustomField", method="POST", json=body)
    assert created["success"] is True
    for obj in ("Task", "Event"):
        names = {f["name"] for f in getattr(sf, obj).describe()["fields"]}
        assert "leadq_Key__c" in names
