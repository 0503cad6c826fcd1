"""HubSpot objects as the API renders them (`SimplePublicObject` and its archived form)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import orjson

from sandbox.clock import hs_datetime
from sandbox.hs_schema import OBJECT_TYPE_IDS
from sandbox.hubspot.common import PORTAL_ID, association_name
from sandbox.store import Store
from sandbox.store_hubspot import HsRecord

__all__ = [
    "PORTAL_ID",
    "associations_block",
    "record_url",
    "render_full",
    "render_object",
    "render_objects",
]

# properties returned when a request names none, per object type (as the real API does)
DEFAULT_RETURNED: dict[str, tuple[str, ...]] = {
    "contacts": ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"),
    "companies": ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
    "deals": ("amount", "closedate", "createdate", "dealname", "dealstage", "hs_lastmodifieddate", "hs_object_id",
              "pipeline"),
    "tasks": ("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
    "notes": ("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
}  # fmt: skip

# returned whatever a request names (the recorded responses always carry these)
ALWAYS_RETURNED: dict[str, tuple[str, ...]] = {
    "contacts": ("createdate", "hs_object_id", "lastmodifieddate"),
    "companies": ("createdate", "hs_lastmodifieddate", "hs_object_id"),
    "deals": ("createdate", "hs_lastmodifieddate", "hs_object_id"),
    "tasks": ("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
    "notes": ("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
}


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_YEAR_10000_MS = 253_402_300_800_000


def _iso_ms(ms: int) -> str:
    """`hs_datetime` of epoch milliseconds; formatted by hand (strftime was most of a page's rendering)."""
    if not 0 <= ms < _YEAR_10000_MS:
        return hs_datetime(datetime.fromtimestamp(ms / 1000, UTC))
    t = _EPOCH + timedelta(milliseconds=ms)
    return (
        f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}"
        f".{t.microsecond // 1000:03d}Z"
    )


def record_url(type_: str, record_id: int) -> str:
    """The app link HubSpot puts in `url` (tasks and notes have their own views)."""
    if type_ == "tasks":
        return f"https://app.hubspot.com/tasks/{PORTAL_ID}/view/all/task/{record_id}"
    if type_ == "notes":
        filters = orjson.dumps(
            [{"property": "hs_object_id", "operator": "EQ", "value": str(record_id)}]
        ).decode()
        return (
            f"https://app.hubspot.com/contacts/{PORTAL_ID}/objects/{OBJECT_TYPE_IDS[type_]}/views/all/list"
            f"?filters={quote(filters, safe='')}"
        )
    return f"https://app.hubspot.com/contacts/{PORTAL_ID}/record/{OBJECT_TYPE_IDS[type_]}/{record_id}"


def render_object(
    rec: HsRecord,
    properties: Iterable[str] | None = None,
    *,
    known: Collection[str] | None = None,
    with_history: Iterable[str] | None = None,
) -> dict[str, Any]:
    """One object with the requested properties, sorted by name, as HubSpot returns them.

    With no (or an empty) list, the type's default set, showing only what is set. With a list, each requested
    property that exists (`known`, when given) appears, unset ones as null, plus the always-returned ones.
    """
    return render_objects([rec], properties, known=known, with_history=with_history)[0]


def render_objects(
    records: Sequence[HsRecord],
    properties: Iterable[str] | None = None,
    *,
    known: Collection[str] | None = None,
    with_history: Iterable[str] | None = None,
) -> list[dict[str, Any]]:
    """`render_object` of each record, the property selection worked out once per object type."""
    wanted = tuple(properties) if properties is not None else ()
    history = tuple(with_history) if with_history is not None else None
    selected: dict[str, tuple[str, ...]] = {}
    out: list[dict[str, Any]] = []
    for rec in records:
        values = rec.props
        if not wanted:
            props = {n: v for n in DEFAULT_RETURNED[rec.type] if (v := values.get(n)) is not None
                     or n == "hs_object_id"}  # fmt: skip
        else:
            names = selected.get(rec.type)
            if names is None:
                chosen = {n for n in wanted if known is None or n in known} | set(ALWAYS_RETURNED[rec.type])
                names = selected[rec.type] = tuple(sorted(chosen))
            props = {n: values.get(n) for n in names}
        out.append(_envelope(rec, props, history, known))
    return out


def render_full(rec: HsRecord) -> dict[str, Any]:
    """An object with every property that has a value (what create and update responses carry)."""
    props: dict[str, str | None] = {k: v for k, v in sorted(rec.props.items()) if v is not None and v != ""}
    return _envelope(rec, props, None, None)


def _envelope(
    rec: HsRecord,
    props: dict[str, str | None],
    with_history: Iterable[str] | None,
    known: Collection[str] | None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"id": str(rec.id), "properties": props}
    if with_history:
        out["propertiesWithHistory"] = property_history(rec, with_history, known)
    out |= {
        "createdAt": _iso_ms(rec.created_ms),
        "updatedAt": _iso_ms(rec.updated_ms),
        "archived": rec.archived,
    }
    if rec.archived and rec.archived_ms is not None:
        out["archivedAt"] = _iso_ms(rec.archived_ms)
    out["url"] = record_url(rec.type, rec.id)
    return out


def property_history(
    rec: HsRecord, names: Iterable[str], known: Collection[str] | None
) -> dict[str, list[dict[str, Any]]]:
    """`propertiesWithHistory`: the sandbox keeps no history, so at most the current value, stamped with the
    record's last change (an empty list for unset properties)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for name in sorted(set(names)):
        if known is not None and name not in known:
            continue
        value = rec.props.get(name)
        out[name] = (
            [] if value is None or value == ""
            else [{"value": value, "timestamp": _iso_ms(rec.updated_ms), "sourceType": "API"}]
        )  # fmt: skip
    return out


def associations_block(
    store: Store, rec: HsRecord, to_types: Iterable[str]
) -> dict[str, dict[str, list[dict[str, str]]]]:
    """`associations` of a read: per requested type that has any, `{results: [{id, type}]}`."""
    return associations_for_page(store, rec.type, [rec.id], to_types).get(rec.id, {})


def associations_for_page(
    store: Store, type_: str, ids: Sequence[int], to_types: Iterable[str]
) -> dict[int, dict[str, dict[str, list[dict[str, str]]]]]:
    """The `associations` blocks of a page of records, one query per associated type (both directions)."""
    out: dict[int, dict[str, dict[str, list[dict[str, str]]]]] = {}
    if not ids:
        return out
    marks = ", ".join("?" for _ in ids)
    for to_type in dict.fromkeys(to_types):
        rows = store.sql(
            f"SELECT from_id, to_id, type_id FROM hs_assoc WHERE from_type = ? AND to_type = ? AND from_id IN ({marks}) "
            f"UNION SELECT to_id, from_id, type_id FROM hs_assoc WHERE to_type = ? AND from_type = ? "
            f"AND to_id IN ({marks}) ORDER BY 1, 2, 3",
            (type_, to_type, *ids, type_, to_type, *ids),
        )
        for own, other, type_id in rows:
            block = out.setdefault(int(own), {}).setdefault(to_type, {"results": []})
            block["results"].append(
                {"id": str(other), "type": association_name(type_, to_type, int(type_id))}
            )
    return out
