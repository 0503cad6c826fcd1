"""The small org the SOQL engine tests query (tests/sandbox/test_soql*.py), and helpers to run queries on it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from sandbox.errors import SfApiError
from sandbox.soql import QueryResult, execute
from sandbox.store import Store

NOW = datetime(2024, 3, 13, 12, 0, tzinfo=UTC)  # a Wednesday


def soql_org() -> Store:
    """Accounts (one a parent), contacts, four leads with awkward names and dates, and two tasks; the clock at
    `NOW`."""
    store = Store()
    store.clock.freeze(NOW)
    acme = store.sf_insert("Account", {"Name": "Acme", "Industry": "Banking", "NumberOfEmployees": 500})
    store.sf_insert("Account", {"Name": "Acme Europe", "ParentId": acme, "AnnualRevenue": 1500000.5})
    smith = store.sf_insert("Contact", {"LastName": "Smith", "FirstName": "Ann", "AccountId": acme})
    store.sf_insert("Contact", {"LastName": "Loner"})
    rows: list[dict[str, Any]] = [
        {"LastName": "O'Brien", "Company": "Acme", "Industry": "Banking", "NumberOfEmployees": 5,
         "AnnualRevenue": 1000.0, "IsConverted": True, "ConvertedAccountId": acme, "ConvertedDate": "2024-03-12",
         "CreatedDate": "2024-03-13T00:30:00.000+0000", "Email": "ob@acme.example"},
        {"LastName": "under_score", "Company": "acme", "CreatedDate": "2024-03-12T23:30:00.000+0000"},
        {"LastName": "100%", "Company": "Globex", "Industry": "Retail", "NumberOfEmployees": 50,
         "CreatedDate": "2024-02-10T10:00:00.000+0000", "ConvertedDate": "2024-02-29"},
        {"LastName": "Zed", "Company": "Initech", "Industry": "retail", "NumberOfEmployees": 7,
         "CreatedDate": "2023-12-31T23:59:59.999+0000"},
    ]  # fmt: skip
    ids = store.sf_insert_many("Lead", rows)
    store.sf_insert("Task", {"Subject": "Call", "WhoId": smith, "WhatId": acme})
    store.sf_insert("Task", {"Subject": "Email", "WhoId": ids[0]})
    return store


def run(store: Store, soql: str, *, deleted: bool = False) -> QueryResult:
    return execute(store, soql, include_deleted=deleted)


def records(store: Store, soql: str, **kw: Any) -> list[dict[str, Any]]:
    return run(store, soql, **kw).records()


def last_names(store: Store, where: str, *, deleted: bool = False) -> list[str]:
    result = run(store, f"SELECT LastName FROM Lead WHERE {where} ORDER BY LastName", deleted=deleted)
    return [str(r[0]) for r in result.rows]


def error(store: Store, soql: str) -> SfApiError:
    with pytest.raises(SfApiError) as caught:
        run(store, soql)
    assert caught.value.status == 400
    return caught.value
