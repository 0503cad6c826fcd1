"""The mapping-driven part of reading a record: feature values, writeback values, activity kinds."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from mappings.config.crm import ActivityKind, CrmMapping
from mappings.config.features import FeatureSpec, FeatureValue, normalise_category
from mappings.config.writeback import RECORD_SLOTS, TASK_SLOTS
from mappings.field_reader import FieldReader
from mappings.records import ReviewDecision
from mappings.rows import Row, row_index
from mappings.wire import (
    ABSENT,
    MAX_LINE,
    STAMPS,
    BadValue,
    email_domain,
    is_free_mail,
    read_bool,
    read_datetime,
    read_email_remembered,
    read_number,
    read_text,
    remember,
)

_DECISIONS: dict[str, ReviewDecision] = {
    "approve": "approve", "approved": "approve", "accept": "approve", "accepted": "approve",
    "reject": "reject", "rejected": "reject", "decline": "reject", "declined": "reject",
    "override": "override", "overridden": "override", "override score": "override",
}  # fmt: skip
_TASK_KEY_MARKER = re.compile(r"\[leadq:([A-Za-z0-9_\-.:]{1,120})\]")
Outcome = tuple[FeatureValue, tuple[str, ...]]  # a feature's value and the problem messages reading it gave


class UnknownCategory(BadValue):
    """A picklist value the feature's `categories` do not list."""

    def __init__(self, value: str) -> None:
        super().__init__("value not in the feature's categories (add it to categories or values)")
        self.value = value


@dataclass(frozen=True, slots=True)
class _Feature:
    """A feature resolved for one object: its field path and its reading, decided once per mapping."""

    spec: FeatureSpec
    name: str
    path: str
    plain: bool  # a path without a dot, which a flat record answers with one `dict.get`
    read: Callable[[Any, datetime], FeatureValue]
    missing: FeatureValue
    is_category: bool
    # Outcomes by raw text, for features whose reading depends on the value alone (not on `now`); for a
    # plain number feature (`numeric`), by raw number too.
    outcomes: dict[str | int | float, Outcome] | None
    numeric: bool


@dataclass(frozen=True, slots=True)
class _Plan:
    """What a mapping asks of one object's records, resolved once instead of per record and field."""

    features: tuple[_Feature, ...]
    index: dict[str, int]  # the features' names as a `Row` index, shared by every record of the object
    record_slots: tuple[tuple[str, str, str, bool], ...]  # (slot, field, kind, field has no dot)
    task_slots: tuple[tuple[str, str, str, bool], ...]
    task_key_field: str


_PLANS: dict[tuple[int, str], tuple[CrmMapping, _Plan]] = {}
_MAX_PLANS = 64
_LAST_PLAN: list[tuple[CrmMapping, str, _Plan]] = []


def _plan(mapping: CrmMapping, object_name: str) -> _Plan:
    # Keyed by identity: config models are frozen, and the entry holds the mapping so its id stays unique.
    if _LAST_PLAN:
        last_mapping, last_object, last_plan = _LAST_PLAN[0]
        if last_mapping is mapping and last_object == object_name:
            return last_plan  # a batch asks for the same plan once per record
    key = (id(mapping), object_name)
    hit = _PLANS.get(key)
    if hit is not None and hit[0] is mapping:
        _LAST_PLAN[:] = [(mapping, object_name, hit[1])]
        return hit[1]
    features = tuple(
        _Feature(
            spec,
            spec.name,
            path,
            "." not in path,
            _reading(spec),
            spec.missing_value,
            spec.type == "category",
            # Ages depend on `now`; addresses are one per person, so remembering them here gains nothing.
            None if spec.transform in ("age_days", "email_domain", "free_email") else {},
            spec.type == "number" and spec.transform is None,
        )
        for spec in mapping.features
        if (path := spec.field_for(object_name)) is not None
    )

    def slots(names: tuple[str, ...]) -> tuple[tuple[str, str, str, bool], ...]:
        fields = ((slot, mapping.writeback.field_for(slot)) for slot in names)
        return tuple((slot, f.field, f.kind, "." not in f.field) for slot, f in fields)

    plan = _Plan(
        features,
        row_index(tuple(feature.name for feature in features)),  # distinct: the config rejects repeats
        slots(RECORD_SLOTS),
        slots(TASK_SLOTS),
        mapping.writeback.field_for("task_key").field,
    )
    if len(_PLANS) >= _MAX_PLANS:
        _PLANS.clear()
    _PLANS[key] = (mapping, plan)
    _LAST_PLAN[:] = [(mapping, object_name, plan)]
    return plan


def feature_values(reader: FieldReader, mapping: CrmMapping, now: datetime) -> Row[FeatureValue]:
    """Every feature that applies to the record's object, by name; unreadable values read as missing.

    A `Row` (a compact read-only mapping) rather than a dict: the world keeps one for each person.
    """
    values: list[FeatureValue] = []
    append = values.append
    flat = reader.flat
    plan = _plan(mapping, reader.object_name)
    for feature in plan.features:
        path = feature.path
        # `reader.get`, inlined for the common case: a record reads a dozen features.
        raw = flat.get(path) if flat is not None and feature.plain else reader.get(path)
        if raw is None:
            append(feature.missing)
            continue
        outcomes = feature.outcomes
        kind = type(raw)
        # Numbers too: the world keeps each person's, and a number read anew is a float of its own, where
        # one remembered is shared by every record holding it (a company's head count on each of its
        # people). Not zeros: -0.0 equals 0 as a key but reads as itself (ints and floats equal as keys
        # read as the same float; booleans, which a number feature rejects, are neither type).
        by_value = kind is str or (feature.numeric and (kind is float or kind is int) and raw != 0)
        if outcomes is not None and by_value:
            outcome = outcomes.get(raw)
            if outcome is None:
                outcome = remember(outcomes, raw, _outcome(feature, raw, now))
        else:
            outcome = _outcome(feature, raw, now)
        value, messages = outcome
        for message in messages:
            reader.problem(path, raw, message)
        append(value)
    return Row(plan.index, tuple(values))


def _outcome(feature: _Feature, raw: Any, now: datetime) -> Outcome:
    """What a non-null raw value of `feature` reads as, and the problems reading it gave."""
    messages: tuple[str, ...] = ()
    try:
        value = feature.read(raw, now)
    except UnknownCategory as exc:
        # Kept: a new picklist value is still information; the problem tells the admin to map it.
        messages = (f"feature {feature.name}: {exc}",)
        value = exc.value
    except BadValue as exc:
        messages = (f"feature {feature.name}: {exc}",)
        value = None
    if feature.is_category and isinstance(value, str) and len(value) > MAX_LINE:
        # A picklist value this long is junk, and it would travel into explanations and policies.
        messages = (*messages, f"feature {feature.name}: longer than {MAX_LINE} characters; cut")
        value = value[: MAX_LINE - 1] + "…"
    return (feature.missing if value is None else value), messages


def _feature_value(feature: FeatureSpec, raw: Any, now: datetime) -> FeatureValue:
    """One feature's canonical value from a raw value (the general form of what `_reading` specialises)."""
    if raw is None:
        return None
    return _reading(feature)(raw, now)


def _reading(feature: FeatureSpec) -> Callable[[Any, datetime], FeatureValue]:
    """How a non-null raw value of `feature` reads, chosen once per feature (BadValue when it does not)."""
    if feature.transform == "age_days":
        return _age_days
    if feature.transform == "email_domain":
        return lambda raw, now: email_domain(read_email_remembered(raw))
    if feature.transform == "free_email":
        return _free_email
    if feature.type == "number":
        return lambda raw, now: read_number(raw)
    if feature.type == "boolean":
        return lambda raw, now: read_bool(raw)
    if feature.type == "date":
        return lambda raw, now: read_datetime(raw)
    if feature.type == "text":
        return lambda raw, now: read_text(raw)
    # Categories: the admin's values, then the listed categories compared normalised (first listed wins).
    known: dict[str, str] = {}
    for listed in feature.categories:
        known.setdefault(normalise_category(listed), listed)
    values = dict(feature.values)
    strict = bool(feature.categories)

    def category(raw: Any, now: datetime) -> FeatureValue:
        text = read_text(raw, single_line=True)
        if text is None:
            return None
        key = normalise_category(text)
        if key in values:
            return values[key]
        if key in known:
            return known[key]
        if strict:
            raise UnknownCategory(text)
        return text

    return category


def _age_days(raw: Any, now: datetime) -> FeatureValue:
    # `read_datetime`'s remembered readings first (most ages read a stamp the record builder just read).
    moment = STAMPS.get(raw) if type(raw) is str else None
    if moment is None:
        moment = read_datetime(raw)
    if moment is None:
        return None
    age = (now - moment).total_seconds() / 86_400
    if age < -1:  # a day of clock skew is not worth a problem
        raise BadValue("date is in the future")
    return round(max(age, 0.0), 2)


def _free_email(raw: Any, now: datetime) -> FeatureValue:
    domain = email_domain(read_email_remembered(raw))
    return is_free_mail(domain) if domain else domain


def writeback_values(
    reader: FieldReader, mapping: CrmMapping, *, task: bool = False
) -> tuple[dict[str, object], dict[str, object]]:
    """Our writeback fields as the record carries them: (decoded by slot, raw by slot).

    Fields the record does not carry are left out of both, so "not queried" never looks like "cleared".
    """
    decoded: dict[str, object] = {}
    raw_values: dict[str, object] = {}
    plan = _plan(mapping, reader.object_name)
    flat = reader.flat
    for slot, field, kind, plain in plan.task_slots if task else plan.record_slots:
        # `reader.lookup`, inlined for the common case, as in `feature_values`.
        raw = flat.get(field, ABSENT) if flat is not None and plain else reader.lookup(field)
        if raw is ABSENT:
            continue
        raw_values[slot] = raw
        if raw is None:
            decoded[slot] = None
            continue
        try:
            decoded[slot] = _decode(kind, slot, raw)
        except BadValue as exc:
            reader.problem(field, raw, f"{slot}: {exc}")
            decoded[slot] = None
    if all(raw is None for raw in raw_values.values()):
        # Nothing written yet (all of a first pull): every such record shares one mapping of its slots for
        # both, instead of two dicts each (~540 bytes a person; records are frozen, nothing mutates them).
        unwritten = _unwritten(tuple(raw_values))
        return unwritten, unwritten
    return decoded, raw_values


@lru_cache(maxsize=64)
def _unwritten(slots: tuple[str, ...]) -> dict[str, object]:
    return dict.fromkeys(slots)


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
    key = reader.text(_plan(mapping, reader.object_name).task_key_field)
    if key:
        return key
    for path in text_paths:
        value = reader.get(path)
        if isinstance(value, str) and "[leadq:" in value:  # the marker's literal part, checked cheaply first
            match = _TASK_KEY_MARKER.search(value)
            if match:
                return match.group(1)
    return None


_KINDS: list[tuple[CrmMapping, dict[tuple[Any, ...], ActivityKind]]] = []


def activity_kind(
    mapping: CrmMapping, types: tuple[str | None, ...], subject: str | None, default: ActivityKind
) -> ActivityKind:
    """Kind from the first type value the mapping knows, else the subject's prefix, else `default`."""
    # A pull asks the same few questions of one mapping over and over: the answers are remembered.
    if _KINDS and _KINDS[0][0] is mapping:
        known = _KINDS[0][1]
    else:
        known = {}
        _KINDS[:] = [(mapping, known)]
    key = (types, subject, default)
    kind = known.get(key)
    if kind is not None:
        return kind
    return remember(known, key, _activity_kind(mapping, types, subject, default))


def _activity_kind(
    mapping: CrmMapping, types: tuple[str | None, ...], subject: str | None, default: ActivityKind
) -> ActivityKind:
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
