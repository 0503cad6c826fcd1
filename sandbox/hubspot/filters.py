"""Compile a HubSpot CRM search (filter groups, sorts, query) to SQLite SQL over `hs_object`.

The request body is read and checked by `sandbox.hubspot.search_request`; this module gives it its meaning.

Values live as strings in the `props` JSON text; comparisons go through a few Python SQL functions registered on
the store's connection (`hs_num`, `hs_ms`, `hs_fold`, `hs_text`, `hs_has`, `hs_token`) so that number, datetime,
case-folding and token semantics are the same everywhere. The stamps incremental sync filters and sorts on
(`lastmodifieddate`, `hs_lastmodifieddate`, `createdate`, `hs_object_id`) map to indexed columns instead.

Semantics chosen (HubSpot documents most of them; the rest is noted):
- groups OR, filters within a group AND; an empty group matches everything;
- number properties compare numerically, datetime/date properties by epoch milliseconds (filter values may be
  epoch ms or ISO 8601), bool properties case-insensitively, enumerations exactly, strings case-insensitively;
- IN / NOT_IN on strings compare the lower-cased stored value with the values as given (HubSpot: "values must be
  lowercase" for string properties);
- NEQ, NOT_IN and NOT_CONTAINS_TOKEN also match records without a value (an inverted term query);
- CONTAINS_TOKEN matches a whitespace-separated token (or run of tokens) of the value, `*` being a wildcard;
- `query` is a case-insensitive substring search over the type's default searchable properties.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sandbox.errors import HsApiError, hs_validation
from sandbox.hs_schema import OBJECT_TYPE_IDS, modified_property
from sandbox.hs_values import to_epoch_ms, to_number
from sandbox.hubspot.search_request import Filter, Sort

_COMPARE = {"EQ": "=", "LT": "<", "LTE": "<=", "GT": ">", "GTE": ">="}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# what `query` searches, per object type (HubSpot's "default searchable properties")
SEARCHABLE: dict[str, tuple[str, ...]] = {
    "contacts": (
        "firstname",
        "lastname",
        "email",
        "phone",
        "hs_additional_emails",
        "fax",
        "mobilephone",
        "company",
    ),
    "companies": ("website", "phone", "name", "domain"),
    "deals": ("dealname", "pipeline", "dealstage", "description", "dealtype"),
    "tasks": ("hs_task_subject", "hs_task_body"),
    "notes": ("hs_note_body",),
}


# ---------------------------------------------------------------------------------------------- SQL
@dataclass(frozen=True)
class Field:
    """A property as an SQL expression: `expr` compares, `raw` is the stored value (for presence and tokens)."""

    expr: str
    raw: str
    params: tuple[object, ...]
    kind: str  # number | datetime | string | bool | enumeration
    column: bool = False


def _unknown_property(name: str, type_: str) -> HsApiError:
    message = f'Property "{name}" does not exist'
    return hs_validation(
        message,
        errors=[
            {
                "message": message,
                "code": "PROPERTY_DOESNT_EXIST",
                "context": {"propertyName": [name], "objectType": [OBJECT_TYPE_IDS[type_]]},
            }
        ],
    )


def field_for(type_: str, name: str, specs: Mapping[str, Mapping[str, Any]]) -> Field:
    """The SQL expression of one property of a type (400 naming it when the type has no such property)."""
    spec = specs.get(name)
    if spec is None:
        raise _unknown_property(name, type_)
    created = "hs_createdate" if type_ in ("tasks", "notes") else "createdate"
    if name == "hs_object_id":
        return Field("id", "id", (), "number", column=True)
    if name == created:
        return Field("created_ms", "created_ms", (), "datetime", column=True)
    if name in (modified_property(type_), "hs_lastmodifieddate"):
        return Field("updated_ms", "updated_ms", (), "datetime", column=True)
    raw = "json_extract(props, ?)"
    path = '$."' + name.replace('"', '\\"') + '"'
    kind = {"number": "number", "datetime": "datetime", "date": "datetime", "bool": "bool",
            "enumeration": "enumeration"}.get(str(spec.get("type")), "string")  # fmt: skip
    if kind == "string":
        # The path written into the SQL, not bound: an index on this very expression (`folded_index`) then
        # serves EQ and IN, as HubSpot's own search index would (leadq looks tasks up by key this way).
        raw = f"json_extract(props, {_literal(path)})"
        return Field(f"hs_fold({raw})", raw, (), kind)
    wrap = {"number": "hs_num", "datetime": "hs_ms", "bool": "hs_fold", "enumeration": "hs_text"}[kind]
    return Field(f"{wrap}({raw})", raw, (path,), kind)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def folded_index(field: Field) -> tuple[str, str]:
    """The name of the index of a string property's folded value (over every object type), and the
    statement creating it."""
    name = "hs_fold_" + hashlib.sha256(field.raw.encode()).hexdigest()[:16]
    return name, f'CREATE INDEX IF NOT EXISTS "{name}" ON hs_object (type, {field.expr})'


def _operand(field: Field, value: object, *, multi: bool = False) -> object:
    """A filter value converted to the field's comparison domain; 400 when it cannot be."""
    if field.kind == "number":
        n = to_number(value)
        if n is None:
            raise hs_validation(f"{value} is not a valid number for property of type number")
        return n
    if field.kind == "datetime":
        ms = to_epoch_ms(value)
        if ms is None:
            raise hs_validation(f"{value} is not a valid datetime: expected epoch milliseconds or ISO 8601")
        return ms
    text = str(value).lower() if isinstance(value, bool) else str(value)
    if field.kind == "bool" or (field.kind == "string" and not multi):
        return text.lower()
    return text  # enumerations exact; string IN values as given (HubSpot expects them lower-case)


def _condition(f: Filter, field: Field) -> tuple[str, list[object]]:
    p = list(field.params)
    op = f.operator
    if op in ("HAS_PROPERTY", "NOT_HAS_PROPERTY"):
        present = "1" if field.column else f"hs_has({field.raw})"
        return (f"({present}) = {1 if op == 'HAS_PROPERTY' else 0}", p)
    if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        raw = f"hs_text({field.raw})" if field.column else field.raw
        return (f"hs_token({raw}, ?) = {1 if op == 'CONTAINS_TOKEN' else 0}", [*p, str(f.value)])
    if op in _COMPARE:
        return (f"{field.expr} {_COMPARE[op]} ?", [*p, _operand(field, f.value)])
    if op == "NEQ":
        return (f"({field.expr} IS NULL OR {field.expr} != ?)", [*p, *p, _operand(field, f.value)])
    if op == "BETWEEN":
        low, high = _operand(field, f.value), _operand(field, f.high_value)
        return (f"({field.expr} >= ? AND {field.expr} <= ?)", [*p, low, *p, high])
    operands = [_operand(field, v, multi=True) for v in f.values or ()]
    marks = ", ".join("?" for _ in operands)
    if op == "IN":
        return (f"{field.expr} IN ({marks})", [*p, *operands])
    return (f"({field.expr} IS NULL OR {field.expr} NOT IN ({marks}))", [*p, *p, *operands])


@dataclass(frozen=True)
class Compiled:
    """WHERE and ORDER BY clauses (without the keywords) with their parameters, in order."""

    where: str
    where_params: list[object]
    order: str
    order_params: list[object]
    indexes: tuple[str, ...] = ()  # statements creating the indexes the filters can use (run them first)
    use_index: str | None = None  # the index to read through (`INDEXED BY`), when one narrows every match


def compile_search(
    type_: str,
    specs: Mapping[str, Mapping[str, Any]],
    groups: list[list[Filter]],
    sorts: list[Sort],
    query: str | None,
) -> Compiled:
    """SQL for one search: only live records of the type, the filters, the free-text query and the order."""
    where = ["type = ?", "archived = 0"]
    params: list[object] = [type_]
    ors: list[str] = []
    indexes: dict[str, str] = {}
    for group in groups:
        ands: list[str] = []
        for f in group:
            field = field_for(type_, f.property, specs)
            sql, p = _condition(f, field)
            ands.append(sql)
            params += p
            if field.kind == "string" and not field.column and f.operator in ("EQ", "IN"):
                name, statement = folded_index(field)
                indexes[name] = statement
        ors.append("(" + " AND ".join(ands) + ")" if ands else "1")
    if ors:
        where.append("(" + " OR ".join(ors) + ")")
    if query and query.strip():
        names = [n for n in SEARCHABLE[type_] if n in specs]
        likes = ["instr(hs_fold(json_extract(props, ?)), ?) > 0" for _ in names]
        for n in names:
            params += ['$."' + n + '"', query.strip().lower()]
        where.append("(" + (" OR ".join(likes) or "0") + ")")
    # HubSpot applies one sort; ties (and the default order, by creation) break on the id so pages are stable
    order_params: list[object] = []
    if sorts:
        field = field_for(type_, sorts[0].property, specs)
        d = "DESC" if sorts[0].descending else "ASC"
        # a column is never null, and a bare column lets SQLite walk the (type, archived, updated_ms, id) index
        if field.column:
            order = f"{field.expr} {d}, id {d}"
        else:  # unset values last in either direction, as HubSpot orders them
            order = f"({field.expr}) IS NULL, {field.expr} {d}, id {d}"
            order_params = [*field.params, *field.params]
    else:
        order = "created_ms ASC, id ASC"
    # SQLite would rather walk the type's live records in id order than look 100 values up; one filter
    # group with an EQ or IN on a string property is a handful of records, read through that index.
    use_index = next(iter(indexes)) if len(groups) == 1 and indexes else None
    return Compiled(" AND ".join(where), params, order, order_params, tuple(indexes.values()), use_index)
