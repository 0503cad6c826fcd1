"""/healthz and /metrics over real HTTP on port 0, and the metrics a RunReport produces."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from sync.health import HealthServer, HealthState
from sync.metrics import Metrics, drift_readings
from sync.report import RunReport

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def state(clock: Clock) -> HealthState:
    return HealthState(lambda ref: ref + timedelta(minutes=45), clock=clock)


@pytest.fixture()
def server(state: HealthState) -> Iterator[tuple[HealthServer, Metrics]]:
    metrics = Metrics(CollectorRegistry())
    with HealthServer(state, metrics, host="127.0.0.1", port=0) as srv:
        yield srv, metrics


def url(srv: HealthServer, path: str) -> str:
    return f"http://127.0.0.1:{srv.port}{path}"


def sample_report() -> RunReport:
    out = RunReport(started_at=T0, finished_at=T0 + timedelta(seconds=42), status="succeeded", run_id=7)
    sf = out.crm("salesforce")
    sf.pulled = Counter({"Lead": 120, "Account": 30})
    sf.scored, sf.written, sf.rejected, sf.tasks_created, sf.pending = 100, 40, 3, 5, 2
    sf.api_calls = {"query": 4, "composite/sobjects": 1}
    sf.drift = {"score_psi": 0.12, "columns": {"Industry": 0.3, "LeadSource": "n/a"}}
    hs = out.crm("hubspot")
    hs.pulled = Counter({"contacts": 10})
    hs.scored = 9
    hs.api_calls = {"crm/v3/objects/contacts/search": 2}
    return out


def families(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def test_healthz_is_ok_before_the_first_cycle_and_after_a_success(
    server: tuple[HealthServer, Metrics], state: HealthState, clock: Clock
) -> None:
    srv, _ = server
    assert srv.port != 0
    first = httpx.get(url(srv, "/healthz"))
    assert first.status_code == 200
    assert first.json()["status"] == "ok"
    assert first.json()["last_cycle"] is None
    clock.now = T0 + timedelta(minutes=10)
    state.record("partial", clock.now)
    body = httpx.get(url(srv, "/healthz")).json()
    assert body == {
        "status": "ok",
        "last_cycle": clock.now.isoformat(),
        "last_status": "partial",
        "last_success": clock.now.isoformat(),
    }


def test_healthz_is_503_after_a_failed_cycle_until_one_succeeds(
    server: tuple[HealthServer, Metrics], state: HealthState, clock: Clock
) -> None:
    srv, _ = server
    state.record("failed", clock.now)
    failing = httpx.get(url(srv, "/healthz"))
    assert failing.status_code == 503
    assert failing.json()["status"] == "failing"
    assert failing.json()["last_status"] == "failed"
    state.record("succeeded", clock.now)
    assert httpx.get(url(srv, "/healthz")).status_code == 200


def test_healthz_is_503_when_no_cycle_succeeded_in_time(
    server: tuple[HealthServer, Metrics], state: HealthState, clock: Clock
) -> None:
    srv, _ = server
    clock.now = T0 + timedelta(minutes=44)
    assert httpx.get(url(srv, "/healthz")).status_code == 200  # still starting up
    clock.now = T0 + timedelta(minutes=46)
    stale = httpx.get(url(srv, "/healthz"))
    assert stale.status_code == 503
    assert stale.json()["status"] == "stale"
    state.record("succeeded", clock.now)
    assert httpx.get(url(srv, "/healthz")).status_code == 200
    clock.now += timedelta(minutes=46)
    assert httpx.get(url(srv, "/healthz")).status_code == 503


def test_metrics_endpoint_reflects_a_recorded_run(server: tuple[HealthServer, Metrics]) -> None:
    srv, metrics = server
    metrics.record_run(sample_report())
    response = httpx.get(url(srv, "/metrics"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    s = families(response.text)
    assert value(s, "leadq_records_pulled_total", crm="salesforce", object="Lead") == 120
    assert value(s, "leadq_records_pulled_total", crm="hubspot", object="contacts") == 10
    assert value(s, "leadq_records_scored_total", crm="salesforce") == 100
    assert value(s, "leadq_records_scored_total", crm="hubspot") == 9
    assert value(s, "leadq_records_written_total", crm="salesforce") == 40
    assert value(s, "leadq_records_rejected_total", crm="salesforce") == 3
    assert value(s, "leadq_review_tasks_total", crm="salesforce", event="created") == 5
    assert value(s, "leadq_api_calls_total", crm="salesforce", endpoint="query") == 4
    assert value(s, "leadq_api_calls_total", crm="hubspot", endpoint="crm/v3/objects/contacts/search") == 2
    assert value(s, "leadq_cycle_api_calls", crm="salesforce") == 5
    assert value(s, "leadq_outbox_pending", crm="salesforce") == 2
    assert value(s, "leadq_drift_psi", crm="salesforce", column="score") == pytest.approx(0.12)
    assert value(s, "leadq_drift_psi", crm="salesforce", column="Industry") == pytest.approx(0.3)
    assert ("leadq_drift_psi", (("column", "LeadSource"), ("crm", "salesforce"))) not in s
    assert value(s, "leadq_cycle_duration_seconds_count") == 1
    assert value(s, "leadq_cycle_duration_seconds_sum") == pytest.approx(42)
    assert value(s, "leadq_last_cycle_timestamp_seconds") == (T0 + timedelta(seconds=42)).timestamp()
    assert value(s, "leadq_last_cycle_status", leadq_last_cycle_status="succeeded") == 1
    assert value(s, "leadq_last_cycle_status", leadq_last_cycle_status="failed") == 0
    assert value(s, "leadq_cycles_failed_total") == 0


def test_counters_add_up_across_cycles_and_failures_are_counted() -> None:
    metrics = Metrics(CollectorRegistry())
    metrics.record_run(sample_report())
    metrics.record_run(sample_report())
    metrics.record_failure(T0, T0 + timedelta(seconds=3))
    failed = sample_report()
    failed.status = "failed"
    metrics.record_run(failed)
    get = metrics.registry.get_sample_value
    assert get("leadq_records_scored_total", {"crm": "salesforce"}) == 300
    assert get("leadq_cycles_failed_total") == 2
    assert get("leadq_cycles_total", {"status": "succeeded"}) == 2
    assert get("leadq_cycles_total", {"status": "failed"}) == 2
    assert get("leadq_last_cycle_status", {"leadq_last_cycle_status": "failed"}) == 1
    assert get("leadq_last_success_timestamp_seconds") == (T0 + timedelta(seconds=42)).timestamp()


def test_a_dry_run_changes_no_metric() -> None:
    metrics = Metrics(CollectorRegistry())
    dry = sample_report()
    dry.dry_run = True
    metrics.record_run(dry)
    assert metrics.registry.get_sample_value("leadq_records_scored_total", {"crm": "salesforce"}) is None
    assert metrics.registry.get_sample_value("leadq_cycle_duration_seconds_count") == 0


def test_backlog_and_quota_callbacks_feed_their_gauges_and_may_fail() -> None:
    backlog = {"salesforce": 4, "hubspot": 0}
    metrics = Metrics(
        CollectorRegistry(),
        backlog=lambda: backlog,
        quota=lambda: {"salesforce": (1200, 15000), "hubspot": (None, None)},
    )
    metrics.record_run(sample_report())
    get = metrics.registry.get_sample_value
    assert get("leadq_review_backlog", {"crm": "salesforce"}) == 4
    assert get("leadq_review_backlog", {"crm": "hubspot"}) == 0
    assert get("leadq_api_quota_used", {"crm": "salesforce"}) == 1200
    assert get("leadq_api_quota_limit", {"crm": "salesforce"}) == 15000
    assert get("leadq_api_quota_used", {"crm": "hubspot"}) is None

    def broken() -> dict[str, int]:
        raise RuntimeError("database is locked")

    failing = Metrics(CollectorRegistry(), backlog=broken)
    failing.record_run(sample_report())  # must not raise
    assert failing.registry.get_sample_value("leadq_records_scored_total", {"crm": "salesforce"}) == 100


def test_metrics_live_in_their_own_registry() -> None:
    first, second = Metrics(), Metrics()  # a second instance would clash in a shared registry
    first.record_run(sample_report())
    assert second.registry.get_sample_value("leadq_records_scored_total", {"crm": "salesforce"}) is None
    assert REGISTRY.get_sample_value("leadq_cycles_failed_total") is None


def test_unknown_paths_are_404(server: tuple[HealthServer, Metrics]) -> None:
    srv, _ = server
    assert httpx.get(url(srv, "/")).status_code == 404


def test_close_releases_the_port(state: HealthState) -> None:
    srv = HealthServer(state, Metrics(CollectorRegistry()), host="127.0.0.1", port=0).start()
    port = srv.port
    srv.close()
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/healthz")
    again = HealthServer(state, Metrics(CollectorRegistry()), host="127.0.0.1", port=port)
    again.close()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=10,
)


@given(st.dictionaries(st.sampled_from(["score_psi", "columns", "other"]), json_values))
def test_drift_readings_keep_only_numbers(drift: dict[str, Any]) -> None:
    readings = drift_readings(drift)
    for column, psi in readings.items():
        assert isinstance(psi, float)
        assert psi == psi
        if column == "score":
            assert drift["score_psi"] == psi
        else:
            assert drift["columns"][column] == psi
    if isinstance(drift.get("score_psi"), float) and drift["score_psi"] == drift["score_psi"]:
        assert "score" in readings
