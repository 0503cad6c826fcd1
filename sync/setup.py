"""`leadq setup`: plan and create the writeback fields (Salesforce custom fields, HubSpot properties).

The plan compares the config's writeback fields with describe: missing ones are created through the
connector (`create_fields`: the Tooling API on Salesforce, the properties API in the `leadq` group on
HubSpot), present ones are left alone, and a present field of the wrong type is a conflict for a person to
resolve. Creating only what describe lacks makes a second run a no-op.

`field_spec` is the single source of the fields' shape: setup sends it, and the SFDX source
(`sync.sfdx`) is rendered from the same spec.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from connector.protocol import CRMConnector, FieldSpec, WriteOutcome
from connector.salesforce.fields import EXISTS
from mappings import HubSpotWritebackField, SalesforceWritebackField
from sync.check import lookup, writeback_type_ok
from sync.check_types import CrmBlock, Describer, WritebackTarget, writeback_targets

GROUP = "leadq"
SLOT_TEXT: dict[str, tuple[str, str]] = {
    "score": ("leadq Score", "Lead score 0-100 from leadq: the calibrated chance of converting, times 100."),
    "tier": ("leadq Tier", "Tier A-D of the leadq score."),
    "reasons": ("leadq Reasons", "Why leadq scored this record so: the main reasons up and down, in words."),
    "recommended_action": ("leadq Recommended Action", "What leadq recommends doing next with this record."),
    "model_version": ("leadq Model Version", "The model and policy version that produced the score."),
    "scored_at": ("leadq Scored At", "When leadq last scored this record."),
    "review_decision": ("leadq Review Decision", "A reviewer's decision on the score: approve, reject or override."),
    "override": ("leadq Override Score", "A reviewer's score; it replaces leadq's until the override expires."),
    "task_key": ("leadq Key", "Idempotency key of a leadq review task or note. Do not edit."),
    "task_decision": ("leadq Review Decision", "The reviewer's decision: approve, reject or override."),
}  # fmt: skip
# Looked up by value before every task is created: an External ID (indexed) on Salesforce.
KEY_SLOTS = frozenset({"task_key"})
_SF_SPEC_TYPES = {
    "Number": "number", "Text": "text", "LongTextArea": "longtext", "Picklist": "picklist",
    "DateTime": "datetime", "Checkbox": "checkbox",
}  # fmt: skip
_HS_SPEC_TYPES = {"number": "number", "string": "text", "enumeration": "picklist", "datetime": "datetime",
                  "bool": "checkbox"}  # fmt: skip


def field_spec(target: WritebackTarget) -> FieldSpec:
    """The connector's `FieldSpec` for one writeback field, from the config's type and length."""
    spec = target.spec
    label, description = SLOT_TEXT[target.slot]
    obj, name = target.object, spec.field
    if isinstance(spec, SalesforceWritebackField):
        kind = _SF_SPEC_TYPES[spec.type]
        length = spec.max_length or 255
        return FieldSpec(obj, name, label, kind, length, spec.precision, spec.scale, spec.options,
                         description=description, group=GROUP, external_id=target.slot in KEY_SLOTS)  # fmt: skip
    assert isinstance(spec, HubSpotWritebackField)
    kind = _HS_SPEC_TYPES[spec.type]
    if kind == "text" and spec.field_type == "textarea":
        kind = "longtext"
    return FieldSpec(obj, name, label, kind, spec.max_length or 255, options=spec.options,
                     description=description, group=GROUP)  # fmt: skip


def describe_type(spec: SalesforceWritebackField | HubSpotWritebackField) -> str:
    """`Number(3,0)`, `Picklist A/B/C/D`, `string (textarea)`: a field's type as the plan shows it."""
    if isinstance(spec, SalesforceWritebackField):
        if spec.type == "Number":
            return f"Number({spec.precision},{spec.scale})"
        if spec.type in ("Text", "LongTextArea"):
            return f"{spec.type}({spec.max_length})"
        if spec.type == "Picklist":
            return f"Picklist {'/'.join(spec.options)}"
        return spec.type
    if spec.type == "enumeration":
        return f"enumeration {'/'.join(spec.options)}"
    return f"{spec.type} ({spec.field_type})" if spec.type == "string" else spec.type


class Step(StrEnum):
    """What the plan, or the run, does or did with one field."""

    CREATE = "create"  # planned
    PRESENT = "present"
    CONFLICT = "conflict"
    CREATED = "created"
    HIDDEN = "hidden"  # exists, but the integration user cannot see it (field-level security)
    FAILED = "failed"


FAILING = frozenset({Step.CONFLICT, Step.FAILED})


@dataclass(frozen=True)
class Planned:
    """One writeback field: where, its spec, what to do about it and why."""

    crm: str
    target: WritebackTarget
    spec: FieldSpec
    step: Step
    message: str = ""

    def with_step(self, step: Step, message: str) -> Planned:
        return Planned(self.crm, self.target, self.spec, step, message)


def plan(crm: str, block: CrmBlock, describe: Describer) -> list[Planned]:
    """Every writeback field of one CRM with what setup would do about it."""
    out: list[Planned] = []
    seen: set[tuple[str, str]] = set()
    for target in writeback_targets(crm, block):
        key = (target.object, target.spec.field.lower())
        if key in seen:
            continue
        seen.add(key)
        spec = field_spec(target)
        description = describe(target.object)
        if description is None:
            out.append(Planned(crm, target, spec, Step.CONFLICT,
                               f"{target.object} is not visible to the integration user: grant it access"))  # fmt: skip
            continue
        info = lookup(description, target.spec.field)
        if info is None:
            out.append(Planned(crm, target, spec, Step.CREATE, f"writeback.{target.slot}"))
        elif not writeback_type_ok(crm, target.spec, info):
            out.append(Planned(crm, target, spec, Step.CONFLICT,
                               f"exists as a {info.type}; the config writes {target.spec.type}: change or delete "
                               f"the field in the CRM, or change writeback.{target.slot}"))  # fmt: skip
        elif spec.external_id and not info.external_id:  # only Salesforce specs ask for one
            out.append(Planned(crm, target, spec, Step.PRESENT,
                               f"writeback.{target.slot}; not an External ID, so every look-up of task keys "
                               "scans all Tasks: tick External ID on the field in Setup"))  # fmt: skip
        else:
            out.append(Planned(crm, target, spec, Step.PRESENT, f"writeback.{target.slot}"))
    return out


def settled(planned: Planned, outcome: WriteOutcome) -> Planned:
    """A planned creation with the connector's outcome: created, present, hidden (FLS) or failed."""
    if outcome.ok and outcome.code == EXISTS:
        return planned.with_step(
            Step.HIDDEN,
            "exists, but the integration user cannot see it: grant it read and edit access "
            "(field-level security)",
        )
    if outcome.ok:
        return planned.with_step(Step.CREATED if outcome.created else Step.PRESENT, planned.message)
    code = f"{outcome.code}: " if outcome.code else ""
    return planned.with_step(Step.FAILED, f"{code}{outcome.message or 'not created'}")


def apply(connector: CRMConnector, planned: list[Planned]) -> list[Planned]:
    """Create the fields the plan marks `create`, in one `create_fields` call; the plan, as it went."""
    todo = [p for p in planned if p.step is Step.CREATE]
    if not todo:
        return list(planned)
    outcomes = connector.create_fields([p.spec for p in todo])
    done = {id(p): settled(p, o) for p, o in zip(todo, outcomes, strict=True)}
    return [done.get(id(p), p) for p in planned]
