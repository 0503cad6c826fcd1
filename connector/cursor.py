"""Incremental-pull cursors as pure functions over plain dicts (the shape kept in the state store).

A cursor is `{"value": "<ISO-8601 UTC>" | None}`. A pull reads the window `[value - lookback, run_started)`:
closed at the start (so records stamped exactly at the cursor are seen again, and de-duplicated by id), open
at the end (a record stamped during the run is left for the next run). The caller advances the cursor only
after it confirms the records are safely handled, and never past the start of the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Window:
    """The time window one pull reads: `start <= stamp < end`."""

    start: datetime
    end: datetime


def parse_value(cursor: dict[str, Any] | None) -> datetime | None:
    """The cursor's position, or None for a first (full) pull."""
    if not cursor or not cursor.get("value"):
        return None
    value = datetime.fromisoformat(str(cursor["value"]))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def window(cursor: dict[str, Any] | None, *, run_started: datetime, lookback: timedelta) -> Window:
    """The window to pull: from the cursor minus the lookback (or the epoch) up to the run's start."""
    value = parse_value(cursor)
    start = EPOCH if value is None else max(EPOCH, value - lookback)
    return Window(start=start, end=run_started.astimezone(UTC))


def advance(
    cursor: dict[str, Any] | None, *, confirmed_up_to: datetime | None, run_started: datetime
) -> dict[str, Any]:
    """The cursor after the caller confirmed every record stamped before `confirmed_up_to` is handled.

    It never moves backwards and never passes the run's start: records stamped during the run belong to
    the next one.
    """
    current = parse_value(cursor)
    if confirmed_up_to is None:
        return dict(cursor or {"value": None})
    target = min(confirmed_up_to.astimezone(UTC), run_started.astimezone(UTC))
    if current is not None and target <= current:
        return dict(cursor or {})
    return {**(cursor or {}), "value": target.isoformat()}
