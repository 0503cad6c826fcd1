"""Plan the writes of a cycle: decisions against what the CRM holds and what leadq last wrote.

Only changed values are written; `scored_at` rides along only with another change. A writeback field whose
CRM value is neither what leadq last wrote nor what it has in flight was changed by a person: it is left
alone and reported as a human edit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mappings import Crm, CrmMapping, Lead, to_crm_payload
from scoring.decision import ActionKind, Decision
from sync.fields import SCORED_OBJECTS
from sync.state import LedgerEntry, json_equal

WRITTEN_SLOTS = ("score", "tier", "reasons", "recommended_action", "model_version")


@dataclass(frozen=True)
class HumanEdit:
    """A person changed one of our fields since leadq wrote it."""

    object: str
    record_id: str
    slot: str
    field: str
    ours: Any
    theirs: Any


@dataclass(frozen=True)
class RecordWrite:
    """The fields to set on one record, with the values they replace."""

    object: str
    record_id: str
    values: dict[str, Any]
    old: dict[str, Any]


@dataclass
class WritePlan:
    writes: list[RecordWrite] = field(default_factory=list)
    human_edits: list[HumanEdit] = field(default_factory=list)


def object_of(crm: Crm, person: Lead) -> str:
    """The CRM object a person lives in."""
    if crm == "hubspot":
        return SCORED_OBJECTS["hubspot"][0]
    return "Contact" if person.kind == "contact" else "Lead"


def action_text(decision: Decision) -> str:
    """The recommended action as a rep reads it ("Route to 005..."; "Review: borderline")."""
    action = decision.action
    if action is ActionKind.ROUTE:
        return f"Route to {decision.action_target}" if decision.action_target else "Route"
    if action is ActionKind.REVIEW or decision.review:
        why = ", ".join(r.value.replace("_", " ") for r in decision.review_reasons)
        base = "Review" + (f": {why}" if why else "")
        if action not in (ActionKind.REVIEW, ActionKind.NONE):
            base += f" (recommended: {action.value})"
        return base
    if action is ActionKind.NONE:
        return "No action"
    return action.value.capitalize()


def desired(decision: Decision) -> dict[str, object]:
    """The writeback slots a decision sets, in canonical values."""
    return {
        "score": decision.score,
        "tier": decision.tier,
        "reasons": decision.reasons_text or None,
        "recommended_action": action_text(decision),
        "model_version": decision.model_version or None,
        "scored_at": decision.scored_at,
    }


def same_wire(a: object, b: object) -> bool:
    """Whether two wire values are the same value (52 and "52.0" are; None and "" are)."""
    if a in (None, "") and b in (None, ""):
        return True
    for x, y in ((a, b), (b, a)):
        if isinstance(x, int | float) and not isinstance(x, bool) and isinstance(y, str):
            try:
                return math.isclose(float(x), float(y))
            except ValueError:
                return False
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
        return math.isclose(float(a), float(b))
    if isinstance(a, str) and isinstance(b, str):
        return a.replace("\r\n", "\n").strip() == b.replace("\r\n", "\n").strip()
    return json_equal(a, b)


def crm_value(person: Lead, slot: str, entry: LedgerEntry | None) -> object:
    """What the CRM holds in a writeback field as far as we know: the pulled value, unless leadq wrote the
    field after that pull (then what we wrote: the pull predates it)."""
    if entry is not None and entry.written_at is not None and entry.state in ("written", "parked"):
        pulled_at = person.modified_at
        if pulled_at is None or pulled_at < entry.written_at:
            return entry.written_value if entry.state == "written" else person.writeback_raw.get(slot)
    return person.writeback_raw.get(slot)


def _edited(have: object, entry: LedgerEntry | None) -> bool:
    if entry is None or entry.written_at is None:
        return False
    return not (same_wire(have, entry.written_value) or same_wire(have, entry.new_value))


def plan_writes(
    crm: Crm,
    mapping: CrmMapping,
    decisions: Sequence[Decision],
    people: Mapping[str, Lead],
    ledger: Mapping[str, Mapping[str, LedgerEntry]],
) -> WritePlan:
    """The field writes that bring the CRM to the decisions, minus what people changed themselves."""
    plan = WritePlan()
    slots = {slot: mapping.writeback.field_for(slot).field for slot in (*WRITTEN_SLOTS, "scored_at")}
    for decision in decisions:
        person = people.get(decision.lead_id)
        if person is None:
            continue
        obj = object_of(crm, person)
        wire = to_crm_payload(crm, desired(decision), mapping)
        entries = ledger.get(person.id, {})
        values: dict[str, Any] = {}
        old: dict[str, Any] = {}
        for slot in WRITTEN_SLOTS:
            name = slots[slot]
            have = crm_value(person, slot, entries.get(name))
            if _edited(have, entries.get(name)):
                entry = entries[name]
                plan.human_edits.append(HumanEdit(obj, person.id, slot, name, entry.written_value, have))
                continue
            if not same_wire(have, wire[name]):
                values[name] = wire[name]
                old[name] = have
        if values:
            values[slots["scored_at"]] = wire[slots["scored_at"]]
            old[slots["scored_at"]] = person.writeback_raw.get("scored_at")
            plan.writes.append(RecordWrite(obj, person.id, values, old))
    return plan


def human_edits_of(
    crm: Crm, mapping: CrmMapping, people: Sequence[Lead], ledger: Mapping[str, Mapping[str, LedgerEntry]]
) -> list[HumanEdit]:
    """Edits people made to our fields on records leadq does not re-score this cycle."""
    out = []
    for person in people:
        entries = ledger.get(person.id, {})
        for slot in WRITTEN_SLOTS:
            name = mapping.writeback.field_for(slot).field
            have = person.writeback_raw.get(slot)
            if slot in person.writeback_raw and _edited(have, entries.get(name)):
                out.append(
                    HumanEdit(
                        object_of(crm, person), person.id, slot, name, entries[name].written_value, have
                    )
                )
    return out
