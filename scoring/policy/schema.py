"""The variables policy expressions may use, with their types."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from types import MappingProxyType

from mappings.config.features import FeatureSpec, FeatureType


class Kind(StrEnum):
    """The type of a variable or sub-expression."""

    NUMBER = "number"
    STRING = "string"
    BOOLEAN = "boolean"
    DATETIME = "datetime"

    @property
    def spoken(self) -> str:
        """How error messages name the type to an admin."""
        return _SPOKEN[self]


_SPOKEN = {
    Kind.NUMBER: "a number",
    Kind.STRING: "text",
    Kind.BOOLEAN: "true/false",
    Kind.DATETIME: "a date",
}

Schema = Mapping[str, Kind]
"""Variable name (`score`, `lead.employees`, `graph.matched`) -> type."""

LEAD = "lead"
GRAPH = "graph"
NAMESPACES = (LEAD, GRAPH)

GRAPH_FACTS: Mapping[str, Kind] = MappingProxyType(
    {
        "graph.account_is_customer": Kind.BOOLEAN,
        "graph.account_open_opps": Kind.NUMBER,
        "graph.account_won_opps": Kind.NUMBER,
        "graph.account_lost_opps": Kind.NUMBER,
        "graph.parent_or_sibling_is_customer": Kind.BOOLEAN,
        "graph.colleagues_engaged_30d": Kind.NUMBER,
        "graph.colleagues_engaged_90d": Kind.NUMBER,
        "graph.account_days_since_engagement": Kind.NUMBER,
        "graph.matched": Kind.BOOLEAN,
        "graph.match_method": Kind.STRING,
    }
)
"""Facts the account graph provides about each lead."""

SCORE_VARIABLES: Mapping[str, Kind] = MappingProxyType(
    {"score": Kind.NUMBER, "probability": Kind.NUMBER, "tier": Kind.STRING, "segment": Kind.STRING}
)
"""Known only after segmentation and scoring, so segment expressions cannot use them."""

LEAD_VARIABLES: Mapping[str, Kind] = MappingProxyType(
    {"completeness": Kind.NUMBER, "days_inactive": Kind.NUMBER}
)
"""Built-ins known before scoring: data completeness 0..1 and days since the lead's last activity."""

_FEATURE_KINDS: Mapping[FeatureType, Kind] = MappingProxyType(
    {
        "number": Kind.NUMBER,
        "category": Kind.STRING,
        "text": Kind.STRING,
        "boolean": Kind.BOOLEAN,
        "date": Kind.DATETIME,
    }
)


def policy_schema(features: Iterable[FeatureSpec], *, extra: Mapping[str, Kind] | None = None) -> Schema:
    """The variables of policy expressions: `lead.<feature>` for each feature, graph facts and built-ins.

    `extra` adds or retypes variables (e.g. lead attributes the caller puts in the frame).
    """
    schema: dict[str, Kind] = {f"{LEAD}.{f.name}": _FEATURE_KINDS[f.type] for f in features}
    schema.update(GRAPH_FACTS)
    schema.update(LEAD_VARIABLES)
    schema.update(SCORE_VARIABLES)
    schema.update(extra or {})
    return MappingProxyType(schema)


def before_scoring(schema: Schema) -> Schema:
    """The part of `schema` known before the model runs: what segment expressions may use."""
    return MappingProxyType({name: kind for name, kind in schema.items() if name not in SCORE_VARIABLES})
