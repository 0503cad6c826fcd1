"""Connector unit tests that replay recorded Salesforce HTTP exchanges (vcrpy): no server, no network.

The cassettes in `tests/connector/cassettes/salesforce/` were recorded once from the sandbox. Secrets are
scrubbed before anything is written: `Authorization` and cookie headers are dropped, the OAuth token
request body (client secret, password or JWT) is replaced, and the token response's `access_token`,
`refresh_token`, `signature`, `id` and `instance_url` are replaced by placeholders. Hosts are rewritten to
`example.my.salesforce.com`, and matching ignores host and port (method, scheme, path and query only).

Re-recording
------------
Against the sandbox (the default target)::

    rm tests/connector/cassettes/salesforce/*.yaml
    LEADQ_VCR_RECORD_MODE=once .venv/bin/pytest tests/connector/test_salesforce_cassettes.py

Against a real Salesforce sandbox org (a Developer or sandbox org with throwaway data: the scenarios create
Leads, Tasks and the custom fields `Lead.leadq_Score__c` and `Task.leadq_Key__c`, and the recorded
bodies hold whatever the integration user can see)::

    export LEADQ_SF_INSTANCE_URL=https://yourorg--dev.sandbox.my.salesforce.com
    export LEADQ_SF_CLIENT_ID=...          # a connected app with the client credentials flow enabled
    export LEADQ_SF_CLIENT_SECRET=...      # and a run-as user allowed to customize the application
    export LEADQ_SF_CA_BUNDLE=...          # optional
    LEADQ_VCR_RECORD_MODE=once .venv/bin/pytest tests/connector/test_salesforce_cassettes.py

After creating its fields in a real org, grant the run-as user field-level security on them (a permission
set) before the write scenarios can see them, and check the new YAML files for anything you would not
publish before committing them. CI replays with `record_mode="none"`: a request that is not in the
cassette fails the test.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import vcr

from connector.errors import AuthConfigError
from connector.protocol import RecordUpdate, TaskSpec, WriteStatus
from connector.salesforce import SalesforceConnector, SalesforceSettings
from tests.connector.test_salesforce_support import FAST, KEY, SCORE

CASSETTES = Path(__file__).parent / "cassettes" / "salesforce"
MODE = os.environ.get("LEADQ_VCR_RECORD_MODE", "none")
HOST = "example.my.salesforce.com"
RUN = datetime(2031, 1, 1, tzinfo=UTC)
_TOKEN_FIELDS = {"access_token": "REDACTED", "refresh_token": "REDACTED", "signature": "REDACTED"}
_SEEN_ORIGINS: set[str] = set()  # the recorded org's origin, also scrubbed from response bodies


def _scrub_request(request: Any) -> Any:
    parts = urlsplit(request.uri)
    _SEEN_ORIGINS.add(f"{parts.scheme}://{parts.netloc}")
    request.uri = urlunsplit(("https", HOST, parts.path, parts.query, ""))
    if parts.path.endswith("/oauth2/token"):
        request.body = b"REDACTED"
    return request


def _scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    response["headers"] = {k: v for k, v in response["headers"].items() if k.lower() not in ("set-cookie",)}
    raw = response["body"].get("string") or b""
    for origin in _SEEN_ORIGINS:
        raw = raw.replace(origin.encode(), f"https://{HOST}".encode())
    response["body"]["string"] = raw
    try:
        body = json.loads(raw)
    except ValueError:
        return response
    if isinstance(body, dict) and "access_token" in body:
        body.update({k: v for k, v in _TOKEN_FIELDS.items() if k in body})
        body["instance_url"] = f"https://{HOST}"
        body["id"] = f"https://{HOST}/id/00D000000000000AAA/005000000000000AAA"
        response["body"]["string"] = json.dumps(body).encode()
    return response


RECORDER = vcr.VCR(
    cassette_library_dir=str(CASSETTES),
    record_mode=MODE,
    match_on=["method", "scheme", "path", "query"],
    filter_headers=["authorization", "cookie"],
    before_record_request=_scrub_request,
    before_record_response=_scrub_response,
    decode_compressed_response=True,
)


@pytest.fixture()
def settings(request: pytest.FixtureRequest) -> Iterator[SalesforceSettings]:
    """Replay: placeholders. Recording: a real org from the environment, else a fresh sandbox."""
    if MODE == "none":
        yield SalesforceSettings(
            instance_url=f"https://{HOST}", client_id="replay", client_secret="replay", **FAST
        )
    elif os.environ.get("LEADQ_SF_INSTANCE_URL"):
        yield SalesforceSettings(
            instance_url=os.environ["LEADQ_SF_INSTANCE_URL"],
            client_id=os.environ["LEADQ_SF_CLIENT_ID"],
            client_secret=os.environ["LEADQ_SF_CLIENT_SECRET"],
            ca_bundle=os.environ.get("LEADQ_SF_CA_BUNDLE"),
            bulk_poll_seconds=2,
        )
    else:
        sandbox = request.getfixturevalue("sandbox")
        yield SalesforceSettings(
            instance_url=sandbox.url,
            client_id=sandbox.state.client_id,
            client_secret=sandbox.state.client_secret,
            ca_bundle=sandbox.ca_path,
            **FAST,
        )


def _seed_leads(conn: SalesforceConnector, n: int) -> list[str]:
    records = [
        {"attributes": {"type": "Lead"}, "LastName": f"Cassette{i}", "Company": "leadq cassette"}
        for i in range(n)
    ]
    body = json.dumps({"allOrNone": True, "records": records})
    return [str(r["id"]) for r in conn.sf.restful("composite/sobjects", method="POST", data=body) or []]


def test_replayed_pull_changes_and_deletions(settings: SalesforceSettings) -> None:
    with RECORDER.use_cassette("pull_changes_and_deletions.yaml"), SalesforceConnector(settings) as conn:
        ids = _seed_leads(conn, 3)
        pages = list(conn.pull_changes("Lead", ["LastName", "Company"], None, run_started=RUN))
        records = {r["Id"]: r for p in pages for r in p.records}
        assert set(ids) <= set(records)
        assert records[ids[0]]["LastName"] == "Cassette0"
        assert set(records[ids[0]]) == {"LastName", "Company", "Id", "SystemModstamp"}
        assert all(p.high_water is not None for p in pages)
        conn.sf.restful("composite/sobjects", method="DELETE", params={"ids": ids[1], "allOrNone": "false"})
        deleted = [d.id for batch in conn.pull_deletions("Lead", None, run_started=RUN) for d in batch]
        assert ids[1] in deleted and ids[0] not in deleted
        assert conn.calls.snapshot()["POST /services/oauth2/token"] == 1


def test_replayed_fields_and_updates(settings: SalesforceSettings) -> None:
    with RECORDER.use_cassette("fields_and_updates.yaml"), SalesforceConnector(settings) as conn:
        assert all(o.ok for o in conn.create_fields([SCORE]))
        assert not any(o.created for o in conn.create_fields([SCORE]))
        ids = _seed_leads(conn, 2)
        outcomes = conn.apply_updates(
            "Lead",
            [RecordUpdate(ids[0], {"leadq_Score__c": 88}), RecordUpdate(ids[1], {"LastName": "z" * 81})],
        )
        assert outcomes[0].ok and outcomes[0].key == ids[0]
        assert (outcomes[1].status, outcomes[1].code) == (WriteStatus.REJECTED, "STRING_TOO_LONG")
        assert conn.quota.org_limit is not None and conn.quota.cycle_used >= 1


def test_replayed_tasks_are_idempotent(settings: SalesforceSettings) -> None:
    with RECORDER.use_cassette("tasks_idempotent.yaml"), SalesforceConnector(settings) as conn:
        conn.create_fields([KEY])
        (lead,) = _seed_leads(conn, 1)
        spec = TaskSpec("cassette-review-1", "Lead", lead, None, "Review this lead", "Borderline: 49", RUN)
        (first,) = conn.create_tasks([spec])
        (second,) = conn.create_tasks([spec])
        assert first.ok and second.ok and second.crm_id == first.crm_id and not second.created
        conn.sf.restful(
            f"sobjects/Task/{first.crm_id}", method="PATCH", data=json.dumps({"Status": "Completed"})
        )
        done = [r for p in conn.completed_tasks(["Status"], None, run_started=RUN) for r in p.records]
        assert any(r["Id"] == first.crm_id and r["leadq_Key__c"] == "cassette-review-1" for r in done)


def test_replayed_refused_login(settings: SalesforceSettings) -> None:
    wrong = SalesforceSettings(
        instance_url=settings.instance_url,
        client_id="wrong-client",
        client_secret="wrong",
        ca_bundle=settings.ca_bundle,
    )
    with (
        RECORDER.use_cassette("refused_login.yaml"),
        SalesforceConnector(wrong) as conn,
        pytest.raises(AuthConfigError, match="client id is wrong"),
    ):
        conn.describe("Lead")
