"""The feature frame: one row per lead, one model-ready column per feature, and what each column means.

Columns come from three places, in this order: the admin's mapped fields (`FeatureSpec`s, leaky ones
left out), activity aggregates (`scoring.activity`) and account-graph facts (`scoring.graph_features`).
Encoding follows scikit-learn's HistGradientBoosting: numbers float64 with NaN for missing, booleans 0/1
floats, dates as ages in days relative to `now`, categories (and free text) as pandas `category` with a
stable order (each feature's values are read and encoded by `scoring.feature_encoding`). A `FrameSchema`
taken from the training frame fixes columns and categories for scoring.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from mappings import Crm, FeatureSpec, Lead, values_of
from scoring.activity import ACTIVITY_COLUMNS, ActivityIndex
from scoring.feature_encoding import (
    ColumnKind,
    categorical,
    encode_column,
    is_missing,
    number_value,
    presence,
)
from scoring.graph import AccountGraph
from scoring.graph_features import GRAPH_COLUMNS, GRAPH_LABELS, graph_features, graph_phrase

__all__ = [
    "ColumnInfo",
    "ColumnKind",
    "FeatureFrame",
    "FrameSchema",
    "Origin",
    "build_features",
]

Origin = Literal["field", "activity", "graph"]

_SCORED_OBJECTS: Mapping[str, tuple[str, ...]] = {"salesforce": ("Lead", "Contact"), "hubspot": ("contacts",)}
_ACTIVITY_LABELS = {
    "emails": "Emails", "calls": "Calls", "meetings": "Meetings", "web_visits": "Web visits",
    "form_fills": "Form fills", "campaign_responses": "Campaign responses", "pricing_visits": "Pricing page visits",
}  # fmt: skip
_GRAPH_SOURCES = {
    "matched": "match", "match_method": "match", "account_is_customer": "customer",
    "account_open_opps": "opportunities", "account_won_opps": "opportunities", "account_lost_opps": "opportunities",
    "parent_or_sibling_is_customer": "related_customer", "colleagues_engaged_30d": "colleagues_engaged",
    "colleagues_engaged_90d": "colleagues_engaged", "account_days_since_engagement": "account_engagement",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class ColumnInfo:
    """What one column is: where it came from, what to call it, and whether explanations may show it.

    `source` groups columns for explanations: the CRM field path(s) of a mapped feature (two features
    read from `Email` share it), or `activity:<fact>` / `graph:<fact>` for derived ones.
    """

    name: str
    label: str
    source: str
    origin: Origin
    kind: ColumnKind
    explainable: bool = True

    def render(self, value: object, context: Mapping[str, object] | None = None) -> str:
        """The value in words: "Lead source: Referral", "Employees: 1,200", "2 colleagues at Acme...".

        `context` is the lead's row of `FeatureFrame.context` (graph phrases name the account).
        """
        if self.origin == "graph":
            return graph_phrase(self.name, value, context or {})
        if is_missing(value):
            if self.name == "days_since_last_activity":
                return "No recorded activity"
            return f"{self.label}: not set"
        if self.kind == "category":
            return f"{self.label}: {value}"
        number = number_value(value)
        if math.isnan(number):
            return f"{self.label}: not set"
        if self.kind == "boolean":
            return f"{self.label}: {'yes' if number >= 0.5 else 'no'}"
        if self.kind == "date":
            days = round(number)
            when = "today" if days == 0 else f"{days} days ago" if days > 0 else f"in {-days} days"
            return f"{self.label}: {when}"
        return f"{self.label}: {_number(number)}"


@dataclass(frozen=True, slots=True)
class FrameSchema:
    """The columns and category orders a model was trained on; scoring frames are conformed to it."""

    columns: tuple[str, ...]
    categories: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready form, for storing with the model artifact."""
        return {"columns": list(self.columns), "categories": {k: list(v) for k, v in self.categories.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> FrameSchema:
        """The schema `to_dict` wrote."""
        columns = data.get("columns", [])
        categories = data.get("categories", {})
        if not isinstance(columns, list) or not isinstance(categories, dict):
            raise ValueError("not a feature frame schema")
        return cls(tuple(map(str, columns)), {str(k): tuple(map(str, v)) for k, v in categories.items()})


@dataclass(frozen=True)
class FeatureFrame:
    """Model inputs for a batch of leads, plus everything needed to explain them.

    `data`: one row per lead (index: lead id), one column per feature, model-ready dtypes.
    `columns`: a `ColumnInfo` per column of `data`. `context`: per-lead facts phrases need (account name,
    match reason...), never model inputs. `completeness`: share of the mapped, explainable fields that are
    present for each lead (0-1), for policies.
    """

    data: pd.DataFrame
    columns: Mapping[str, ColumnInfo]
    context: pd.DataFrame
    completeness: pd.Series
    now: datetime

    def schema(self, *, drop_empty: bool = False) -> FrameSchema:
        """Columns and category orders of this frame (take it from the training frame).

        `drop_empty` leaves out columns with no value at all (HistGradientBoosting cannot bin a
        numeric column that is entirely NaN).
        """
        kept = [name for name in self.data.columns if not (drop_empty and self.data[name].isna().all())]
        categories = {
            name: tuple(str(c) for c in self.data[name].cat.categories)
            for name in kept
            if isinstance(self.data[name].dtype, pd.CategoricalDtype)
        }
        return FrameSchema(tuple(kept), categories)

    def conform(self, schema: FrameSchema) -> FeatureFrame:
        """This frame with exactly the schema's columns, in order, and its categories (unknown -> NaN)."""
        data = pd.DataFrame(index=self.data.index)
        columns = dict(self.columns)
        for name in schema.columns:
            column = (
                self.data[name] if name in self.data.columns else pd.Series(np.nan, index=self.data.index)
            )
            if name in schema.categories:
                data[name] = pd.Series(
                    categorical(column.astype(object).tolist(), schema.categories[name]),
                    index=self.data.index,
                )
            else:
                data[name] = pd.to_numeric(column, errors="coerce").astype(np.float64)
            if name not in columns:
                kind: ColumnKind = "category" if name in schema.categories else "number"
                columns[name] = ColumnInfo(
                    name, name.replace("_", " ").capitalize(), f"missing:{name}", "field", kind, False
                )
        kept = {name: columns[name] for name in schema.columns}
        return FeatureFrame(data, kept, self.context, self.completeness, self.now)

    def describe(self, lead_id: str, column: str) -> str:
        """One lead's value of one column, in words."""
        value = self.data.at[lead_id, column]
        context = (
            {str(k): v for k, v in self.context.loc[lead_id].items()} if lead_id in self.context.index else {}
        )
        return self.columns[column].render(value, context)


def build_features(
    leads: Iterable[Lead],
    *,
    graph: AccountGraph,
    activities_index: ActivityIndex | None = None,
    features: Sequence[FeatureSpec],
    crm: Crm,
    now: datetime,
    exclude_leaky: bool = True,
    schema: FrameSchema | None = None,
    half_life_days: float = 14.0,
    max_categories: int = 250,
) -> FeatureFrame:
    """The feature frame of `leads` (all from `crm`; a repeated id keeps its last record) as of `now`.

    `activities_index` defaults to `graph.activities`. With `schema` (from the training frame) the
    result has exactly its columns and categories; without, categories are those seen (config order
    first, then sorted), at most `max_categories` of the most frequent per column. Leaky features
    enter only with `exclude_leaky=False`. Raises ValueError for a lead of another CRM or a feature
    named like a derived column.
    """
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    batch = list({lead.id: lead for lead in leads}.values())
    if any(lead.crm != crm for lead in batch):
        raise ValueError(f"build_features got leads of another CRM than {crm}")
    specs = [spec for spec in features if not (exclude_leaky and spec.leaky)]
    clash = sorted({spec.name for spec in specs} & {*ACTIVITY_COLUMNS, *GRAPH_COLUMNS})
    if clash:
        raise ValueError(f"feature names {clash} clash with derived feature columns; rename them")
    index = pd.Index([lead.id for lead in batch], dtype=object)
    objects = [_object_name(crm, lead) for lead in batch]
    # Rows of each object, so the rows a feature applies to are a few vector ORs rather than a loop.
    rows_of = {obj: np.array([o == obj for o in objects], dtype=bool) for obj in set(objects)}
    # Every feature's raw values in one pass over the leads: each lead's fields are read while they are
    # in cache, where a pass per feature revisits 100k scattered records once per feature.
    names = [spec.name for spec in specs]
    raw_columns = list(zip(*values_of([lead.fields for lead in batch], names), strict=True)) or [
        () for _ in names
    ]
    frozen = schema.categories if schema is not None else {}
    # Arrays rather than Series: every column is already in `index` order, and a Series with another
    # (equal) index would be compared element by element with it when the frame is assembled.
    columns: dict[str, object] = {}
    infos: dict[str, ColumnInfo] = {}
    counted = np.zeros(len(batch))
    mapped = np.zeros(len(batch))
    for spec, read in zip(specs, raw_columns, strict=True):
        applies = {obj: spec.field_for(obj) is not None for obj in rows_of}
        fill, name = spec.missing_value, spec.name
        everywhere = all(applies.values())
        raw = (
            read
            if everywhere
            else [v if applies[obj] else None for v, obj in zip(read, objects, strict=True)]
        )
        present = presence(raw)
        if spec.explain and not spec.leaky:
            counted += np.array(present, dtype=bool)
            mapped += _applied(rows_of, applies, len(batch))
        values = (
            [v if ok else fill for v, ok in zip(raw, present, strict=True)]
            if everywhere or fill is None
            else [
                v if ok else (fill if applies[obj] else None)
                for v, ok, obj in zip(raw, present, objects, strict=True)
            ]
        )
        kind, columns[name] = encode_column(spec, values, now, frozen.get(name), max_categories)
        infos[name] = ColumnInfo(name, spec.display_label, _source(spec, crm), "field", kind, spec.explain)
    activity = (activities_index or graph.activities).aggregate(
        crm, list(index), now=now, half_life_days=half_life_days
    )
    for name in ACTIVITY_COLUMNS:
        columns[name] = activity[name].to_numpy()
        infos[name] = _activity_info(name)
    values_g, context = graph_features(graph, batch, now=now)
    for name in GRAPH_COLUMNS:
        columns[name] = values_g[name].array
        kind = (
            "category"
            if name == "match_method"
            else "boolean"
            if name in ("matched", "account_is_customer", "parent_or_sibling_is_customer")
            else "number"
        )
        infos[name] = ColumnInfo(name, GRAPH_LABELS[name], f"graph:{_GRAPH_SOURCES[name]}", "graph", kind)
    data = pd.DataFrame(columns, index=index)
    share = np.divide(counted, mapped, out=np.zeros(len(batch)), where=mapped > 0)
    completeness = pd.Series(share, index=index, dtype=np.float64, name="completeness")
    frame = FeatureFrame(data, infos, context, completeness, now)
    return frame.conform(schema) if schema is not None else frame


def _object_name(crm: Crm, lead: Lead) -> str:
    objects = _SCORED_OBJECTS[crm]
    return objects[-1] if lead.kind == "contact" else objects[0]


def _source(spec: FeatureSpec, crm: Crm) -> str:
    paths = sorted({path for obj in _SCORED_OBJECTS[crm] if (path := spec.field_for(obj))})
    return " / ".join(paths) or spec.name


def _activity_info(name: str) -> ColumnInfo:
    if name == "days_since_last_activity":
        return ColumnInfo(name, "Days since last activity", "activity:recency", "activity", "number")
    if name == "engagement_score":
        return ColumnInfo(name, "Engagement score", "activity:engagement", "activity", "number")
    stem, _, days = name.rpartition("_")
    label = f"{_ACTIVITY_LABELS[stem]} ({days.removesuffix('d')} days)"
    return ColumnInfo(name, label, f"activity:{stem}", "activity", "number")


def _applied(
    rows_of: Mapping[str, npt.NDArray[np.bool_]], applies: Mapping[str, bool], n: int
) -> npt.NDArray[np.bool_]:
    """Rows of the objects a feature applies to."""
    applied = np.zeros(n, dtype=bool)
    for obj, yes in applies.items():
        if yes:
            applied |= rows_of[obj]
    return applied


def _number(value: float) -> str:
    if value.is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")
