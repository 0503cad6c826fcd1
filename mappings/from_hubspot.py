"""HubSpot CRM v3 objects (`{id, properties, createdAt, updatedAt, archived, associations}`) -> canonical."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from mappings.config.crm import ActivityKind, CrmMapping, LifecycleStageLabel
from mappings.field_reader import FieldReader
from mappings.mapped import activity_kind, decision_of, feature_values, task_key, writeback_values
from mappings.record_makers import (
    ACCOUNT_FIELDS,
    COMMON_FIELDS,
    OPPORTUNITY_FIELDS,
    PERSON_FIELDS,
    TASK_FIELDS,
    maker,
)
from mappings.records import Account, Activity, CanonicalRecord, Contact, Opportunity, Task
from mappings.wire import ABSENT, MAPPING_TYPES, BadValue, email_domain, is_free_mail, read_id, remember

Builder = Callable[[FieldReader, CrmMapping, str, datetime], CanonicalRecord]
# Record constructors by position (see `maker`), the fields in the order the builders read them.
_CONTACT = maker(
    Contact, *PERSON_FIELDS, "is_converted", "converted_at", "fields", "writeback", "writeback_raw"
)
_ACCOUNT = maker(Account, *ACCOUNT_FIELDS)
_OPPORTUNITY = maker(Opportunity, *OPPORTUNITY_FIELDS, "contact_ids")
_TASK = maker(Task, *TASK_FIELDS)
_ACTIVITY = maker(Activity, *COMMON_FIELDS, "kind", "source_object", "who_id", "account_id", "at", "subject")
_TAG = re.compile(r"<[^>]*>")
_SUMMARIES: dict[str, str | None] = {}  # a note's text -> its subject (templated notes repeat across a pull)
# Engagement objects: (property holding the subject, kind when the mapping does not say).
_ENGAGEMENTS: dict[str, tuple[str, ActivityKind]] = {
    "notes": ("hs_note_body", "note"),
    "calls": ("hs_call_title", "call"),
    "meetings": ("hs_meeting_title", "meeting"),
    "emails": ("hs_email_subject", "email"),
}


def _common(
    r: FieldReader, record_id: str, modified: str = "hs_lastmodifieddate"
) -> tuple[str, str, bool, datetime | None]:
    # `COMMON_FIELDS`, in order, as the makers take them.
    return "hubspot", record_id, r.boolean("archived"), r.first_timestamp(modified, "updatedAt")


def associated(r: FieldReader, object_type: str) -> tuple[str, ...]:
    """Ids of associated records of `object_type` from the `associations` block of a v3 read."""
    block = r.raw.get("associations")
    group = block.get(object_type) if isinstance(block, MAPPING_TYPES) else None
    results = group.get("results") if isinstance(group, MAPPING_TYPES) else None
    if results is None:
        return ()
    if type(results) is list:
        # The connector's own blocks hold plain ids, mostly one or two: read as `read_id` answers a plain id
        # (its common case, inlined), anything else through the general loop below, which owns the problems.
        plain: list[str] = []
        for item in results:
            found = item.get("id") if type(item) is dict else None
            if not (type(found) is str and found.isalnum() and found.isascii() and len(found) <= 255):
                break
            if found not in plain:
                plain.append(found)
        else:
            return tuple(plain)
    path = f"associations.{object_type}"
    if not isinstance(results, list):
        r.problem(path, results, "expected a list of associations")
        return ()
    ids: list[str] = []
    for item in results:
        try:
            found = read_id(item.get("id")) if isinstance(item, MAPPING_TYPES) else None
        except BadValue as exc:
            r.problem(path, item, str(exc))
            continue
        if found and found not in ids:
            ids.append(found)
    return tuple(ids)


def _first(ids: tuple[str, ...]) -> str | None:
    return ids[0] if ids else None


_STAGES: list[tuple[CrmMapping, tuple[str, ...], tuple[str, ...]]] = []


def _stages(mapping: CrmMapping) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The lifecycle stages that mean converted, and the properties stamping when a contact reached each."""
    # Remembered for the last mapping (config models are frozen): a pull asks once per contact.
    if _STAGES and _STAGES[0][0] is mapping:
        return _STAGES[0][1], _STAGES[0][2]
    stages = mapping.label.stages if isinstance(mapping.label, LifecycleStageLabel) else ("customer",)
    dates = tuple(f"hs_lifecyclestage_{name}_date" for name in stages)
    _STAGES[:] = [(mapping, stages, dates)]
    return stages, dates


def contact(r: FieldReader, mapping: CrmMapping, record_id: str, now: datetime) -> Contact:
    """contacts -> `Contact`; converted means the lifecycle stage reached the label's stages."""
    email = r.email("email")
    website = r.domain("website")
    from_email = email_domain(email)
    stages, stage_dates = _stages(mapping)
    stage = (r.text("lifecyclestage") or "").casefold()
    converted_at = [r.timestamp(path) for path in stage_dates]
    decoded, raw = writeback_values(r, mapping)
    name = " ".join(part for part in (r.text("firstname"), r.text("lastname")) if part)
    return _CONTACT(
        *_common(r, record_id, "lastmodifieddate"),
        email,
        name or None,
        r.text("company"),
        website or (None if is_free_mail(from_email) else from_email),
        r.text("jobtitle"),
        r.shared_id("hubspot_owner_id"),
        r.shared_id("associatedcompanyid") or _first(associated(r, "companies")),
        r.first_timestamp("createdate", "createdAt"),
        stage in stages,
        min((moment for moment in converted_at if moment), default=None),
        feature_values(r, mapping, now),
        decoded,
        raw,
    )


def company(r: FieldReader, mapping: CrmMapping, record_id: str, now: datetime) -> Account:
    """companies -> `Account`; customers are companies in the customer lifecycle stage."""
    return _ACCOUNT(
        *_common(r, record_id),
        r.text("name"),
        r.text("website"),
        r.domain("domain") or r.domain("website"),
        r.id("hs_parent_company_id"),
        r.text("industry"),
        r.number("numberofemployees"),
        r.number("annualrevenue"),
        (r.text("lifecyclestage") or "").casefold() == "customer",
        r.shared_id("hubspot_owner_id"),
        r.first_timestamp("createdate", "createdAt"),
    )


def deal(r: FieldReader, mapping: CrmMapping, record_id: str, now: datetime) -> Opportunity:
    """deals -> `Opportunity`; won/closed come from HubSpot's flags, else from the default stages."""
    stage = r.text("dealstage")
    return _OPPORTUNITY(
        *_common(r, record_id),
        r.text("dealname"),
        _first(associated(r, "companies")),
        stage,
        r.boolean("hs_is_closed_won", default=stage == "closedwon"),
        r.boolean("hs_is_closed", default=stage in ("closedwon", "closedlost")),
        r.number("amount"),
        r.calendar_date("closedate"),
        r.first_timestamp("createdate", "createdAt"),
        r.shared_id("hubspot_owner_id"),
        associated(r, "contacts"),
    )


def task(r: FieldReader, mapping: CrmMapping, record_id: str, now: datetime) -> Task | Activity:
    """tasks -> `Task` when it is one of our review tasks (it carries our key), else an `Activity`."""
    key = task_key(r, mapping, "hs_task_body", "hs_task_subject")
    subject = r.text("hs_task_subject")
    contacts = associated(r, "contacts")
    if key is None:
        return _ACTIVITY(
            *_common(r, record_id),
            activity_kind(mapping, (r.text("hs_task_type"),), subject, "other"),
            "tasks",
            _first(contacts),
            _first(associated(r, "companies")),
            r.first_timestamp("hs_task_completion_date", "hs_timestamp", "hs_createdate", "createdAt"),
            subject,
        )
    status = r.text("hs_task_status")
    decoded, _ = writeback_values(r, mapping, task=True)
    return _TASK(
        *_common(r, record_id),
        _first(contacts),
        r.id("hubspot_owner_id"),
        subject,
        status,
        (status or "").upper() == "COMPLETED",
        r.timestamp("hs_task_completion_date"),
        r.timestamp("hs_timestamp"),
        decision_of(decoded.get("task_decision")),
        key,
        r.first_timestamp("hs_createdate", "createdAt"),
    )


def _summary(text: str | None) -> str | None:
    # Notes are HTML; the first line of their text is the subject a person would read.
    if not text:
        return None
    known = _SUMMARIES.get(text, ABSENT)
    if known is not ABSENT:
        return known  # type: ignore[return-value]
    plain = " ".join(_TAG.sub(" ", text).split())
    return remember(_SUMMARIES, text, (plain[:255] if len(plain) <= 255 else plain[:254] + "…") or None)


def engagement(object_type: str) -> Builder:
    """notes, calls, meetings, emails -> `Activity`."""
    subject_property, default_kind = _ENGAGEMENTS[object_type]

    def build(r: FieldReader, mapping: CrmMapping, record_id: str, now: datetime) -> Activity:
        subject = _summary(r.text(subject_property, single_line=False))
        return _ACTIVITY(
            *_common(r, record_id),
            activity_kind(mapping, (object_type,), subject, default_kind),
            object_type,
            _first(associated(r, "contacts")),
            _first(associated(r, "companies")),
            r.first_timestamp("hs_timestamp", "hs_createdate", "createdAt"),
            subject,
        )

    return build


BUILDERS: dict[str, Builder] = {
    "contacts": contact,
    "companies": company,
    "deals": deal,
    "tasks": task,
    **{object_type: engagement(object_type) for object_type in _ENGAGEMENTS},
}
