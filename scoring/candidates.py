"""The reverse index behind incremental re-matching: which unlinked leads could match an account.

`AccountMatcher` answers "which account does this lead match"; when accounts change, the graph asks the
opposite question of this index, so only the leads sharing a domain or name block are matched again.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
Keys = tuple[tuple[str, ...], tuple[str, ...]]
"""Domains and name blocks (`lead_match_keys`, `account_match_keys`)."""


class CandidateIndex(Generic[K]):
    """Reverse index for incremental re-matching: which leads could match an account with given keys.

    Items (lead keys of the caller's choosing) are filed under `lead_match_keys`; `candidates` takes an
    account's `account_match_keys` and returns the leads sharing a domain or name block with it. The
    caller says what an item was filed under when it files it again: the graph keeps each unlinked lead's
    record, whose keys are worked out again in a moment, and holding them here as well cost ~230 bytes a
    person (three tuples and a dict entry; ~370 MB at 1M leads).
    """

    def __init__(self) -> None:
        # A key filed under by one item holds the item itself, by more a set of them: most email domains
        # of unlinked leads are one lead's, and a set costs 216 bytes or more (0.9 MB of 5.3 at 10k leads).
        self._by_domain: dict[str, K | set[K]] = {}
        self._by_block: dict[str, K | set[K]] = {}

    def put(self, item: K, keys: Keys | None, *, was: Keys | None = None) -> None:
        """File `item` under `keys` (None: under nothing), taking it out from under `was` (what it was
        filed under: exactly the keys of the `put` before, None if there was none)."""
        if was is not None:
            for domain in was[0]:
                _unfile(self._by_domain, domain, item)
            for block in was[1]:
                _unfile(self._by_block, block, item)
        if keys is None:
            return
        for domain in keys[0]:
            _file(self._by_domain, domain, item)
        for block in keys[1]:
            _file(self._by_block, block, item)

    def candidates(self, keys: Keys) -> set[K]:
        """Items filed under any of the domains or name blocks in `keys`."""
        found: set[K] = set()
        for index, names in ((self._by_domain, keys[0]), (self._by_block, keys[1])):
            for name in names:
                filed = index.get(name, _NOTHING)
                if isinstance(filed, set):
                    found.update(filed)
                elif filed is not _NOTHING:
                    found.add(filed)
        return found


_NOTHING: Any = object()


def _file(index: dict[str, K | set[K]], key: str, item: K) -> None:
    filed = index.get(key, _NOTHING)
    if filed is _NOTHING:
        index[key] = item
    elif isinstance(filed, set):
        filed.add(item)
    elif filed != item:
        index[key] = {filed, item}


def _unfile(index: dict[str, K | set[K]], key: str, item: K) -> None:
    filed = index.get(key, _NOTHING)
    if isinstance(filed, set):
        filed.discard(item)
        if len(filed) == 1:
            index[key] = filed.pop()
    elif filed is not _NOTHING and filed == item:
        del index[key]
