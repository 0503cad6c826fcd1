"""The feature frame as `scoring.features` built it before its speed-up (one function call per value):
the oracle the equivalence tests compare the current definition with. Only the parts that changed are
copied; column infos, activity aggregates and the graph's per-account facts are the current ones."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd

from mappings import Crm, FeatureSpec, Lead
from scoring.activity import ACTIVITY_COLUMNS, ActivityIndex, epoch_seconds
from scoring.feature_encoding import _FALSE, _MAX_TEXT, _TRUE
from scoring.features import (
    _GRAPH_SOURCES,
    ColumnInfo,
    ColumnKind,
    FeatureFrame,
    FrameSchema,
    _activity_info,
    _object_name,
    _source,
)
from scoring.graph import AccountGraph
from scoring.graph_features import (
    _DAY,
    GRAPH_COLUMNS,
    GRAPH_CONTEXT_COLUMNS,
    GRAPH_LABELS,
    _account,
    _engagement,
    _Known,
    _own_last,
)
from scoring.matching import MATCH_METHODS


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
    frozen = schema.categories if schema is not None else {}
    columns: dict[str, pd.Series] = {}
    infos: dict[str, ColumnInfo] = {}
    counted = np.zeros(len(batch))
    mapped = np.zeros(len(batch))
    for spec in specs:
        applies = {obj: spec.field_for(obj) is not None for obj in set(objects)}
        fill = spec.missing_value
        raw = [
            lead.fields.get(spec.name) if applies[obj] else None
            for lead, obj in zip(batch, objects, strict=True)
        ]
        present = np.fromiter((not _missing(v) for v in raw), dtype=bool, count=len(raw))
        if spec.explain and not spec.leaky:
            counted += present
            mapped += np.fromiter((applies[obj] for obj in objects), dtype=bool, count=len(objects))
        values = [
            v if ok else (fill if applies[obj] else None)
            for v, ok, obj in zip(raw, present.tolist(), objects, strict=True)
        ]
        kind, encoded = _encode(spec, values, now, index, frozen.get(spec.name), max_categories)
        columns[spec.name] = encoded
        infos[spec.name] = ColumnInfo(
            spec.name, spec.display_label, _source(spec, crm), "field", kind, spec.explain
        )
    activity = (activities_index or graph.activities).aggregate(
        crm, list(index), now=now, half_life_days=half_life_days
    )
    for name in ACTIVITY_COLUMNS:
        columns[name] = activity[name]
        infos[name] = _activity_info(name)
    values_g, context = graph_features(graph, batch, now=now)
    for name in GRAPH_COLUMNS:
        columns[name] = values_g[name]
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
    return conform(frame, schema) if schema is not None else frame


def conform(frame: FeatureFrame, schema: FrameSchema) -> FeatureFrame:
    data = pd.DataFrame(index=frame.data.index)
    columns = dict(frame.columns)
    for name in schema.columns:
        column = frame.data[name] if name in frame.data.columns else pd.Series(np.nan, index=frame.data.index)
        if name in schema.categories:
            data[name] = _categorical(
                column.astype(object).tolist(), schema.categories[name], frame.data.index
            )
        else:
            data[name] = pd.to_numeric(column, errors="coerce").astype(np.float64)
        if name not in columns:
            kind: ColumnKind = "category" if name in schema.categories else "number"
            columns[name] = ColumnInfo(
                name, name.replace("_", " ").capitalize(), f"missing:{name}", "field", kind, False
            )
    kept = {name: columns[name] for name in schema.columns}
    return FeatureFrame(data, kept, frame.context, frame.completeness, frame.now)


def graph_features(
    graph: AccountGraph, leads: Sequence[Lead], *, now: datetime
) -> tuple[pd.DataFrame, pd.DataFrame]:
    now_s = float(epoch_seconds(now))
    matches = graph.matches_of(leads)
    ordinal: dict[tuple[Crm, str], int] = {}
    for lead, match in zip(leads, matches, strict=True):
        if match.account_id is not None:
            ordinal.setdefault((lead.crm, match.account_id), len(ordinal))
    accounts = list(ordinal)
    known = _Known(graph)
    facts = [_account(known, key, now_s) for key in accounts]
    person_last, account_last = graph.activities.last_engaged(now)
    engaged_30, engaged_90, latest = _engagement(graph, accounts, now_s, person_last, account_last)
    at = np.array(
        [ordinal.get((lead.crm, m.account_id or ""), -1) for lead, m in zip(leads, matches, strict=True)]
    )
    own = _own_last(graph, leads, person_last)
    member = np.array([graph.has_person(lead) for lead in leads], dtype=bool) & (at >= 0)
    pick = np.where(at >= 0, at, 0)
    has = at >= 0

    def per_lead(values: object) -> object:
        return np.where(has, np.asarray(values, dtype=np.float64)[pick] if len(values) else np.nan, np.nan)  # type: ignore[arg-type]

    columns: dict[str, object] = {
        "matched": has.astype(np.float64),
        "match_method": pd.Categorical([m.method for m in matches], categories=list(MATCH_METHODS)),
        "account_is_customer": per_lead([f.is_customer for f in facts]),
        "account_open_opps": per_lead([f.open for f in facts]),
        "account_won_opps": per_lead([f.won for f in facts]),
        "account_lost_opps": per_lead([f.lost for f in facts]),
        "parent_or_sibling_is_customer": per_lead([float(f.related is not None) for f in facts]),
        "colleagues_engaged_30d": per_lead(engaged_30) - (member & (own >= now_s - 30 * _DAY)),  # type: ignore[operator]
        "colleagues_engaged_90d": per_lead(engaged_90) - (member & (own >= now_s - 90 * _DAY)),  # type: ignore[operator]
        "account_days_since_engagement": (now_s - per_lead(latest)) / _DAY,  # type: ignore[operator]
    }
    index = pd.Index([lead.id for lead in leads])
    context = [
        {
            "account_id": m.account_id,
            "account_name": facts[i].name if i >= 0 else None,
            "account_owner_id": facts[i].owner_id if i >= 0 else None,
            "match_reason": m.reason,
            "related_relation": facts[i].related[0] if i >= 0 and facts[i].related else None,
            "related_customer": facts[i].related[1] if i >= 0 and facts[i].related else None,
        }
        for m, i in zip(matches, at.tolist(), strict=True)
    ]
    values = pd.DataFrame(columns, index=index)
    # Missing context is None (dtype=object from the start: pandas 3 would read it as NaN in a str column).
    return values, pd.DataFrame(context, index=index, columns=list(GRAPH_CONTEXT_COLUMNS), dtype=object)


def _encode(
    spec: FeatureSpec,
    values: Sequence[object],
    now: datetime,
    index: pd.Index,
    frozen: tuple[str, ...] | None,
    max_categories: int,
) -> tuple[ColumnKind, pd.Series]:
    if spec.type in ("category", "text"):
        texts = [_text(v) for v in values]
        categories = frozen if frozen is not None else _categories(spec, texts, max_categories)
        return "category", _categorical(texts, categories, index)
    if spec.type == "boolean":
        return "boolean", pd.Series([_boolean(v) for v in values], index=index, dtype=np.float64)
    if spec.type == "date":
        return "date", pd.Series([_age_days(v, now) for v in values], index=index, dtype=np.float64)
    return "number", pd.Series([_number_value(v) for v in values], index=index, dtype=np.float64)


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


def _categories(spec: FeatureSpec, texts: list[str | None], max_categories: int) -> tuple[str, ...]:
    configured = list(dict.fromkeys([*spec.categories, *spec.values.values()]))
    known = {_key(c) for c in configured}
    spelled: dict[str, str] = {}
    counts: Counter[str] = Counter()
    for text in texts:
        if text is not None and _key(text) not in known:
            key = _key(text)
            spelled[key] = min(spelled.get(key, text), text)
            counts[key] += 1
    room = max(max_categories - len(configured), 0)
    extra = sorted(counts, key=lambda key: (-counts[key], key))[:room]
    return (*configured[:max_categories], *sorted(spelled[key] for key in extra))


def _categorical(values: Sequence[object], categories: Sequence[str], index: pd.Index) -> pd.Series:
    lookup = {_key(category): category for category in categories}
    mapped = [lookup.get(_key(v)) if isinstance(v, str) else None for v in values]
    return pd.Series(pd.Categorical(mapped, categories=list(dict.fromkeys(categories))), index=index)


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
