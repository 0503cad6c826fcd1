"""Shared plumbing of the seed generators: time on a minute grid, weighted draws, progress, chunking.

Times are whole minutes relative to an anchor (midnight UTC of the seeding day), so every generator works
with plain integers and the same seed gives byte-identical timestamps whenever it runs that day.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Generic, TypeVar

T = TypeVar("T")
ProgressFn = Callable[[str, int, int], None]

MINUTE = 1
HOUR = 60
DAY = 1440
HISTORY_DAYS = 180  # how far back lead activity goes


def _no_progress(task: str, done: int, total: int) -> None:
    return None


NO_PROGRESS: ProgressFn = _no_progress


class Timeline:
    """Converts minute offsets from the anchor to the wire formats both CRMs use."""

    def __init__(self, now: datetime) -> None:
        now = now.astimezone(UTC)
        self.anchor = now.replace(hour=0, minute=0, second=0, microsecond=0)
        self._days: dict[int, str] = {}

    def date(self, m: int) -> str:
        """`YYYY-MM-DD` of a minute offset."""
        day = m // DAY
        s = self._days.get(day)
        if s is None:
            s = (self.anchor + timedelta(days=day)).strftime("%Y-%m-%d")
            self._days[day] = s
        return s

    def sf(self, m: int) -> str:
        """Salesforce datetime, `2024-03-01T10:15:00.000+0000` (seeded times are whole minutes)."""
        r = m % DAY
        return f"{self._days.get(m // DAY) or self.date(m)}T{r // 60:02d}:{r % 60:02d}:00.000+0000"

    def hs(self, m: int) -> str:
        """HubSpot datetime, `2024-03-01T10:15:00.000Z`."""
        r = m % DAY
        return f"{self._days.get(m // DAY) or self.date(m)}T{r // 60:02d}:{r % 60:02d}:00.000Z"

    def dt(self, m: int) -> datetime:
        """An aware datetime (for the store's `when=`)."""
        return self.anchor + timedelta(minutes=m)


def business_hours(m: int) -> int:
    """Move a minute into 13:00-22:00 UTC of its day (a US working day), keeping the day."""
    return (m // DAY) * DAY + 13 * HOUR + (m % DAY) % (9 * HOUR)


class Weighted(Generic[T]):
    """Fast repeated weighted choice over fixed items (bisect over cumulative weights)."""

    def __init__(self, items: Sequence[T], weights: Sequence[float]) -> None:
        self.items: list[T] = list(items)
        self.cum = list(itertools.accumulate(weights))
        self.total = self.cum[-1]

    def pick(self, rng: random.Random) -> T:
        i = bisect.bisect_right(self.cum, rng.random() * self.total)
        return self.items[min(i, len(self.items) - 1)]


def pick_weighted(rng: random.Random, table: Sequence[tuple[T, float]]) -> T:
    """One weighted draw from (item, weight) pairs (for small, rarely used tables)."""
    total = sum(w for _, w in table)
    x = rng.random() * total
    for item, w in table:
        x -= w
        if x < 0:
            return item
    return table[-1][0]


def poisson(rng: random.Random, lam: float) -> int:
    """A Poisson draw (Knuth's method; rates here are small)."""
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit = math.exp(-lam)
    k, p = 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def sigmoid(x: float) -> float:
    if x < -40:
        return 0.0
    return 1.0 / (1.0 + math.exp(-x))


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of at most `size` items."""
    it = iter(items)
    while batch := list(itertools.islice(it, size)):
        yield batch
