"""CRM records -> canonical records, one at a time or in batches, never stopping at a bad value."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from mappings import from_hubspot, from_salesforce
from mappings.config.crm import ActivityKind, CrmMapping, HubSpotMapping, SalesforceMapping
from mappings.field_reader import FieldReader
from mappings.mapped import utc_now
from mappings.problems import QUARANTINED, BatchResult, FieldProblem, TranslationResult
from mappings.records import Activity, CanonicalRecord
from mappings.wire import MAPPING_TYPES, BadValue, read_id, read_number

Builder = Callable[[FieldReader, CrmMapping, str, datetime], CanonicalRecord]
_BUILDERS: dict[str, dict[str, Builder]] = {
    "salesforce": from_salesforce.BUILDERS,
    "hubspot": from_hubspot.BUILDERS,
}
_ID_FIELD = {"salesforce": "Id", "hubspot": "id"}
# HubSpot engagement counters on a contact: (count property, last-time property, activity kind).
_COUNTERS: tuple[tuple[str, str, ActivityKind], ...] = (
    ("hs_analytics_num_visits", "hs_analytics_last_visit_timestamp", "web_visit"),
    ("num_conversion_events", "recent_conversion_date", "form_fill"),
    ("hs_email_open", "hs_email_last_open_date", "email"),
    ("num_contacted_notes", "notes_last_contacted", "call"),
)


def supported_objects(crm: str) -> tuple[str, ...]:
    """The CRM objects `to_canonical` translates for `crm`."""
    return tuple(_BUILDERS[crm])


def _check(crm: str, object_name: str, mapping: CrmMapping) -> None:
    # Caller mistakes, unlike bad data, are raised: they would fail every record the same way.
    expected = SalesforceMapping if crm == "salesforce" else HubSpotMapping
    if crm not in _BUILDERS:
        raise ValueError(f"unknown CRM {crm!r}")
    if not isinstance(mapping, expected):
        raise ValueError(f"a {type(mapping).__name__} cannot translate {crm} records")
    if object_name not in _BUILDERS[crm]:
        raise ValueError(
            f"{crm} object {object_name!r} is not translated; use one of {supported_objects(crm)}"
        )


def to_canonical(
    crm: str,
    object_name: str,
    raw_record: Mapping[str, Any],
    mapping: CrmMapping,
    *,
    now: datetime | None = None,
    position: int | None = None,
) -> TranslationResult[CanonicalRecord]:
    """Translate one raw CRM record (as the REST API returns it) into its canonical record.

    Bad values become `FieldProblem`s and read as missing: the record is still returned (and scored without
    them). A record that cannot be used at all is quarantined: no record, and a problem naming it and the
    reason: no usable id, not a mapping, HubSpot `properties` that are not a mapping, or a value translation
    could not survive. `now` anchors age features (default: the current time);
    `position` names a record without an id in problems (`<record 3>`).
    """
    _check(crm, object_name, mapping)
    record, problems = _translate(
        crm, _BUILDERS[crm][object_name], object_name, raw_record, mapping, now or utc_now(), position
    )
    return TranslationResult(record, problems)


def _translate(
    crm: str,
    builder: Builder,
    object_name: str,
    raw_record: Mapping[str, Any],
    mapping: CrmMapping,
    now: datetime,
    position: int | None,
) -> tuple[CanonicalRecord | None, list[FieldProblem]]:
    """`to_canonical` after its caller checks, which a batch makes once for all of its records."""
    if not isinstance(raw_record, MAPPING_TYPES):
        problem = FieldProblem(
            _label(position), "<record>", raw_record, f"{QUARANTINED}: not a mapping of fields", object_name
        )
        return None, [problem]
    id_field = _ID_FIELD[crm]
    raw_id = raw_record.get(id_field)
    record_id: str | None
    if type(raw_id) is str and raw_id.isalnum() and raw_id.isascii() and len(raw_id) <= 255:
        record_id = raw_id  # what `read_id` answers a plain id, without the two calls it takes
    else:
        try:
            record_id = read_id(raw_id)
        except BadValue as exc:
            problem = FieldProblem(_label(position), id_field, raw_id, f"{QUARANTINED}: {exc}", object_name)
            return None, [problem]
    if record_id is None:
        problem = FieldProblem(
            _label(position), id_field, raw_id, f"{QUARANTINED}: record has no id", object_name
        )
        return None, [problem]
    if crm == "hubspot":
        properties = raw_record.get("properties", {})
        if not isinstance(properties, Mapping):
            # Every field of a HubSpot record lives in `properties`: without them there is nothing to score.
            problem = FieldProblem(
                record_id,
                "properties",
                properties,
                f"{QUARANTINED}: expected a mapping of properties",
                object_name,
            )
            return None, [problem]
    reader = FieldReader(crm, raw_record, record_id, object_name)
    try:
        record = builder(reader, mapping, record_id, now)
    except Exception as exc:  # one unforeseen value must cost one record, never the batch
        problem = FieldProblem(
            record_id,
            "<record>",
            None,
            f"{QUARANTINED}: could not be read ({type(exc).__name__})",
            object_name,
        )
        return None, [*reader.problems, problem]
    return record, reader.problems


def _label(position: int | None) -> str:
    return f"<record {position}>" if position is not None else "<no id>"


def translate_batch(
    crm: str,
    object_name: str,
    raw_records: Iterable[Mapping[str, Any]],
    mapping: CrmMapping,
    *,
    now: datetime | None = None,
) -> BatchResult[CanonicalRecord]:
    """Translate a page of raw records: every readable record, and the problems of all of them."""
    _check(crm, object_name, mapping)
    builder = _BUILDERS[crm][object_name]
    moment = now or utc_now()
    result: BatchResult[CanonicalRecord] = BatchResult()
    records, problems = result.records, result.problems
    for position, raw in enumerate(raw_records):
        record, found = _translate(crm, builder, object_name, raw, mapping, moment, position)
        if record is not None:
            records.append(record)
        if found:
            problems.extend(found)
    return result


def engagement_activities(raw_contact: Mapping[str, Any]) -> BatchResult[Activity]:
    """Activities summarised from a HubSpot contact's engagement counters (visits, forms, opens, calls).

    Each counter above zero becomes one `Activity` with `count` set and `at` the counter's last time.
    """
    result: BatchResult[Activity] = BatchResult()
    if not isinstance(raw_contact, Mapping):
        result.problems.append(FieldProblem("<no id>", "<record>", raw_contact, "record is not a mapping"))
        return result
    try:
        contact_id = read_id(raw_contact.get("id"))
    except BadValue:
        contact_id = None
    if contact_id is None:
        result.problems.append(FieldProblem("<no id>", "id", raw_contact.get("id"), "record has no id"))
        return result
    reader = FieldReader("hubspot", raw_contact, contact_id, "contacts")
    for count_property, time_property, kind in _COUNTERS:
        raw_count = reader.get(count_property)
        try:
            count = read_number(raw_count) if raw_count is not None else None
        except BadValue as exc:
            reader.problem(count_property, raw_count, str(exc))
            continue
        if count is None or count < 1:
            continue
        activity = Activity(
            crm="hubspot",
            id=f"{contact_id}:{kind}",
            kind=kind,
            source_object="contacts",
            who_id=contact_id,
            at=reader.timestamp(time_property),
            count=min(int(count), 2**31 - 1),
        )
        result.records.append(activity)
    result.problems.extend(reader.problems)
    return result
