"""The mapping-driven part of reading a record: feature values, writeback values, activity kinds."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, TypedDict

from mappings.config.base import Crm
from mappings.config.crm import ActivityKind, CrmMapping
from mappings.config.features import FeatureSpec, FeatureValue, normalise_category
from mappings.config.writeback import RECORD_SLOTS, TASK_SLOTS
from mappings.records import ReviewDecision
from mappings.wire import (
    MAX_LINE,
    BadValue,
    FieldReader,
    email_domain,
    is_free_mail,
    read_bool,
    read_datetime,
    read_email,
    read_number,
    read_text,
)

_DECISIONS: dict[str, ReviewDecision] = {
    "approve": "approve", "approved": "approve", "accept": "approve", "accepted": "approve",
    "reject": "reject", "rejected": "reject", "decline": "reject", "declined": "reject",
    "override": "override", "overridden": "override", "override score": "override",
}  # fmt: skip
_TASK_KEY_MARKER = re.compile(r"\[leadq:([A-Za-z0-9_\-.:]{1,120})\]")


class Common(TypedDict):
    """The fields every canonical record has, read the same way for each object of a CRM."""

    crm: Crm
    id: str
    deleted: bool
    modified_at: datetime | None


class UnknownCategory(BadValue):
    """A picklist value the feature's `categories` do not list."""

    def __init__(self, value: str) -> None:
        super().__init__("value not in the feature's categories (add it to categories or values)")
        self.value = value


def feature_values(reader: FieldReader, mapping: CrmMapping, now: datetime) -> dict[str, FeatureValue]:
    """Every feature that applies to the record's object, by name; unreadable values read as missing."""
    values: dict[str, FeatureValue] = {}
    for feature in mapping.features:
        path = feature.field_for(reader.object_name)
        if path is None:
            continue
        raw = reader.get(path)
        try:
            value = _feature_value(feature, raw, now)
        except UnknownCategory as exc:
            # Kept: a new picklist value is still information; the problem tells the admin to map it.
            reader.problem(path, raw, f"feature {feature.name}: {exc}")
            value = exc.value
        except BadValue as exc:
            reader.problem(path, raw, f"feature {feature.name}: {exc}")
            value = None
        if feature.type == "category" and isinstance(value, str) and len(value) > MAX_LINE:
            # A picklist value this long is junk, and it would travel into explanations and policies.
            reader.problem(path, raw, f"feature {feature.name}: longer than {MAX_LINE} characters; cut")
            value = value[: MAX_LINE - 1] + "…"
        values[feature.name] = feature.missing_value if value is None else value
    return values


def _feature_value(feature: FeatureSpec, raw: Any, now: datetime) -> FeatureValue:
    if raw is None:
        return None
    if feature.transform == "age_days":
        moment = read_datetime(raw)
        if moment is None:
            return None
        age = (now - moment).total_seconds() / 86_400
        if age < -1:  # a day of clock skew is not worth a problem
            raise BadValue("date is in the future")
        return round(max(age, 0.0), 2)
    if feature.transform in ("email_domain", "free_email"):
        domain = email_domain(read_email(raw))
        return is_free_mail(domain) if feature.transform == "free_email" and domain else domain
    if feature.type == "number":
        return read_number(raw)
    if feature.type == "boolean":
        return read_bool(raw)
    if feature.type == "date":
        return read_datetime(raw)
    text = read_text(raw, single_line=feature.type == "category")
    if text is None or feature.type == "text":
        return text
    return _category(feature, text)


def _category(feature: FeatureSpec, text: str) -> str:
    key = normalise_category(text)
    if key in feature.values:
        return feature.values[key]
    for known in feature.categories:
        if normalise_category(known) == key:
            return known
    if feature.categories:
        raise UnknownCategory(text)
    return text


def writeback_values(
    reader: FieldReader, mapping: CrmMapping, *, task: bool = False
) -> tuple[dict[str, object], dict[str, object]]:
    """Our writeback fields as the record carries them: (decoded by slot, raw by slot).

    Fields the record does not carry are left out of both, so "not queried" never looks like "cleared".
    """
    decoded: dict[str, object] = {}
    raw_values: dict[str, object] = {}
    for slot in TASK_SLOTS if task else RECORD_SLOTS:
        spec = mapping.writeback.field_for(slot)
        if not reader.has(spec.field):
            continue
        raw = reader.get(spec.field)
        raw_values[slot] = raw
        try:
            decoded[slot] = _decode(spec.kind, slot, raw)
        except BadValue as exc:
            reader.problem(spec.field, raw, f"{slot}: {exc}")
            decoded[slot] = None
    return decoded, raw_values


def _decode(kind: str, slot: str, raw: Any) -> object:
    if raw is None:
        return None
    if kind == "number":
        return read_number(raw)
    if kind == "datetime":
        return read_datetime(raw)
    if kind == "boolean":
        return read_bool(raw)
    # Text is only cleaned, not re-spaced: it is compared with what we wrote to spot a person's edits.
    text = read_text(raw)
    if text is not None and slot in ("review_decision", "task_decision"):
        return review_decision(text)
    return text


def review_decision(value: str | None) -> ReviewDecision | None:
    """A reviewer's decision from a picklist value (any case), None when empty; unknown raises BadValue."""
    if value is None or not value.strip():
        return None
    decision = _DECISIONS.get(normalise_category(value))
    if decision is None:
        raise BadValue("not a review decision (approve, reject or override)")
    return decision


def decision_of(value: object) -> ReviewDecision | None:
    """A decoded decision value as the `ReviewDecision` type (None for anything else)."""
    return _DECISIONS.get(value) if isinstance(value, str) else None


def task_key(reader: FieldReader, mapping: CrmMapping, *text_paths: str) -> str | None:
    """The idempotency key of a review task: our key field, else a `[leadq:KEY]` marker in its text."""
    key = reader.text(mapping.writeback.field_for("task_key").field)
    if key:
        return key
    for path in text_paths:
        value = reader.get(path)
        if isinstance(value, str):
            match = _TASK_KEY_MARKER.search(value)
            if match:
                return match.group(1)
    return None


def activity_kind(
    mapping: CrmMapping, types: tuple[str | None, ...], subject: str | None, default: ActivityKind
) -> ActivityKind:
    """Kind from the first type value the mapping knows, else the subject's prefix, else `default`."""
    for value in types:
        if value:
            kind = mapping.activity_types.get(normalise_category(value))
            if kind:
                return kind
    if subject:
        normalised = normalise_category(subject)
        for prefix, kind in mapping.subject_prefixes.items():
            if normalised.startswith(prefix):
                return kind
    return default


def utc_now() -> datetime:
    """The current time in UTC (the reference for age features)."""
    return datetime.now(UTC)
