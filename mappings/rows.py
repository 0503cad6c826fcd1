"""`Row`: a record's mapped feature values by name, as a compact read-only mapping.

The world holds every person of a CRM between cycles (1.64M at the 1M-lead target), and each carries its
feature values by name (`Lead.fields`). As a dict, that is ~460 bytes a person, most of it a hash table of
the same dozen names in the same order, once for every record of an object. A `Row` keeps the names once
for all the records of an object (an index of positions, shared) and only the values per record, in a
tuple: ~180 bytes. It reads as the dict it replaces: equality with any mapping (both ways), insertion
order, `repr`, pickling, `dict(row)`, `{**row}`. It cannot be changed, which frozen records never needed.

Rows are built by `mappings.mapped.feature_values`; anything else may still hand a record a plain dict.
"""

from __future__ import annotations

from collections.abc import Callable, ItemsView, Iterable, Iterator, KeysView, Mapping, Sequence, ValuesView
from functools import lru_cache
from operator import itemgetter
from typing import Any, TypeVar, overload

V = TypeVar("V")
D = TypeVar("D")


@lru_cache(maxsize=256)
def row_index(names: tuple[str, ...]) -> dict[str, int]:
    """The shared index of rows with these keys, in this order: each key's position among the values.

    The same names give the same index (while it is remembered), so rows built apart (by several plans,
    or unpickled) still share it and compare by their values alone. Never change the dict returned.
    """
    index = {name: position for position, name in enumerate(names)}
    if len(index) != len(names):
        raise ValueError(f"a row's keys must be distinct: {names}")
    return index


class Row(Mapping[str, V]):
    """A read-only mapping of `index`'s keys, in its order, to `values` (position by position).

    `index` must come from `row_index` (or be as it makes them, and never change): rows share it.
    Unhashable, like the dict it stands for.
    """

    __slots__ = ("_index", "_values")
    _index: dict[str, int]
    _values: tuple[V, ...]

    def __init__(self, index: dict[str, int], values: tuple[V, ...]) -> None:
        if len(values) != len(index):
            raise ValueError(f"a row of {len(index)} keys given {len(values)} values")
        self._index = index
        self._values = values

    @classmethod
    def of(cls, items: Mapping[str, V] | Iterable[tuple[str, V]]) -> Row[V]:
        """The row holding what a dict made of `items` would hold, in the same order."""
        as_dict = dict(items)
        return cls(row_index(tuple(as_dict)), tuple(as_dict.values()))

    # Reading: each answer is one lookup in the shared index and one in the values, with no Python-level
    # exception handling (a missing key's KeyError is the index's own, naming the key as a dict's would).
    def __getitem__(self, key: str) -> V:
        return self._values[self._index[key]]

    @overload
    def get(self, key: str, /) -> V | None: ...
    @overload
    def get(self, key: str, default: V | D, /) -> V | D: ...
    def get(self, key: str, default: object = None, /) -> object:
        """The value of `key`, else `default`."""
        position = self._index.get(key)
        return default if position is None else self._values[position]

    def __contains__(self, key: object) -> bool:
        return key in self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __reversed__(self) -> Iterator[str]:
        return reversed(self._index)

    def __len__(self) -> int:
        return len(self._values)

    def keys(self) -> KeysView[str]:
        """The keys, in order (a view of the shared index's keys)."""
        return self._index.keys()

    def values(self) -> ValuesView[V]:
        """The values, in key order."""
        return _Values(self)

    def items(self) -> ItemsView[str, V]:
        """The (key, value) pairs, in key order."""
        return _Items(self)

    def __eq__(self, other: object) -> bool:
        # As `dict.__eq__`: equal to any mapping of the same keys to equal values, whatever its order.
        if isinstance(other, Row):
            if other._index is self._index or other._index == self._index:
                return self._values == other._values
            return self._dict() == other._dict()
        if isinstance(other, dict):
            return len(other) == len(self._values) and self._dict() == other
        if isinstance(other, Mapping):
            return self._dict() == dict(other.items())
        return NotImplemented

    # No `__hash__`: defining `__eq__` leaves a row unhashable, as a dict is (records hash without it).

    def __repr__(self) -> str:
        return repr(self._dict())

    def __reduce__(self) -> tuple[Any, ...]:
        # By keys and values, so unpickled rows share one index again (`row_index`), not one each.
        return (_unpickle, (tuple(self._index), self._values))

    def _dict(self) -> dict[str, V]:
        return dict(zip(self._index, self._values, strict=True))


def _unpickle(names: tuple[str, ...], values: tuple[V, ...]) -> Row[V]:
    return Row(row_index(names), values)


class _Values(ValuesView[V]):
    """`Row.values()`: the values tuple, iterated directly (the generic view looks each key up)."""

    __slots__ = ()
    _mapping: Row[V]

    def __iter__(self) -> Iterator[V]:
        return iter(self._mapping._values)

    def __contains__(self, value: object) -> bool:
        return value in self._mapping._values

    def __len__(self) -> int:
        return len(self._mapping._values)


class _Items(ItemsView[str, V]):
    """`Row.items()`: keys and values zipped (the generic view looks each key up)."""

    __slots__ = ()
    _mapping: Row[V]

    def __iter__(self) -> Iterator[tuple[str, V]]:
        row = self._mapping
        return zip(row._index, row._values, strict=True)

    def __len__(self) -> int:
        return len(self._mapping._values)


def values_of(mappings: Iterable[Mapping[str, V]], names: Sequence[str]) -> list[tuple[V | None, ...]]:
    """`[tuple(map(m.get, names)) for m in mappings]`: each mapping's values of `names`, None where absent.

    The bulk reading of feature values (scoring reads a dozen of each of 145k people at 100k leads). A
    row's `get` is a Python call where a dict's is not; here a row instead answers all the names with one
    `itemgetter` over its values, made once for each index met, so rows read faster than dicts did.
    """
    wanted = tuple(names)
    getters: dict[int, tuple[dict[str, int], Callable[[tuple[V, ...]], tuple[V | None, ...]]]] = {}
    out: list[tuple[V | None, ...]] = []
    for mapping in mappings:
        if type(mapping) is Row:
            index = mapping._index
            # Keyed by identity: the entry holds its index, so no other index takes its id meanwhile.
            known = getters.get(id(index))
            if known is None:
                known = getters[id(index)] = (index, _getter(index, wanted))
            out.append(known[1](mapping._values))
        else:
            out.append(tuple(map(mapping.get, wanted)))
    return out


_PAD = (None,)  # appended to a row's values when some names are not its keys: where those names point


def _getter(index: dict[str, int], names: tuple[str, ...]) -> Callable[[tuple[V, ...]], tuple[V | None, ...]]:
    """What `values_of` applies to the values of rows with this index."""
    absent = len(index)
    positions = [index.get(name, absent) for name in names]
    if not positions:
        return lambda values: ()
    pick = itemgetter(*positions)
    padded = absent in positions
    if len(positions) == 1:  # `itemgetter` of one position answers the value itself, not a 1-tuple
        return lambda values: (pick(values + _PAD if padded else values),)
    if padded:
        return lambda values: pick(values + _PAD)
    return pick
