"""The sandbox server itself: TLS, auth, limits, fault injection, the admin API and the request log."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from sandbox import FaultConfig, LimitConfig, SandboxServer, running_sandbox
from sandbox.app import endpoint_name
from sandbox.tls import ensure_tls

SF = "/services/data/v59.0/nothing-here"
HS = "/crm/v3/nothing-here"


def client(server: SandboxServer, token: str | None = "sandbox") -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(
        base_url=server.url, verify=ssl.create_default_context(cafile=str(server.ca_path)), headers=headers
    )


def test_https_is_trusted_through_the_ca_bundle_only(sandbox: SandboxServer) -> None:
    assert sandbox.url.startswith("https://127.0.0.1:")
    with client(sandbox) as c:
        assert c.get("/__sandbox/health").json() == {"status": "ok"}
    with pytest.raises(httpx.ConnectError), httpx.Client(verify=True) as untrusting:
        untrusting.get(f"{sandbox.url}/__sandbox/health")


def test_the_ca_is_kept_and_reused(tmp_path: Path) -> None:
    first = ensure_tls(tmp_path)
    ca = first.ca_cert.read_bytes()
    second = ensure_tls(tmp_path)
    assert second.ca_cert.read_bytes() == ca
    third = ensure_tls(tmp_path, ("localhost", "127.0.0.1", "::1", "sandbox.internal"))
    assert third.ca_cert.read_bytes() == ca, "a new host list re-signs the server cert, not the CA"
    assert (tmp_path / "ca-key.pem").stat().st_mode & 0o077 == 0, "private keys are not world-readable"


def test_missing_or_wrong_token_gets_each_api_s_real_error(sandbox: SandboxServer) -> None:
    with client(sandbox, token=None) as c:
        sf = c.get(SF)
        assert sf.status_code == 401
        assert sf.json() == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
        hs = c.get(HS)
        assert hs.status_code == 401
        body = hs.json()
        assert body["category"] == "INVALID_AUTHENTICATION" and body["status"] == "error"
        assert set(body) >= {"status", "message", "correlationId", "category"}
    with client(sandbox, token="wrong") as c:
        assert c.get(SF).status_code == 401


def test_unknown_paths_answer_in_each_api_s_shape(sandbox: SandboxServer) -> None:
    with client(sandbox) as c:
        assert c.get(SF).json()[0]["errorCode"] == "NOT_FOUND"
        assert c.get(HS).json()["category"] == "OBJECT_NOT_FOUND"


def test_salesforce_daily_quota_is_counted_and_enforced(sandbox: SandboxServer) -> None:
    sandbox.state.set_limits(LimitConfig(sf_daily_quota=3))
    with client(sandbox) as c:
        seen = [c.get(SF).headers.get("sforce-limit-info") for _ in range(3)]
        assert seen == ["api-usage=1/3", "api-usage=2/3", "api-usage=3/3"]
        refused = c.get(SF)
        assert refused.status_code == 403
        assert refused.json()[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
        assert c.get("/__sandbox/limits").json()["sf_used"] == 3


def test_hubspot_ten_second_and_search_limits_name_their_policy(sandbox: SandboxServer) -> None:
    sandbox.state.set_limits(LimitConfig(hs_ten_second_limit=3, hs_search_per_second=1))
    with client(sandbox) as c:
        first = c.get(HS)
        assert first.headers["x-hubspot-ratelimit-max"] == "3"
        assert first.headers["x-hubspot-ratelimit-remaining"] == "2"
        assert first.headers["x-hubspot-ratelimit-interval-milliseconds"] == "10000"
        search = c.post("/crm/v3/objects/contacts/search", json={})
        assert search.status_code != 429
        second_search = c.post("/crm/v3/objects/contacts/search", json={})
        assert second_search.status_code == 429
        assert second_search.json()["policyName"] == "SECONDLY"
        c.get(HS)
        limited = c.get(HS)
        assert limited.status_code == 429
        body = limited.json()
        assert body["policyName"] == "TEN_SECONDLY_ROLLING" and body["category"] == "RATE_LIMITS"
        assert body["errorType"] == "RATE_LIMIT"


def _statuses(server: SandboxServer, n: int) -> list[int]:
    with client(server) as c:
        return [c.get(SF if i % 2 else HS).status_code for i in range(n)]


def test_faults_are_deterministic_under_a_seed(sandbox: SandboxServer) -> None:
    config = FaultConfig(seed=42, error_5xx=0.2, rate_limit=0.2, quota=0.2)
    sandbox.state.configure_faults(config)
    first = _statuses(sandbox, 60)
    sandbox.state.configure_faults(config)
    again = _statuses(sandbox, 60)
    assert first == again
    assert {500, 503} & set(first) and 429 in first and 403 in first
    sandbox.state.configure_faults(FaultConfig(seed=43, error_5xx=0.2, rate_limit=0.2, quota=0.2))
    assert _statuses(sandbox, 60) != first
    injected = sandbox.state.faults.snapshot()["injected"]
    assert sum(injected.values()) > 0


def test_fault_shapes_are_the_real_ones(sandbox: SandboxServer) -> None:
    sandbox.state.configure_faults(FaultConfig(seed=1, error_5xx=1.0))
    with client(sandbox) as c:
        sf = c.get(SF)
        assert sf.status_code in (500, 503)
        assert sf.json()[0]["errorCode"] in ("UNKNOWN_EXCEPTION", "SERVER_UNAVAILABLE")
    sandbox.state.configure_faults(FaultConfig(seed=1, quota=1.0))
    with client(sandbox) as c:
        assert c.get(SF).json()[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    sandbox.state.configure_faults(FaultConfig(seed=1, rate_limit=1.0))
    with client(sandbox) as c:
        assert c.get(HS).json()["policyName"] == "TEN_SECONDLY_ROLLING"


def test_faults_can_be_limited_to_some_paths(sandbox: SandboxServer) -> None:
    sandbox.state.configure_faults(FaultConfig(seed=1, error_5xx=1.0, paths=["/crm/"]))
    with client(sandbox) as c:
        assert c.get(SF).status_code == 404
        assert c.get(HS).status_code in (500, 503)


def test_slow_responses_are_injected(sandbox: SandboxServer) -> None:
    sandbox.state.configure_faults(FaultConfig(seed=1, slow=1.0, slow_seconds=0.05))
    with client(sandbox) as c:
        c.get(SF)
    assert sandbox.state.faults.snapshot()["injected"]["slow"] == 1


def test_timeouts_make_the_client_give_up(sandbox: SandboxServer) -> None:
    sandbox.state.configure_faults(FaultConfig(seed=1, timeout=1.0, timeout_seconds=2.0))
    with client(sandbox) as c, pytest.raises(httpx.ReadTimeout):
        c.get(SF, timeout=0.2)


def test_issued_sessions_expire_after_n_calls(sandbox: SandboxServer) -> None:
    token, _ = sandbox.state.issue_token()
    sandbox.state.configure_faults(FaultConfig(session_expiry_calls=2))
    with client(sandbox, token=token) as c:
        assert [c.get(SF).status_code for _ in range(3)] == [404, 404, 401]
        assert c.get(SF).status_code == 401, "the token stays expired"
    with client(sandbox) as c:
        assert c.get(SF).status_code == 404, "the configured token is a long-lived key and does not expire"


def test_admin_api_configures_faults_and_validates_input(sandbox: SandboxServer) -> None:
    with client(sandbox) as c:
        bad = c.put("/__sandbox/faults", json={"error_5xx": 2})
        assert bad.status_code == 400 and "between 0 and 1" in bad.json()["error"]
        unknown = c.put("/__sandbox/faults", json={"eror_5xx": 0.1})
        assert unknown.status_code == 400 and "eror_5xx" in unknown.json()["error"]
        ok = c.put("/__sandbox/faults", json={"seed": 3, "lock_row": 0.25})
        assert ok.json()["config"]["lock_row"] == 0.25
    with client(sandbox, token=None) as c:
        assert c.get("/__sandbox/faults").status_code == 401


def test_request_log_counts_per_endpoint(sandbox: SandboxServer) -> None:
    with client(sandbox) as c:
        c.delete("/__sandbox/requests")
        for record_id in ("00Q5g0000000002EAA", "00Q5g0000000003EAA"):
            c.get(f"/services/data/v59.0/sobjects/Lead/{record_id}")
        c.get("/crm/v3/objects/contacts/101")
        log = c.get("/__sandbox/requests").json()
    counters = log["counters"]
    assert counters["GET /services/data/vXX.X/sobjects/Lead/{id}"] == 2
    assert counters["GET /crm/v3/objects/contacts/{id}"] == 1
    apis = [r["api"] for r in log["requests"]]
    assert apis.count("salesforce") == 2 and apis.count("hubspot") == 1


def test_clock_can_be_frozen_and_advanced(sandbox: SandboxServer) -> None:
    with client(sandbox) as c:
        frozen = c.post("/__sandbox/clock", json={"freeze": "2026-01-02T03:04:05+00:00"}).json()["now"]
        assert frozen.startswith("2026-01-02T03:04:05")
        moved = c.post("/__sandbox/clock", json={"advance_seconds": 60}).json()["now"]
        assert moved.startswith("2026-01-02T03:05:05")
    record_id = sandbox.store.sf_insert("Lead", {"LastName": "Stamp", "Company": "Clockwork"})
    assert sandbox.store.sf_get("Lead", record_id)["SystemModstamp"] == "2026-01-02T03:05:05.000+0000"  # type: ignore[index]


def test_clock_only_goes_backwards_when_told_to(sandbox: SandboxServer) -> None:
    clock = sandbox.store.clock
    stamps = [clock.now() for _ in range(200)]
    assert stamps == sorted(stamps)
    clock.freeze(datetime(2000, 1, 1, tzinfo=UTC))
    assert clock.now() == datetime(2000, 1, 1, tzinfo=UTC), "an explicit freeze may set an earlier time"


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/services/data/v59.0/sobjects/Lead/00Q5g0000000002EAA", "/services/data/vXX.X/sobjects/Lead/{id}"),
        ("/services/data/v62.0/query/01gD0000002HU6KIAW-2000", "/services/data/vXX.X/query/{locator}"),
        ("/services/data/v59.0/composite/sobjects", "/services/data/vXX.X/composite/sobjects"),
        (
            "/crm/v3/objects/contacts/123/associations/companies",
            "/crm/v3/objects/contacts/{id}/associations/companies",
        ),
    ],
)
def test_endpoint_names_fold_ids_and_versions(path: str, name: str) -> None:
    assert endpoint_name(path) == name


def test_context_manager_serves_on_a_free_port_and_stops(sandbox_state_dir: Path) -> None:
    with running_sandbox(state_dir=sandbox_state_dir) as a, running_sandbox(state_dir=sandbox_state_dir) as b:
        assert a.port != b.port
        url = a.url
    with pytest.raises(httpx.ConnectError):
        httpx.get(
            f"{url}/__sandbox/health", verify=ssl.create_default_context(cafile=str(a.ca_path)), timeout=2
        )


def test_hubspot_daily_limit_answers_429_daily(sandbox: SandboxServer) -> None:
    sandbox.state.set_limits(LimitConfig(hs_daily_limit=2))
    with client(sandbox) as c:
        remaining = [c.get(HS).headers["x-hubspot-ratelimit-daily-remaining"] for _ in range(2)]
        assert remaining == ["1", "0"]
        refused = c.get(HS)
        assert refused.status_code == 429 and refused.json()["policyName"] == "DAILY"


def test_a_request_is_logged_before_its_answer_arrives(sandbox: SandboxServer) -> None:
    with client(sandbox) as c:
        c.delete("/__sandbox/requests")
        for _ in range(20):
            c.get(SF)
            assert (
                sandbox.state.log.snapshot()["counters"].get("GET /services/data/vXX.X/nothing-here", 0) > 0
            )
