"""HubSpot objects as the API renders them (`SimplePublicObject` and its archived form)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sandbox.clock import hs_datetime
from sandbox.hs_schema import OBJECT_TYPE_IDS
from sandbox.store import HsRecord

PORTAL_ID = 147893286

# properties returned when a request names none, per object type (as the real API does)
DEFAULT_RETURNED: dict[str, tuple[str, ...]] = {
    "contacts": ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"),
    "companies": ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
    "deals": ("amount", "closedate", "createdate", "dealname", "dealstage", "hs_lastmodifieddate", "hs_object_id",
              "pipeline"),
    "tasks": ("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
    "notes": ("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
}  # fmt: skip


def _iso_ms(ms: int) -> str:
    from datetime import UTC, datetime

    return hs_datetime(datetime.fromtimestamp(ms / 1000, UTC))


def render_object(rec: HsRecord, properties: Iterable[str] | None = None) -> dict[str, Any]:
    """One object with the requested properties (unset ones as null), sorted by name, as HubSpot returns them."""
    wanted = DEFAULT_RETURNED[rec.type] if properties is None else tuple(properties)
    if properties is not None and not wanted:
        wanted = DEFAULT_RETURNED[rec.type]
    props = {name: rec.props.get(name) for name in sorted(set(wanted))}
    if properties is None:
        # the default set only shows what is set, except the always-present system properties
        props = {k: v for k, v in props.items() if v is not None or k in ("hs_object_id",)}
    out: dict[str, Any] = {
        "id": str(rec.id),
        "properties": props,
        "createdAt": _iso_ms(rec.created_ms),
        "updatedAt": _iso_ms(rec.updated_ms),
        "archived": rec.archived,
    }
    if rec.archived and rec.archived_ms is not None:
        out["archivedAt"] = _iso_ms(rec.archived_ms)
    out["url"] = f"https://app.hubspot.com/contacts/{PORTAL_ID}/record/{OBJECT_TYPE_IDS[rec.type]}/{rec.id}"
    return out
