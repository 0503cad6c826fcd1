"""What one cycle did, per CRM: the run report `leadq sync --json` prints and the run history keeps."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class PlannedWrite:
    """One write a cycle planned (and, unless it is a dry run, sent): a field update or a review task."""

    crm: str
    kind: str  # field_update | task | note
    object: str
    record_id: str | None
    values: dict[str, Any]
    reason: str = ""


@dataclass
class CrmReport:
    """One CRM's part of a cycle."""

    crm: str
    pulled: Counter[str] = field(default_factory=Counter)  # object -> records pulled
    deleted: int = 0
    rejected: int = 0  # records (or values) quarantined with a reason
    echoes: int = 0  # records whose only change was our own write: not re-scored
    scored: int = 0
    explained: int = 0
    written: int = 0  # records whose fields landed
    fields_written: int = 0
    write_failures: int = 0  # retryable, tried again next cycle
    parked: int = 0  # given up on after the retry bound, reason in `leadq runs` and the audit log
    human_edits: int = 0
    tasks_created: int = 0
    tasks_completed: int = 0
    tasks_escalated: int = 0
    labels: int = 0
    overrides: int = 0
    pending: int = 0  # outbox items still waiting after this cycle
    api_calls: dict[str, int] = field(default_factory=dict)  # endpoint -> calls
    phases: dict[str, float] = field(default_factory=dict)  # phase -> seconds
    model_version: str = ""
    rule_based: bool = True
    drift: dict[str, Any] = field(default_factory=dict)
    stopped: str | None = None  # why the cycle stopped early (quota, auth): resumes next cycle
    problems: list[str] = field(default_factory=list)  # first few quarantine reasons, for people
    planned: list[PlannedWrite] = field(default_factory=list)  # dry run: the exact writes and tasks

    def phase(self, name: str, seconds: float) -> None:
        """Add time spent in a phase (pull, graph, score, explain, policy, plan, write)."""
        self.phases[name] = self.phases.get(name, 0.0) + seconds

    @property
    def api_total(self) -> int:
        return sum(self.api_calls.values())

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["pulled"] = dict(self.pulled)
        data["phases"] = {k: round(v, 3) for k, v in self.phases.items()}
        data["api_total"] = self.api_total
        return data


@dataclass
class RunReport:
    """One cycle over every configured CRM."""

    started_at: datetime
    finished_at: datetime | None = None
    run_id: int | None = None
    dry_run: bool = False
    status: str = "running"  # succeeded | partial (stopped early or records parked) | failed
    crms: dict[str, CrmReport] = field(default_factory=dict)
    error: str | None = None

    @property
    def duration_s(self) -> float:
        end = self.finished_at or self.started_at
        return (end - self.started_at).total_seconds()

    def crm(self, name: str) -> CrmReport:
        """The report of one CRM, created on first use."""
        if name not in self.crms:
            self.crms[name] = CrmReport(crm=name)
        return self.crms[name]

    def total(self, attribute: str) -> int:
        """A counter summed over the CRMs (`scored`, `written`, `tasks_created`, ...)."""
        return sum(int(getattr(r, attribute)) for r in self.crms.values())

    def to_json(self) -> dict[str, Any]:
        """The report as one JSON-ready object (what `leadq sync --once --json` prints)."""
        return {
            "run_id": self.run_id,
            "status": self.status,
            "dry_run": self.dry_run,
            "started_at": self.started_at.isoformat(),
            "finished_at": None if self.finished_at is None else self.finished_at.isoformat(),
            "duration_s": round(self.duration_s, 3),
            "error": self.error,
            "pulled": sum(sum(r.pulled.values()) for r in self.crms.values()),
            "scored": self.total("scored"),
            "written": self.total("written"),
            "rejected": self.total("rejected"),
            "tasks_created": self.total("tasks_created"),
            "tasks_completed": self.total("tasks_completed"),
            "api_calls": sum(r.api_total for r in self.crms.values()),
            "crms": {name: r.to_json() for name, r in self.crms.items()},
        }
