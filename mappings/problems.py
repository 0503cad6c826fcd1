"""What translation hands back: the record (when there is one) and every problem found on the way."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

from mappings.records import CanonicalRecord

R = TypeVar("R", bound=CanonicalRecord)
# Starts the message of a problem that cost the whole record (as opposed to one value read as missing).
QUARANTINED = "record quarantined"


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """A value that could not be read as its field's type, or a record that could not be read at all.

    `record_id` is the CRM id, or `<record N>` / `<no id>` when the record has no usable id; `field` is the
    CRM field path (or `<record>` for the record as a whole); `value` is the value as received.
    """

    record_id: str
    field: str
    value: object
    message: str
    object: str = ""

    @property
    def quarantined(self) -> bool:
        """Whether the whole record was set aside (no id, not a mapping, unreadable), not just this value."""
        return self.message.startswith(QUARANTINED)

    def __str__(self) -> str:
        shown = repr(self.value)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        where = f"{self.object} {self.record_id}" if self.object else self.record_id
        return f"{where} {self.field}: {self.message} (got {shown})"


@dataclass(frozen=True, slots=True)
class TranslationResult(Generic[R]):
    """One raw record translated: `record` is None only when the record is unusable as a whole."""

    record: R | None
    problems: list[FieldProblem] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class BatchResult(Generic[R]):
    """A batch translated: the records that could be read, and the problems of all of them."""

    records: list[R] = field(default_factory=list)
    problems: list[FieldProblem] = field(default_factory=list)
