"""A records query answered a page at a time from a snapshot of a file-backed store.

When the query runs, only its keys statement starts (the matched rowids in answer order; `Paging`); the
total is counted by SQLite without rendering anything, and only if the first slice read does not reach the
end. Each slice steps the keys statement on to its rows and renders just those, by rowid. All of it reads
one `ReadSnapshot`: the answer is the database as it was when the query ran, whatever is written meanwhile,
and no store lock is held while rows are read or rendered.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson

from sandbox.soql.compiler import Paging, Plan
from sandbox.soql.result import QueryResult, Row
from sandbox.store_base import ReadSnapshot


class PagedResult(QueryResult):
    """The answer to a records query, rendered a slice at a time (see the module docstring).

    Reading forward from where the last slice ended continues the keys statement; any other start (a
    retried page, a jump) restarts it in the same snapshot, skipping rows inside SQLite. Time and memory
    per slice are those of the slice, plus the count once (in SQLite, from an index where one covers the
    filter) and whatever sort the order needs (keys only: rows are rendered after sorting).
    """

    def __init__(self, plan: Plan, snapshot: ReadSnapshot) -> None:
        super().__init__(plan)
        assert plan.paging is not None
        self._paging: Paging = plan.paging
        self._snapshot = snapshot
        self._total: int | None = None
        self._keys_cursor: sqlite3.Cursor | None = None
        self._next = 0  # answer position of the next rowid to come out of `_pending`, then the cursor
        self._pending: list[int] = []
        with snapshot.use() as conn:
            conn.execute(self._paging.page_sql, self._paging.page_params("[]")).fetchall()  # prepares it
            self._restart(conn, 0)

    @property
    def total_size(self) -> int:
        if self._total is None:
            with self._snapshot.use() as conn:
                if self._total is None:
                    p = self._paging
                    self._total = int(conn.execute(p.count_sql, p.count_params).fetchone()[0])
        return self._total

    def texts(self, start: int = 0, stop: int | None = None) -> list[str]:
        p = self._paging
        return [row[0] for row in self._render(start, stop, p.page_sql, p.render_params)]

    def rows_between(self, start: int = 0, stop: int | None = None) -> list[Row]:
        # What the base class reads back from the JSON records, straight from the columns instead.
        p = self._paging
        rows = self._render(start, stop, p.rows_sql, [])
        return [_with_booleans(row, p.booleans) for row in rows] if p.booleans else rows

    def _render(self, start: int, stop: int | None, sql: str, params: list[Any]) -> list[Row]:
        """Answer rows `start:stop` as `sql` renders them (`params`, then the rowids' JSON array)."""
        if stop is None:
            stop = self.total_size
        if stop <= start:
            return []
        with self._snapshot.use() as conn:
            if self._total is not None and start >= self._total:
                return []
            rowids = self._rowids(conn, start, stop - start)
            if not rowids:
                return []
            rows: list[Row] = conn.execute(sql, [*params, orjson.dumps(rowids).decode()]).fetchall()
            self.rendered += len(rows)
        if len(rows) != len(rowids):
            raise RuntimeError(f"{self.object_name}: rendered {len(rows)} of {len(rowids)} snapshot rows")
        return rows

    def close(self) -> None:
        self._snapshot.close()

    def _restart(self, conn: sqlite3.Connection, start: int) -> None:
        if self._keys_cursor is not None:
            self._keys_cursor.close()
        self._keys_cursor = self._snapshot.track(
            conn.execute(self._paging.keys_sql, self._paging.keys_params(start))
        )
        self._next, self._pending = start, []

    def _rowids(self, conn: sqlite3.Connection, start: int, n: int) -> list[int]:
        """The rowids of answer rows `start:start+n`; one more is read ahead, so reaching the end is seen
        (and the total known) without a count."""
        if start != self._next or self._keys_cursor is None:
            self._restart(conn, start)
        assert self._keys_cursor is not None
        got = self._pending
        want = n + 1 - len(got)
        if want > 0:
            got = got + [r[0] for r in self._keys_cursor.fetchmany(want)]
        if len(got) <= n:
            self._total = start + len(got)
            self._pending = []
        else:
            self._pending = got[n:]
            got = got[:n]
        self._next = start + len(got)
        return got


def _with_booleans(row: Row, positions: tuple[int, ...]) -> Row:
    """`row` with its 0/1 booleans as bool, and anything else there as null (as the JSON record reads)."""
    values = list(row)
    for n in positions:
        values[n] = _BOOLEANS.get(values[n])
    return tuple(values)


_BOOLEANS: dict[object, bool] = {1: True, 0: False}
