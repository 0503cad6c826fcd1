"""The sandbox's clock: real time by default, frozen or shifted for tests; never goes backwards.

System fields (`SystemModstamp`, `hs_lastmodifieddate`) come from here, so tests of incremental sync can put
many records on one timestamp or move time forward without sleeping.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


class Clock:
    """Millisecond-precision UTC time, monotonic between explicit `freeze` calls, optionally offset."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._frozen: datetime | None = None
        self._offset = timedelta(0)
        self._last = datetime(1970, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        with self._lock:
            t = self._frozen if self._frozen is not None else datetime.now(UTC) + self._offset
            t = t.replace(microsecond=(t.microsecond // 1000) * 1000)
            if t < self._last:
                t = self._last
            self._last = t
            return t

    def freeze(self, at: datetime | None = None) -> None:
        with self._lock:
            self._frozen = (at or datetime.now(UTC) + self._offset).astimezone(UTC)
            self._last = min(self._last, self._frozen)

    def unfreeze(self) -> None:
        with self._lock:
            self._frozen = None

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            if self._frozen is not None:
                self._frozen += delta
            else:
                self._offset += delta


def sf_datetime(t: datetime) -> str:
    """Salesforce's wire form: `2024-03-01T10:15:00.000+0000`."""
    t = t.astimezone(UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}+0000"


def hs_datetime(t: datetime) -> str:
    """HubSpot's wire form: `2024-03-01T10:15:00.000Z`."""
    t = t.astimezone(UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def epoch_ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)
