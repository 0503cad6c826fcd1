"""The fields leadq writes into each CRM, with their CRM types and length limits."""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from mappings.config.base import NonEmptyStr, StrictModel, invalid
from mappings.defaults import default_mapping_data

WritebackKind = Literal["number", "text", "picklist", "datetime", "boolean"]
RecordSlot = Literal[
    "score",
    "tier",
    "reasons",
    "recommended_action",
    "model_version",
    "scored_at",
    "review_decision",
    "override",
]
RECORD_SLOTS: tuple[RecordSlot, ...] = (
    "score", "tier", "reasons", "recommended_action", "model_version", "scored_at", "review_decision", "override",
)  # fmt: skip
TaskSlot = Literal["task_key", "task_decision"]
TASK_SLOTS: tuple[TaskSlot, ...] = ("task_key", "task_decision")
SLOTS: tuple[str, ...] = (*RECORD_SLOTS, *TASK_SLOTS)
# What each slot holds; a field of another kind could not carry it.
SLOT_KINDS: dict[str, tuple[WritebackKind, ...]] = {
    "score": ("number",),
    "tier": ("picklist", "text"),
    "reasons": ("text",),
    "recommended_action": ("text", "picklist"),
    "model_version": ("text",),
    "scored_at": ("datetime",),
    "review_decision": ("picklist", "text"),
    "override": ("number",),
    "task_key": ("text",),
    "task_decision": ("picklist", "text"),
}

_SF_KINDS: dict[str, WritebackKind] = {
    "Number": "number", "Text": "text", "LongTextArea": "text", "Picklist": "picklist", "DateTime": "datetime",
    "Checkbox": "boolean",
}  # fmt: skip
_HS_KINDS: dict[str, WritebackKind] = {
    "number": "number", "string": "text", "enumeration": "picklist", "datetime": "datetime", "bool": "boolean",
}  # fmt: skip
_HS_FIELD_TYPES = {
    "number": "number", "string": "text", "enumeration": "select", "datetime": "date", "bool": "booleancheckbox",
}  # fmt: skip
SALESFORCE_TEXT_MAX = 255
SALESFORCE_LONG_TEXT_MAX = 131_072
HUBSPOT_TEXT_MAX = 65_536


class SalesforceWritebackField(StrictModel):
    """A custom field on the Lead/Contact (or Task) as Salesforce metadata describes it."""

    field: NonEmptyStr
    type: Literal["Number", "Text", "LongTextArea", "Picklist", "DateTime", "Checkbox"]
    length: int | None = Field(default=None, ge=1)
    precision: int = Field(default=18, ge=1, le=18)
    scale: int = Field(default=0, ge=0, le=17)
    options: tuple[NonEmptyStr, ...] = ()

    @model_validator(mode="after")
    def _shape(self) -> SalesforceWritebackField:
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*__c", self.field):
            raise invalid(
                f"{self.field!r} is not a Salesforce custom field API name",
                "custom fields end in __c, e.g. leadq_Score__c",
                at=("field",),
            )
        if self.type == "Text" and not 1 <= (self.length or SALESFORCE_TEXT_MAX) <= SALESFORCE_TEXT_MAX:
            raise invalid(
                "a Text field holds at most 255 characters", "use type: LongTextArea", at=("length",)
            )
        if self.type == "LongTextArea" and (self.length or 0) > SALESFORCE_LONG_TEXT_MAX:
            raise invalid("a LongTextArea holds at most 131072 characters", "lower length", at=("length",))
        if self.scale > self.precision:
            raise invalid("scale is larger than precision", "lower scale", at=("scale",))
        return self

    @property
    def kind(self) -> WritebackKind:
        """What the field holds, independent of the CRM."""
        return _SF_KINDS[self.type]

    @property
    def max_length(self) -> int | None:
        """Characters the field keeps; longer text is truncated before it is sent."""
        if self.type == "Text":
            return self.length or SALESFORCE_TEXT_MAX
        if self.type == "LongTextArea":
            return self.length or 32_768
        return None


class HubSpotWritebackField(StrictModel):
    """A contact (or task) property as HubSpot's properties API describes it."""

    field: NonEmptyStr
    type: Literal["number", "string", "enumeration", "datetime", "bool"]
    field_type: Literal["number", "text", "textarea", "select", "radio", "date", "booleancheckbox"] | None = (
        None
    )
    length: int | None = Field(default=None, ge=1, le=HUBSPOT_TEXT_MAX)
    options: tuple[NonEmptyStr, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _default_field_type(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("field_type") is None and data.get("type") in _HS_FIELD_TYPES:
            return {**data, "field_type": _HS_FIELD_TYPES[data["type"]]}
        return data

    @model_validator(mode="after")
    def _shape(self) -> HubSpotWritebackField:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", self.field):
            raise invalid(
                f"{self.field!r} is not a HubSpot property name",
                "property names are lower-case letters, digits and _, e.g. leadq_score",
                at=("field",),
            )
        return self

    @property
    def kind(self) -> WritebackKind:
        """What the field holds, independent of the CRM."""
        return _HS_KINDS[self.type]

    @property
    def max_length(self) -> int | None:
        """Characters the property keeps; longer text is truncated before it is sent."""
        return (self.length or HUBSPOT_TEXT_MAX) if self.type == "string" else None


WritebackField = SalesforceWritebackField | HubSpotWritebackField


def _with_default_slots(crm: str, data: Any) -> Any:
    """Fill slots the admin left out from the shipped defaults; a bare string renames a default field."""
    if not isinstance(data, dict):
        return data
    defaults = default_mapping_data(crm)["writeback"]
    merged = {**defaults, **data}
    for slot in SLOTS:
        if isinstance(merged.get(slot), str) and isinstance(defaults.get(slot), dict):
            merged[slot] = {**defaults[slot], "field": merged[slot]}
    return merged


class _WritebackChecks(StrictModel):
    crm: ClassVar[str]

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any) -> Any:
        return _with_default_slots(cls.crm, data)

    @model_validator(mode="after")
    def _slots(self) -> _WritebackChecks:
        for slot in SLOTS:
            spec = self.field_for(slot)
            if spec.kind not in SLOT_KINDS[slot]:
                raise invalid(
                    f"{slot} needs a {' or '.join(SLOT_KINDS[slot])} field, not {spec.type}",
                    "change the field's type",
                    at=(slot, "type"),
                )
        for group in (RECORD_SLOTS, TASK_SLOTS):
            seen: dict[str, str] = {}
            for slot in group:
                name = self.field_for(slot).field
                if name in seen:
                    raise invalid(
                        f"{slot} and {seen[name]} both write to {name!r}",
                        "give every writeback slot its own field",
                        at=(slot, "field"),
                    )
                seen[name] = slot
        return self

    def field_for(self, slot: str) -> WritebackField:
        """The field a slot (score, tier, ..., task_key, task_decision) is written to."""
        if slot not in SLOTS:
            raise KeyError(f"unknown writeback slot {slot!r}; slots are {', '.join(SLOTS)}")
        spec = getattr(self, slot)
        assert isinstance(spec, SalesforceWritebackField | HubSpotWritebackField)
        return spec

    def fields(self) -> dict[str, WritebackField]:
        """Every record slot with its field (task slots excluded)."""
        return {slot: self.field_for(slot) for slot in RECORD_SLOTS}


class SalesforceWriteback(_WritebackChecks):
    """Where scores land in Salesforce: custom fields on Lead/Contact, plus review-task fields on Task."""

    crm: ClassVar[str] = "salesforce"

    objects: tuple[Literal["Lead", "Contact"], ...] = ("Lead", "Contact")
    create_review_tasks: bool = True
    score: SalesforceWritebackField
    tier: SalesforceWritebackField
    reasons: SalesforceWritebackField
    recommended_action: SalesforceWritebackField
    model_version: SalesforceWritebackField
    scored_at: SalesforceWritebackField
    review_decision: SalesforceWritebackField
    override: SalesforceWritebackField
    task_key: SalesforceWritebackField
    task_decision: SalesforceWritebackField


class HubSpotWriteback(_WritebackChecks):
    """Where scores land in HubSpot: contact properties, plus review-task properties on tasks."""

    crm: ClassVar[str] = "hubspot"

    objects: tuple[Literal["contacts"], ...] = ("contacts",)
    create_review_tasks: bool = True
    score: HubSpotWritebackField
    tier: HubSpotWritebackField
    reasons: HubSpotWritebackField
    recommended_action: HubSpotWritebackField
    model_version: HubSpotWritebackField
    scored_at: HubSpotWritebackField
    review_decision: HubSpotWritebackField
    override: HubSpotWritebackField
    task_key: HubSpotWritebackField
    task_decision: HubSpotWritebackField
