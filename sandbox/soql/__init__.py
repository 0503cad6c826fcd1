"""SOQL for the sandbox: parsed with lark (`soql.lark`), compiled to parameterised SQLite SQL, run on the store.

`execute(store, soql, include_deleted=...)` is the one entry point, shared by the REST query endpoints and
Bulk API 2.0 query jobs. Errors are `SfApiError`s carrying the real API's codes and messages
(MALFORMED_QUERY, INVALID_FIELD, INVALID_TYPE, ...).
"""

from __future__ import annotations

import re
import sqlite3

from sandbox.errors import SfApiError
from sandbox.soql.compiler import Plan, compile_query
from sandbox.soql.lazy import PagedResult
from sandbox.soql.parser import parse
from sandbox.soql.result import MaterialisedResult, QueryResult
from sandbox.store import Store
from sandbox.store_base import ReadSnapshot

__all__ = ["DEFAULT_VERSION", "QueryResult", "execute"]

DEFAULT_VERSION = "59.0"
MAX_LENGTH = 100_000  # characters in one SOQL statement, as the real API allows
_SQLITE_LIMITS = re.compile(r"stack overflow|too large|too many|too deep", re.IGNORECASE)


def execute(store: Store, soql: str, *, include_deleted: bool, version: str = DEFAULT_VERSION) -> QueryResult:
    """Run one SOQL query against the store and return its snapshot.

    `include_deleted` is what distinguishes `queryAll` from `query`: soft-deleted rows (`IsDeleted = true`)
    are only seen with it. The result is computed once, here; paging it later never re-runs the query.
    `version` is the API version the records' `attributes.url` name (`/services/data/v59.0/sobjects/...`).

    The `QueryResult` gives `total_size`, `columns` (CSV headers, parent fields as `Account.Name`), `rows`
    (tuples of wire-typed values in column order), `records(start, stop)` for JSON records as dicts and
    `records_json(start, stop)` for the same as one JSON array in text. On a file-backed store a records
    query's answer is a `PagedResult`: a snapshot rendered a slice at a time, which the caller `close()`s
    when done with it (else it expires with the store's snapshots). On an in-memory store, inside a write
    transaction of this thread, and for counts and aggregates, every record is rendered here, under the
    store lock.
    `kind` is "records", "count" (for `COUNT()`: `total_size` is the count and there are no rows) or
    "aggregate" (`COUNT(field)`: one AggregateResult row), for callers that, like Bulk API 2.0, refuse
    aggregates.

    Raises `sandbox.errors.SfApiError` (HTTP 400) for a query the real API would refuse.
    """
    if len(soql) > MAX_LENGTH:
        raise SfApiError(
            400, "MALFORMED_QUERY", f"SOQL statements cannot be longer than {MAX_LENGTH:,} characters."
        )
    try:
        plan = compile_query(store, soql, parse(soql), include_deleted=include_deleted, version=version)
        if plan.paging is not None and not _in_own_transaction(store):
            snapshot = store.snapshots.open()
            if snapshot is not None:
                return _paged(plan, snapshot)
        with store.lock:
            cursor = store.conn.cursor()
            # plain tuples: sqlite3.Row objects cost more per row, and each row is one JSON text anyway
            cursor.row_factory = None
            try:
                rows = cursor.execute(plan.sql, plan.params).fetchall()
            finally:
                cursor.close()
    except RecursionError:
        raise _too_complicated() from None
    except sqlite3.OperationalError as e:
        # limits of SQLite's parser (deeply nested filters, too many values); anything else is a sandbox bug
        if not _SQLITE_LIMITS.search(str(e)):
            raise
        raise _too_complicated() from None
    return MaterialisedResult(plan, rows)


def _in_own_transaction(store: Store) -> bool:
    """Whether this thread is inside a write transaction (a composite `allOrNone` request): its query must
    see the transaction's uncommitted writes, which only the store's own connection can."""
    if not store.lock.acquire(blocking=False):
        return False  # another thread's: its writes are not this query's to see until committed
    try:
        return store.conn.in_transaction
    finally:
        store.lock.release()


def _paged(plan: Plan, snapshot: ReadSnapshot) -> PagedResult:
    try:
        return PagedResult(plan, snapshot)
    except BaseException:
        snapshot.close()
        raise


def _too_complicated() -> SfApiError:
    return SfApiError(
        400,
        "QUERY_TOO_COMPLICATED",
        "Query is either selecting too many fields or the filter conditions are too complicated.",
    )
