"""A parsed query checked against the metadata and turned into parameterised SQLite statements.

`Plan.sql` selects one column: each record rendered as JSON by SQLite (see `jsonsql`). A records query also
gets a `Paging`: the same answer split so that it can be served a page at a time (`sandbox.soql.lazy`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from sandbox.errors import SfApiError
from sandbox.sf_schema import SfObject
from sandbox.soql.errors import invalid_type, malformed
from sandbox.soql.filters import FilterCompiler
from sandbox.soql.jsonsql import aggregate_json, record_json
from sandbox.soql.nodes import Query, SelectCount, SelectCountField, SelectField, SelectFields
from sandbox.soql.resolve import STRING_TYPES, Resolved, Resolver, quote
from sandbox.store import Store, live

MAX_OFFSET = 2000
FIELDS_LIMIT = 200

Kind = Literal["records", "count", "aggregate"]


@dataclass(frozen=True)
class Column:
    """One selected value: its CSV header (`Account.Name`) and the keys leading to it in a JSON record."""

    header: str
    keys: tuple[str, ...]


@dataclass(frozen=True)
class Paging:
    """A records query split for paging: which rows, in which order, and how to render some of them.

    `keys_sql` selects the matched rows' rowids in answer order, and ends in `LIMIT ? OFFSET ?` so a read can
    start anywhere: `keys_params(start)` skips `start` rows of the answer (SOQL's own LIMIT and OFFSET
    included). `count_sql` counts the answer without rendering it. `page_sql` renders the rows whose rowids
    are in the JSON array given as its last parameter, in that array's order.
    """

    keys_sql: str
    where_params: list[Any]
    limit: int | None
    offset: int
    count_sql: str
    count_params: list[Any]
    page_sql: str
    render_params: list[Any]
    # The same rows as `page_sql`, each as a tuple of its columns' values as SQLite holds them (booleans 0/1,
    # at the positions in `booleans`), in `Plan.columns` order: what Bulk API 2.0 CSV is made of, without a
    # JSON record rendered and parsed again for every row. Its one parameter is the rowids' JSON array.
    rows_sql: str
    booleans: tuple[int, ...]

    def keys_params(self, start: int) -> list[Any]:
        left = -1 if self.limit is None else max(self.limit - start, 0)
        return [*self.where_params, left, self.offset + start]

    def page_params(self, rowids_json: str) -> list[Any]:
        return [*self.render_params, rowids_json]


@dataclass
class Plan:
    """The statement and what its rows mean. Each row is one JSON record (a count for `COUNT()`)."""

    object: SfObject
    kind: Kind
    sql: str
    params: list[Any]
    columns: list[Column] = field(default_factory=list)
    paging: Paging | None = None


def compile_query(store: Store, soql: str, query: Query, *, include_deleted: bool, version: str) -> Plan:
    """Check `query` against the store's metadata and build its SQL. Raises `SfApiError` as the real API does."""
    obj = store.sf_object(query.object_name)
    if obj is None:
        raise invalid_type(soql, query.object_pos, query.object_name)
    if query.offset is not None and query.offset > MAX_OFFSET:
        raise SfApiError(400, "NUMBER_OUTSIDE_VALID_RANGE", f"Maximum SOQL offset allowed is {MAX_OFFSET}")
    resolver = Resolver(store, soql, obj, query.object_alias)
    filters = FilterCompiler(resolver, store.clock.now().date())
    where = [live("t")] if not include_deleted else []
    if query.where is not None:
        where.append(filters.compile(query.where))
    where_sql = (" WHERE " + " AND ".join(where)) if where else ""
    clauses = (where_sql, filters.params)
    limit_sql, limit_params = _limit(query)
    counts = [s for s in query.select if isinstance(s, SelectCount)]
    if counts:
        if len(query.select) > 1:
            raise malformed(soql, counts[0].pos, "COUNT() must be the only element in the SELECT list")
        _order_by(query, resolver)  # checked like any other query's, though a count has no order
        inner = f"SELECT 1 {resolver.from_sql(filters.used)}{where_sql}{limit_sql}"
        return Plan(obj, "count", f"SELECT COUNT(*) FROM ({inner})", [*filters.params, *limit_params])
    if any(isinstance(s, SelectCountField) for s in query.select):
        return _aggregate(soql, query, obj, resolver, clauses, (limit_sql, limit_params))
    selected = _select_list(soql, query, obj, resolver)
    order_sql = _order_by(query, resolver)
    plan = _records(obj, resolver, selected, clauses, order_sql, (limit_sql, limit_params), version)
    count_sql = f"SELECT COUNT(*) FROM (SELECT 1 {resolver.from_sql(filters.used)}{where_sql}{limit_sql})"
    record_sql, record_params = record_json(obj.name, selected, resolver.joins, version)
    # json_each drives the loop, so each rowid is one primary-key lookup, in the array's order
    driven = (
        f"FROM json_each(?) AS k CROSS JOIN {quote('sf_' + obj.name)} AS t "
        f"{resolver.joins_sql()} WHERE t.rowid = k.value ORDER BY k.key"
    )
    page_sql = f"SELECT {record_sql} {driven}"
    plan.paging = Paging(
        keys_sql=f"SELECT t.rowid {resolver.from_sql()}{where_sql}{order_sql} LIMIT ? OFFSET ?",
        where_params=list(filters.params),
        limit=query.limit,
        offset=query.offset or 0,
        count_sql=count_sql,
        count_params=[*filters.params, *limit_params],
        page_sql=page_sql,
        render_params=record_params,
        rows_sql=f"SELECT {', '.join(c.sql for c in selected)} {driven}",
        booleans=tuple(n for n, c in enumerate(selected) if c.field.type == "boolean"),
    )
    return plan


def _limit(query: Query) -> tuple[str, list[int]]:
    if query.limit is None and not query.offset:
        return "", []
    return " LIMIT ? OFFSET ?", [query.limit if query.limit is not None else -1, query.offset or 0]


def _select_list(soql: str, query: Query, obj: SfObject, resolver: Resolver) -> list[Resolved]:
    selected: list[Resolved] = []
    seen: set[str] = set()
    for item in query.select:
        if isinstance(item, SelectFields):
            if item.kind not in ("ALL", "STANDARD", "CUSTOM"):
                raise malformed(soql, item.pos, f"unexpected token: {item.kind}")
            if item.kind != "STANDARD" and (query.limit is None or query.limit > FIELDS_LIMIT):
                raise malformed(
                    soql, item.pos, f"The SOQL FIELDS function must have a LIMIT of at most {FIELDS_LIMIT}"
                )
            for f in obj.fields:
                wanted = item.kind == "ALL" or (item.kind == "CUSTOM") == f.custom
                if wanted and f.name.lower() not in seen:
                    seen.add(f.name.lower())
                    selected.append(Resolved(f"t.{quote(f.name)}", f, (), f.name))
            continue
        assert isinstance(item, SelectField)
        if item.alias is not None:
            raise malformed(soql, item.path.pos, "Only aggregate expressions use field aliasing")
        col = resolver.resolve(item.path)
        if col.header.lower() in seen:
            raise malformed(soql, item.path.pos, f"duplicate field selected: {item.path.text}")
        seen.add(col.header.lower())
        selected.append(col)
    return selected


def _order_by(query: Query, resolver: Resolver) -> str:
    terms: list[str] = []
    for item in query.order_by:
        col = resolver.resolve(item.path)
        term = col.sql + (" COLLATE NOCASE" if col.field.type in STRING_TYPES else "")
        term += " DESC" if item.descending else " ASC"
        if item.nulls_first is not None:
            term += " NULLS FIRST" if item.nulls_first else " NULLS LAST"
        terms.append(term)
    # ties (and queries without ORDER BY) come back in creation order, as a real org tends to answer
    terms.append("t.rowid")
    return " ORDER BY " + ", ".join(terms)


def _records(
    obj: SfObject,
    resolver: Resolver,
    selected: list[Resolved],
    clauses: tuple[str, list[Any]],
    order_sql: str,
    limit: tuple[str, list[int]],
    version: str,
) -> Plan:
    record_sql, record_params = record_json(obj.name, selected, resolver.joins, version)
    where_sql, where_params = clauses
    limit_sql, limit_params = limit
    sql = f"SELECT {record_sql} {resolver.from_sql()}{where_sql}{order_sql}{limit_sql}"
    columns = [Column(c.header, (*c.rel_path, c.field.name)) for c in selected]
    return Plan(obj, "records", sql, [*record_params, *where_params, *limit_params], columns)


def _aggregate(
    soql: str,
    query: Query,
    obj: SfObject,
    resolver: Resolver,
    clauses: tuple[str, list[Any]],
    limit: tuple[str, list[int]],
) -> Plan:
    names: list[str] = []
    exprs: list[str] = []
    unnamed = 0
    for item in query.select:
        if isinstance(item, SelectField):
            raise malformed(soql, item.path.pos, f"Field must be grouped or aggregated: {item.path.text}")
        if not isinstance(item, SelectCountField):
            raise malformed(soql, getattr(item, "pos", 0), "unexpected token: FIELDS")
        col = resolver.resolve(item.path)
        # unnamed aggregates are called expr0, expr1, ... in SELECT order, skipping the aliased ones
        if item.alias is None:
            names.append(f"expr{unnamed}")
            unnamed += 1
        else:
            names.append(item.alias)
        exprs.append(f"COUNT({col.sql})")
    where_sql, where_params = clauses
    limit_sql, limit_params = limit
    sql = f"SELECT {aggregate_json(names, exprs)} {resolver.from_sql()}{where_sql}{limit_sql}"
    return Plan(obj, "aggregate", sql, [*where_params, *limit_params], [Column(n, (n,)) for n in names])
