"""Record ids in the real formats: 18-character Salesforce ids with their case checksum, HubSpot numbers."""

from __future__ import annotations

import itertools
import threading

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def sf_checksum(id15: str) -> str:
    """The 3-character suffix Salesforce appends to a 15-character id (one bit per upper-case letter)."""
    out = []
    for chunk in (id15[0:5], id15[5:10], id15[10:15]):
        bits = sum(1 << i for i, ch in enumerate(chunk) if "A" <= ch <= "Z")
        out.append(_ALPHABET[bits])
    return "".join(out)


def sf_id(prefix: str, number: int, pod: str = "5g") -> str:
    """An 18-character id: key prefix, pod, then `number` in base 62, then the checksum."""
    digits = []
    n = number
    while n:
        n, r = divmod(n, 62)
        digits.append(_BASE62[r])
    body = "".join(reversed(digits)).rjust(10, "0")
    id15 = f"{prefix}{pod}{body}"[:15]
    return id15 + sf_checksum(id15)


def normalize_sf_id(value: str) -> str | None:
    """Return the 18-character form of a 15- or 18-character id, or None if it is not an id."""
    if len(value) == 18 and value.isalnum():
        return value if sf_checksum(value[:15]) == value[15:] else None
    if len(value) == 15 and value.isalnum():
        return value + sf_checksum(value)
    return None


class Sequence:
    """A thread-safe counter, resumable from the highest number already stored."""

    def __init__(self, start: int = 1) -> None:
        self._lock = threading.Lock()
        self._counter = itertools.count(start)

    def next(self) -> int:
        with self._lock:
            return next(self._counter)

    def reset(self, start: int) -> None:
        with self._lock:
            self._counter = itertools.count(start)
