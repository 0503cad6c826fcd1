"""Activity aggregates per person: counts per kind over 7/30/90 days, recency, decayed engagement.

`ActivityIndex` keeps every activity as one row of a few numpy columns (about 30 bytes a row, so ~10M
activities fit in a few hundred MB), sorted by a stable 64-bit hash of the activity id so that re-sent,
changed and deleted activities are applied in place. Everything is computed relative to an explicit
`now`; rows dated after `now` are ignored, so the same index serves point-in-time training snapshots.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from mappings import Activity, ActivityKind, Crm
from scoring.key_codes import KeyCodes

__all__ = [
    "ACTIVITY_COLUMNS",
    "ACTIVITY_KINDS",
    "COUNTED_KINDS",
    "DEFAULT_WEIGHTS",
    "WINDOWS",
    "ActivityChanges",
    "ActivityIndex",
    "epoch_seconds",
]

ACTIVITY_KINDS: tuple[ActivityKind, ...] = (
    "email", "call", "meeting", "web_visit", "form_fill", "campaign", "note", "other",
)  # fmt: skip
_KIND_CODE = {kind: code for code, kind in enumerate(ACTIVITY_KINDS)}
_NOTE = _KIND_CODE["note"]
COUNTED_KINDS: dict[str, ActivityKind | None] = {
    "emails": "email", "calls": "call", "meetings": "meeting", "web_visits": "web_visit",
    "form_fills": "form_fill", "campaign_responses": "campaign", "pricing_visits": None,
}  # fmt: skip
"""Column stem -> activity kind counted (None: pricing-page visits, detected from the subject)."""
WINDOWS: tuple[int, ...] = (7, 30, 90)
ACTIVITY_COLUMNS: tuple[str, ...] = (
    *(f"{stem}_{days}d" for stem in COUNTED_KINDS for days in WINDOWS),
    "days_since_last_activity",
    "engagement_score",
)
"""Columns of `ActivityIndex.aggregate`, in order."""
DEFAULT_WEIGHTS: Mapping[ActivityKind, float] = {
    "email": 1.0, "call": 2.0, "meeting": 3.0, "web_visit": 1.0, "form_fill": 3.0, "campaign": 2.0,
    "note": 0.0, "other": 0.5,
}  # fmt: skip
"""Engagement-score weight of one activity of each kind (notes are the rep's, not the lead's)."""
_PRICING_BONUS = 2.0
_DEFAULT_PRICING = r"\bpricing\b"
# A subject naming pricing is a page visit when the activity is one, or says it is one (not "Re: pricing?").
_VISIT = re.compile(r"\b(?:visit(?:ed|s)?|view(?:ed|s)?|page(?:view)?s?)\b|/", re.IGNORECASE)
_SUBJECT_SCAN = 500
_DAY = 86_400.0
_MAX_COUNT = 1_000_000


def epoch_seconds(moment: datetime) -> int:
    """Whole seconds since 1970 (UTC); a naive datetime is taken to be UTC, never local time."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


@dataclass(frozen=True, slots=True)
class ActivityChanges:
    """What an `ActivityIndex.update` changed: people and accounts whose activity is now different."""

    persons: set[tuple[Crm, str]] = field(default_factory=set)
    accounts: set[tuple[Crm, str]] = field(default_factory=set)


_Columns = dict[str, npt.NDArray[Any]]
_DTYPES: dict[str, type[np.generic]] = {
    "hash": np.uint64, "person": np.int32, "account": np.int32, "at": np.int64, "kind": np.int8,
    "pricing": np.bool_, "count": np.float32,
}  # fmt: skip


class ActivityIndex:
    """Columnar store of activities with vectorised per-person aggregates.

    `pricing_pattern` (a regex, case-insensitive) spots pricing-page visits in activity subjects: web
    visits whose subject matches it, and other activities whose subject also says visit, view or page.
    """

    def __init__(self, *, pricing_pattern: str = _DEFAULT_PRICING) -> None:
        self._pricing = re.compile(pricing_pattern, re.IGNORECASE)
        self._persons = KeyCodes()
        self._accounts = KeyCodes()
        self._rows: _Columns = {name: np.empty(0, dtype=dtype) for name, dtype in _DTYPES.items()}
        self.generation = 0
        """Counts the `update`s: whatever was derived from the index under one generation still holds."""
        # Derived from the rows, kept for the current generation: a cycle asks about its people a chunk
        # at a time, and each chunk working these out over every row (~5M at 1M leads) made the
        # features phase grow with the square of the org.
        self._engaged: tuple[int, tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]] | None = None
        self._by_person: tuple[npt.NDArray[Any], npt.NDArray[np.int64]] | None = None

    def forget_derived(self) -> None:
        """Drop what was derived from the rows (latest engagement, the person order) to free memory."""
        self._engaged = self._by_person = None

    def __len__(self) -> int:
        return len(self._rows["hash"])

    def update(self, activities: Iterable[Activity]) -> ActivityChanges:
        """Add, replace (same crm and id) or delete (`deleted=True`) activities; re-sent ones change nothing.

        An activity without a date (`at`, else `modified_at`) cannot be placed in time and is dropped.
        """
        batch = self._batch(activities)
        self.generation += 1
        self.forget_derived()
        changes = ActivityChanges()
        if not len(batch["hash"]):
            return changes
        # The last version of an activity in one batch wins.
        _, last = np.unique(batch["hash"][::-1], return_index=True)
        keep = len(batch["hash"]) - 1 - last
        batch = {name: column[keep] for name, column in batch.items()}
        rows = self._rows
        pos = np.searchsorted(rows["hash"], batch["hash"])
        found = pos < len(rows["hash"])
        found[found] = rows["hash"][pos[found]] == batch["hash"][found]
        alive = batch["at"] >= 0
        same = np.zeros(len(pos), dtype=bool)
        if found.any():
            old = pos[found]
            same[found] = alive[found] & np.logical_and.reduce(
                [rows[name][old] == batch[name][found] for name in _DTYPES]
            )
            touched_old = old[~same[found]]
            self._note(changes, rows["person"][touched_old], rows["account"][touched_old])
        fresh = alive & ~same
        self._note(changes, batch["person"][fresh], batch["account"][fresh])
        replace = found & alive & ~same
        for name in _DTYPES:
            rows[name][pos[replace]] = batch[name][replace]
        drop = pos[found & ~alive]
        if len(drop):
            rows = {name: np.delete(column, drop) for name, column in rows.items()}
        insert = ~found & alive
        if insert.any():
            at = np.searchsorted(rows["hash"], batch["hash"][insert])
            rows = {name: np.insert(column, at, batch[name][insert]) for name, column in rows.items()}
        self._rows = rows
        return changes

    def _note(
        self, changes: ActivityChanges, persons: npt.NDArray[np.generic], accounts: npt.NDArray[np.generic]
    ) -> None:
        changes.persons.update(self._persons.key(int(code)) for code in np.unique(persons) if code >= 0)
        changes.accounts.update(self._accounts.key(int(code)) for code in np.unique(accounts) if code >= 0)

    def _batch(self, activities: Iterable[Activity]) -> _Columns:
        # One pass per column: comprehensions are several times faster than one loop of appends.
        batch = list(activities)
        at = _epochs([a.at or a.modified_at for a in batch])
        at[np.array([a.deleted for a in batch], dtype=bool)] = -1
        persons, accounts, search = self._persons.get_or_add, self._accounts.get_or_add, self._pricing.search
        other = _KIND_CODE["other"]
        columns: _Columns = {
            "hash": np.asarray(
                pd.util.hash_array(np.array([f"{a.crm}\x1f{a.id}" for a in batch], dtype=object)),
                dtype=np.uint64,
            ),
            "person": np.array([persons(a.crm, a.who_id) if a.who_id else -1 for a in batch], dtype=np.int32),
            "account": np.array(
                [accounts(a.crm, a.account_id) if a.account_id else -1 for a in batch], dtype=np.int32
            ),
            "at": at,
            "kind": np.array([_KIND_CODE.get(a.kind, other) for a in batch], dtype=np.int8),
            "pricing": np.array([_pricing_visit(a, search) for a in batch], dtype=bool),
            "count": _counts([a.count for a in batch]),
        }
        gone = at < 0
        columns["person"][gone] = -1
        columns["account"][gone] = -1
        return columns

    def has_person(self, crm: Crm, person_id: str) -> bool:
        """Whether any activity (current or since deleted) ever named this person."""
        return self._persons.get(crm, person_id, -1) >= 0

    def person_codes(self, crm: Crm, ids: Iterable[str]) -> npt.NDArray[np.int64]:
        """Dense codes of people (-1 for people with no activity)."""
        return self._persons.lookup(crm, ids)

    def account_codes(self, crm: Crm, ids: Iterable[str]) -> npt.NDArray[np.int64]:
        """Dense codes of accounts named by activities (-1 for accounts no activity names)."""
        return self._accounts.lookup(crm, ids)

    def timeline(self, crm: Crm, person_id: str) -> npt.NDArray[np.datetime64]:
        """When a person's activities happened, oldest first (a compact `datetime64[s]` array)."""
        code = self._persons.get(crm, person_id, -2)
        at = self._rows["at"][self._rows["person"] == code]
        return np.sort(at).astype("datetime64[s]")

    def _positions(self, crm: Crm, person_ids: Sequence[str]) -> npt.NDArray[np.int64]:
        """For every person code, and one more (for rows of no person), the position of that person in
        `person_ids` (-1 when not asked for). With duplicate ids the last position wins; callers pass
        distinct ids."""
        codes = self.person_codes(crm, person_ids)
        slot = np.full(len(self._persons) + 1, -1, dtype=np.int64)
        slot[codes[codes >= 0]] = np.flatnonzero(codes >= 0)
        return slot

    def _slots(self, crm: Crm, person_ids: Sequence[str]) -> npt.NDArray[np.int64]:
        """For every row, the position of its person in `person_ids` (-1 when not asked for)."""
        slot = self._positions(crm, person_ids)
        person = self._rows["person"].astype(np.int64)
        return slot[np.where(person < 0, len(self._persons), person)]

    def _rows_of(
        self, crm: Crm, person_ids: Sequence[str]
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.int64]]:
        """The rows of the people `person_ids` names, and for each the position of its person there (the
        last, for an id named twice, as `_slots`). A person's rows keep their order in the index, so sums
        over them add up in the same order as over `_slots`' selection: the same floats to the last bit."""
        people = len(self._persons)
        by_person = self._by_person
        if by_person is None:
            person = self._rows["person"]
            # 4 bytes a row and 8 a person (~30 MB at 1M leads), not a sorted copy of the column as well.
            order: npt.NDArray[Any] = np.argsort(person, kind="stable")
            order = order.astype(np.int32) if len(order) < 2**31 else order
            # Person p's rows are order[bounds[p]:bounds[p + 1]]; rows of no person (-1) sort first.
            counts = np.bincount(person[person >= 0], minlength=people)
            bounds = np.concatenate(([np.count_nonzero(person < 0)], counts)).cumsum().astype(np.int64)
            by_person = self._by_person = (order, bounds)
        order, bounds = by_person
        slot = self._positions(crm, person_ids)
        wanted = np.flatnonzero(slot >= 0)
        starts = bounds[wanted]
        lengths = bounds[wanted + 1] - starts
        # Each person's run of sorted positions, one after the other: starts[i], starts[i] + 1, ...
        offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())
        picked = np.sort(order[offsets])  # back in index order, as `_slots` selects them
        return picked, slot[self._rows["person"][picked]]

    def summary(
        self, crm: Crm, person_ids: Sequence[str]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
        """All-time latest activity (epoch seconds, NaN for none) and number of activities, per person."""
        out = self._slots(crm, person_ids)
        mine = out >= 0
        count = np.bincount(out[mine], minlength=len(person_ids)).astype(np.int64)
        return _group_max(out[mine], self._rows["at"][mine].astype(np.float64), len(person_ids)), count

    def last_engaged(self, now: datetime) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Latest engagement at or before `now` (epoch seconds, NaN for none): per person code, per account code.

        Notes are left out: they are what a rep wrote, not something the person did. Worked out once per
        `now` and generation; the arrays returned are read-only.
        """
        now_s = epoch_seconds(now)
        if self._engaged is not None and self._engaged[0] == now_s:
            return self._engaged[1]
        rows = self._rows
        usable = (rows["at"] <= now_s) & (rows["kind"] != _NOTE)
        at = rows["at"][usable].astype(np.float64)
        found = (
            _group_max(rows["person"][usable], at, len(self._persons)),
            _group_max(rows["account"][usable], at, len(self._accounts)),
        )
        for array in found:
            array.flags.writeable = False
        self._engaged = (now_s, found)
        return found

    def aggregate(
        self,
        crm: Crm,
        person_ids: Sequence[str],
        *,
        now: datetime,
        half_life_days: float = 14.0,
        weights: Mapping[ActivityKind, float] | None = None,
    ) -> pd.DataFrame:
        """`ACTIVITY_COLUMNS` for each person (rows in `person_ids` order, indexed by id).

        Counts cover (now - N days, now] and add up `count`; no activity is a count of 0, while
        `days_since_last_activity` is NaN. `engagement_score` sums kind weights decayed by half-life.
        """
        n = len(person_ids)
        kinds = len(ACTIVITY_KINDS)
        rows = self._rows
        now_s = epoch_seconds(now)
        picked, out = self._rows_of(crm, person_ids)
        at = rows["at"][picked]
        keep = at <= now_s
        picked, out = picked[keep], out[keep]
        kind, count = rows["kind"][picked].astype(np.int64), rows["count"][picked].astype(np.float64)
        age = (now_s - at[keep]) / _DAY
        pricing = rows["pricing"][picked]
        data: dict[str, npt.NDArray[np.float64]] = {}
        for days in WINDOWS:
            inside = age < days
            by_kind = _weighted_count(out[inside] * kinds + kind[inside], count[inside], n * kinds).reshape(
                n, kinds
            )
            priced = inside & pricing
            for stem, counted in COUNTED_KINDS.items():
                data[f"{stem}_{days}d"] = (
                    by_kind[:, _KIND_CODE[counted]]
                    if counted
                    else _weighted_count(out[priced], count[priced], n)
                )
        engaged = kind != _NOTE
        data["days_since_last_activity"] = -_group_max(out[engaged], -age[engaged], n)
        chosen = {**DEFAULT_WEIGHTS, **(weights or {})}
        weight = np.array([chosen.get(k, 0.0) for k in ACTIVITY_KINDS])[kind] + _PRICING_BONUS * pricing
        decay = np.exp2(-age / max(half_life_days, 1e-9))
        data["engagement_score"] = _weighted_count(out, weight * count * decay, n)
        frame = pd.DataFrame({name: data[name] for name in ACTIVITY_COLUMNS}, index=pd.Index(person_ids))
        return frame.astype(np.float64)


def _pricing_visit(activity: Activity, search: Callable[[str], object]) -> bool:
    subject = activity.subject
    if not isinstance(subject, str) or search(subject[:_SUBJECT_SCAN]) is None:
        return False
    return activity.kind == "web_visit" or _VISIT.search(subject[:_SUBJECT_SCAN]) is not None


def _epochs(moments: list[datetime | None]) -> npt.NDArray[np.int64]:
    """Epoch seconds of each moment (-1 for none); naive datetimes are UTC."""
    try:
        stamps = pd.to_datetime(pd.Series(moments, dtype=object), utc=True)
        seconds = stamps.dt.as_unit("s").to_numpy(dtype="datetime64[s]").astype(np.int64)
        return np.where(stamps.isna().to_numpy(), -1, seconds)
    except (ValueError, TypeError, OverflowError):
        # Out-of-range or odd values: the slow path reads each one.
        return np.array([-1 if m is None else epoch_seconds(m) for m in moments], dtype=np.int64)


def _counts(values: list[object]) -> npt.NDArray[np.float32]:
    """How many events each activity stands for, within [0, 1e6]; anything unreadable counts once."""
    try:
        counts = np.array(values, dtype=np.float64)
    except (ValueError, TypeError, OverflowError):
        counts = np.array([float(v) if isinstance(v, int | float) else 1.0 for v in values], dtype=np.float64)
    return np.clip(np.nan_to_num(counts, nan=0.0), 0, _MAX_COUNT).astype(np.float32)


def _weighted_count(
    groups: npt.NDArray[np.int64], weights: npt.NDArray[np.float64], size: int
) -> npt.NDArray[np.float64]:
    """Sum of `weights` per group code in [0, size)."""
    return np.bincount(groups, weights=weights, minlength=size).astype(np.float64)


def _group_max(
    groups: npt.NDArray[Any], values: npt.NDArray[np.float64], size: int
) -> npt.NDArray[np.float64]:
    """Max of `values` per group code in [0, size); NaN where a group has none (negative codes skipped)."""
    result = np.full(size, -np.inf)
    valid = groups >= 0
    np.maximum.at(result, groups[valid].astype(np.int64), values[valid])
    result[np.isneginf(result)] = np.nan
    return result
