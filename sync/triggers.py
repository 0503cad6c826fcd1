"""Why a person is scored in a cycle: the trigger kept with each score in the history.

`leadq history` shows it beside each version, and it tells a re-score caused by the person's own change
apart from one caused by a colleague, a reviewer, a new model or the daily re-score.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from mappings import Lead

Trigger = Literal["changed", "review", "context", "model", "daily"]

TRIGGER_TEXT: dict[str, str] = {
    "changed": "record changed",
    "review": "reviewer decided",
    "context": "account or colleagues changed",
    "model": "new model promoted",
    "daily": "daily re-score",
}


def triggers_of(
    people: Iterable[Lead],
    changed: set[str],
    reviewed: set[str],
    context_changed: set[str],
    everyone: Trigger | None,
) -> dict[str, Trigger]:
    """Why each of `people` is scored, the most specific reason first: their record `changed`, a reviewer
    decided (`reviewed`), their account context changed, or everyone is re-scored (`everyone`: a new
    champion or the daily re-score)."""
    out: dict[str, Trigger] = {}
    for person in people:
        i = person.id
        if i in changed:
            out[i] = "changed"
        elif i in reviewed:
            out[i] = "review"
        elif i in context_changed or everyone is None:
            out[i] = "context"
        else:
            out[i] = everyone
    return out
