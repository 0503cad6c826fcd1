"""The admin's CRM task when a cycle's scores drift beyond `scoring.drift.psi_alert`.

`sync.feedback.measure_drift` logs the drift, audits `drift_alert` and feeds the metric; with an admin
configured for the CRM (`scoring.drift.admin`), the cycle also asks for one task per (CRM, champion model
version), keyed `leadq:{crm}:drift:{version}`:

    tasks = drift_task.plan_drift_tasks(ctx, crm, out.drift, now)   # pure: dry runs call it too
    drift_task.record_drift_tasks(ctx, crm, tasks)                   # audit `drift_task_planned`
    commit(..., tasks=[*review_tasks, *tasks])                        # the outbox, as review tasks go

The key makes the task once-only: while the outbox holds an item with it nothing is planned again, and the
connectors look the key up in the CRM before creating, so a crash between send and bookkeeping creates no
second task. A new champion (retrain, promotion, rollback) has a new key and may raise a new task. The task
is about no person: Salesforce's `WhoId` and HubSpot's association are left out (`who_id` is empty).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from connector.protocol import TaskSpec
from mappings import Crm
from sync.context import CycleContext
from sync.review_common import TASK_OBJECT
from sync.state import as_utc

__all__ = [
    "DUE_AFTER",
    "LISTED",
    "DriftTask",
    "drift_key",
    "plan_drift_tasks",
    "record_drift_tasks",
    "task_body",
]

DUE_AFTER = timedelta(days=2)
LISTED = 10  # drifted inputs named in the task; a shifted source can move dozens of derived ones at once
_CRM_NAME = {"salesforce": "Salesforce", "hubspot": "HubSpot"}
_NO_VERSION = "unversioned"


@dataclass(frozen=True)
class DriftTask:
    """A drift task leadq will create; shaped like a review `PlannedTask` where the commit and the dry-run
    preview read one (`spec`, `lead_id`, `reasons`)."""

    spec: TaskSpec
    model_version: str
    detail: Mapping[str, Any]
    reasons: tuple[str, ...] = ("lead scores drifting",)
    lead_id: str | None = None  # about no person


def drift_key(crm: str, model_version: str | None) -> str:
    """The idempotency key of the drift task of `crm`'s model `model_version`."""
    return f"leadq:{crm}:drift:{model_version or _NO_VERSION}"


def plan_drift_tasks(ctx: CycleContext, crm: Crm, drift: Mapping[str, Any], now: datetime) -> list[DriftTask]:
    """One task for the CRM's admin when `drift` (a `measure_drift` result) is at alert level, an admin is
    configured for `crm`, and the store has no task with this model's key yet; else none. Writes nothing."""
    if drift.get("level") != "alert":
        return []
    admin = ctx.config.scoring.drift.admin.for_crm(crm)
    if admin is None:
        return []
    version = str(drift.get("model_version") or _NO_VERSION)
    key = drift_key(crm, version)
    if ctx.store.outbox_by_key(key) is not None:
        return []  # planned before (sent, pending or parked): once per model
    spec = TaskSpec(
        idempotency_key=key,
        who_object=TASK_OBJECT[crm],
        who_id="",
        owner_id=admin,
        subject=f"leadq: lead scores drifting (model {version})",
        body=task_body(ctx, crm, drift),
        due=as_utc(now) + DUE_AFTER,
        priority="High",
    )
    detail = {
        "admin": admin,
        "score_psi": drift.get("score_psi"),
        "drifted": {name: (drift.get("columns") or {}).get(name) for name in drift.get("drifted") or ()},
        "rows": drift.get("rows"),
        "psi_warn": drift.get("psi_warn"),
        "psi_alert": drift.get("psi_alert"),
        "due": spec.due.isoformat(),
    }
    return [DriftTask(spec, version, detail)]


def record_drift_tasks(ctx: CycleContext, crm: Crm, tasks: Sequence[DriftTask]) -> None:
    """Audit `drift_task_planned` for each task (not in dry runs; in the commit's unit of work)."""
    for task in tasks:
        ctx.store.audit(
            "leadq", "drift_task_planned", crm=crm, obj=TASK_OBJECT[crm], new=task.spec.idempotency_key,
            model_version=task.model_version, detail=dict(task.detail),
        )  # fmt: skip


def task_body(ctx: CycleContext, crm: Crm, drift: Mapping[str, Any]) -> str:
    """What the admin reads: how far scores and inputs moved, the thresholds, and what to do."""
    config = ctx.config.scoring
    warn = float(drift.get("psi_warn") or config.drift.psi_warn)
    alert = float(drift.get("psi_alert") or config.drift.psi_alert)
    version = str(drift.get("model_version") or _NO_VERSION)
    columns: Mapping[str, Any] = drift.get("columns") or {}
    labels = {f.name: f.label or f.name for f in ctx.mapping(crm).features}

    def level(psi: float) -> str:
        return "alert" if psi >= alert else "warn" if psi >= warn else "ok"

    score_psi = float(drift.get("score_psi") or 0.0)
    lines = [
        f"The leads leadq scored in {_CRM_NAME.get(crm, crm)} this cycle ({drift.get('rows', '?')} of them) "
        f"no longer look like the data model {version} was trained on: its scores may be off.",
        "",
        f"Score PSI: {score_psi:.3f} ({level(score_psi)})",
    ]
    drifted = [str(name) for name in drift.get("drifted") or ()]
    if drifted:
        lines.append("Inputs that drifted (PSI, worst first):")
        for name in drifted[:LISTED]:
            psi = float(columns.get(name) or 0.0)
            shown = labels.get(name, name)
            named = shown if shown == name else f"{shown} ({name})"
            lines.append(f"- {named}: {psi:.3f} ({level(psi)})")
        if len(drifted) > LISTED:
            lines.append(f"- and {len(drifted) - LISTED} more (`leadq report` shows them all)")
    else:
        lines.append("No single input passed the thresholds; the scores as a whole did.")
    retrain = config.retrain
    when = f" or on the schedule {retrain.schedule!r}" if retrain.schedule else ""
    lines += [
        f"Thresholds (scoring.drift in leadq.yaml): warn at PSI {warn:g}, alert at {alert:g}.",
        "",
        "What to do:",
        f"- Look: `leadq report --crm {crm}` writes the model report with the drift of each input.",
        f"- Compare: `leadq model list --crm {crm}`; if another version fits today's leads better, "
        f"`leadq model promote VERSION --crm {crm}`, or `leadq model rollback --crm {crm}`.",
        f"- Wait: leadq retrains on its own after {retrain.every_n_labels} new labels "
        f"(scoring.retrain.every_n_labels){when}; a model that wins on the holdout replaces {version}.",
        "- If the change is expected (a new lead source, a campaign), close this task: it is raised once "
        "per model version.",
    ]
    return "\n".join(lines)
