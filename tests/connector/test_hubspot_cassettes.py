"""Connector unit tests replaying vcrpy cassettes recorded from the sandbox (or a real HubSpot test portal).

CI replays (`record_mode="none"`): no server, no network. To re-record, see `tests/connector/README.md`:
`LEADQ_RECORD_HUBSPOT=sandbox` records against a fresh in-process sandbox, `=portal` against the portal named
by `HUBSPOT_BASE_URL` with `HUBSPOT_TOKEN` (and `HUBSPOT_CLIENT_ID`, `HUBSPOT_CLIENT_SECRET`,
`HUBSPOT_REFRESH_TOKEN` for the OAuth cassette). Every scenario sets up its own data through the API and
archives it afterwards, so it runs the same against either. Authorization headers and the token exchange's
secrets are scrubbed before anything is written; requests match on method, path, query and body shape
(host and port ignored; time-window filter values and OAuth form values masked).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
import vcr
from pydantic import SecretStr

from connector.hubspot import HubSpotConnector, HubSpotSettings
from connector.protocol import FieldSpec, RecordUpdate, TaskSpec, WriteStatus
from tests.connector.test_hubspot_support import FAST

CASSETTES = Path(__file__).parent / "cassettes" / "hubspot"
MODE = os.environ.get("LEADQ_RECORD_HUBSPOT", "")  # "" replays; "sandbox" or "portal" records
REPLAY_URL = "https://api.hubapi.invalid"
SECRET_FORM_KEYS = ("client_id", "client_secret", "refresh_token", "code")
SECRET_JSON_KEYS = ("access_token", "refresh_token", "id_token")
STAMPS = ("lastmodifieddate", "hs_lastmodifieddate")


# ------------------------------------------------------------------------------- scrubbing and matching
def _scrub_request(request: Any) -> Any:
    request.headers.pop("Authorization", None)
    request.headers.pop("authorization", None)
    if request.path.endswith("/oauth/v1/token") and request.body:
        body = request.body.decode() if isinstance(request.body, bytes) else str(request.body)
        form = [(k, "REDACTED" if k in SECRET_FORM_KEYS else v) for k, v in parse_qsl(body)]
        request.body = urlencode(form).encode()
    return request


def _scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    body = response.get("body", {}).get("string")
    if body:
        try:
            data = json.loads(body)
        except ValueError:
            return response
        if isinstance(data, dict) and any(k in data for k in SECRET_JSON_KEYS):
            for key in SECRET_JSON_KEYS:
                if key in data:
                    data[key] = f"REDACTED-{key}"
            response["body"]["string"] = json.dumps(data).encode()
    for header in ("set-cookie", "Set-Cookie"):
        response.get("headers", {}).pop(header, None)
    return response


def _mask(value: Any) -> Any:
    """A request body with what differs between recording and replay (time windows) masked."""
    if isinstance(value, dict):
        if value.get("propertyName") in STAMPS and "value" in value:
            return {**value, "value": "<stamp>"}
        return {k: _mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v) for v in value]
    return value


def _body_shape(r1: Any, r2: Any) -> None:
    if r1.path.endswith("/oauth/v1/token"):
        return  # form values are secrets, scrubbed when recorded
    b1, b2 = r1.body or b"", r2.body or b""
    try:
        same = _mask(json.loads(b1 or b"null")) == _mask(json.loads(b2 or b"null"))
    except ValueError:
        same = b1 == b2
    if not same:
        raise AssertionError(f"request bodies differ: {b1!r} != {b2!r}")


def cassette_vcr() -> vcr.VCR:
    my_vcr = vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode="all" if MODE else "none",
        match_on=["method", "path", "query", "body_shape"],
        filter_headers=["authorization"],
        before_record_request=_scrub_request,
        before_record_response=_scrub_response,
        decode_compressed_response=True,
    )
    my_vcr.register_matcher("body_shape", _body_shape)
    return my_vcr


# ------------------------------------------------------------------------------- where recordings come from
@pytest.fixture()
def target(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """Base URL and credentials: the sandbox or a portal when recording, dummies when replaying."""
    if MODE == "sandbox":
        sandbox = request.getfixturevalue("sandbox")
        _, refresh = sandbox.state.issue_token()
        yield {
            "base_url": sandbox.url,
            "ca_bundle": str(sandbox.ca_path),
            "token": sandbox.token,
            "client_id": sandbox.state.client_id,
            "client_secret": sandbox.state.client_secret,
            "refresh_token": refresh,
        }
    elif MODE == "portal":
        yield {
            "base_url": os.environ.get("HUBSPOT_BASE_URL", "https://api.hubapi.com"),
            "ca_bundle": None,
            "token": os.environ["HUBSPOT_TOKEN"],
            "client_id": os.environ.get("HUBSPOT_CLIENT_ID", ""),
            "client_secret": os.environ.get("HUBSPOT_CLIENT_SECRET", ""),
            "refresh_token": os.environ.get("HUBSPOT_REFRESH_TOKEN", ""),
        }
    else:
        yield {
            "base_url": REPLAY_URL,
            "ca_bundle": None,
            "token": "pat-replay",
            "client_id": "replay",
            "client_secret": "replay",
            "refresh_token": "replay",
        }


def hub_for(target: dict[str, Any], *, oauth: bool = False) -> HubSpotConnector:
    common: dict[str, Any] = {"base_url": target["base_url"], "ca_bundle": target["ca_bundle"], **FAST}
    if oauth:
        settings = HubSpotSettings(
            auth="oauth_refresh",
            client_id=target["client_id"],
            client_secret=SecretStr(target["client_secret"]),
            refresh_token=SecretStr(target["refresh_token"]),
            **common,
        )
    else:
        settings = HubSpotSettings(token=SecretStr(target["token"]), **common)
    return HubSpotConnector(settings)


def create_contacts(hub: HubSpotConnector, emails: list[str]) -> list[str]:
    """Set-up through the API itself, so the scenario runs against any portal."""
    from hubspot.crm.objects import (
        BatchInputSimplePublicObjectBatchInputForCreate,
        SimplePublicObjectInputForCreate,
    )

    from connector.hubspot.client import raw_json

    body = BatchInputSimplePublicObjectBatchInputForCreate(
        inputs=[
            SimplePublicObjectInputForCreate(properties={"email": e, "firstname": "Cassette"}) for e in emails
        ]
    )
    answer = raw_json(
        hub._apis.objects_batch.create,
        "contacts",
        batch_input_simple_public_object_batch_input_for_create=body,
    )
    by_email = {r["properties"]["email"]: r["id"] for r in answer["results"]}
    return [by_email[e] for e in emails]


def archive(hub: HubSpotConnector, obj: str, ids: list[str]) -> None:
    from hubspot.crm.objects import BatchInputSimplePublicObjectId, SimplePublicObjectId

    body = BatchInputSimplePublicObjectId(inputs=[SimplePublicObjectId(id=i) for i in ids])
    hub._apis.objects_batch.archive(obj, batch_input_simple_public_object_id=body)


def settle() -> None:
    """A real portal indexes new records for search a few seconds after they are written."""
    if MODE == "portal":
        time.sleep(5)


TAG_FILE = CASSETTES / "tag.json"


def _recording() -> dict[str, str]:
    """What one recording fixes, so replays send the same bodies and read the same windows: a suffix keeping
    emails and keys unique on a shared portal, and the time the recording started."""
    if MODE:
        if not hasattr(_recording, "value"):
            value = {"tag": uuid.uuid4().hex[:8], "at": datetime.now(UTC).isoformat()}
            TAG_FILE.write_text(json.dumps(value) + "\n")
            _recording.value = value  # type: ignore[attr-defined]
        return dict(_recording.value)  # type: ignore[attr-defined]
    return dict(json.loads(TAG_FILE.read_text()))


def tag() -> str:
    return _recording()["tag"]


def recorded_at() -> datetime:
    """The recording's start, a little early: windows start here and end 10 minutes later."""
    return datetime.fromisoformat(_recording()["at"]) - timedelta(seconds=5)


# ------------------------------------------------------------------------------- scenarios
def test_pull_update_and_archive(target: dict[str, Any]) -> None:
    with cassette_vcr().use_cassette("pull_update_archive.yaml"), hub_for(target) as hub:
        started = recorded_at()
        ids = create_contacts(hub, [f"cassette-{tag()}-{i}@example.com" for i in range(3)])
        settle()
        run = started + timedelta(minutes=10)
        cursor = {"value": started.isoformat()}
        pages = list(hub.pull_changes("contacts", ["email", "firstname"], cursor, run_started=run))
        pulled = {r["id"]: r for p in pages for r in p.records}
        assert set(ids) <= set(pulled)
        assert pulled[ids[0]]["firstname"] == "Cassette"
        assert all(p.high_water is not None for p in pages)

        updates = [
            RecordUpdate(ids[0], {"firstname": "Ada"}),
            RecordUpdate(ids[1], {"email": "not-an-email"}),
            RecordUpdate(ids[2], {"firstname": None}),
        ]
        outcomes = hub.apply_updates("contacts", updates)
        assert [o.status for o in outcomes] == [
            WriteStatus.WRITTEN,
            WriteStatus.REJECTED,
            WriteStatus.WRITTEN,
        ]
        assert outcomes[1].code == "INVALID_EMAIL" and outcomes[1].fields == ("email",)

        archive(hub, "contacts", ids)
        gone = [d for page in hub.pull_deletions("contacts", cursor, run_started=run) for d in page]
        assert set(ids) <= {d.id for d in gone}
        calls = hub.calls.snapshot()
    assert calls["POST /crm/v3/objects/contacts/batch/update"] == 5  # one refused whole, then bisected


def test_review_tasks_are_idempotent(target: dict[str, Any]) -> None:
    with cassette_vcr().use_cassette("tasks_idempotent.yaml"), hub_for(target) as hub:
        assert hub.create_fields([FieldSpec("tasks", "leadq_key", "leadq key", "text")])[0].ok
        (contact,) = create_contacts(hub, [f"cassette-task-{tag()}@example.com"])
        key = f"leadq:cassette:{tag()}"
        spec = TaskSpec(
            key, "contacts", contact, None, "Review score", "Borderline: 51", datetime(2031, 1, 1, tzinfo=UTC)
        )
        first = hub.create_tasks([spec])
        settle()
        second = hub.create_tasks([spec])
        assert first[0].created and first[0].ok
        assert not second[0].created and second[0].crm_id == first[0].crm_id
        links = hub.associations("contacts", [contact], "tasks")
        assert links[contact] == [first[0].crm_id]
        archive(hub, "tasks", [str(first[0].crm_id)])
        archive(hub, "contacts", [contact])


def test_describe_over_oauth(target: dict[str, Any]) -> None:
    with cassette_vcr().use_cassette("describe_oauth.yaml"), hub_for(target, oauth=True) as hub:
        contacts = hub.describe("contacts")
        calls = hub.calls.snapshot()
    assert contacts.fields["email"].updateable
    assert not contacts.fields["hs_object_id"].updateable
    assert calls == {"POST /oauth/v1/token": 1, "GET /crm/v3/properties/contacts": 1}


def test_cassettes_hold_no_secrets() -> None:
    if MODE:
        pytest.skip("checked on the recorded files, after recording")
    for path in CASSETTES.glob("*.yaml"):
        text = path.read_text()
        assert "authorization" not in text.lower(), path
        assert "Bearer" not in text, path
        for key in ("client_secret=", "refresh_token=", '"access_token": "', '"refresh_token": "'):
            for line in text.splitlines():
                if key in line:
                    assert "REDACTED" in line, (path, line)
