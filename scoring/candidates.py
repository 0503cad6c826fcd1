"""The reverse index behind incremental re-matching: which unlinked leads could match an account.

`AccountMatcher` answers "which account does this lead match"; when accounts change, the graph asks the
opposite question of this index, so only the leads sharing a domain or name block are matched again.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class CandidateIndex(Generic[K]):
    """Reverse index for incremental re-matching: which leads could match an account with given keys.

    Items (lead keys of the caller's choosing) are filed under `lead_match_keys`; `candidates` takes an
    account's `account_match_keys` and returns the leads sharing a domain or name block with it.
    """

    def __init__(self) -> None:
        self._keys: dict[K, tuple[tuple[str, ...], tuple[str, ...]]] = {}
        # A key filed under by one item holds the item itself, by more a set of them: most email domains
        # of unlinked leads are one lead's, and a set costs 216 bytes or more (0.9 MB of 5.3 at 10k leads).
        self._by_domain: dict[str, K | set[K]] = {}
        self._by_block: dict[str, K | set[K]] = {}

    def __len__(self) -> int:
        return len(self._keys)

    def put(self, item: K, keys: tuple[tuple[str, ...], tuple[str, ...]] | None) -> None:
        """File `item` under `keys`, replacing what it was filed under (None: forget it)."""
        domains, blocks = self._keys.pop(item, ((), ()))
        for domain in domains:
            _unfile(self._by_domain, domain, item)
        for block in blocks:
            _unfile(self._by_block, block, item)
        if keys is None:
            return
        self._keys[item] = keys
        for domain in keys[0]:
            _file(self._by_domain, domain, item)
        for block in keys[1]:
            _file(self._by_block, block, item)

    def candidates(self, keys: tuple[tuple[str, ...], tuple[str, ...]]) -> set[K]:
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
