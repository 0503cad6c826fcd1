"""The commit phase: everything a cycle decided, made durable in one transaction before anything is sent.

Snapshots of what was pulled, the plan in the ledger, the writes and review tasks in the outbox, the score
history, labels and the audit log: all or nothing, so a crash before this point re-pulls and re-decides, and
a crash after it re-sends from the outbox.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from mappings import Crm
from scoring.decision import Decision
from scoring.explain import Previous
from scoring.scorer import ScoredBatch
from sync.plan import HumanEdit, RecordWrite
from sync.pull import Pulled
from sync.send import task_payload
from sync.state import ScoreRecord, StateStore
from sync.state.bulk import NewOutboxItem
from sync.triggers import Trigger

T = TypeVar("T")


@dataclass
class Commit:
    """What one CRM's cycle makes durable."""

    crm: Crm
    run_key: str
    pulled: Pulled
    decisions: Sequence[Decision] = ()
    objects: Mapping[str, str] = field(default_factory=dict)  # lead id -> object
    scored: ScoredBatch | None = None
    writes: Sequence[RecordWrite] = ()
    extra_updates: Sequence[tuple[str, Any]] = ()  # (object, RecordUpdate) from reviews and escalations
    tasks: Sequence[Any] = ()  # review.PlannedTask
    human_edits: Sequence[HumanEdit] = ()
    triggers: Mapping[str, Trigger] = field(default_factory=dict)  # lead id -> why it was scored


_JSON_SCALARS = (str, int, bool)


def _plain(value: object) -> object:
    kind = type(value)
    if value is None or kind in _JSON_SCALARS:  # the common case, without a trial encoding
        return value
    if kind is float:
        return None if math.isnan(value) else value  # type: ignore[arg-type]
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    try:
        json.dumps(value)
    except TypeError:
        return str(value)
    return value


def _plain_value(value: object) -> object:
    # What `ScoredBatch.previous` makes of a frame cell: numpy scalars as Python, NaN as None.
    if isinstance(value, np.generic):
        value = value.item()
    return None if isinstance(value, float) and math.isnan(value) else value


def decision_json(decision: Decision, obj: str, scored: ScoredBatch | None) -> dict[str, Any]:
    """What the score history keeps of a decision (`leadq explain` and the next "since" line read it).

    The commit makes the same rows a chunk at a time (`explained_json`); this is the per-lead definition."""
    previous = scored.previous(decision.lead_id) if scored is not None else None
    points, values = _kept(previous) if previous is not None else ({}, {})
    return _decision_json(decision, obj, points, values)


def _kept(previous: Previous) -> tuple[dict[str, float], dict[str, object]]:
    """The "points" and "values" of a lead's explanation as the score history keeps them."""
    return {k: round(v, 4) for k, v in previous.points.items()}, {
        k: _plain(v) for k, v in previous.values.items()
    }


def _reasons(items: Sequence[Any]) -> list[dict[str, Any]]:
    return [
        {"source": r.source, "label": r.label, "value": r.value, "points": round(r.points, 2), "text": r.text}
        for r in items
    ]


def _decision_json(
    decision: Decision, obj: str, points: dict[str, float], values: dict[str, object]
) -> dict[str, Any]:
    """`decision_json` given the "points" and "values" it keeps already made JSON (see `explained_json`)."""
    return {
        "up": _reasons(decision.reasons_up),
        "down": _reasons(decision.reasons_down),
        "action": decision.action.value,
        "target": decision.action_target,
        "rule": decision.rule,
        "rule_reason": getattr(decision, "rule_reason", None),
        "overrode_model": decision.overrode_model,
        "review": decision.review,
        "review_reasons": [r.value for r in decision.review_reasons],
        "changes": list(decision.changes),
        "segment": decision.segment,
        "rule_based": decision.rule_based,
        "object": obj,
        "completeness": round(decision.data_completeness, 3),
        "points": points,
        "values": values,
    }


def explained_json(
    scored: ScoredBatch, lead_ids: Sequence[str]
) -> dict[str, tuple[dict[str, float], dict[str, object]]]:
    """The "points" and "values" `decision_json` keeps of each explained lead among `lead_ids`, made from
    the frames directly (a per-lead `.loc` costs ~0.3 ms), with the values of a float, integer or boolean
    column converted a column at a time (145k people at 100k leads; the per-cell path cost ~10 us a
    person). The commit asks a chunk at a time, so memory stays a chunk's."""
    points, values = scored.points, scored.values
    if points.index.has_duplicates or values.index.has_duplicates or len(points.index) == 0:
        return {i: _kept(p) for i in lead_ids if (p := scored.previous(i)) is not None}
    found = points.index.get_indexer(pd.Index(lead_ids, dtype=object))
    ids = [lead_id for lead_id, k in zip(lead_ids, found, strict=True) if k >= 0]
    if not ids:
        return {}
    at = found[found >= 0]
    point_names = [str(c) for c in points.columns]
    point_rows = points.iloc[at].to_numpy(dtype=np.float64).tolist()
    rows = values.reindex(points.index[at])
    value_names = [str(c) for c in rows.columns]
    value_columns = [_json_cells(rows.iloc[:, k]) for k in range(len(value_names))]
    value_rows = zip(*value_columns, strict=True) if value_columns else ([()] * len(ids))
    return {
        lead_id: (
            {name: round(v, 4) for name, v in zip(point_names, point_row, strict=True)},
            dict(zip(value_names, value_row, strict=True)),
        )
        for lead_id, point_row, value_row in zip(ids, point_rows, value_rows, strict=True)
    }


def _json_cells(cells: pd.Series) -> list[object]:
    """`_plain(_plain_value(v))` of each cell of one column, as `decision_json` makes them: a float
    column's cells are Python floats (NaN: None), an integer or boolean column's Python ints and bools; any
    other column goes cell by cell."""
    kind = cells.dtype.kind
    if kind == "f" and cells.dtype == np.float64:
        return [None if v != v else v for v in cells.to_numpy().tolist()]  # v != v: NaN
    if kind in "iub" and not isinstance(cells.dtype, pd.api.extensions.ExtensionDtype):
        return list(cells.to_numpy().tolist())
    return [_plain(_plain_value(v)) for v in cells.astype(object).to_numpy().tolist()]


def previous_of(record: ScoreRecord) -> Previous:
    """The `Previous` a stored score gives the scorer for its "what moved since" line."""
    data = record.contributions if isinstance(record.contributions, dict) else {}
    points = {str(k): float(v) for k, v in (data.get("points") or {}).items()}
    return Previous(record.score, record.scored_at, points, dict(data.get("values") or {}))


def commit(store: StateStore, c: Commit) -> None:
    """Make the cycle's decisions and plan durable, all together.

    Rows are built and written a chunk at a time inside the one transaction: at 100k leads a cycle pulls
    ~800k records and decides ~145k people, and their rows all at once would cost gigabytes. A cycle that
    decides its people in chunks calls `commit_decisions` for each inside its transaction, then this with
    the rest (no decisions or writes): the rows are the same, in the same order per table."""
    crm = c.crm
    with store.transaction():
        for obj, batch in c.pulled.snapshots.batches(CHUNK):
            store.put_snapshot_batch(crm, obj, batch)
        for obj, ids in c.pulled.deleted.items():
            store.drop_snapshots(crm, obj, ids)
        commit_decisions(store, c)
        for items in _chunks(_other_outbox_items(c)):
            store.enqueue_many(items)
        for entries in _chunks(_other_audit_entries(c)):
            store.audit_many(entries)
        for e in c.human_edits:
            store.settle_fields(
                crm, e.object, e.record_id, [e.field], "parked", f"changed by a person to {e.theirs!r}"
            )


def commit_decisions(store: StateStore, c: Commit) -> None:
    """The part of `commit` that `c.decisions` and `c.writes` make: the planned fields in the ledger, the
    field writes in the outbox, the score history and the "scored" audit entries (nothing of `c.pulled`,
    the extra updates, tasks or human edits)."""
    crm = c.crm
    model_versions = {d.lead_id: d.model_version for d in c.decisions}
    with store.transaction():
        for writes in _chunks(c.writes):
            # The outbox first: each planned field names the item that carries it (read as written once
            # the item is done, so the send does not rewrite the ledger).
            items = [_write_item(c, w, model_versions.get(w.record_id)) for w in writes]
            store.enqueue_many(items)
            ids = store.outbox_ids([item.idempotency_key for item in items])
            store.plan_records(
                crm,
                [(w.object, w.record_id, w.values, w.old) for w in writes],
                [ids[item.idempotency_key] for item in items],
            )
        for decisions in _chunks(c.decisions):
            explained = (
                explained_json(c.scored, [d.lead_id for d in decisions]) if c.scored is not None else {}
            )
            store.add_scores_bulk([_score_record(store, c, d, explained) for d in decisions])
        for entries in _chunks(_scored_entries(c)):
            store.audit_many(entries)


CHUNK = 5000  # rows built and written at a time


def _chunks(items: Iterable[T]) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, CHUNK)):
        yield chunk


def _write_item(c: Commit, w: RecordWrite, model_version: str | None) -> NewOutboxItem:
    crm = c.crm
    return NewOutboxItem(
        crm, "field_update", w.object, w.record_id,
        {"values": w.values, "old": w.old, "model_version": model_version},
        f"{crm}:{w.object}:{w.record_id}:fields:{c.run_key}",
    )  # fmt: skip


def _other_outbox_items(c: Commit) -> Iterator[NewOutboxItem]:
    crm = c.crm
    for n, (obj, update) in enumerate(c.extra_updates):
        yield NewOutboxItem(
            crm, "field_update", obj, update.id, {"values": dict(update.values), "source": "review"},
            f"{crm}:{obj}:{update.id}:review:{c.run_key}:{n}",
        )  # fmt: skip
    for t in c.tasks:
        yield NewOutboxItem(
            crm, "task", t.spec.who_object, t.lead_id, task_payload(t.spec), t.spec.idempotency_key
        )


def _score_record(
    store: StateStore,
    c: Commit,
    d: Decision,
    explained: Mapping[str, tuple[dict[str, float], dict[str, object]]],
) -> ScoreRecord:
    points, values = explained.get(d.lead_id) or ({}, {})
    contributions = _decision_json(d, c.objects.get(d.lead_id, ""), points, values)
    contributions["trigger"] = c.triggers.get(d.lead_id)
    return ScoreRecord(
        crm=c.crm, lead_id=d.lead_id, scored_at=d.scored_at or store.now(), score=d.score, tier=d.tier,
        probability=d.probability, reasons=d.reasons_text, contributions=contributions,
        model_version=d.model_version, policy_version=d.policy_version,
    )  # fmt: skip


def _scored_entries(c: Commit) -> Iterator[dict[str, Any]]:
    crm = c.crm
    for d in c.decisions:
        yield {
            "actor": "leadq", "action": "scored", "crm": crm, "obj": c.objects.get(d.lead_id),
            "record_id": d.lead_id, "new": {"score": d.score, "tier": d.tier, "action": d.action.value,
            "review": d.review, "rule": d.rule, "trigger": c.triggers.get(d.lead_id)},
            "model_version": d.model_version,
            "policy_version": d.policy_version,
        }  # fmt: skip


def _other_audit_entries(c: Commit) -> Iterator[dict[str, Any]]:
    crm = c.crm
    for e in c.human_edits:
        yield {
            "actor": "crm-user", "action": "human_edit", "crm": crm, "obj": e.object, "record_id": e.record_id,
            "field": e.field, "old": e.ours, "new": e.theirs,
            "detail": {"slot": e.slot, "note": "changed by a person in the CRM: leadq leaves it"},
        }  # fmt: skip
    for p in c.pulled.problems:
        yield {
            "actor": "leadq", "action": "record_quarantined", "crm": crm, "obj": p.object,
            "record_id": p.record_id, "field": p.field,
            "detail": {"reason": p.message, "value": repr(p.value)[:200]},
        }  # fmt: skip
