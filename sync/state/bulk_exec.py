"""How the store's set-at-a-time methods execute rows: executemany of rows given column by column, and
reads of many rows through the driver's own cursor.

`sync.state.bulk` says what is stored and read; this module only moves rows. On SQLite both directions
bypass SQLAlchemy's per-row handling (parameter dictionaries on the way in, `Row` objects and per-cell
result processing on the way out) and apply each column's own type processor once per column, so what is
stored and read back is what the Core path would store and read. Other backends take the Core path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any, Protocol, TypeVar

from sqlalchemy import Column, ColumnElement, FromClause, Select, bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from sync.state.base import StoreBase
from sync.state.columns import Columns, Same, dict_rows, positional_params, positional_plan

CHUNK = 500  # bound parameters per IN (...) stay well under SQLite's limit
ROWS_PER_EXECUTE = 5000


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    """`items` in consecutive slices of at most `size`."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def column(items: Sequence[Any], get: Callable[[Any], Any]) -> list[Any]:
    """One column of `items` (`get` applied to each)."""
    return list(map(get, items))


class Keyed(Protocol):
    """Something stored under a unique idempotency key."""

    @property
    def idempotency_key(self) -> str: ...


K = TypeVar("K", bound=Keyed)


class ExecMixin(StoreBase):
    """Column-wise executemany and driver-level reads shared by the bulk store methods."""

    def _unstored(self, key_column: Any, items: Sequence[K]) -> list[K]:
        """The first of each idempotency key among `items` that `key_column` (a unique column) lacks."""
        keys = [item.idempotency_key for item in items]
        existing: set[str] = set()
        with self.session() as s:
            for chunk in chunks(keys):
                existing.update(s.scalars(select(key_column).where(key_column.in_(chunk))))
        fresh: dict[str, K] = {}
        for item in items:
            if item.idempotency_key not in existing:
                fresh.setdefault(item.idempotency_key, item)
        return list(fresh.values())

    def _upsert(self, table: Any, rows: list[dict[str, Any]], keys: Sequence[str]) -> None:
        """Insert `rows` (dicts with the same keys), updating the row already stored under `keys`."""
        if rows:
            self._upsert_columns(table, {name: column(rows, itemgetter(name)) for name in rows[0]}, keys)

    def _upsert_columns(
        self, table: Any, columns: Columns, keys: Sequence[str], also: Mapping[str, Any] | None = None
    ) -> None:
        """`_upsert` of rows given column by column (every list column as long as the others); `also` adds
        SET clauses for a row already stored (over that row's own columns)."""
        maker = pg_insert if self.engine.dialect.name == "postgresql" else sqlite_insert
        statement = maker(table)
        updates = {c: statement.excluded[c] for c in columns if c not in keys} | dict(also or {})
        statement = statement.on_conflict_do_update(index_elements=list(keys), set_=updates)
        # One statement compiled once and run as executemany: a multi-VALUES statement per chunk costs a
        # fresh compile of thousands of bound parameters each time.
        self._execute_columns(statement, columns)

    def _execute_many(self, statement: Any, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run an INSERT, upsert or UPDATE once per row of `rows`, as one executemany per chunk."""
        if rows:
            self._execute_columns(statement, {name: column(rows, itemgetter(name)) for name in rows[0]})

    def _execute_columns(self, statement: Any, columns: Columns) -> None:
        """`_execute_many` of rows given column by column; does nothing when no column is a list or the
        lists are empty (a batch of `Same` columns alone has no row count)."""
        count = next((len(c) for c in columns.values() if not isinstance(c, Same)), 0)
        if count == 0:
            return
        dialect = self.engine.dialect
        names = list(columns)
        compiled = statement.compile(dialect=dialect, column_keys=names)
        plan = positional_plan(compiled, statement, names) if dialect.name == "sqlite" else None
        with self.session() as s:
            connection = s.connection()
            if plan is None:
                rows = dict_rows(columns, count)
                for chunk in chunks(rows, ROWS_PER_EXECUTE):
                    connection.execute(statement, list(chunk))
                return
            # SQLite: the binds' own type processors, then the driver's executemany directly; the per-row
            # parameter handling of a Core executemany costs more than the statement itself.
            table = str(statement.table.name)
            for start in range(0, count, ROWS_PER_EXECUTE):
                stop = min(count, start + ROWS_PER_EXECUTE)
                connection.exec_driver_sql(
                    compiled.string, positional_params(plan, columns, table, start, stop)
                )

    def _select_in(
        self,
        columns: Sequence[ColumnElement[Any]],
        where: Mapping[str, Any],
        key: Column[Any],
        values: Sequence[Any],
        *,
        from_: FromClause | None = None,
    ) -> Iterator[tuple[Any, ...]]:
        """Rows of `columns` where each `where` column (of `key`'s table) equals its value and `key` is among
        `values`, as plain tuples with every cell read as its column type reads it; in chunks of `CHUNK`.
        The columns come from `key`'s table, or from `from_` (a join) when given.

        On SQLite the statement runs on the driver's cursor and each column's result processor is applied
        to the whole column at once; elsewhere SQLAlchemy Core runs it.
        """
        table = key.table
        conditions = [table.c[name] == bindparam(f"w_{name}", value) for name, value in where.items()]
        query = select(*columns).where(*conditions, key.in_(bindparam("keys", expanding=True)))
        if from_ is not None:
            query = query.select_from(from_)
        dialect = self.engine.dialect
        with self.session() as s:
            connection = s.connection()
            if dialect.name != "sqlite":
                for chunk in chunks(values):
                    yield from map(tuple, connection.execute(query, {"keys": list(chunk)}))
                return
            readers = [c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns]
            statements: dict[int, tuple[str, list[str]]] = {}  # two lengths at most: full and last
            given = {f"w_{name}": value for name, value in where.items()}
            cursor = connection.connection.cursor()
            try:
                for chunk in chunks(values):
                    if len(chunk) not in statements:
                        statements[len(chunk)] = _positional(query, dialect, len(chunk))
                    sql, order = statements[len(chunk)]
                    cursor.execute(sql, [*(given[name] for name in order[: -len(chunk)]), *chunk])
                    rows = cursor.fetchall()
                    if rows:
                        yield from _read_columns(rows, readers)
            finally:
                cursor.close()


def _positional(query: Select[Any], dialect: Any, count: int) -> tuple[str, list[str]]:
    """The SQLite text of `query` with its expanding `keys` parameter rendered as `count` markers, and the
    names of its parameters in marker order (the keys, last)."""
    compiled = query.params(keys=[""] * count).compile(
        dialect=dialect, compile_kwargs={"render_postcompile": True}
    )
    order = list(compiled.positiontup or [])
    if len(order) < count or any(not name.startswith("keys_") for name in order[len(order) - count :]):
        raise AssertionError(f"unexpected parameter order in {compiled.string!r}")
    return compiled.string, order


def _read_columns(
    rows: Sequence[Sequence[Any]], readers: Sequence[Callable[[Any], Any] | None]
) -> Iterator[tuple[Any, ...]]:
    """`rows` with each column read by its processor (None: as the driver gave it), column by column."""
    series: list[Sequence[Any]] = list(zip(*rows, strict=True))
    for index, reader in enumerate(readers):
        if reader is not None:
            series[index] = _read_column(series[index], reader)
    return zip(*series, strict=True)


# What a result processor gives that can be shared between rows: nobody can change it in place.
_IMMUTABLE = frozenset({str, int, float, bool, type(None), datetime})


def _read_column(cells: Sequence[Any], reader: Callable[[Any], Any]) -> Sequence[Any]:
    """`reader` over `cells`, each distinct cell read once when every value read is immutable (states,
    scores, `now` repeat across a ledger); a column holding JSON objects or arrays is read cell by cell,
    so that no two rows share a mutable value."""
    texts = set(cells)
    # Only text and NULL cells are keyed: 1, 1.0 and True are one key to a dict.
    if all(type(cell) is str or cell is None for cell in texts):
        distinct = {cell: reader(cell) for cell in texts}
        if all(type(value) in _IMMUTABLE for value in distinct.values()):
            return tuple(map(distinct.__getitem__, cells))
    return tuple(map(reader, cells))
