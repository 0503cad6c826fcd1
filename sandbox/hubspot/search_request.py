"""The body of a HubSpot CRM search request (filterGroups, filters, sorts), read as HubSpot reads it.

Shapes, operators and size limits are checked here, with HubSpot's (Java deserializer's) wording in the 400s;
`sandbox.hubspot.filters` turns what passes into SQL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from sandbox.errors import HsApiError, hs_validation

MAX_GROUPS = 5
MAX_FILTERS_PER_GROUP = 6
MAX_FILTERS = 18

OPERATORS = frozenset(
    {
        "EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN",
        "HAS_PROPERTY", "NOT_HAS_PROPERTY", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN",
    }
)  # fmt: skip
_VALUELESS = frozenset({"HAS_PROPERTY", "NOT_HAS_PROPERTY"})
_MULTI = frozenset({"IN", "NOT_IN"})


@dataclass(frozen=True)
class Filter:
    """One filter of a filter group, as sent."""

    property: str
    operator: str
    value: object = None
    high_value: object = None
    values: tuple[object, ...] | None = None


@dataclass(frozen=True)
class Sort:
    """One sort of the request (HubSpot applies the first)."""

    property: str
    descending: bool


def _invalid_json(problem: str) -> HsApiError:
    return hs_validation(f"Invalid input JSON: {problem}")


def parse_filter(obj: object) -> Filter:
    """A filter object of the request body, with HubSpot's deserialization rules."""
    if not isinstance(obj, Mapping):
        raise _invalid_json("Cannot deserialize instance of `Filter` out of a non-object value")
    missing = [k for k in ("propertyName", "operator") if not isinstance(obj.get(k), str) or not obj.get(k)]
    if missing:
        raise _invalid_json(
            f"Cannot build Filter, some of required attributes are not set [{', '.join(missing)}]"
        )
    op = str(obj["operator"]).upper()
    if op not in OPERATORS:
        raise _invalid_json(
            f'Cannot deserialize value of type `FilterOperatorEnum` from String "{obj["operator"]}": not one of '
            f"the values accepted for Enum class: [{', '.join(sorted(OPERATORS))}]"
        )
    problem = (
        "Cannot construct instance of `com.hubspot.inbounddb.publicobject.core.v3.search.Filter`, problem: "
    )
    values = obj.get("values")
    if values is not None and (
        not isinstance(values, list) or any(isinstance(v, dict | list) for v in values)
    ):
        raise _invalid_json(problem + "values must be a list of scalars")
    for key in ("value", "highValue"):
        if isinstance(obj.get(key), dict | list):
            raise _invalid_json(problem + f"{key} must be a scalar")
    if op in _MULTI and not values:
        raise _invalid_json(problem + f"operator {op} requires values")
    if op not in _MULTI and op not in _VALUELESS and obj.get("value") is None:
        raise _invalid_json(problem + f"operator {op} requires a value")
    if op == "BETWEEN" and obj.get("highValue") is None:
        raise _invalid_json(problem + "operator BETWEEN requires a highValue")
    return Filter(
        property=str(obj["propertyName"]),
        operator=op,
        value=obj.get("value"),
        high_value=obj.get("highValue"),
        values=tuple(values) if values is not None else None,
    )


def parse_groups(body: Mapping[str, Any]) -> list[list[Filter]]:
    """`filterGroups` (and the undocumented top-level `filters`, ANDed) with HubSpot's size limits."""
    raw_groups = body.get("filterGroups")
    if raw_groups is None:
        raw_groups = []
    if not isinstance(raw_groups, list):
        raise _invalid_json(
            "Cannot deserialize instance of `java.util.ArrayList` out of non-array filterGroups"
        )
    groups: list[list[Filter]] = []
    for g in raw_groups:
        if not isinstance(g, Mapping) or not isinstance(g.get("filters", []), list):
            raise _invalid_json("Cannot build FilterGroup, filters must be an array")
        groups.append([parse_filter(x) for x in g.get("filters") or []])
    top = body.get("filters")
    if top is not None:
        if not isinstance(top, list):
            raise _invalid_json("filters must be an array")
        extra = [parse_filter(x) for x in top]
        groups = [[*g, *extra] for g in groups] if groups else [extra]
    if len(groups) > MAX_GROUPS:
        raise hs_validation(
            f"Too many filter groups ({len(groups)}). The maximum number of filter groups is {MAX_GROUPS}."
        )
    for g in groups:
        if len(g) > MAX_FILTERS_PER_GROUP:
            raise hs_validation(
                f"Too many filters in a filter group ({len(g)}). The maximum number of filters per group is "
                f"{MAX_FILTERS_PER_GROUP}."
            )
    total = sum(len(g) for g in groups)
    if total > MAX_FILTERS:
        raise hs_validation(f"Too many filters ({total}). The maximum number of filters is {MAX_FILTERS}.")
    return groups


def parse_sorts(raw: object) -> list[Sort]:
    """`sorts` as objects, JSON-encoded objects, or bare property names (ascending)."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise _invalid_json("sorts must be an array")
    out: list[Sort] = []
    for item in raw:
        obj: object = item
        if isinstance(item, str):
            try:
                obj = orjson.loads(item) if item.lstrip().startswith("{") else {"propertyName": item}
            except orjson.JSONDecodeError as exc:
                raise _invalid_json(f"sort is not valid JSON: {exc}") from None
        if (
            not isinstance(obj, Mapping)
            or not isinstance(obj.get("propertyName"), str)
            or not obj["propertyName"]
        ):
            raise _invalid_json(
                "Cannot build PublicSort, some of required attributes are not set [propertyName]"
            )
        direction = str(obj.get("direction") or "ASCENDING").upper()
        if direction not in ("ASCENDING", "DESCENDING"):
            raise _invalid_json(f'Cannot deserialize value of type `SortDirection` from String "{direction}"')
        out.append(Sort(obj["propertyName"], direction == "DESCENDING"))
    return out
