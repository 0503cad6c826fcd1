"""Review tasks and notes, idempotent by a `leadq_key` property; completed review tasks read back.

Before creating, existing engagements are searched by key (`leadq_key IN [...]`), so a retried cycle creates
no duplicates; the rest are created with `POST /crm/v3/objects/{tasks|notes}/batch/create`, 100 a call,
associated to their record in the same call (task-to-contact type 204, note-to-contact 202).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from connector.errors import ConnectorConfigError
from connector.hubspot.associations import pages_with_associations, read_associations
from connector.hubspot.batches import Batcher
from connector.hubspot.client import HubSpotApis, Json, next_after, raw_json
from connector.hubspot.pull import WindowSearch, search_body, search_filter
from connector.hubspot.wire import CRM, wire_value
from connector.protocol import NoteSpec, RawRecord, TaskSpec, WriteOutcome, WriteStatus

KEY_PROPERTY = "leadq_key"
IN_VALUES_LIMIT = 100
# HUBSPOT_DEFINED association types from an engagement to the record it is about
ASSOCIATION_TYPES: dict[tuple[str, str], int] = {
    ("tasks", "contacts"): 204,
    ("tasks", "companies"): 192,
    ("tasks", "deals"): 216,
    ("notes", "contacts"): 202,
    ("notes", "companies"): 190,
    ("notes", "deals"): 214,
}
# Request bodies are built as the JSON the generated models serialise to (`client.Json`): at 24k review
# tasks the models (each deep-copying a configuration) and the client's walk over them were most of the
# send phase's own CPU.
PRIORITIES = {"high": "HIGH", "normal": "MEDIUM", "medium": "MEDIUM", "low": "LOW", "none": "NONE"}


def association_type(engagement: str, to_object: str) -> int:
    type_id = ASSOCIATION_TYPES.get((engagement, to_object))
    if type_id is None:
        raise ConnectorConfigError(
            f"leadq cannot attach {engagement} to {to_object!r}; use contacts, companies or deals", crm=CRM
        )
    return type_id


def find_by_key(apis: HubSpotApis, obj: str, keys: Sequence[str]) -> dict[str, str]:
    """Existing engagements by idempotency key (HubSpot matches string IN values lower-cased)."""
    found: dict[str, str] = {}
    wanted = {k.lower(): k for k in keys}
    unique = list(wanted)
    for start in range(0, len(unique), IN_VALUES_LIMIT):
        chunk = unique[start : start + IN_VALUES_LIMIT]
        after: str | None = None
        while True:
            request = search_body(
                [search_filter(KEY_PROPERTY, "IN", values=chunk)], "hs_object_id", [KEY_PROPERTY], 200, after
            )
            answer = raw_json(apis.objects_search.do_search, obj, public_object_search_request=request)
            for result in answer.get("results") or []:
                key = wanted.get(str((result.get("properties") or {}).get(KEY_PROPERTY) or "").lower())
                if key is not None:
                    found.setdefault(key, str(result["id"]))  # the oldest wins, should a duplicate exist
            after = next_after(answer)
            if not after:
                break
    return found


def _create_idempotent(
    apis: HubSpotApis, obj: str, keys: Sequence[str], inputs: Sequence[dict[str, Any]]
) -> list[WriteOutcome]:
    """Create the inputs whose key does not exist yet; one outcome per input, in order."""
    existing = find_by_key(apis, obj, keys)
    outcomes: dict[int, WriteOutcome] = {}
    first_of: dict[str, int] = {}
    pending: list[int] = []
    for i, key in enumerate(keys):
        if key in existing:
            outcomes[i] = WriteOutcome(key=key, status=WriteStatus.WRITTEN, crm_id=existing[key])
        elif key in first_of:
            continue  # the same key twice in one call: resolved after the first is created
        else:
            first_of[key] = i
            pending.append(i)

    def send(indices: list[int]) -> Any:
        body = Json(inputs=[inputs[i] for i in indices])
        return raw_json(
            apis.objects_batch.create, obj, batch_input_simple_public_object_batch_input_for_create=body
        )

    def judge(indices: list[int], answer: Any) -> dict[int, WriteOutcome]:
        by_key = {
            str((r.get("properties") or {}).get(KEY_PROPERTY)): str(r["id"])
            for r in answer.get("results") or []
        }
        errors = answer.get("errors") or []
        out: dict[int, WriteOutcome] = {}
        for i in indices:
            crm_id = by_key.get(keys[i])
            if crm_id is not None:
                out[i] = WriteOutcome(key=keys[i], status=WriteStatus.WRITTEN, crm_id=crm_id, created=True)
            else:
                # a create HubSpot did not confirm: the next cycle searches by key before trying again
                message = "; ".join(str(e.get("message", "")) for e in errors) or "no result returned"
                out[i] = WriteOutcome(
                    key=keys[i], status=WriteStatus.RETRYABLE, code="UNCONFIRMED", message=message
                )
        return out

    outcomes.update(Batcher(keys, send, judge, apis.settings.batch_size).run([pending]))
    for i, key in enumerate(keys):
        if i not in outcomes:
            first = outcomes[first_of[key]]
            outcomes[i] = WriteOutcome(key=key, status=first.status, crm_id=first.crm_id, code=first.code,
                                       message=first.message)  # fmt: skip
    return [outcomes[i] for i in range(len(keys))]


def _associated(engagement: str, to_object: str, to_id: str) -> list[dict[str, Any]]:
    # The JSON of a `PublicAssociationsForObject` (keys in the model's order).
    spec = {
        "associationCategory": "HUBSPOT_DEFINED",
        "associationTypeId": association_type(engagement, to_object),
    }
    return [{"types": [spec], "to": {"id": str(to_id)}}]


def _input(properties: dict[str, str], associations: list[dict[str, Any]]) -> dict[str, Any]:
    # The JSON of a `SimplePublicObjectInputForCreate` (keys in the model's order).
    return {"associations": associations, "properties": properties}


def _extra(values: Mapping[str, Any]) -> dict[str, str]:
    return {name: wire_value(value) for name, value in values.items()}


def create_tasks(apis: HubSpotApis, tasks: Sequence[TaskSpec]) -> list[WriteOutcome]:
    """Review tasks (NOT_STARTED, due at `hs_timestamp`), each associated to its record, idempotent by key.

    A task with an empty `who_id` is about no record (a drift alert for the admin) and is associated to none.
    """
    inputs = []
    for t in tasks:
        props = {
            "hs_task_subject": t.subject,
            "hs_task_body": t.body,
            "hs_timestamp": wire_value(t.due),  # HubSpot will not create a task without it
            "hs_task_status": "NOT_STARTED",
            "hs_task_priority": PRIORITIES.get(t.priority.lower(), t.priority.upper()),
            "hs_task_type": "TODO",
            KEY_PROPERTY: t.idempotency_key,
            **_extra(t.extra),
        }
        if t.owner_id:
            props["hubspot_owner_id"] = str(t.owner_id)
        inputs.append(_input(props, _associated("tasks", t.who_object, t.who_id) if t.who_id else []))
    return _create_idempotent(apis, "tasks", [t.idempotency_key for t in tasks], inputs)


def create_notes(apis: HubSpotApis, notes: Sequence[NoteSpec]) -> list[WriteOutcome]:
    """Notes on records (`hs_note_body` at `hs_timestamp`), idempotent by key."""
    inputs = [
        _input(
            {"hs_note_body": n.body, "hs_timestamp": wire_value(n.at), KEY_PROPERTY: n.idempotency_key},
            _associated("notes", n.who_object, n.who_id),
        )
        for n in notes
    ]
    return _create_idempotent(apis, "notes", [n.idempotency_key for n in notes], inputs)


def completed_tasks(
    apis: HubSpotApis, fields: Sequence[str], start_ms: int, end_ms: int
) -> Iterator[tuple[list[RawRecord], Any]]:
    """leadq tasks completed in the window, each with `contact_id` (its first associated contact, or None).

    Contacts are read for consecutive pages together, as the pull reads associations
    (`pages_with_associations`): each page still comes in order with its own high-water stamp.
    """
    search = WindowSearch(
        apis,
        "tasks",
        [*fields, KEY_PROPERTY, "hs_task_status"],
        start_ms,
        end_ms,
        extra=[
            search_filter(KEY_PROPERTY, "HAS_PROPERTY"),
            search_filter("hs_task_status", "EQ", "COMPLETED"),
        ],
    )

    def read_links(ids: Sequence[str], to_type: str) -> dict[str, list[str]]:
        return read_associations(apis, "tasks", ids, to_type)

    size = apis.settings.association_batch_size
    for records, high in pages_with_associations(search.pages(), ("contacts",), read_links, size):
        for record in records:
            contacts = record.pop("associations")["contacts"]["results"]
            record["contact_id"] = contacts[0]["id"] if contacts else None
        yield records, high
