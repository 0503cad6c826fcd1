"""Prometheus metrics of the daemon, in a registry of their own (never the process-wide default one).

`Metrics.record_run(report)` folds one cycle's `RunReport` into the counters and gauges; `record_failure`
counts a cycle that raised before it could report. Two optional callbacks refresh gauges the report does not
carry: `backlog()` (open review tasks per CRM) and `quota()` (the CRM's API quota as last reported, per CRM).
Both are called from the cycle's thread after each cycle, not from the HTTP thread, so a scrape never
touches the state store or a connector.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Enum, Gauge, Histogram, generate_latest

from sync.report import CrmReport, RunReport

log = logging.getLogger(__name__)

CYCLE_STATUSES = ["running", "succeeded", "partial", "failed"]
# Cycles last from seconds (idle, incremental) to a quarter of an hour (a million leads, cold).
DURATION_BUCKETS = (1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0)

Backlog = Callable[[], Mapping[str, int]]
QuotaReading = tuple[int | None, int | None]  # (used, limit) of the CRM's API quota, None when unknown
Quota = Callable[[], Mapping[str, QuotaReading]]


class Metrics:
    """Every metric leadq exports; `registry` is what `/metrics` serves."""

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        backlog: Backlog | None = None,
        quota: Quota | None = None,
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self._backlog = backlog
        self._quota = quota
        r = self.registry
        self.pulled = Counter(
            "leadq_records_pulled", "Records pulled from the CRM.", ["crm", "object"], registry=r
        )
        self.deleted = Counter("leadq_records_deleted", "Deletions pulled from the CRM.", ["crm"], registry=r)
        self.scored = Counter("leadq_records_scored", "Leads scored.", ["crm"], registry=r)
        self.written = Counter("leadq_records_written", "Records whose fields landed.", ["crm"], registry=r)
        self.fields_written = Counter("leadq_fields_written", "Field values written.", ["crm"], registry=r)
        self.rejected = Counter(
            "leadq_records_rejected", "Records or values quarantined with a reason.", ["crm"], registry=r
        )
        self.echoes = Counter(
            "leadq_echoes", "Records whose only change was leadq's own.", ["crm"], registry=r
        )
        self.write_failures = Counter(
            "leadq_write_failures", "Writes that failed and are retried later.", ["crm"], registry=r
        )
        self.parked = Counter(
            "leadq_writes_parked", "Writes given up after the retry bound.", ["crm"], registry=r
        )
        self.human_edits = Counter(
            "leadq_human_edits", "Writeback fields a person changed.", ["crm"], registry=r
        )
        self.tasks = Counter(
            "leadq_review_tasks", "Review tasks created, completed, escalated.", ["crm", "event"], registry=r
        )
        self.labels = Counter("leadq_labels", "Labels collected (outcomes, decisions).", ["crm"], registry=r)
        self.api_calls = Counter("leadq_api_calls", "CRM API calls.", ["crm", "endpoint"], registry=r)
        self.quota_used = Gauge(
            "leadq_api_quota_used", "CRM API quota used, as last reported.", ["crm"], registry=r
        )
        self.quota_limit = Gauge(
            "leadq_api_quota_limit", "CRM API quota limit, as last reported.", ["crm"], registry=r
        )
        self.cycle_api_calls = Gauge(
            "leadq_cycle_api_calls", "API calls of the last cycle.", ["crm"], registry=r
        )
        self.pending = Gauge("leadq_outbox_pending", "Outbox items still waiting.", ["crm"], registry=r)
        self.backlog = Gauge("leadq_review_backlog", "Open review tasks.", ["crm"], registry=r)
        self.drift = Gauge(
            "leadq_drift_psi", "Population stability index, of the score or a column.", ["crm", "column"],
            registry=r,
        )  # fmt: skip
        self.phase = Gauge(
            "leadq_cycle_phase_seconds", "Seconds per phase, last cycle.", ["crm", "phase"], registry=r
        )
        self.duration = Histogram(
            "leadq_cycle_duration_seconds", "Duration of a cycle.", buckets=DURATION_BUCKETS, registry=r
        )
        self.last_cycle = Gauge(
            "leadq_last_cycle_timestamp_seconds", "When the last cycle finished (Unix time).", registry=r
        )
        self.last_success = Gauge(
            "leadq_last_success_timestamp_seconds",
            "When the last cycle that did not fail finished.",
            registry=r,
        )
        self.last_status = Enum(
            "leadq_last_cycle_status", "Status of the last cycle.", states=CYCLE_STATUSES, registry=r
        )
        self.cycles = Counter("leadq_cycles", "Cycles run, by status.", ["status"], registry=r)
        self.cycles_failed = Counter("leadq_cycles_failed", "Cycles that failed or raised.", registry=r)

    def record_run(self, report: RunReport) -> None:
        """Fold one cycle's report in (a dry run changes nothing: it wrote nothing)."""
        if report.dry_run:
            return
        for crm, part in report.crms.items():
            self._record_crm(crm, part)
        status = report.status if report.status in CYCLE_STATUSES else "failed"
        finished = report.finished_at or report.started_at
        self._finish(status, report.duration_s, finished)

    def record_failure(self, started_at: datetime, finished_at: datetime) -> None:
        """A cycle that raised instead of returning a report."""
        self._finish("failed", (finished_at - started_at).total_seconds(), finished_at)

    def refresh(self) -> None:
        """Call the backlog and quota callbacks; a failing callback is logged and leaves its gauge as is."""
        if self._backlog is not None:
            try:
                for crm, count in self._backlog().items():
                    self.backlog.labels(crm=crm).set(count)
            except Exception as exc:  # the metric is a side show; the daemon goes on
                log.warning("review backlog not read: %s: %s", type(exc).__name__, exc)
        if self._quota is not None:
            try:
                for crm, (used, limit) in self._quota().items():
                    if used is not None:
                        self.quota_used.labels(crm=crm).set(used)
                    if limit is not None:
                        self.quota_limit.labels(crm=crm).set(limit)
            except Exception as exc:
                log.warning("API quota not read: %s: %s", type(exc).__name__, exc)

    def exposition(self) -> bytes:
        """The registry in the Prometheus text format."""
        return generate_latest(self.registry)

    def _finish(self, status: str, seconds: float, finished: datetime) -> None:
        self.duration.observe(max(0.0, seconds))
        self.last_cycle.set(finished.timestamp())
        self.last_status.state(status)
        self.cycles.labels(status=status).inc()
        if status == "failed":
            self.cycles_failed.inc()
        else:
            self.last_success.set(finished.timestamp())
        self.refresh()

    def _record_crm(self, crm: str, part: CrmReport) -> None:
        for obj, count in part.pulled.items():
            _add(self.pulled.labels(crm=crm, object=obj), count)
        simple = {
            self.deleted: part.deleted, self.scored: part.scored, self.written: part.written,
            self.fields_written: part.fields_written, self.rejected: part.rejected, self.echoes: part.echoes,
            self.write_failures: part.write_failures, self.parked: part.parked,
            self.human_edits: part.human_edits, self.labels: part.labels,
        }  # fmt: skip
        for counter, value in simple.items():
            _add(counter.labels(crm=crm), value)
        for event, value in (
            ("created", part.tasks_created),
            ("completed", part.tasks_completed),
            ("escalated", part.tasks_escalated),
        ):
            _add(self.tasks.labels(crm=crm, event=event), value)
        for endpoint, calls in part.api_calls.items():
            _add(self.api_calls.labels(crm=crm, endpoint=endpoint), calls)
        self.cycle_api_calls.labels(crm=crm).set(part.api_total)
        self.pending.labels(crm=crm).set(part.pending)
        for phase, seconds in part.phases.items():
            self.phase.labels(crm=crm, phase=phase).set(seconds)
        for column, psi in drift_readings(part.drift).items():
            self.drift.labels(crm=crm, column=column).set(psi)


def drift_readings(drift: Mapping[str, Any]) -> dict[str, float]:
    """`{"score_psi": x, "columns": {name: psi}}` as `{"score": x, name: psi}`; missing or non-numeric
    entries are left out (a first cycle has no reference to drift from)."""
    out: dict[str, float] = {}
    score = _number(drift.get("score_psi"))
    if score is not None:
        out["score"] = score
    columns = drift.get("columns")
    if isinstance(columns, Mapping):
        for name, value in columns.items():
            psi = _number(value)
            if psi is not None and str(name) != "score":
                out[str(name)] = psi
    return out


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value == value:  # not NaN
        return float(value)
    return None


def _add(counter: Counter, value: int | float) -> None:
    # Counters only go up; a negative figure would be a bug elsewhere and must not crash the daemon.
    if value > 0:
        counter.inc(value)
