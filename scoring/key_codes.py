"""Dense integer codes for (crm, id) keys: what the activity index's rows store instead of the ids."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from mappings import Crm

__all__ = ["KeyCodes"]


class KeyCodes:
    """Dense integer codes for (crm, id) keys, so rows store 4 bytes instead of a string.

    Kept as one dict of ids a CRM and the ids by code, not as (crm, id) tuples: a tuple is 56 bytes a
    person (~90 MB at 1M leads), and a key is asked for by code only for the few people a batch changes."""

    def __init__(self) -> None:
        self._code: dict[Crm, dict[str, int]] = {}
        self._crms: list[Crm] = []
        self._ids: list[str] = []

    def __len__(self) -> int:
        return len(self._ids)

    def get(self, crm: Crm, key_id: str, default: int) -> int:
        """The code of `(crm, key_id)`, else `default`."""
        codes = self._code.get(crm)
        return default if codes is None else codes.get(key_id, default)

    def key(self, code: int) -> tuple[Crm, str]:
        """The (crm, id) a code stands for."""
        return self._crms[code], self._ids[code]

    def get_or_add(self, crm: Crm, key_id: str) -> int:
        """The code of `(crm, key_id)`, the next free one if it has none yet."""
        codes = self._code.get(crm)
        if codes is None:
            codes = self._code[crm] = {}
        code = codes.get(key_id)
        if code is None:
            code = codes[key_id] = len(self._ids)
            self._ids.append(key_id)
            self._crms.append(crm)
        return code

    def lookup(self, crm: Crm, ids: Iterable[str]) -> npt.NDArray[np.int64]:
        """The codes of `ids` in `crm`, -1 for an id without one."""
        codes = self._code.get(crm, {})
        return np.fromiter((codes.get(i, -1) for i in ids), dtype=np.int64)
