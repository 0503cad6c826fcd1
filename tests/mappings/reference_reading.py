"""The record readers as they were before they took shortcuts: the oracle the fast paths must agree with.

Copied from `mappings.wire` and `mappings.mapped` (general paths only); the equivalence tests compare every
value and every problem, so a shortcut that reads anything differently fails there.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from mappings import CrmMapping, FeatureSpec, FeatureValue, FieldProblem
from mappings.config.features import normalise_category
from mappings.config.writeback import RECORD_SLOTS, TASK_SLOTS
from mappings.mapped import UnknownCategory, _decode
from mappings.wire import (
    MAX_LINE,
    BadValue,
    email_domain,
    is_free_mail,
    read_bool,
    read_date,
    read_domain,
    read_email,
    read_number,
)

_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_ID = re.compile(r"[A-Za-z0-9_\-.:]{1,255}")
_ABSENT = object()


def clean_text(value: str, *, single_line: bool = False) -> str:
    text = _UNSAFE.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))
    return " ".join(text.split()) if single_line else text.strip()


def read_text(value: Any, *, single_line: bool = False) -> str | None:
    if isinstance(value, bool | dict | list | tuple | set):
        raise BadValue(f"expected text, got {type(value).__name__}")
    if isinstance(value, int | float):
        value = format(value, "g") if isinstance(value, float) else str(value)
    if not isinstance(value, str):
        raise BadValue(f"expected text, got {type(value).__name__}")
    return clean_text(value, single_line=single_line) or None


def read_datetime(value: Any) -> datetime | None:
    try:
        if isinstance(value, datetime):
            parsed = value
        elif isinstance(value, date):
            parsed = datetime(value.year, value.month, value.day)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            parsed = datetime.fromtimestamp(value / 1000, tz=UTC)
        elif isinstance(value, str):
            text = value.strip()
            if not text:
                return None
            if text.isdigit():
                parsed = datetime.fromtimestamp(int(text) / 1000, tz=UTC)
            else:
                parsed = datetime.fromisoformat(text)
        else:
            raise BadValue(f"expected a date, got {type(value).__name__}")
        aware = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        return aware.astimezone(UTC)
    except BadValue:
        raise
    except (ValueError, OverflowError, OSError):
        raise BadValue("not a valid date or date-time") from None


def read_id(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise BadValue(f"expected an id, got {type(value).__name__}")
    text = value.strip()
    if not text:
        return None
    if not _ID.fullmatch(text):
        raise BadValue("not a valid record id")
    return text


class ReferenceReader:
    """`FieldReader` before its shortcuts (Salesforce and HubSpot shapes)."""

    def __init__(self, crm: str, raw: Mapping[str, Any], record_id: str, object_name: str) -> None:
        self.crm, self.raw, self.record_id, self.object_name = crm, raw, record_id, object_name
        self.problems: list[FieldProblem] = []
        props = raw.get("properties") if crm == "hubspot" else None
        self._properties: Mapping[str, Any] = props if isinstance(props, Mapping) else {}

    def problem(self, path: str, value: object, message: str) -> None:
        self.problems.append(FieldProblem(self.record_id, path, value, message, self.object_name))

    def lookup(self, path: str) -> Any:
        if isinstance(self.raw, Mapping) and "." in path and path in self.raw:
            return self.raw[path]  # a flattened relationship field (`Account.Name`)
        node: Any = self.raw
        for depth, part in enumerate(path.split(".")):
            if not isinstance(node, Mapping):
                return _ABSENT
            props = self._properties if depth == 0 else node.get("properties")
            if isinstance(props, Mapping) and part in props:
                node = props[part]
            elif part in node:
                node = node[part]
            else:
                return _ABSENT
        return node

    def get(self, path: str) -> Any:
        value = self.lookup(path)
        return None if value is _ABSENT else value

    def _read(self, path: str, reader: Any, **kwargs: Any) -> Any:
        value = self.get(path)
        if value is None:
            return None
        try:
            return reader(value, **kwargs)
        except BadValue as exc:
            self.problem(path, value, str(exc))
            return None

    def text(self, path: str, *, single_line: bool = True) -> str | None:
        value = self._read(path, read_text, single_line=single_line)
        if single_line and value is not None and len(value) > MAX_LINE:
            self.problem(path, value, f"longer than {MAX_LINE} characters; cut")
            value = value[: MAX_LINE - 1] + "…"
        return value  # type: ignore[no-any-return]

    def number(self, path: str) -> float | None:
        return self._read(path, read_number)  # type: ignore[no-any-return]

    def boolean(self, path: str, default: bool = False) -> bool:
        value = self._read(path, read_bool)
        return default if value is None else bool(value)

    def timestamp(self, path: str) -> datetime | None:
        return self._read(path, read_datetime)  # type: ignore[no-any-return]

    def calendar_date(self, path: str) -> date | None:
        return self._read(path, read_date)  # type: ignore[no-any-return]

    def id(self, path: str) -> str | None:
        return self._read(path, read_id)  # type: ignore[no-any-return]

    def email(self, path: str) -> str | None:
        return self._read(path, read_email)  # type: ignore[no-any-return]

    def domain(self, path: str) -> str | None:
        return self._read(path, read_domain)  # type: ignore[no-any-return]


def feature_values(reader: ReferenceReader, mapping: CrmMapping, now: datetime) -> dict[str, FeatureValue]:
    values: dict[str, FeatureValue] = {}
    for feature in mapping.features:
        path = feature.field_for(reader.object_name)
        if path is None:
            continue
        raw = reader.get(path)
        try:
            value = _feature_value(feature, raw, now)
        except UnknownCategory as exc:
            reader.problem(path, raw, f"feature {feature.name}: {exc}")
            value = exc.value
        except BadValue as exc:
            reader.problem(path, raw, f"feature {feature.name}: {exc}")
            value = None
        if feature.type == "category" and isinstance(value, str) and len(value) > MAX_LINE:
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
        if age < -1:
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
    reader: ReferenceReader, mapping: CrmMapping, *, task: bool = False
) -> tuple[dict[str, object], dict[str, object]]:
    decoded: dict[str, object] = {}
    raw_values: dict[str, object] = {}
    for slot in TASK_SLOTS if task else RECORD_SLOTS:
        spec = mapping.writeback.field_for(slot)
        if reader.lookup(spec.field) is _ABSENT:
            continue
        raw = reader.get(spec.field)
        raw_values[slot] = raw
        try:
            decoded[slot] = _decode(spec.kind, slot, raw)
        except BadValue as exc:
            reader.problem(spec.field, raw, f"{slot}: {exc}")
            decoded[slot] = None
    return decoded, raw_values
