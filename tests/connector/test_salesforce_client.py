"""Auth flows, re-auth, quota share and limit, accounting, CA bundle and secrets, against the sandbox."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from connector.errors import AuthConfigError, AuthError, ConnectorConfigError, QuotaExhaustedError
from connector.protocol import RecordUpdate, WriteStatus
from connector.salesforce import SalesforceConnector, SalesforceSettings, Secret
from connector.salesforce.quota import SHARE_CODE, QuotaBudget
from sandbox import FaultConfig, LimitConfig, SandboxServer
from tests.connector.test_salesforce_support import (
    FAST,
    SCORE,
    T0,
    close_connectors,
    connector_for,
    leads,
)

TOKEN = "POST /services/oauth2/token"


@pytest.fixture(autouse=True)
def _close() -> Iterator[None]:
    yield
    close_connectors()


def _pem_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def test_every_auth_flow_signs_in(sandbox: SandboxServer) -> None:
    st = sandbox.state
    access, refresh = st.issue_token(with_refresh=True)
    base: dict[str, Any] = {"instance_url": sandbox.url, "ca_bundle": sandbox.ca_path, **FAST}
    flows: list[dict[str, Any]] = [
        {"auth": "client_credentials", "client_id": st.client_id, "client_secret": st.client_secret},
        {"auth": "password", "client_id": st.client_id, "client_secret": st.client_secret,
         "username": "integration@leadq.sandbox", "password": st.client_secret},
        {"auth": "jwt_bearer", "client_id": st.client_id, "username": "integration@leadq.sandbox",
         "private_key": _pem_key()},
        {"auth": "refresh_token", "client_id": st.client_id, "refresh_token": refresh},
        {"auth": "access_token", "access_token": access},
    ]  # fmt: skip
    for flow in flows:
        with SalesforceConnector(SalesforceSettings(**base, **flow)) as conn:
            assert conn.describe("Lead").name == "Lead", flow["auth"]
            assert conn.calls.snapshot().get(TOKEN, 0) == (0 if flow["auth"] == "access_token" else 1)


def test_wrong_credentials_are_a_config_error_without_the_secret(sandbox: SandboxServer) -> None:
    conn = connector_for(sandbox, client_secret="not-the-secret-4711")
    with pytest.raises(AuthConfigError) as info:
        conn.describe("Lead")
    text = str(info.value)
    assert "invalid_client" in text and "client id or secret is wrong" in text
    assert "not-the-secret-4711" not in text and "not-the-secret-4711" not in repr(info.value.args)


def test_missing_settings_are_named() -> None:
    with pytest.raises(AuthConfigError, match="jwt_bearer needs username, private_key or private_key_path"):
        SalesforceSettings(instance_url="https://x.invalid", auth="jwt_bearer", client_id="c")


def test_expired_session_signs_in_again_and_retries_once(sandbox: SandboxServer) -> None:
    sandbox.store.sf_insert_many("Lead", leads(450))
    conn = connector_for(sandbox, query_page_size=200)
    conn.create_fields([SCORE])
    sandbox.state.configure_faults(FaultConfig(session_expiry_calls=3))
    records = [r for p in conn.pull_changes("Lead", ["LastName"], None, run_started=T0) for r in p.records]
    outcomes = conn.apply_updates("Lead", [RecordUpdate(r["Id"], {"leadq_Score__c": 1}) for r in records])
    assert len(records) == 450 and all(o.ok for o in outcomes)
    assert sandbox.state.faults.snapshot()["injected"]["session_expiry"] >= 2
    assert conn.calls.snapshot()[TOKEN] >= 3


def test_a_given_access_token_cannot_be_renewed(sandbox: SandboxServer) -> None:
    access, _ = sandbox.state.issue_token(with_refresh=False)
    conn = connector_for(sandbox, auth="access_token", access_token=access)
    sandbox.state.expire_sessions()
    with pytest.raises(AuthError) as info:
        conn.describe("Lead")
    assert "cannot be renewed" in str(info.value) and access not in str(info.value)


def test_cycle_stops_at_its_share_of_the_daily_quota(sandbox: SandboxServer) -> None:
    sandbox.state.set_limits(LimitConfig(sf_daily_quota=40))
    sandbox.store.sf_insert_many("Lead", leads(3000))
    conn = connector_for(sandbox, query_page_size=200, daily_quota_share=0.25, bulk_threshold=10_000)
    pages = []
    with pytest.raises(QuotaExhaustedError) as info:
        for page in conn.pull_changes("Lead", ["LastName"], None, run_started=T0):
            pages.append(page)
    err = info.value
    assert err.code == "LEADQ_QUOTA_SHARE"
    assert "used 10 API calls, its share of 25% of the org's daily limit of 40" in str(err)
    assert "next cycle" in str(err)
    assert len(pages) == 9, "describe + 9 pages = 10 calls"
    report = conn.end_cycle()
    assert sum(report.calls.values()) == 11 and report.quota.cycle_used == 10  # + the token call

    conn.begin_cycle()  # a fresh share: another describe and nine pages
    again = conn.pull_changes("Lead", ["LastName"], None, run_started=T0)
    assert len([next(again) for _ in range(9)]) == 9
    with pytest.raises(QuotaExhaustedError, match="the org has used 20 in the last 24 hours"):
        next(again)


def test_a_call_in_flight_holds_its_place_in_the_share() -> None:
    budget = QuotaBudget(share=0.25)
    budget.observe(used=10, limit=40)  # baseline 9: one call used, ten allowed
    for _ in range(8):
        budget.check("a page")
        budget.done()
    budget.observe(used=18, limit=40)  # nine used: one place left
    budget.check("the next object's first page")  # another thread's call, not answered yet
    with pytest.raises(QuotaExhaustedError) as info:
        budget.check("this object's next page")
    assert info.value.code == SHARE_CODE
    budget.observe(used=19, limit=40)
    budget.done()
    with pytest.raises(QuotaExhaustedError, match="used 10 API calls"):
        budget.check("one more")
    budget.begin_cycle()
    budget.check("a fresh cycle's first call")


def test_request_limit_exceeded_stops_and_keeps_what_is_done(sandbox: SandboxServer) -> None:
    ids = sandbox.store.sf_insert_many("Lead", leads(450))
    connector_for(sandbox).create_fields([SCORE])
    conn = connector_for(sandbox, daily_quota_share=1.0)
    conn.describe("Lead")
    sandbox.state.set_limits(LimitConfig(sf_daily_quota=2))  # room for two collections calls
    outcomes = conn.apply_updates("Lead", [RecordUpdate(i, {"leadq_Score__c": 3}) for i in ids])
    assert all(o.ok for o in outcomes[:400])
    assert {(o.status, o.code) for o in outcomes[400:]} == {(WriteStatus.RETRYABLE, "REQUEST_LIMIT_EXCEEDED")}
    stored = sandbox.store.sf_get("Lead", ids[0])
    assert stored is not None and stored["leadq_Score__c"] == 3
    with pytest.raises(QuotaExhaustedError, match="daily API request limit is spent") as info:
        list(conn.pull_deletions("Lead", None, run_started=T0))
    assert info.value.code == "REQUEST_LIMIT_EXCEEDED"


def test_configured_ca_bundle_wins_over_requests_ca_bundle(
    sandbox: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other_ca = tmp_path / "other-ca.pem"
    other_ca.write_text(_self_signed_ca())
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other_ca))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(other_ca))
    assert connector_for(sandbox).describe("Lead").name == "Lead"

    wrong = connector_for(sandbox, ca_bundle=other_ca)
    with pytest.raises(
        ConnectorConfigError, match=r"TLS certificate could not be verified; .* set ca_bundle"
    ):
        wrong.describe("Lead")
    assert wrong.calls.snapshot() == {}, "the handshake failed: no call reached Salesforce"


def test_secrets_never_show_in_repr_logs_or_errors(
    sandbox: SandboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret, key = "s3cr3t-client-value", _pem_key()
    settings = SalesforceSettings(
        instance_url=sandbox.url, auth="password", client_id=sandbox.state.client_id, client_secret=secret,
        username="integration@leadq.sandbox", password="hunter2-password", security_token="tok-123",
        private_key=key, refresh_token="5Aep-refresh", ca_bundle=sandbox.ca_path, **FAST,
    )  # fmt: skip
    conn = SalesforceConnector(settings)
    with pytest.raises(AuthConfigError) as info:
        conn.describe("Lead")
    good = connector_for(sandbox)
    good.describe("Lead")
    token = good.sf.session_id  # the live token, to check it was never written anywhere
    sandbox.state.expire_sessions()
    good.describe("Task")
    conn.close()
    shown = " ".join([repr(settings), str(settings), repr(conn), repr(good), str(info.value), caplog.text])
    for value in (secret, "hunter2-password", "tok-123", "5Aep-refresh", key[40:80], token):
        assert value not in shown
    assert repr(Secret("x")) == "Secret('**********')" and f"{Secret('x')}" == "**********"


def _self_signed_ca() -> str:
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "not the sandbox CA")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()
