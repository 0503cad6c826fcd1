"""Creating and updating HubSpot objects: validation, the properties HubSpot derives, uniqueness, associations.

Shared by the single-object and the batch endpoints so both behave alike. Everything is checked before
anything is written: a request either fails whole (400 or 409) or is applied in one SQLite transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sandbox.clock import hs_datetime
from sandbox.errors import HsApiError, hs_validation
from sandbox.hs_schema import OBJECT_TYPE_IDS
from sandbox.hs_standard import DEAL_STAGE_META
from sandbox.hubspot.common import (
    ASSOCIATION_TYPES,
    PORTAL_ID,
    PRIMARY_COMPANY_TYPE_ID,
    TYPE_WORD,
    parse_id,
)
from sandbox.hubspot.validate import PropertyChecker, values_error
from sandbox.store import Store
from sandbox.store_hubspot import HsRecord

# what HubSpot records as the source of objects an app creates
SOURCE_ID = "2174961"
_CATEGORIES = ("HUBSPOT_DEFINED", "USER_DEFINED", "INTEGRATOR_DEFINED")


@dataclass
class PlannedCreate:
    """One validated create: its property values and the associations to make with it."""

    props: dict[str, str]
    associations: list[tuple[str, int, int, str]] = field(
        default_factory=list
    )  # to type, to id, type id, category


class ObjectWriter:
    """Validates and applies writes to one object type."""

    def __init__(self, store: Store, type_: str) -> None:
        self.store = store
        self.type = type_
        self.checker = PropertyChecker(store, type_)

    # ------------------------------------------------------------------ lookups
    def unique_properties(self) -> list[str]:
        """Properties whose values must be unique: email for contacts, and any defined with hasUniqueValue."""
        names = [
            n for n, spec in self.checker.defs.items() if spec.get("hasUniqueValue") and n != "hs_object_id"
        ]
        return ["email", *names] if self.type == "contacts" else names

    def check_id_property(self, name: str | None, *, for_write: bool) -> str | None:
        """The `idProperty` to resolve ids by, or None for record ids; a 400 if it cannot identify records."""
        if name is None or name == "":
            return None
        if name == "hs_object_id" and not for_write:
            return None
        if name not in self.checker.defs:
            raise hs_validation(f'Property "{name}" does not exist')
        if name not in self.unique_properties():
            raise hs_validation(
                f"Unable to perform {'update/upsert' if for_write else 'lookup'} by non-unique "
                f"{OBJECT_TYPE_IDS[self.type]} property {name} in portal ID {PORTAL_ID}"
            )
        return name

    def find_by(self, name: str, values: Collection[str]) -> dict[str, int]:
        """Live records whose `name` equals one of `values`: value (lower-cased for email) -> id."""
        fold = name == "email"
        wanted = sorted({v.lower() if fold else v for v in values if v})
        out: dict[str, int] = {}
        path = f'$."{name}"'
        expr = "lower(json_extract(props, ?))" if fold else "json_extract(props, ?)"
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            rows = self.store.sql(
                f"SELECT id, {expr} FROM hs_object WHERE type = ? AND archived = 0 AND {expr} IN ({marks}) "
                "ORDER BY id",
                (path, self.type, path, *chunk),
            )
            for row in rows:
                out.setdefault(str(row[1]), int(row[0]))
        return out

    def resolve_ids(self, raw_ids: Iterable[str], id_property: str | None) -> dict[str, int]:
        """Input ids (record ids, or values of `id_property`) -> record ids of live records that match."""
        ids = list(raw_ids)
        if id_property is None:
            numbers = {raw: n for raw in ids if (n := parse_id(raw)) is not None}
            live = self.store.hs_live_ids(self.type, list(set(numbers.values())))
            return {raw: n for raw, n in numbers.items() if n in live}
        found = self.find_by(id_property, ids)
        fold = id_property == "email"
        return {raw: found[key] for raw in ids if (key := raw.lower() if fold else raw) in found}

    def check_unique(self, planned: list[tuple[int | None, Mapping[str, str]]]) -> None:
        """Refuse values of unique properties already held by another record, or twice in one request."""
        for name in self.unique_properties():
            values = [(rid, p[name]) for rid, p in planned if p.get(name)]
            if not values:
                continue
            fold = name == "email"
            existing = self.find_by(name, [v for _, v in values])
            seen: dict[str, int | None] = {}
            for rid, value in values:
                key = value.lower() if fold else value
                holder = existing.get(key)
                if holder is not None and holder != rid:
                    raise _conflict(self.type, name, value, holder)
                if key in seen:
                    raise hs_validation(
                        f"Duplicate values found in batch input for property {name}: [{value}]"
                    )
                seen[key] = rid

    # ------------------------------------------------------------------ creates
    def plan_creates(self, inputs: list[Any]) -> list[PlannedCreate]:
        """Validate create inputs (`{properties, associations?}`); raises 400/409 before anything is written."""
        issues: list[dict[str, Any]] = []
        planned: list[PlannedCreate] = []
        for raw in inputs:
            if not isinstance(raw, dict):
                raise hs_validation("Invalid input JSON: each input must be an object with 'properties'")
            props, found = self.checker.check(raw.get("properties"), creating=True)
            issues += found
            planned.append(PlannedCreate({k: v for k, v in props.items() if v != ""}))
        if issues:
            raise values_error(issues)
        for raw, plan in zip(inputs, planned, strict=True):
            plan.associations = self.parse_associations(raw.get("associations"))
            for to_type, to_id, type_id, _ in plan.associations:
                if type_id == PRIMARY_COMPANY_TYPE_ID and to_type == "companies":
                    plan.props.setdefault("associatedcompanyid", str(to_id))
        self.check_unique([(None, p.props) for p in planned])
        return planned

    def create(self, planned: list[PlannedCreate]) -> list[HsRecord]:
        """Insert planned creates (with derived properties and associations) in one transaction."""
        when = self.store.clock.now()
        now = hs_datetime(when)
        # derived values may be "" (unset); a new record simply does not have them
        rows = [
            {k: v for k, v in derive(self.type, {}, p.props, now, creating=True).items() if v}
            for p in planned
        ]
        with self.store.transaction():
            records = self.store.hs_insert_many(self.type, rows, when=when)
            for rec, plan in zip(records, planned, strict=True):
                for to_type, to_id, type_id, category in plan.associations:
                    self.store.hs_associate(self.type, rec.id, to_type, to_id, type_id, category)
        return records

    def parse_associations(self, raw: Any) -> list[tuple[str, int, int, str]]:
        """Inline associations of a create (`[{to: {id}, types: [{associationCategory, associationTypeId}]}]`)."""
        if raw is None:
            return []
        if not isinstance(raw, list):
            raise hs_validation("Invalid input JSON: 'associations' must be a list")
        out: list[tuple[str, int, int, str]] = []
        for item in raw:
            to = item.get("to") if isinstance(item, dict) else None
            types = item.get("types") if isinstance(item, dict) else None
            to_id = parse_id(str(to.get("id", ""))) if isinstance(to, dict) else None
            if to_id is None or not isinstance(types, list) or not types:
                raise hs_validation(
                    "Invalid input JSON: each association needs 'to.id' and a list of 'types'"
                )
            for spec in types:
                category = spec.get("associationCategory") if isinstance(spec, dict) else None
                type_id = spec.get("associationTypeId") if isinstance(spec, dict) else None
                if category not in _CATEGORIES or not isinstance(type_id, int) or isinstance(type_id, bool):
                    raise hs_validation(
                        "Invalid input JSON: association types need 'associationCategory' (one of "
                        f"{', '.join(_CATEGORIES)}) and an integer 'associationTypeId'"
                    )
                pair = ASSOCIATION_TYPES.get(type_id) if category == "HUBSPOT_DEFINED" else None
                if pair is None or pair[0] != self.type:
                    raise hs_validation(
                        f"{category} association type {type_id} is not valid for {TYPE_WORD[self.type]} objects"
                    )
                out.append((pair[1], to_id, type_id, category))
        for to_type in {a[0] for a in out}:
            ids = [a[1] for a in out if a[0] == to_type]
            missing = sorted(set(ids) - set(self.store.hs_get_many(to_type, ids)))
            if missing:
                raise HsApiError(
                    400,
                    f"Could not find {TYPE_WORD[to_type]} objects to associate with: "
                    f"{', '.join(map(str, missing))}",
                    "VALIDATION_ERROR",
                    context={"ids": [str(m) for m in missing]},
                )
        return out

    # ------------------------------------------------------------------ updates
    def plan_updates(self, raw_props: list[Any]) -> list[dict[str, str]]:
        """Validate the properties of update inputs; any invalid value fails the whole request (400)."""
        issues: list[dict[str, Any]] = []
        out: list[dict[str, str]] = []
        for raw in raw_props:
            props, found = self.checker.check(raw, creating=False)
            issues += found
            out.append(props)
        if issues:
            raise values_error(issues)
        return out

    def update(self, record: HsRecord, props: Mapping[str, str]) -> HsRecord:
        """Apply validated values (and what HubSpot derives from them) to one live record."""
        when = self.store.clock.now()
        changes = derive(self.type, record.props, props, hs_datetime(when), creating=False)
        updated = self.store.hs_update(self.type, record.id, changes, when=when)
        return updated if updated is not None else record

    def update_many(self, planned: Sequence[tuple[HsRecord, Mapping[str, str]]]) -> list[HsRecord]:
        """`update` of distinct records read in the caller's transaction, written in one statement."""
        when = self.store.clock.now()
        now = hs_datetime(when)
        changes = [(rec, derive(self.type, rec.props, props, now, creating=False)) for rec, props in planned]
        return self.store.hs_update_records(self.type, changes, when=when)


def _conflict(type_: str, name: str, value: str, holder: int) -> HsApiError:
    if type_ == "contacts" and name == "email":
        return HsApiError(409, f"Contact already exists. Existing ID: {holder}", "CONFLICT")
    return HsApiError(
        409,
        f"A {TYPE_WORD[type_].lower()} with the unique value {value} for property {name} already exists. "
        f"Existing ID: {holder}",
        "CONFLICT",
    )


def derive(
    type_: str, old: Mapping[str, str | None], changes: Mapping[str, str], now: str, *, creating: bool
) -> dict[str, str | None]:
    """The values to store: the validated changes plus the properties HubSpot maintains from them."""
    new: dict[str, str | None] = dict(changes)

    def current(name: str) -> str:
        value = new[name] if name in new else old.get(name)
        return value or ""

    if creating:
        new |= {"hs_object_source": "INTEGRATION", "hs_object_source_label": "INTEGRATION"}
        new["hs_object_source_id"] = SOURCE_ID
    if "hubspot_owner_id" in changes:
        owner = changes["hubspot_owner_id"]
        new["hubspot_owner_assigneddate"] = now if owner else ""
        new["hs_all_owner_ids"] = owner
    if type_ in ("contacts", "companies") and creating and not current("lifecyclestage"):
        new["lifecyclestage"] = "lead"  # the portal default for records an integration creates
    if type_ == "contacts":
        if "email" in changes:
            new["hs_email_domain"] = changes["email"].rsplit("@", 1)[-1].lower() if changes["email"] else ""
        stage = current("lifecyclestage")
        if (
            stage
            and stage != (old.get("lifecyclestage") or "")
            and not old.get(f"hs_lifecyclestage_{stage}_date")
        ):
            new[f"hs_lifecyclestage_{stage}_date"] = now
    elif type_ == "companies" and creating:
        # HubSpot fills one of domain / website from the other
        if current("domain") and not current("website"):
            new["website"] = current("domain")
        elif current("website") and not current("domain"):
            new["domain"] = _domain_of(current("website"))
    elif type_ == "deals":
        _derive_deal(new, current, now, creating=creating, stage_changed="dealstage" in changes)
    elif type_ == "tasks":
        _derive_task(new, old, current, now, creating=creating)
    return new


def _derive_deal(
    new: dict[str, str | None],
    current: Callable[[str], str],
    now: str,
    *,
    creating: bool,
    stage_changed: bool,
) -> None:
    stage = current("dealstage")
    if stage and not current("pipeline"):
        new["pipeline"] = "default"
    if stage_changed or creating or "amount" in new:
        _label, probability, closed = DEAL_STAGE_META.get(stage, ("", 0.0, False))
        won = stage == "closedwon"
        new["hs_is_closed"] = "true" if closed else "false"
        new["hs_is_closed_won"] = "true" if won else "false"
        new["hs_is_closed_lost"] = "true" if closed and not won else "false"
        new["hs_deal_stage_probability"] = repr(probability) if stage else ""
        new["hs_closed_amount"] = (current("amount") or "0") if won else "0"
        if closed and not current("closedate"):
            new["closedate"] = now  # HubSpot stamps the close date when a deal closes without one


def _derive_task(
    new: dict[str, str | None],
    old: Mapping[str, str | None],
    current: Callable[[str], str],
    now: str,
    *,
    creating: bool,
) -> None:
    if creating:
        for name, default in (("hs_task_status", "NOT_STARTED"), ("hs_task_type", "TODO"),
                              ("hs_task_priority", "NONE")):  # fmt: skip
            if not current(name):
                new[name] = default
    completed = current("hs_task_status") == "COMPLETED"
    was_completed = (old.get("hs_task_status") or "") == "COMPLETED"
    new["hs_task_is_completed"] = "1" if completed else "0"
    if completed and not was_completed:
        new["hs_task_completion_date"] = now
    elif not completed and old.get("hs_task_completion_date"):
        new["hs_task_completion_date"] = ""


def _domain_of(website: str) -> str:
    host = website.split("://", 1)[-1].split("/", 1)[0].lower()
    return host.removeprefix("www.")
