"""The feature frame: one row per lead, one model-ready column per feature, and what each column means.

Columns come from three places, in this order: the admin's mapped fields (`FeatureSpec`s, leaky ones
left out), activity aggregates (`scoring.activity`) and account-graph facts (`scoring.graph_features`).
Encoding follows scikit-learn's HistGradientBoosting: numbers float64 with NaN for missing, booleans 0/1
floats, dates as ages in days relative to `now`, categories (and free text) as pandas `category` with a
stable order. A `FrameSchema` taken from the training frame fixes columns and categories for scoring.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Literal, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd

from mappings import Crm, FeatureSpec, Lead
from scoring.activity import ACTIVITY_COLUMNS, ActivityIndex
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

_T = TypeVar("_T")
ColumnKind = Literal["number", "category", "boolean", "date"]
"""How a column is encoded: `date` columns hold ages in days; text features become `category`."""
Origin = Literal["field", "activity", "graph"]

_SCORED_OBJECTS: Mapping[str, tuple[str, ...]] = {"salesforce": ("Lead", "Contact"), "hubspot": ("contacts",)}
_MAX_TEXT = 100
_TRUE = frozenset({"true", "yes", "y", "1", "on", "t"})
_FALSE = frozenset({"false", "no", "n", "0", "off", "f"})
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
        if _missing(value):
            if self.name == "days_since_last_activity":
                return "No recorded activity"
            return f"{self.label}: not set"
        if self.kind == "category":
            return f"{self.label}: {value}"
        number = _number_value(value)
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
                    _categorical(column.astype(object).tolist(), schema.categories[name]),
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
    # in cache, where a pass per feature revisits 100k scattered dicts once per feature.
    names = [spec.name for spec in specs]
    raw_columns = list(zip(*[tuple(map(lead.fields.get, names)) for lead in batch], strict=True)) or [
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
        present = _present(raw)
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
        kind, columns[name] = _encode(spec, values, now, frozen.get(name), max_categories)
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


def _present(values: Sequence[object]) -> list[bool]:
    """`not _missing(v)` for each value; None, plain strings, floats and booleans (nearly every value) inline."""
    return [
        v is not None
        and (
            v.strip() != ""
            if type(v) is str
            else v == v  # only NaN differs from itself
            if type(v) is float
            else type(v) is bool or not _missing(v)
        )
        for v in values
    ]


def _encode(
    spec: FeatureSpec,
    values: Sequence[object],
    now: datetime,
    frozen: tuple[str, ...] | None,
    max_categories: int,
) -> tuple[ColumnKind, npt.NDArray[np.float64] | pd.Categorical[str]]:
    """One feature's column, in the order of `values`.

    Each branch reads the values mapped records hold (None, plain floats, booleans and strings) inline
    and leaves anything else to the general reader: a function call per value per feature was most of
    the cost of a 100k-lead frame.
    """
    if spec.type in ("category", "text"):
        text_of = _Memo(_text)  # strings repeat heavily (sources, countries, titles)
        texts = [text_of[v] if type(v) is str else _text(v) for v in values]
        categories = frozen if frozen is not None else _categories(spec, texts, max_categories)
        return "category", _categorical(texts, categories)
    if spec.type == "boolean":
        return "boolean", _floats([1.0 if v is True else 0.0 if v is False else _boolean(v) for v in values])
    if spec.type == "date":
        return "date", _floats([math.nan if v is None else _age_days(v, now) for v in values])
    numbers = [
        (v if math.isfinite(v) else math.nan) if type(v) is float else _number_value(v) for v in values
    ]
    return "number", _floats(numbers)


def _floats(values: list[float]) -> npt.NDArray[np.float64]:
    return np.array(values, dtype=np.float64)


class _Memo(dict[str, _T]):
    """Answers of a pure function of a string, each computed once, on first use."""

    __slots__ = ("_compute",)

    def __init__(self, compute: Callable[[str], _T]) -> None:
        super().__init__()
        self._compute = compute

    def __missing__(self, key: str) -> _T:
        value = self[key] = self._compute(key)
        return value


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


def _categories(spec: FeatureSpec, texts: list[str | None], max_categories: int) -> tuple[str, ...]:
    """Config order first (categories, then mapped values), then the most frequent others, sorted."""
    configured = list(dict.fromkeys([*spec.categories, *spec.values.values()]))
    known = {_key(c) for c in configured}
    spelled: dict[str, str] = {}
    counts: Counter[str] = Counter()
    # Each distinct text is folded once, however many leads share it.
    for text, seen in Counter(texts).items():
        if text is None:
            continue
        key = _key(text)
        if key not in known:
            spelled[key] = min(spelled.get(key, text), text)
            counts[key] += seen
    room = max(max_categories - len(configured), 0)
    extra = sorted(counts, key=lambda key: (-counts[key], key))[:room]
    return (*configured[:max_categories], *sorted(spelled[key] for key in extra))


def _categorical(values: Sequence[object], categories: Sequence[str]) -> pd.Categorical[str]:
    """`values` as `categories`, matched by folded spelling (anything else is missing)."""
    unique = list(dict.fromkeys(categories))
    position = {category: code for code, category in enumerate(unique)}
    # Of two categories folding alike, the later one wins.
    code_of_key = {_key(category): position[category] for category in categories}
    code_of = _Memo(lambda text: code_of_key.get(_key(text), -1))
    codes = np.array(
        [code_of[v] if type(v) is str or isinstance(v, str) else -1 for v in values], dtype=np.int64
    )
    dtype: pd.CategoricalDtype[str] = pd.CategoricalDtype(unique)
    return pd.Categorical.from_codes(codes, dtype=dtype)


def _missing(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return isinstance(value, str) and not value.strip()


def _text(value: object) -> str | None:
    if _missing(value) or isinstance(value, datetime | date):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = " ".join(str(value).split())[:_MAX_TEXT]
    return text or None


def _number_value(value: object) -> float:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.replace(",", "").strip())
        except ValueError:
            return math.nan
    else:
        return math.nan
    return number if math.isfinite(number) else math.nan


def _boolean(value: object) -> float:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return math.nan if _missing(value) else float(value != 0)
    if isinstance(value, str):
        key = value.strip().casefold()
        return 1.0 if key in _TRUE else 0.0 if key in _FALSE else math.nan
    return math.nan


def _age_days(value: object, now: datetime) -> float:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            return math.nan
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=UTC)
    if not isinstance(value, datetime):
        return math.nan
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (now - value).total_seconds() / 86_400


def _number(value: float) -> str:
    if value.is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")
