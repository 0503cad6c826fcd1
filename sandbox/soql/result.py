"""A query's answer: a snapshot of its records, each already rendered to JSON text by SQLite.

Pages are joins of those strings, so serving a page costs no Python object per field. `records` and
`rows` parse them back for callers that want Python values (tests, Bulk API 2.0 CSV).
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
    flat header names (`Id`, `Account.Name`) as Bulk API 2.0 writes them in CSV; `rows` are tuples of
    wire-typed values (booleans as bool, numbers as int or float, dates and datetimes as strings, a field
    of a null parent as None) in that order. `records(start, stop)` gives a slice as the REST API's JSON
    records, `records_json(start, stop)` the same as one serialised JSON array.
    """

    def __init__(self, plan: Plan, raw_rows: list[tuple[Any, ...]]) -> None:
        self.object_name = plan.object.name
        self.kind: Kind = plan.kind
        self.columns: list[str] = [c.header for c in plan.columns]
        self._keys = [c.keys for c in plan.columns]
        if plan.kind == "count":
            self.total_size = int(raw_rows[0][0]) if raw_rows else 0
            self._json: list[str] = []
        else:
            self._json = [r[0] for r in raw_rows]
            self.total_size = len(self._json)

    def __len__(self) -> int:
        """How many records there are to page through (0 for `COUNT()`)."""
        return len(self._json)

    def records_json(self, start: int = 0, stop: int | None = None) -> str:
        """Records `start:stop` as a JSON array (text), ready to embed in a response."""
        return "[" + ",".join(self._json[start:stop]) + "]"

    def records(self, start: int = 0, stop: int | None = None) -> list[Record]:
        """Records `start:stop` as dicts: `attributes`, then the fields in SELECT order."""
        return [orjson.loads(text) for text in self._json[start:stop]]

    @property
    def rows(self) -> list[Row]:
        """Every record's values, flat, in column order."""
        keys = self._keys
        out: list[Row] = []
        for text in self._json:
            rec = orjson.loads(text)
            values: list[Any] = []
            for path in keys:
                v: Any = rec
                for k in path:
                    v = v.get(k) if v is not None else None
                values.append(v)
            out.append(tuple(values))
        return out
