"""What a dry run shows: the exact writes and tasks a cycle would send, nothing sent or stored."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from connector.protocol import RecordUpdate
from sync.plan import WritePlan
from sync.report import PlannedWrite


def preview(
    crm: str, plan: WritePlan, updates: Sequence[tuple[str, RecordUpdate]], tasks: Sequence[Any]
) -> list[PlannedWrite]:
    """The planned field updates, review-driven updates and review tasks of one CRM, in send order."""
    out = [PlannedWrite(crm, "field_update", w.object, w.record_id, dict(w.values), "score changed")
           for w in plan.writes]  # fmt: skip
    out += [
        PlannedWrite(crm, "field_update", obj, u.id, dict(u.values), "review decision") for obj, u in updates
    ]
    out += [
        PlannedWrite(
            crm, "task", t.spec.who_object, t.lead_id,
            {"subject": t.spec.subject, "owner": t.spec.owner_id, "due": t.spec.due.isoformat(),
             "key": t.spec.idempotency_key},
            ", ".join(t.reasons),
        )
        for t in tasks
    ]  # fmt: skip
    out += [
        PlannedWrite(
            crm, "human_edit_kept", e.object, e.record_id, {e.field: e.theirs}, "changed by a person"
        )
        for e in plan.human_edits
    ]
    return out
