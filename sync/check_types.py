"""The pieces every `leadq check` module shares: findings, the report, and what leadq reads and writes.

`sync.check` (schema and field checks), `sync.check_permissions` (rights and HubSpot scopes),
`sync.leakage` and `sync.cli_check` all speak in `Finding`s; `sync.setup` and `sync.sfdx` create the
fields `writeback_targets` lists. Keeping these here lets the check modules import each other's results
without an import cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from connector.protocol import ObjectDescription
from mappings import RECORD_SLOTS, TASK_SLOTS, HubSpotMapping, SalesforceMapping, WritebackField

CrmBlock = SalesforceMapping | HubSpotMapping
"""A CRM block of the config (or a bare mapping, e.g. the shipped default)."""
Describer = Callable[[str], ObjectDescription | None]
"""Describes one object; None when it does not exist or the integration user cannot see it."""

SCORED = {"salesforce": ("Lead", "Contact"), "hubspot": ("contacts",)}
TASK_OBJECT = {"salesforce": "Task", "hubspot": "tasks"}
PERMISSION_SET = "the leadq integration user's permission set"


class Status(StrEnum):
    """How a check came out; any error makes `leadq check` exit non-zero."""

    OK = "ok"
    WARN = "warn"
    ERROR = "error"


@dataclass(frozen=True)
class Finding:
    """One check's outcome, with the fix in the message."""

    crm: str
    object: str
    field: str
    check: str
    status: Status
    message: str

    def as_dict(self) -> dict[str, str]:
        """Plain JSON-ready values."""
        return {k: str(v) for k, v in asdict(self).items()}


@dataclass
class Report:
    """Every finding of one `leadq check` run, in the order they were made."""

    findings: list[Finding] = field(default_factory=list)

    def add(self, findings: Iterable[Finding]) -> None:
        self.findings.extend(findings)

    def count(self, status: Status) -> int:
        return sum(1 for f in self.findings if f.status is status)

    @property
    def ok(self) -> bool:
        """No errors (warnings alone pass)."""
        return self.count(Status.ERROR) == 0

    def as_dict(self) -> dict[str, Any]:
        """The `--json` document."""
        return {
            "ok": self.ok,
            "summary": {status.value: self.count(status) for status in Status},
            "findings": [f.as_dict() for f in self.findings],
        }


@dataclass(frozen=True)
class WritebackTarget:
    """One field leadq writes (or reads back, for task decisions): object, slot and the config's spec."""

    object: str
    slot: str
    spec: WritebackField


def writeback_targets(crm: str, block: CrmBlock) -> list[WritebackTarget]:
    """Every writeback field on every object, task fields (and HubSpot note keys) included."""
    wb = block.writeback
    out = [WritebackTarget(obj, slot, wb.field_for(slot)) for obj in wb.objects for slot in RECORD_SLOTS]
    if wb.create_review_tasks:
        out += [WritebackTarget(TASK_OBJECT[crm], slot, wb.field_for(slot)) for slot in TASK_SLOTS]
    if crm == "hubspot" and "notes" in block.objects:
        # The connector finds its notes by the same key property, so it has to exist on notes too.
        out.append(WritebackTarget("notes", "task_key", wb.field_for("task_key")))
    return out


def scored_objects(crm: str, block: CrmBlock) -> list[str]:
    """The scored objects the config reads (Lead/Contact, contacts)."""
    return [obj for obj in SCORED[crm] if obj in block.objects]
