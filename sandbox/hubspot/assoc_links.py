"""HubSpot association types and the association store: what the association endpoints and object creates share.

An association is stored once, in the direction it was created (`hs_assoc`); reading from the other side
reports the inverse HUBSPOT_DEFINED type (contact->company 279 reads as company->contact 280), as HubSpot does.
Every labelled association also carries the pair's unlabelled type, and a record has at most one primary
company (and one parent company).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sandbox.errors import HsApiError, hs_validation
from sandbox.hs_schema import OBJECT_TYPE_IDS
from sandbox.hubspot.common import SINGULAR
from sandbox.store import Store

READ_LIMIT = 1000
_CHUNK = 500  # ids per IN (...) list, well under SQLite's bound-parameter limit
WRITE_LIMIT = 2000
LIST_LIMIT = 500
CATEGORIES = ("HUBSPOT_DEFINED", "USER_DEFINED", "INTEGRATOR_DEFINED")


@dataclass(frozen=True)
class AssocType:
    """A HUBSPOT_DEFINED association type: one direction between two object types."""

    type_id: int
    from_type: str
    to_type: str
    inverse: int
    label: str | None
    v3_name: str


def _pair(a: str, b: str, ab: int, ba: int, labels: tuple[str | None, str | None] = (None, None),
          names: tuple[str, str] | None = None) -> list[AssocType]:  # fmt: skip
    n_ab, n_ba = names or (f"{SINGULAR[a]}_to_{SINGULAR[b]}", f"{SINGULAR[b]}_to_{SINGULAR[a]}")
    return [AssocType(ab, a, b, ba, labels[0], n_ab), AssocType(ba, b, a, ab, labels[1], n_ba)]


# HubSpot's type ids (developers.hubspot.com, associations v4 "association type id values"); v3 names as its
# `/crm/v3/associations/{from}/{to}/types` lists them ("contact_to_company" is the primary one)
TYPES: dict[int, AssocType] = {
    t.type_id: t
    for t in [
        *_pair(
            "contacts",
            "companies",
            279,
            280,
            names=("contact_to_company_unlabeled", "company_to_contact_unlabeled"),
        ),
        *_pair("contacts", "companies", 1, 2, ("Primary", "Primary")),
        *_pair("deals", "contacts", 3, 4),
        *_pair(
            "deals", "companies", 341, 342, names=("deal_to_company_unlabeled", "company_to_deal_unlabeled")
        ),
        *_pair("deals", "companies", 5, 6, ("Primary", "Primary")),
        *_pair(
            "companies",
            "companies",
            13,
            14,
            ("Child Company", "Parent Company"),
            ("parent_to_child_company", "child_to_parent_company"),
        ),
        AssocType(450, "companies", "companies", 450, None, "company_to_company"),
        AssocType(449, "contacts", "contacts", 449, None, "contact_to_contact"),
        *_pair("contacts", "tasks", 203, 204),
        *_pair("contacts", "notes", 201, 202),
        *_pair("companies", "tasks", 191, 192),
        *_pair("companies", "notes", 189, 190),
        *_pair("deals", "tasks", 215, 216),
        *_pair("deals", "notes", 213, 214),
    ]
}
V3_NAMES = {t.type_id: t.v3_name for t in TYPES.values()}
# a record holds at most one of these (its primary company, its parent company): holder-side type -> inverse
_SINGLE = {1: 2, 5: 6, 14: 13}


@dataclass(frozen=True)
class Link:
    """One association to write, in the direction it is created."""

    from_type: str
    from_id: int
    to_type: str
    to_id: int
    category: str
    type_id: int


def object_id(raw: object) -> int:
    """An object id from a path or a body (string or number), or 400."""
    text = str(raw).strip()
    if isinstance(raw, bool) or not text.isdigit():
        raise hs_validation(f"Invalid object id: {raw!r}")
    return int(text)


def ref_id(obj: Any, what: str) -> int:
    """The id of a `{id}` reference in a request body, or 400."""
    if not isinstance(obj, dict) or "id" not in obj:
        raise hs_validation(f"Invalid input JSON: {what} must be an object with an id")
    return object_id(obj["id"])


def default_type(from_type: str, to_type: str) -> AssocType:
    """The unlabelled (default) type between two object types, or 400 when they cannot be associated."""
    for t in TYPES.values():
        if t.from_type == from_type and t.to_type == to_type and t.label is None:
            return t
    raise hs_validation(
        f"There is no default association type between {SINGULAR[from_type]} and {SINGULAR[to_type]}"
    )


def check_spec(from_type: str, to_type: str | None, spec: object) -> tuple[str, int]:
    """(category, typeId) of an `{associationCategory, associationTypeId}`, checked against the object types."""
    if not isinstance(spec, dict):
        raise hs_validation("Invalid input JSON: an association type must be an object")
    category, raw_id = spec.get("associationCategory"), spec.get("associationTypeId")
    if category not in CATEGORIES:
        raise hs_validation(f"Invalid input JSON: associationCategory must be one of {', '.join(CATEGORIES)}")
    type_id = object_id(raw_id)
    t = TYPES.get(type_id) if category == "HUBSPOT_DEFINED" else None
    if t is None:
        between = (
            f"{OBJECT_TYPE_IDS[from_type]} and {OBJECT_TYPE_IDS[to_type]}"
            if to_type
            else OBJECT_TYPE_IDS[from_type]
        )
        raise hs_validation(f"association type id {type_id} ({category}) doesn't exist for {between}")
    if t.from_type != from_type:
        raise hs_validation(
            f"invalid from object type {OBJECT_TYPE_IDS[from_type]} for associations to be created. "
            f"expected: {OBJECT_TYPE_IDS[t.from_type]}"
        )
    if to_type is not None and t.to_type != to_type:
        raise hs_validation(
            f"invalid to object type {OBJECT_TYPE_IDS[to_type]} for associations to be created. "
            f"expected: {OBJECT_TYPE_IDS[t.to_type]}"
        )
    return str(category), type_id


def missing_objects(store: Store, refs: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """The (type, id) references that name no live record."""
    return [(t, i) for t, i in refs if store.hs_get(t, i) is None]


def invalid_objects(missing: list[tuple[str, int]]) -> HsApiError:
    """HubSpot's 400 for associations naming records that do not exist."""
    return HsApiError(
        400,
        "One or more associations are invalid",
        "VALIDATION_ERROR",
        sub_category="INVALID_OBJECT_IDS",
        errors=[
            {
                "message": f"No {SINGULAR[t]} with id {i} exists",
                "code": "INVALID_OBJECT_IDS",
                "context": {"objectId": [str(i)], "objectType": [OBJECT_TYPE_IDS[t]]},
            }
            for t, i in missing
        ],
    )


def batch_error(err: HsApiError) -> dict[str, Any]:
    """An error as it appears inside a batch response (no correlation id of its own)."""
    return {k: v for k, v in err.body().items() if k != "correlationId"}


def no_associations(from_type: str, from_id: str, to_type: str) -> dict[str, Any]:
    """The per-input error of a batch read for an id with no association (captured from the real API)."""
    return {
        "status": "error",
        "category": "OBJECT_NOT_FOUND",
        "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
        "context": {"fromObjectId": [from_id], "fromObjectType": [SINGULAR[from_type]],
                    "toObjectType": [SINGULAR[to_type]]},
        "message": f"No {SINGULAR[to_type]} is associated with {SINGULAR[from_type]} {from_id}.",
    }  # fmt: skip


def associate(store: Store, link: Link) -> None:
    """Write one association (plus the pair's unlabelled type under a label; one primary/parent per record)."""
    with store.transaction() as c:
        t = TYPES.get(link.type_id) if link.category == "HUBSPOT_DEFINED" else None
        if t is not None and (t.type_id in _SINGLE or t.type_id in _SINGLE.values()):
            holder_side = t.type_id in _SINGLE
            fwd = t.type_id if holder_side else t.inverse
            holder = (link.from_type, link.from_id) if holder_side else (link.to_type, link.to_id)
            other_type, keep = (link.to_type, link.to_id) if holder_side else (link.from_type, link.from_id)
            c.execute(
                "DELETE FROM hs_assoc WHERE category = 'HUBSPOT_DEFINED' AND from_type = ? AND from_id = ? "
                "AND to_type = ? AND type_id = ? AND to_id != ?",
                (*holder, other_type, fwd, keep),
            )
            c.execute(
                "DELETE FROM hs_assoc WHERE category = 'HUBSPOT_DEFINED' AND to_type = ? AND to_id = ? "
                "AND from_type = ? AND type_id = ? AND from_id != ?",
                (*holder, other_type, _SINGLE[fwd], keep),
            )
        store.hs_associate(
            link.from_type, link.from_id, link.to_type, link.to_id, link.type_id, link.category
        )
        if t is None or t.label is not None:
            unlabelled = default_type(link.from_type, link.to_type)
            store.hs_associate(link.from_type, link.from_id, link.to_type, link.to_id, unlabelled.type_id)


def read_links(store: Store, from_type: str, from_id: int, to_type: str) -> dict[int, list[tuple[str, int]]]:
    """{to_id: [(category, typeId)]} seen from one record, both stored directions, live records only."""
    return read_links_many(store, from_type, [from_id], to_type).get(from_id, {})


def read_links_many(
    store: Store, from_type: str, from_ids: Sequence[int], to_type: str
) -> dict[int, dict[int, list[tuple[str, int]]]]:
    """`read_links` for many records at once: {from_id: {to_id: [(category, typeId)]}}, ids without any left out.

    One indexed query per direction and one liveness query per chunk, whatever the number of ids: a batch
    read of 1,000 ids costs a few queries, not two per id.
    """
    wanted = list(dict.fromkeys(from_ids))
    found: dict[int, dict[int, set[tuple[str, int]]]] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        marks = ", ".join("?" for _ in chunk)
        rows = store.sql(
            "SELECT from_id, to_id, category, type_id, 0 FROM hs_assoc "
            f"WHERE from_type = ? AND from_id IN ({marks}) AND to_type = ? "
            "UNION ALL SELECT to_id, from_id, category, type_id, 1 FROM hs_assoc "
            f"WHERE to_type = ? AND to_id IN ({marks}) AND from_type = ?",
            (from_type, *chunk, to_type, from_type, *chunk, to_type),
        )
        for own, other, category, type_id, reverse in rows:
            tid = int(type_id)
            if reverse and category == "HUBSPOT_DEFINED" and tid in TYPES:
                tid = TYPES[tid].inverse
            found.setdefault(int(own), {}).setdefault(int(other), set()).add((str(category), tid))
    live = store.hs_live_ids(to_type, list({i for links in found.values() for i in links}))
    out: dict[int, dict[int, list[tuple[str, int]]]] = {}
    for own, links in found.items():
        kept = {i: sorted(s, key=_spec_order) for i, s in sorted(links.items()) if i in live}
        if kept:
            out[own] = kept
    return out


def _spec_order(spec: tuple[str, int]) -> tuple[int, str]:
    return spec[1], spec[0]


def render_types(specs: list[tuple[str, int]]) -> list[dict[str, Any]]:
    """`associationTypes` entries: `{category, typeId, label}`."""
    return [
        {
            "category": c,
            "typeId": i,
            "label": TYPES[i].label if c == "HUBSPOT_DEFINED" and i in TYPES else None,
        }
        for c, i in specs
    ]


def labels_between(store: Store, from_type: str, a: int, to_type: str, b: int) -> list[str]:
    return [
        str(x["label"])
        for x in render_types(read_links(store, from_type, a, to_type).get(b, []))
        if x["label"]
    ]


def archive_pair(store: Store, from_type: str, a: int, to_type: str, b: int) -> None:
    """Remove every association between two records, whichever direction it was stored in."""
    with store.transaction() as c:
        c.execute(
            "DELETE FROM hs_assoc WHERE (from_type = ? AND from_id = ? AND to_type = ? AND to_id = ?) "
            "OR (from_type = ? AND from_id = ? AND to_type = ? AND to_id = ?)",
            (from_type, a, to_type, b, to_type, b, from_type, a),
        )


def archive_types(
    store: Store, from_type: str, a: int, to_type: str, b: int, specs: list[tuple[str, int]]
) -> None:
    """Remove only the given types between two records (a label; the unlabelled association stays)."""
    with store.transaction() as c:
        for category, type_id in specs:
            inverse = (
                TYPES[type_id].inverse if category == "HUBSPOT_DEFINED" and type_id in TYPES else type_id
            )
            c.execute(
                "DELETE FROM hs_assoc WHERE category = ? AND ((from_type = ? AND from_id = ? AND to_type = ? "
                "AND to_id = ? AND type_id = ?) OR (from_type = ? AND from_id = ? AND to_type = ? AND to_id = ? "
                "AND type_id = ?))",
                (category, from_type, a, to_type, b, type_id, to_type, b, from_type, a, inverse),
            )


# ---------------------------------------------------------------------------------------------- object create
def plan_create_associations(
    store: Store, from_type: str, associations: object
) -> list[tuple[str, int, str, int]]:
    """Check the `associations` of an object-create body; (to_type, to_id, category, typeId) to write, or 400.

    Call before inserting the record so a bad association leaves nothing behind, then
    `apply_create_associations` with the new id. The target type is inferred from each type id, as HubSpot does.
    """
    if associations is None:
        return []
    if not isinstance(associations, list):
        raise hs_validation("Invalid input JSON: associations must be an array")
    planned: list[tuple[str, int, str, int]] = []
    for item in associations:
        if not isinstance(item, dict) or not isinstance(item.get("types"), list) or not item["types"]:
            raise hs_validation(
                "Invalid input JSON: each association needs `to` and a non-empty `types` array"
            )
        to_id = ref_id(item.get("to"), "to")
        for spec in item["types"]:
            category, type_id = check_spec(from_type, None, spec)
            planned.append((TYPES[type_id].to_type, to_id, category, type_id))
    missing = missing_objects(store, list(dict.fromkeys((t, i) for t, i, _, _ in planned)))
    if missing:
        raise invalid_objects(missing)
    return planned


def apply_create_associations(
    store: Store, from_type: str, from_id: int, planned: list[tuple[str, int, str, int]]
) -> None:
    """Write what `plan_create_associations` checked, from the newly created record."""
    for to_type, to_id, category, type_id in planned:
        associate(store, Link(from_type, from_id, to_type, to_id, category, type_id))


def associate_on_create(store: Store, from_type: str, from_id: int, associations: object) -> None:
    """Check and write the `associations` of `POST /crm/v3/objects/{type}` for the new record (400 on bad input)."""
    apply_create_associations(
        store, from_type, from_id, plan_create_associations(store, from_type, associations)
    )


def v3_association_results(store: Store, from_type: str, from_id: int, to_type: str) -> list[dict[str, str]]:
    """`[{id, type}]` as `GET /crm/v3/objects/{type}/{id}?associations=` lists them (one entry per type)."""
    out = []
    for to_id, specs in read_links(store, from_type, from_id, to_type).items():
        for category, type_id in specs:
            name = V3_NAMES.get(type_id) if category == "HUBSPOT_DEFINED" else None
            out.append({"id": str(to_id), "type": name or f"{SINGULAR[from_type]}_to_{SINGULAR[to_type]}"})
    return out
