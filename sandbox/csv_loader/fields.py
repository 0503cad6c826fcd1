"""Fields of the target object: resolving mapped fields, creating custom fields and properties, coercing.

Salesforce custom fields are named after the column (`Lead Source` -> `Lead_Source__c`, at most 40 characters
before the suffix) and typed from the values (yes/no -> checkbox, numbers -> double, dates, text up to 255
characters, longer -> long text area). HubSpot custom properties (`lead_source`) go into the mapping's group
(`leadq_import`); a name that a portal property already has outside that group gets a `leadq_` prefix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sandbox.clock import hs_datetime, sf_datetime
from sandbox.csv_loader.mapping import CsvLoadError, CsvMapping, Target
from sandbox.hs_schema import prop
from sandbox.sf_schema import SfField
from sandbox.store import Store

_TRUE = frozenset({"yes", "y", "true", "t", "1"})
_FALSE = frozenset({"no", "n", "false", "f", "0"})
BACKDATE = frozenset(
    {"CreatedDate", "createdate"}
)  # system fields a load may set, to keep the data's history


@dataclass
class FieldPlan:
    """A target resolved against the schema: the field's name and how values are coerced for it."""

    target: Target
    name: str
    kind: str  # one of TYPES, or "enum" (values limited to `options`)
    length: int = 0
    options: frozenset[str] = frozenset()


def number(v: str) -> float | None:
    try:
        x = float(v)
    except ValueError:
        return None
    return x if x == x and abs(x) != float("inf") else None


_SF_KIND = {"boolean": "boolean", "int": "integer", "double": "number", "currency": "number", "percent": "number",
            "date": "date", "datetime": "datetime", "textarea": "textarea"}  # fmt: skip
_HS_KIND = {
    "bool": "boolean",
    "number": "number",
    "date": "date",
    "datetime": "datetime",
    "enumeration": "enum",
}
_HS_SHORTHAND = {"boolean": "bool", "number": "num", "integer": "num", "date": "date", "datetime": "dt",
                 "text": "text", "textarea": "textarea"}  # fmt: skip


class Fields:
    """The target object's fields: resolves targets, creates custom fields, coerces values, inserts rows."""

    def __init__(self, store: Store, obj: str, *, sf: bool, mapping: CsvMapping) -> None:
        self.store, self.obj, self.sf, self.mapping = store, obj, sf, mapping
        self.created: list[str] = []  # "Name__c (number)"
        self.reused: list[str] = []
        self.taken: set[str] = set()
        if sf:
            spec = store.sf_object(obj)
            assert spec is not None
            self.required = [f.name for f in spec.fields if not f.nillable and f.createable and f.default is None
                             and not f.custom and f.name != "OwnerId"]  # fmt: skip
        else:
            self.required = []

    def plan(self, t: Target, inferred: str) -> FieldPlan:
        if not t.custom:
            assert t.field is not None
            return self._existing(t)
        return self._custom(t, t.type or inferred)

    def _existing(self, t: Target) -> FieldPlan:
        assert t.field is not None
        if self.sf:
            f = self.store.sf_field(self.obj, t.field)
            if f is None:
                raise CsvLoadError(f"{t.where}: {self.obj} has no field {t.field!r}")
            if not f.createable and f.name not in BACKDATE:
                raise CsvLoadError(f"{t.where}: {self.obj}.{f.name} is read-only")
            if f.type == "picklist" and f.restricted_picklist:
                return FieldPlan(t, f.name, "enum", options=frozenset(f.picklist))
            return FieldPlan(
                t, f.name, _SF_KIND.get(f.type, "text"), length=f.length if f.type != "textarea" else 0
            )
        spec = self.store.hs_properties(self.obj).get(t.field)
        if spec is None:
            raise CsvLoadError(f"{t.where}: {self.obj} has no property {t.field!r}")
        if spec.get("modificationMetadata", {}).get("readOnlyValue") and t.field not in BACKDATE:
            raise CsvLoadError(f"{t.where}: {self.obj} property {t.field!r} is read-only")
        kind = _HS_KIND.get(str(spec.get("type")), "text")
        options = frozenset(str(o["value"]) for o in spec.get("options") or [])
        return FieldPlan(t, t.field, kind if kind != "enum" or options else "text", options=options)

    def _custom(self, t: Target, kind: str) -> FieldPlan:
        name = t.field or self._derive(t.column)
        label = t.column[:40] if self.sf else t.column
        if self.sf:
            existing = self.store.sf_field(self.obj, name)
            if existing is not None:
                self.reused.append(existing.name)
                return self._existing(Target(t.column, t.where, field=existing.name))
            self.store.sf_add_field(self.obj, _sf_field(name, label, kind))
        else:
            props = self.store.hs_properties(self.obj)
            if name in props and props[name].get("groupName") != self.mapping.group:
                name = f"leadq_{name}"[:100]  # never write into a portal's own property by accident
            if name in props or name in self.store.hs_properties(self.obj):
                self.reused.append(name)
                return self._existing(Target(t.column, t.where, field=name))
            self._hs_property(name, label, kind)
        self.created.append(f"{name} ({kind})")
        return FieldPlan(t, name, kind, length=255 if kind == "text" else 0)

    def _derive(self, column: str) -> str:
        """A field name from a column name: `Lead Source` -> `Lead_Source__c` / `lead_source`."""
        if self.sf:
            base = re.sub(r"[^A-Za-z0-9]+", "_", column).strip("_") or "Column"
            base = ("X_" + base if not base[0].isalpha() else base)[:40].rstrip("_")
            name, k = f"{base}__c", 2
            while name.lower() in self.taken:
                name, k = f"{base[: 40 - len(str(k)) - 1].rstrip('_')}_{k}__c", k + 1
        else:
            base = re.sub(r"[^a-z0-9]+", "_", column.lower()).strip("_") or "column"
            base = ("p_" + base if not base[0].isalpha() else base)[:100]
            name, k = base, 2
            while name in self.taken:
                name, k = f"{base[:95]}_{k}", k + 1
        self.taken.add(name.lower())
        return name

    def _hs_property(self, name: str, label: str, kind: str) -> None:
        if self.mapping.group not in self.store.hs_groups(self.obj):
            self.store.hs_put_group(
                self.obj,
                {"name": self.mapping.group, "label": "leadq import", "displayOrder": -1, "archived": False},
            )
        spec = prop(name, label, _HS_SHORTHAND[kind], self.mapping.group)
        now = hs_datetime(self.store.clock.now())
        spec.pop("hubspotDefined", None)
        spec |= {
            "createdAt": now, "updatedAt": now, "description": f"Imported by leadq from the CSV column {label!r}.",
            "formField": True, "archived": False,
            "modificationMetadata": {"archivable": True, "readOnlyDefinition": False, "readOnlyValue": False},
        }  # fmt: skip
        self.store.hs_put_property(self.obj, spec)

    def coerce(self, plan: FieldPlan, v: str) -> Any:
        """The stored form of a raw value; ValueError says what is wrong with it."""
        kind = plan.kind
        if kind == "boolean":
            low = v.lower()
            if low not in _TRUE and low not in _FALSE:
                raise ValueError("not a yes/no value")
            b = low in _TRUE
            return b if self.sf else ("true" if b else "false")
        if kind in ("number", "integer"):
            x = number(v.replace(",", "") if re.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d+)?", v) else v)
            if x is None:
                raise ValueError("not a number")
            if kind == "integer" and x != int(x):
                raise ValueError("not a whole number")
            if self.sf:
                return int(x) if kind == "integer" else x
            return str(int(x)) if x == int(x) and abs(x) < 1e15 else repr(x)
        if kind in ("date", "datetime"):
            try:
                dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
            except ValueError:
                raise ValueError(f"not a {kind} (expected YYYY-MM-DD or ISO 8601)") from None
            dt = dt if dt.tzinfo else dt.replace(tzinfo=UTC)
            if kind == "date":
                return dt.strftime("%Y-%m-%d")
            return sf_datetime(dt) if self.sf else hs_datetime(dt)
        if kind == "enum" and v not in plan.options:
            raise ValueError(f"not one of the allowed values ({', '.join(sorted(plan.options)[:8])}...)")
        if plan.length and len(v) > plan.length:
            raise ValueError(f"longer than {plan.length} characters")
        return v

    def insert(self, batch: list[dict[str, Any]]) -> int:
        if not batch:
            return 0
        if self.sf:
            self.store.sf_insert_many(self.obj, batch)
            return len(batch)
        # HubSpot stamps createdate itself: rows that carry one are inserted in groups created at that time
        groups: dict[str | None, list[dict[str, str | None]]] = {}
        for rec in batch:
            groups.setdefault(rec.pop("createdate", None), []).append(rec)
        with self.store.transaction():
            for created, recs in groups.items():
                when = datetime.fromisoformat(created.replace("Z", "+00:00")) if created else None
                self.store.hs_insert_many(self.obj, recs, when=when)
        return len(batch)


def _sf_field(name: str, label: str, kind: str) -> SfField:
    if kind == "boolean":
        return SfField(name, "boolean", label, custom=True, nillable=False, default=False)
    if kind in ("number", "integer"):
        return SfField(name, "double", label, custom=True, precision=18, scale=0 if kind == "integer" else 4)
    if kind in ("date", "datetime"):
        return SfField(name, kind, label, custom=True)
    if kind == "textarea":
        return SfField(name, "textarea", label, length=32768, custom=True)
    return SfField(name, "string", label, length=255, custom=True)
