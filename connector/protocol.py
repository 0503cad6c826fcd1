"""The one interface every CRM connector implements, and the plain data it speaks in.

Records cross this boundary as the CRM's own field names and wire values (dicts); translating them to
canonical records is `mappings`' job. The connector knows nothing about scores.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from connector.accounting import CallLog

RawRecord = dict[str, Any]
"""One CRM record as the API gives it (Salesforce fields; HubSpot `{"id", "properties", ...}` flattened to
`{"id": ..., **properties}`)."""


@dataclass(frozen=True)
class ChangePage:
    """One page of changed records and a cursor mark.

    `high_water`, when set, is a stamp the cursor may move to once every page before it has been applied.
    Pages read in modified-stamp order (REST queries, searches) each carry the highest stamp they hold.
    Pages read unordered (Salesforce Bulk API 2.0 results, streamed chunk by chunk) carry None, except the
    last, which carries the highest stamp of the whole pull: a caller moves its cursor to the highest mark
    it saw only after the pull is exhausted, never part-way.
    """

    object: str
    records: list[RawRecord]
    high_water: datetime | None


@dataclass(frozen=True)
class Deletion:
    """A record deleted (Salesforce recycle bin) or archived (HubSpot) in the CRM."""

    object: str
    id: str
    deleted_at: datetime | None


@dataclass(frozen=True)
class FieldInfo:
    """What the CRM says about one field or property."""

    name: str
    label: str
    type: str
    length: int = 0
    createable: bool = True
    updateable: bool = True
    custom: bool = False
    nillable: bool = True
    filterable: bool = True
    picklist_values: tuple[str, ...] = ()
    reference_to: tuple[str, ...] = ()
    group: str | None = None
    external_id: bool = False  # Salesforce: indexed, so a filter on it is selective


@dataclass(frozen=True)
class ObjectDescription:
    """An object's fields as the integration user sees them (absent fields are invisible or missing)."""

    name: str
    label: str
    fields: Mapping[str, FieldInfo]
    createable: bool = True
    updateable: bool = True


@dataclass(frozen=True)
class RecordUpdate:
    """Field values to set on one record (None clears a field)."""

    id: str
    values: Mapping[str, Any]


class WriteStatus(StrEnum):
    WRITTEN = "written"
    REJECTED = "rejected"  # the CRM refused this record; retrying will not help without a change
    RETRYABLE = "retryable"  # transient (lock, timeout, quota, rate limit); try again on a later cycle


@dataclass(frozen=True)
class WriteOutcome:
    """The result of writing one record: which, how it went, and the CRM's own code and message."""

    key: str
    status: WriteStatus
    crm_id: str | None = None
    code: str | None = None
    message: str | None = None
    fields: tuple[str, ...] = ()
    created: bool = False

    @property
    def ok(self) -> bool:
        return self.status is WriteStatus.WRITTEN


@dataclass(frozen=True)
class TaskSpec:
    """A task, idempotent by `idempotency_key` (checked in the CRM before creating): a review task about a
    person, or (empty `who_id`) a task about no record, such as the admin's drift task."""

    idempotency_key: str
    who_object: str  # Salesforce Lead/Contact, HubSpot contacts
    who_id: str
    owner_id: str | None
    subject: str
    body: str
    due: datetime
    priority: str = "Normal"
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NoteSpec:
    """A note on a record (HubSpot note, Salesforce completed Task), idempotent by key."""

    idempotency_key: str
    who_object: str
    who_id: str
    body: str
    at: datetime


@dataclass(frozen=True)
class FieldSpec:
    """A custom field or property leadq needs (created by `leadq setup`)."""

    object: str
    name: str
    label: str
    type: str  # number | text | longtext | picklist | datetime | date | checkbox
    length: int = 255
    precision: int = 18
    scale: int = 0
    options: tuple[str, ...] = ()
    description: str = ""
    group: str = "leadq"
    # Salesforce: an External ID field is indexed; leadq looks its task keys up by this field
    external_id: bool = False


@runtime_checkable
class CRMConnector(Protocol):
    """What `sync` may ask of a CRM. Implemented by `SalesforceConnector` and `HubSpotConnector`."""

    crm: str
    calls: CallLog
    # How many writes the send hands over at a time: what a round of `apply_updates` calls takes well
    # (Salesforce sends an object's updates beyond its `bulk_threshold` as one Bulk API 2.0 job).
    write_batch: int

    def pull_changes(
        self,
        obj: str,
        fields: Sequence[str],
        cursor: dict[str, Any] | None,
        *,
        run_started: datetime,
        associations: Sequence[str] | None = None,
    ) -> Iterator[ChangePage]:
        """Records of `obj` modified in the cursor's window, de-duplicated by id (see `ChangePage` for
        ordering and the cursor marks). `associations` (HubSpot) names the object types whose associated
        ids each record carries; Salesforce reads relationships through `fields` and takes none."""
        ...

    def pull_deletions(
        self, obj: str, cursor: dict[str, Any] | None, *, run_started: datetime
    ) -> Iterator[list[Deletion]]:
        """Records of `obj` deleted or archived in the cursor's window."""
        ...

    def describe(self, obj: str) -> ObjectDescription:
        """The object's fields as the integration user sees them."""
        ...

    def apply_updates(self, obj: str, updates: Sequence[RecordUpdate]) -> list[WriteOutcome]:
        """Write field values in as few calls as the API allows; one outcome per update, in order."""
        ...

    def create_tasks(self, tasks: Sequence[TaskSpec]) -> list[WriteOutcome]:
        """Create review tasks, skipping (and reporting as written) those whose key already exists."""
        ...

    def create_notes(self, notes: Sequence[NoteSpec]) -> list[WriteOutcome]:
        """Create notes, idempotent by key."""
        ...

    def completed_tasks(
        self, fields: Sequence[str], cursor: dict[str, Any] | None, *, run_started: datetime
    ) -> Iterator[ChangePage]:
        """leadq review tasks completed in the cursor's window, with the requested fields."""
        ...

    def create_fields(self, specs: Sequence[FieldSpec]) -> list[WriteOutcome]:
        """Create custom fields or properties; existing ones are reported as written, unchanged."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
