"""EQ and IN searches on a string property read through an index of its folded value, with the same answers as
a scan, and the store keeps writing once such an index exists (in a later process too)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.hubspot.filters import compile_search
from sandbox.hubspot.search import search_records
from sandbox.hubspot.search_request import parse_groups, parse_sorts
from sandbox.store import Store

SUBJECTS = ["Call Acme", "call acme", "CALL ACME", "Demo", "demo", "Ünïcode Ä", "ünïcode ä", ""]


def _body(*groups: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "filterGroups": [{"filters": g} for g in groups],
        "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
        "properties": ["hs_task_subject"],
        "limit": 100,
    }


def _subjects(store: Store, body: dict[str, Any]) -> list[str]:
    return [r["properties"]["hs_task_subject"] for r in search_records(store, "tasks", body)["results"]]


def _scan(store: Store, ids: list[int], values: list[str]) -> list[str]:
    """The answer by definition: the stored value lower-cased is one of the values."""
    got = store.hs_get_many("tasks", sorted(ids))
    subjects = [got[i].props.get("hs_task_subject") for i in sorted(ids)]
    return [s for s in subjects if s is not None and s.lower() in values]


@settings(max_examples=30, deadline=None)
@given(values=st.lists(st.sampled_from([s.lower() for s in SUBJECTS] + ["nothing", "Call Acme"]), max_size=4))
def test_an_in_search_through_the_index_answers_as_a_scan(values: list[str]) -> None:
    store = Store()
    ids = [r.id for r in store.hs_insert_many("tasks", [{"hs_task_subject": s} for s in SUBJECTS])]
    body = _body([{"propertyName": "hs_task_subject", "operator": "IN", "values": values}] if values else [])
    if values:
        assert _subjects(store, body) == _scan(store, ids, values)
    compiled = compile_search(
        "tasks", store.hs_properties("tasks"), parse_groups(body), parse_sorts(body["sorts"]), None
    )
    assert (compiled.use_index is not None) == bool(values)


def test_the_index_is_used_only_where_it_narrows_every_match(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "org.db"))
    rows = [{"hs_task_subject": s, "hs_task_status": "NOT_STARTED"} for s in SUBJECTS]
    first = store.hs_insert_many("tasks", rows)[0].id
    one = _body([{"propertyName": "hs_task_subject", "operator": "EQ", "value": "DEMO"}])
    assert _subjects(store, one) == ["Demo", "demo"], "EQ folds the value and the stored text"
    either = _body(
        [{"propertyName": "hs_task_subject", "operator": "IN", "values": ["demo"]}],
        [{"propertyName": "hs_task_status", "operator": "EQ", "value": "NOT_STARTED"}],
    )
    assert len(_subjects(store, either)) == len(SUBJECTS), "OR across groups: no index forces the plan"
    specs = store.hs_properties("tasks")
    compiled = compile_search("tasks", specs, parse_groups(one), parse_sorts(one["sorts"]), None)
    assert compiled.use_index is not None
    plan = store.conn.execute(
        f'EXPLAIN QUERY PLAN SELECT id FROM hs_object INDEXED BY "{compiled.use_index}" '
        f"WHERE {compiled.where} ORDER BY {compiled.order}",
        [*compiled.where_params, *compiled.order_params],
    ).fetchall()
    assert any(compiled.use_index in str(tuple(row)) for row in plan)
    store.conn.close()

    again = Store(str(tmp_path / "org.db"))  # a later process: the index needs the functions to write
    again.hs_insert("tasks", {"hs_task_subject": "Demo again"})
    assert again.hs_update("tasks", first, {"hs_task_subject": "DEMO"}) is not None
    assert _subjects(again, one) == ["DEMO", "Demo", "demo"]
