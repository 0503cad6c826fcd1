"""A query's answer: its records, each rendered to JSON text by SQLite, served a slice at a time.

Pages are joins of those strings, so serving a page costs no Python object per field. `records` and
`rows` parse them back for callers that want Python values (tests, Bulk API 2.0 CSV).

`MaterialisedResult` renders every record when the query runs (in-memory stores, counts, aggregates);
`sandbox.soql.lazy.PagedResult` renders only the slices asked for, from a snapshot of a file-backed store.
Both answer every slice with the same records, in the same order, as text equal byte for byte.
"""

from __future__ import annotations

from typing import Any

import orjson

from sandbox.soql.compiler import Kind, Plan

Row = tuple[Any, ...]
Record = dict[str, Any]


class QueryResult:
    """The records a query matched, frozen when it ran.

    `total_size` is the number of records (for `COUNT()`, the count itself, with no rows). `columns` are the
    flat header names (`Id`, `Account.Name`) as Bulk API 2.0 writes them in CSV; `rows_between(start, stop)`
    are tuples of wire-typed values (booleans as bool, numbers as int or float, dates and datetimes as
    strings, a field of a null parent as None) in that order, and `rows` all of them. `records(start, stop)`
    gives a slice as the REST API's JSON records, `records_json(start, stop)` the same as one serialised JSON
    array. `rendered` counts the records rendered so far. `close()` lets go of whatever the answer holds
    open; reading a closed or expired answer raises `sandbox.store_base.SnapshotExpired`.
    """

    def __init__(self, plan: Plan) -> None:
        self.object_name = plan.object.name
        self.kind: Kind = plan.kind
        self.columns: list[str] = [c.header for c in plan.columns]
        self._keys = [c.keys for c in plan.columns]
        self.rendered = 0

    @property
    def total_size(self) -> int:
        raise NotImplementedError

    def __len__(self) -> int:
        """How many records there are to page through (0 for `COUNT()`)."""
        return 0 if self.kind == "count" else self.total_size

    def texts(self, start: int = 0, stop: int | None = None) -> list[str]:
        """Records `start:stop` (slice semantics, `start` and `stop` not negative), each as JSON text."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what the answer holds open (nothing, for a materialised one)."""

    def records_json(self, start: int = 0, stop: int | None = None) -> str:
        """Records `start:stop` as a JSON array (text), ready to embed in a response."""
        return "[" + ",".join(self.texts(start, stop)) + "]"

    def records(self, start: int = 0, stop: int | None = None) -> list[Record]:
        """Records `start:stop` as dicts: `attributes`, then the fields in SELECT order."""
        return [orjson.loads(text) for text in self.texts(start, stop)]

    def rows_between(self, start: int = 0, stop: int | None = None) -> list[Row]:
        """Records `start:stop` as flat tuples of values in column order."""
        keys = self._keys
        out: list[Row] = []
        for text in self.texts(start, stop):
            rec = orjson.loads(text)
            values: list[Any] = []
            for path in keys:
                v: Any = rec
                for k in path:
                    v = v.get(k) if v is not None else None
                values.append(v)
            out.append(tuple(values))
        return out

    @property
    def rows(self) -> list[Row]:
        """Every record's values, flat, in column order."""
        return self.rows_between()


class MaterialisedResult(QueryResult):
    """Every record rendered when the query ran (`raw_rows` are the rows of `plan.sql`)."""

    def __init__(self, plan: Plan, raw_rows: list[tuple[Any, ...]]) -> None:
        super().__init__(plan)
        if plan.kind == "count":
            self._total = int(raw_rows[0][0]) if raw_rows else 0
            self._json: list[str] = []
        else:
            self._json = [r[0] for r in raw_rows]
            self._total = len(self._json)
        self.rendered = len(self._json)

    @property
    def total_size(self) -> int:
        return self._total

    def texts(self, start: int = 0, stop: int | None = None) -> list[str]:
        return self._json[start:stop]
