"""`GET sobjects/<Object>/describe`, cached per cycle, and checking field names against it.

Field names reach SOQL and JSON bodies only after they are found in describe (or, for the far end of a
relationship path, match a strict identifier pattern), so no value from config can change a query's shape.
A field the integration user cannot see is absent from describe: the same message covers "missing" and
"hidden by field-level security", and says how to fix both.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from connector.errors import ConnectorConfigError, RecordRejectedError
from connector.protocol import FieldInfo, ObjectDescription
from connector.salesforce.client import SalesforceClient
from connector.salesforce.failures import CRM

IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,79}")
PATH = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,79}(?:\.[A-Za-z][A-Za-z0-9_]{0,79}){0,4}")


def missing_field(obj: str, name: str) -> ConnectorConfigError:
    return ConnectorConfigError(
        f"{obj}.{name} does not exist or is not visible to the integration user: run `leadq setup`, "
        "or grant field-level security",
        crm=CRM,
        code="INVALID_FIELD",
    )


def read_only_field(obj: str, name: str) -> ConnectorConfigError:
    return ConnectorConfigError(
        f"{obj}.{name} is read-only for the integration user: grant edit access in field-level security, "
        "or stop writing it back",
        crm=CRM,
        code="INVALID_FIELD_FOR_INSERT_UPDATE",
    )


def check_object_name(obj: str) -> str:
    if not IDENTIFIER.fullmatch(obj):
        raise ConnectorConfigError(
            f"{obj!r} is not a valid Salesforce object name", crm=CRM, code="INVALID_TYPE"
        )
    return obj


@dataclass(frozen=True)
class Described:
    """An object's describe, indexed for lookups by lower-cased name and relationship name."""

    description: ObjectDescription
    by_lower: dict[str, FieldInfo]
    relationships: dict[str, tuple[str, tuple[str, ...]]]  # lower relationshipName -> (name, referenceTo)

    @property
    def name(self) -> str:
        return self.description.name

    def field(self, name: str) -> FieldInfo | None:
        return self.by_lower.get(name.lower())

    def require(self, name: str) -> FieldInfo:
        info = self.field(name)
        if info is None:
            raise missing_field(self.name, name)
        return info

    def writable(self, name: str, *, create: bool = False) -> str:
        info = self.require(name)
        if not (info.createable if create else info.updateable):
            raise read_only_field(self.name, info.name)
        return info.name

    def target_of(self, relationship: str) -> str | None:
        rel = self.relationships.get(relationship.lower())
        return rel[1][0] if rel and rel[1] else None


def parse_describe(body: dict[str, Any]) -> Described:
    """An `ObjectDescription` (and indexes) from a describe response."""
    fields: dict[str, FieldInfo] = {}
    relationships: dict[str, tuple[str, tuple[str, ...]]] = {}
    for f in body.get("fields") or []:
        picklist = tuple(
            str(v["value"]) for v in f.get("picklistValues") or [] if v.get("active", True) and "value" in v
        )
        info = FieldInfo(
            name=str(f["name"]),
            label=str(f.get("label") or f["name"]),
            type=str(f.get("type") or "string"),
            length=int(f.get("length") or 0),
            createable=bool(f.get("createable", False)),
            updateable=bool(f.get("updateable", False)),
            custom=bool(f.get("custom", False)),
            nillable=bool(f.get("nillable", True)),
            filterable=bool(f.get("filterable", True)),
            picklist_values=picklist,
            reference_to=tuple(str(r) for r in f.get("referenceTo") or []),
            external_id=bool(f.get("externalId", False)),
        )
        fields[info.name] = info
        if f.get("relationshipName"):
            relationships[str(f["relationshipName"]).lower()] = (
                str(f["relationshipName"]),
                info.reference_to,
            )
    description = ObjectDescription(
        name=str(body.get("name")),
        label=str(body.get("label") or body.get("name")),
        fields=fields,
        createable=bool(body.get("createable", True)),
        updateable=bool(body.get("updateable", True)),
    )
    return Described(description, {k.lower(): v for k, v in fields.items()}, relationships)


class DescribeCache:
    """Describes fetched at most once per cycle (`clear()` at the start of each)."""

    def __init__(self, client: SalesforceClient) -> None:
        self._client = client
        self._lock = threading.Lock()
        self._cache: dict[str, Described] = {}

    def get(self, obj: str) -> Described:
        key = check_object_name(obj).lower()
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None:
            return hit
        try:
            body = self._client.call(f"describe {obj}", lambda sf: getattr(sf, obj).describe())
        except RecordRejectedError as exc:
            if exc.status == 404:
                raise ConnectorConfigError(
                    f"the Salesforce object {obj} does not exist or is not visible to the integration user: "
                    "check the object name in leadq.yaml, or grant the integration user access to it",
                    crm=CRM,
                    status=404,
                    code="NOT_FOUND",
                ) from exc
            raise
        described = parse_describe(dict(body))
        with self._lock:
            self._cache[key] = described
        return described

    def select_list(
        self, described: Described, fields: Iterable[str], always: Iterable[str] = ("Id", "SystemModstamp")
    ) -> list[str]:
        """Canonical names for a SELECT, each checked against describe, without repeats."""
        out: list[str] = []
        seen: set[str] = set()
        for raw in [*fields, *always]:
            name = self.resolve(described, raw)
            if name.lower() not in seen:
                seen.add(name.lower())
                out.append(name)
        return out

    def resolve(self, described: Described, raw: str) -> str:
        """`account.name` -> `Account.Name`: each hop a relationship, the leaf a field of its target.

        Polymorphic hops (`Who`, `What`) have no single target; their leaves are left to the API to check.
        """
        if not PATH.fullmatch(raw):
            raise missing_field(described.name, raw)
        *hops, leaf = raw.split(".")
        current = described
        out: list[str] = []
        for i, hop in enumerate(hops):
            rel = current.relationships.get(hop.lower())
            if rel is None:
                raise missing_field(described.name, raw)
            out.append(rel[0])
            if len(rel[1]) != 1:
                return ".".join([*out, *hops[i + 1 :], leaf])
            current = self.get(rel[1][0])
        info = current.field(leaf)
        if info is None:
            raise missing_field(described.name, raw)
        return ".".join([*out, info.name])

    def clear(self, obj: str | None = None) -> None:
        with self._lock:
            if obj is None:
                self._cache.clear()
            else:
                self._cache.pop(obj.lower(), None)
