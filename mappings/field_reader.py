"""`FieldReader`: the fields of one raw CRM record, read with `mappings.wire`'s readers.

Every value it cannot read becomes a `FieldProblem` and reads as None, so one bad field never costs the
record and one bad record never costs the batch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

from mappings.problems import FieldProblem
from mappings.wire import (
    ABSENT,
    MAPPING_TYPES,
    MAX_LINE,
    STAMPS,
    BadValue,
    bare_stamp,
    plain_id,
    read_bool,
    read_date,
    read_datetime,
    read_domain_remembered,
    read_email_remembered,
    read_id,
    read_number,
    read_text,
    remember,
    share_id,
)

_NO_PROPERTIES: dict[str, Any] = {}  # shared, never written: a record without HubSpot `properties`
_LINES: dict[str, str | None] = {}  # plain printable text of at most MAX_LINE -> its single-line reading


class FieldReader:
    """Reads the fields of one raw record, collecting problems instead of raising."""

    __slots__ = (
        "_properties",
        "_raw_is_mapping",
        "crm",
        "flat",
        "object_name",
        "problems",
        "raw",
        "record_id",
    )

    def __init__(self, crm: str, raw: Mapping[str, Any], record_id: str, object_name: str) -> None:
        self.crm = crm
        self.raw = raw
        self.record_id = record_id
        self.object_name = object_name
        self.problems: list[FieldProblem] = []
        # A plain dict without `properties` (every Salesforce record, flattened HubSpot ones) reads a plain
        # field with one `dict.get`, which is what `get` answers for it. Public for the mapping-driven
        # readers (`mappings.mapped`): `flat.get(path, ABSENT)` is `lookup(path)` for a path without a dot.
        self.flat: dict[str, Any] | None
        self._properties: Mapping[str, Any]
        if type(raw) is dict and (crm != "hubspot" or "properties" not in raw):
            self.flat, self._properties, self._raw_is_mapping = raw, _NO_PROPERTIES, True
            return
        props = raw.get("properties") if crm == "hubspot" else None
        self._properties = props if isinstance(props, MAPPING_TYPES) else _NO_PROPERTIES
        self._raw_is_mapping = isinstance(raw, MAPPING_TYPES)
        self.flat = raw if type(raw) is dict and self._properties is _NO_PROPERTIES else None

    def problem(self, path: str, value: object, message: str) -> None:
        """Record that `path` holds `value`, which is unusable for `message`."""
        self.problems.append(FieldProblem(self.record_id, path, value, message, self.object_name))

    def get(self, path: str) -> Any:
        """The raw value at a field path (`Industry`, `Account.Industry`); None when absent."""
        flat = self.flat
        if flat is not None and "." not in path:
            return flat.get(path)
        if "." not in path:  # the common case, read without walking (same answer as `lookup`)
            if path in self._properties:
                return self._properties[path]
            raw = self.raw
            return raw[path] if self._raw_is_mapping and path in raw else None
        value = self.lookup(path)
        return None if value is ABSENT else value

    def has(self, path: str) -> bool:
        """Whether the record carries the field at all (a null counts as carried)."""
        return self.lookup(path) is not ABSENT

    def lookup(self, path: str) -> Any:
        """Like `get`, but a field the record does not carry reads as the `ABSENT` sentinel."""
        flat = self.flat
        if flat is not None and "." not in path:
            return flat.get(path, ABSENT)
        if "." not in path:  # the common case, read without walking (same answer as the walk below)
            if path in self._properties:
                return self._properties[path]
            raw = self.raw
            return raw[path] if self._raw_is_mapping and path in raw else ABSENT
        if self._raw_is_mapping and path in self.raw:
            # The Salesforce connector flattens relationship fields into one key (`Account.Name`).
            return self.raw[path]
        node: Any = self.raw
        for depth, part in enumerate(path.split(".")):
            if not isinstance(node, Mapping):
                return ABSENT
            # HubSpot keeps fields under `properties`, also in related records nested by the connector.
            props = self._properties if depth == 0 else node.get("properties")
            if isinstance(props, Mapping) and part in props:
                node = props[part]
            elif part in node:
                node = node[part]
            else:
                return ABSENT
        return node

    def _read(self, path: str, reader: Callable[[Any], Any]) -> Any:
        value = self.get(path)
        if value is None:
            return None
        try:
            return reader(value)
        except BadValue as exc:
            self.problem(path, value, str(exc))
            return None

    # The readers below answer the common wire shapes inline (plain text, well-formed ids and ISO stamps,
    # JSON booleans) and hand everything else to the general readers, which own the problems.
    def text(self, path: str, *, single_line: bool = True) -> str | None:
        """Text; a single-line value longer than `MAX_LINE` is cut (and reported)."""
        flat = self.flat  # `get`, inlined
        raw = flat.get(path) if flat is not None and "." not in path else self.get(path)
        if raw is None:
            return None
        if type(raw) is str:
            if single_line:
                line = _LINES.get(raw, ABSENT)
                if line is not ABSENT:
                    return line  # type: ignore[return-value]
            if len(raw) <= MAX_LINE and raw.isprintable():
                if not single_line:
                    return raw.strip(" ") or None
                # Printable text has no whitespace but the plain space: without a leading, trailing or
                # doubled one, it is already its own single-line reading (cheaper than split and join).
                if raw and raw[0] != " " and raw[-1] != " " and "  " not in raw:
                    return remember(_LINES, raw, raw)
                return remember(_LINES, raw, " ".join(raw.split()) or None)
        try:
            value = read_text(raw, single_line=single_line)
        except BadValue as exc:
            self.problem(path, raw, str(exc))
            return None
        if single_line and value is not None and len(value) > MAX_LINE:
            self.problem(path, value, f"longer than {MAX_LINE} characters; cut")
            value = value[: MAX_LINE - 1] + "…"
        return value

    def number(self, path: str) -> float | None:
        """A finite number."""
        return self._read(path, read_number)  # type: ignore[no-any-return]

    def boolean(self, path: str, default: bool = False) -> bool:
        """A boolean; absent or empty reads as `default`."""
        flat = self.flat  # `get`, inlined
        raw = flat.get(path) if flat is not None and "." not in path else self.get(path)
        if raw is True or raw is False:
            return raw
        value = None if raw is None else self._read(path, read_bool)
        return default if value is None else bool(value)

    def timestamp(self, path: str) -> datetime | None:
        """A UTC datetime."""
        flat = self.flat  # `get`, inlined
        raw = flat.get(path) if flat is not None and "." not in path else self.get(path)
        if raw is None:
            return None
        if type(raw) is str:
            # `bare_stamp`'s remembered readings, looked up without calling it: stamps repeat a lot.
            moment = STAMPS.get(raw) or bare_stamp(raw)
            if moment is not None:
                return moment
        return self._read(path, read_datetime)  # type: ignore[no-any-return]

    def calendar_date(self, path: str) -> date | None:
        """A calendar date."""
        return self._read(path, read_date)  # type: ignore[no-any-return]

    def id(self, path: str) -> str | None:
        """A record id."""
        flat = self.flat  # `get`, inlined
        raw = flat.get(path) if flat is not None and "." not in path else self.get(path)
        # `plain_id`'s first test inlined: it answers almost every id (`plain_id` answers the rest).
        if type(raw) is str and ((raw.isalnum() and raw.isascii() and len(raw) <= 255) or plain_id(raw)):
            return raw
        return None if raw is None else self._read(path, read_id)

    def shared_id(self, path: str) -> str | None:
        """`id`, for the ids of others many records name (owners, accounts): shared (`wire.share_id`)."""
        value = self.id(path)
        return None if value is None else share_id(value)

    def email(self, path: str) -> str | None:
        """An email address."""
        return self._read(path, read_email_remembered)  # type: ignore[no-any-return]

    def domain(self, path: str) -> str | None:
        """A website's host."""
        return self._read(path, read_domain_remembered)  # type: ignore[no-any-return]

    def first_timestamp(self, *paths: str) -> datetime | None:
        """The first of several date fields that holds a date."""
        flat = self.flat
        for path in paths:
            if flat is not None and "." not in path:
                # `timestamp`'s two commonest answers without calling it: no value, a remembered stamp.
                raw = flat.get(path)
                if raw is None:
                    continue
                moment = STAMPS.get(raw) if type(raw) is str else None
                if moment is not None:
                    return moment
            value = self.timestamp(path)
            if value is not None:
                return value
        return None
