"""The transport under HubSpot's limits and failures: 429 policies, 5xx on POST, OAuth, TLS, secrets."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import SecretStr

from connector.errors import (
    AuthConfigError,
    ConnectorConfigError,
    QuotaExhaustedError,
    RateLimitedError,
    RetryableError,
)
from connector.hubspot import HubSpotConnector, HubSpotSettings
from connector.protocol import CRMConnector, RecordUpdate, WriteStatus
from sandbox import FaultConfig, LimitConfig, SandboxServer
from tests.connector.test_hubspot_support import (
    FAST,
    T0,
    all_records,
    connector_for,
    contacts,
    later,
    sandbox_statuses,
    settings_for,
    settle_log,
    unlimited,
)

SEARCH = "/crm/v3/objects/contacts/search"


# ------------------------------------------------------------------------------- a scripted HubSpot
class Scripted(ThreadingHTTPServer):
    """Answers each request with the next scripted (status, headers, body); the last one repeats."""

    def __init__(self, answers: list[tuple[int, dict[str, str], dict[str, Any]]]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answers = answers
        self.seen: list[tuple[str, str]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: Scripted

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.server.seen.append((self.command, self.path))
        answers = self.server.answers
        status, headers, body = answers.pop(0) if len(answers) > 1 else answers[0]
        data = json.dumps(body).encode()
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture()
def scripted() -> Iterator[Scripted]:
    server = Scripted([(200, {}, {"results": []})])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def daily_429() -> tuple[int, dict[str, str], dict[str, Any]]:
    return (
        429,
        {},
        {
            "status": "error",
            "message": "You have reached your daily limit.",
            "errorType": "RATE_LIMIT",
            "correlationId": "c0ffee",
            "policyName": "DAILY",
            "category": "RATE_LIMITS",
        },
    )


def scripted_connector(server: Scripted, **overrides: Any) -> HubSpotConnector:
    return HubSpotConnector(
        HubSpotSettings(base_url=server.url, token=SecretStr("pat-na1-test"), **{**FAST, **overrides})
    )


# ------------------------------------------------------------------------------- 429
def test_ten_secondly_429s_are_waited_out(sandbox: SandboxServer, caplog: pytest.LogCaptureFixture) -> None:
    unlimited(sandbox)
    rows = sandbox.store.hs_insert_many("contacts", contacts(400))
    sandbox.state.configure_faults(
        FaultConfig(seed=3, rate_limit=0.3, paths=["/crm/v3/objects/contacts/batch/update"])
    )
    caplog.set_level(logging.WARNING, logger="connector.hubspot")
    with connector_for(sandbox) as hub:
        outcomes = hub.apply_updates("contacts", [RecordUpdate(str(r.id), {"jobtitle": "VP"}) for r in rows])
    assert all(o.ok for o in outcomes)
    assert sandbox.state.faults.injected["rate_limit"] > 0
    assert "TEN_SECONDLY_ROLLING" in caplog.text


def test_secondly_search_429s_are_waited_out(
    sandbox: SandboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox.state.set_limits(LimitConfig(hs_ten_second_limit=10_000, hs_search_per_second=1))
    sandbox.store.hs_insert_many("contacts", contacts(30), when=T0)
    caplog.set_level(logging.WARNING, logger="connector.hubspot")
    with connector_for(sandbox, search_page_size=10) as hub:
        records = all_records(hub.pull_changes("contacts", ["email"], None, run_started=later(T0, 5)))
    assert len(records) == 30
    assert any(status == 429 for _, _, status, _ in sandbox_statuses(sandbox, SEARCH, at_least=2))
    assert "SECONDLY" in caplog.text


def test_searches_are_paced_under_the_per_second_limit(sandbox: SandboxServer) -> None:
    sandbox.state.set_limits(LimitConfig(hs_ten_second_limit=10_000, hs_search_per_second=3))
    sandbox.store.hs_insert_many("contacts", contacts(50), when=T0)
    with connector_for(sandbox, search_page_size=10, search_per_second=2) as hub:
        records = all_records(hub.pull_changes("contacts", ["email"], None, run_started=later(T0, 5)))
        sent = hub.calls.total
    assert len(records) == 50
    statuses = [status for _, _, status, _ in sandbox_statuses(sandbox, SEARCH, at_least=sent + 1)]
    assert statuses == [200] * 5


def test_daily_limit_stops_at_once(scripted: Scripted) -> None:
    scripted.answers[:] = [daily_429()]
    with scripted_connector(scripted) as hub:
        with pytest.raises(QuotaExhaustedError) as caught:
            list(hub.pull_changes("contacts", ["email"], None, run_started=T0))
        assert caught.value.code == "DAILY"
        outcomes = hub.apply_updates(
            "contacts", [RecordUpdate(str(i), {"firstname": "x"}) for i in range(250)]
        )
    assert [o.status for o in outcomes] == [WriteStatus.RETRYABLE] * 250
    assert {o.code for o in outcomes} == {"DAILY"}
    assert len(scripted.seen) == 2  # one search, one batch: nothing more is sent once the quota is spent


def test_a_lasting_rate_limit_raises_with_the_policy(scripted: Scripted) -> None:
    body = {
        "status": "error",
        "message": "slow down",
        "policyName": "TEN_SECONDLY_ROLLING",
        "category": "RATE_LIMITS",
    }
    scripted.answers[:] = [(429, {"Retry-After": "0"}, body)]
    with scripted_connector(scripted, max_retries=2) as hub, pytest.raises(RateLimitedError) as caught:
        hub.describe("contacts")
    assert caught.value.policy == "TEN_SECONDLY_ROLLING"
    assert len(scripted.seen) == 3


# ------------------------------------------------------------------------------- 5xx, connections
def test_5xx_on_batch_post_is_retried(sandbox: SandboxServer) -> None:
    unlimited(sandbox)
    rows = sandbox.store.hs_insert_many("contacts", contacts(500))
    sandbox.state.configure_faults(
        FaultConfig(seed=3, error_5xx=0.4, paths=["/crm/v3/objects/contacts/batch/update"])
    )
    with connector_for(sandbox) as hub:
        outcomes = hub.apply_updates("contacts", [RecordUpdate(str(r.id), {"jobtitle": "CEO"}) for r in rows])
        posts = hub.calls.snapshot()["POST /crm/v3/objects/contacts/batch/update"]
    assert all(o.ok for o in outcomes)
    log = sandbox_statuses(sandbox, "/batch/update", at_least=posts + 1)
    failed = [s for m, _, s, f in log if m == "POST" and f == "error_5xx"]
    assert failed and set(failed) <= {500, 503}
    assert posts == 5 + len(failed)
    stored = sandbox.store.hs_get_many("contacts", [r.id for r in rows])
    assert {r.props.get("jobtitle") for r in stored.values()} == {"CEO"}


def test_5xx_that_outlasts_the_retries_is_retryable(sandbox: SandboxServer) -> None:
    sandbox.state.configure_faults(FaultConfig(seed=1, error_5xx=1.0, paths=[SEARCH]))
    with connector_for(sandbox, max_retries=3) as hub:
        with pytest.raises(RetryableError) as caught:
            list(hub.pull_changes("contacts", ["email"], None, run_started=T0))
        assert hub.calls.snapshot() == {f"POST {SEARCH}": 4}
    assert caught.value.status in (500, 503)


def test_connection_refused_is_retried_then_retryable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again on leaving the block: nothing listens there
    hub = HubSpotConnector(
        HubSpotSettings(
            base_url=f"http://127.0.0.1:{port}", token=SecretStr("pat"), **{**FAST, "max_retries": 2}
        )
    )
    with hub, pytest.raises(RetryableError):
        hub.describe("contacts")
    assert hub.calls.snapshot() == {"GET /crm/v3/properties/contacts": 3}


# ------------------------------------------------------------------------------- auth
def oauth_settings(sandbox: SandboxServer, refresh_token: str, **overrides: Any) -> HubSpotSettings:
    return settings_for(
        sandbox,
        auth="oauth_refresh",
        token=None,
        client_id=sandbox.state.client_id,
        client_secret=SecretStr(sandbox.state.client_secret),
        refresh_token=SecretStr(refresh_token),
        **overrides,
    )


def test_oauth_refreshes_on_401_and_retries_once(sandbox: SandboxServer) -> None:
    _, refresh = sandbox.state.issue_token()
    assert refresh is not None
    sandbox.store.hs_insert_many("contacts", contacts(3), when=T0)
    with HubSpotConnector(oauth_settings(sandbox, refresh)) as hub:
        assert len(all_records(hub.pull_changes("contacts", [], None, run_started=later(T0, 1)))) == 3
        assert sandbox.state.expire_sessions() >= 1
        assert len(all_records(hub.pull_changes("contacts", [], None, run_started=later(T0, 1)))) == 3
        calls = hub.calls.snapshot()
    assert calls == {"POST /oauth/v1/token": 2, f"POST {SEARCH}": 3}
    assert [s for _, _, s, _ in sandbox_statuses(sandbox, SEARCH, at_least=sum(calls.values()) + 1)] == [
        200,
        401,
        200,
    ]


def test_a_refused_refresh_token_is_a_config_error(sandbox: SandboxServer) -> None:
    bogus = "5Aep-not-a-refresh-token-0123456789"
    with HubSpotConnector(oauth_settings(sandbox, bogus)) as hub, pytest.raises(AuthConfigError) as caught:
        hub.describe("contacts")
    assert caught.value.code == "BAD_REFRESH_TOKEN"
    assert bogus not in str(caught.value) and sandbox.state.client_secret not in str(caught.value)


def test_a_refused_private_app_token_is_a_config_error(sandbox: SandboxServer) -> None:
    with (
        connector_for(sandbox, token=SecretStr("pat-na1-revoked")) as hub,
        pytest.raises(AuthConfigError) as caught,
    ):
        hub.describe("contacts")
    assert "pat-na1-revoked" not in str(caught.value)
    assert hub.calls.snapshot() == {"GET /crm/v3/properties/contacts": 1}


def test_the_connector_is_a_crm_connector() -> None:
    hub: CRMConnector = HubSpotConnector(HubSpotSettings(token=SecretStr("pat-na1-x")))
    try:
        assert isinstance(hub, CRMConnector)
        assert hub.crm == "hubspot"
    finally:
        hub.close()


def test_settings_refuse_missing_credentials() -> None:
    with pytest.raises(AuthConfigError):
        HubSpotSettings()
    with pytest.raises(AuthConfigError, match="refresh_token"):
        HubSpotSettings(auth="oauth_refresh", client_id="c", client_secret=SecretStr("s"))


# ------------------------------------------------------------------------------- TLS, secrets, accounting
def test_the_ca_bundle_is_honoured_whatever_the_environment_says(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    elsewhere = tmp_path / "other-ca.pem"
    elsewhere.write_text("not a certificate\n")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(elsewhere))
    monkeypatch.setenv("SSL_CERT_FILE", str(elsewhere))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(elsewhere))
    with connector_for(sandbox) as hub:
        assert "email" in hub.describe("contacts").fields
    with connector_for(sandbox, ca_bundle=None) as hub, pytest.raises(ConnectorConfigError, match="TLS"):
        hub.describe("contacts")


def test_secrets_never_show(sandbox: SandboxServer, caplog: pytest.LogCaptureFixture) -> None:
    access, refresh = sandbox.state.issue_token()
    assert refresh is not None
    secret = sandbox.state.client_secret
    settings = oauth_settings(sandbox, refresh)
    private = settings_for(sandbox, token=SecretStr("pat-na1-very-secret-token"))
    for text in (repr(settings), str(settings), repr(private), str(private)):
        assert refresh not in text and secret not in text and "very-secret" not in text
    caplog.set_level(logging.DEBUG)
    errors: list[str] = []
    with HubSpotConnector(settings) as hub:
        assert refresh not in repr(hub) and secret not in repr(hub)
        hub.describe("contacts")
        sandbox.state.expire_sessions()
        hub.describe("contacts")  # a 401, a renewal, a retry
        try:
            hub.apply_updates("contacts", [RecordUpdate("1", {"no_such_property": "x"})])
        except ConnectorConfigError as exc:
            errors.append(str(exc))
    with connector_for(sandbox, token=SecretStr("pat-na1-very-secret-token")) as hub:
        try:
            hub.describe("contacts")
        except AuthConfigError as exc:
            errors.append(str(exc))
    issued = [t for t in sandbox.state._issued if t != access]
    assert len(errors) == 2
    for text in [caplog.text, *errors]:
        for value in (refresh, secret, access, *issued, "very-secret", sandbox.token):
            assert value not in text


def test_every_call_is_accounted_per_endpoint(sandbox: SandboxServer) -> None:
    rows = sandbox.store.hs_insert_many("contacts", contacts(5), when=T0)
    before = sandbox.state.log.snapshot()["total"]
    with connector_for(sandbox) as hub:
        list(hub.pull_changes("contacts", ["email"], None, run_started=later(T0, 1)))
        hub.apply_updates("contacts", [RecordUpdate(str(r.id), {"firstname": "Z"}) for r in rows])
        hub.associations("contacts", [str(rows[0].id)], "companies")
        hub.describe("deals")
        calls = hub.calls.take()
        assert hub.calls.snapshot() == {}
    settle_log(sandbox, before + sum(calls.values()))
    time.sleep(0.1)  # anything more than the connector counted would show up now
    seen = sandbox.state.log.snapshot()["total"] - before
    assert calls == {
        f"POST {SEARCH}": 1,
        "POST /crm/v3/objects/contacts/batch/update": 1,
        "POST /crm/v4/associations/contacts/companies/batch/read": 1,
        "GET /crm/v3/properties/deals": 1,
    }
    assert sum(calls.values()) == seen
