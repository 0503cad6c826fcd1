"""The set-based paths of the HubSpot endpoints answer as the one-record-at-a-time rules say they must.

Association batch reads resolve every id in a few queries, searches remember their count until the data
changes, batch updates write all records in one statement: each is checked here against the plain rules.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox import LimitConfig, SandboxServer
from sandbox.clock import hs_datetime
from sandbox.hubspot.assoc_links import TYPES, read_links, read_links_many
from sandbox.hubspot.render import _iso_ms
from sandbox.store import Store

# (from_type, to_type, type_id) links as they may be stored, either direction, labelled or not
STORED = [("contacts", "companies", 279), ("contacts", "companies", 1), ("companies", "contacts", 280),
          ("companies", "contacts", 2), ("companies", "companies", 13), ("companies", "companies", 14)]  # fmt: skip


def _expected(
    links: list[tuple[str, int, str, int, int]], archived: set[int], from_type: str, a: int, to_type: str
) -> dict[int, list[tuple[str, int]]]:
    """The rule, record by record: both stored directions, the inverse type from the other side, live only."""
    out: dict[int, set[tuple[str, int]]] = {}
    for ft, fi, tt, ti, tid in links:
        if (ft, fi, tt) == (from_type, a, to_type):
            out.setdefault(ti, set()).add(("HUBSPOT_DEFINED", tid))
        if (tt, ti, ft) == (from_type, a, to_type):
            out.setdefault(fi, set()).add(("HUBSPOT_DEFINED", TYPES[tid].inverse))
    return {i: sorted(s, key=lambda x: (x[1], x[0])) for i, s in sorted(out.items()) if i not in archived}


@settings(max_examples=30, deadline=None)
@given(
    picks=st.lists(
        st.tuples(st.integers(0, len(STORED) - 1), st.integers(0, 5), st.integers(0, 5)), max_size=40
    ),
    gone=st.sets(st.integers(0, 5), max_size=3),
    asked=st.lists(st.integers(0, 6), max_size=12),
)
def test_many_ids_read_as_each_id_alone(
    picks: list[tuple[int, int, int]], gone: set[int], asked: list[int]
) -> None:
    store = Store()
    try:
        ids = {
            t: [r.id for r in store.hs_insert_many(t, [{"name": f"{t}{i}"} for i in range(6)])]
            for t in ("contacts", "companies")
        }
        links = []
        for k, x, y in picks:
            ft, tt, tid = STORED[k]
            link = (ft, ids[ft][x], tt, ids[tt][y], tid)
            store.hs_associate(*link)
            links.append(link)
        archived = {ids[t][g] for g in gone for t in ("contacts", "companies")}
        for t in ("contacts", "companies"):
            for g in gone:
                store.hs_archive(t, ids[t][g])
        for from_type, to_type in [
            ("contacts", "companies"),
            ("companies", "contacts"),
            ("companies", "companies"),
        ]:
            wanted = [ids[from_type][i] if i < 6 else 10**12 for i in asked]
            many = read_links_many(store, from_type, wanted, to_type)
            for a in wanted:
                expected = _expected(links, archived, from_type, a, to_type)
                assert many.get(a, {}) == expected
                assert read_links(store, from_type, a, to_type) == expected
            assert all(many.values()), "ids without live links are left out"
    finally:
        store.close()


def test_batch_read_answers_every_input_in_order(sandbox: SandboxServer, api: httpx.Client) -> None:
    store = sandbox.store
    people = store.hs_insert_many("contacts", [{"firstname": f"P{i}"} for i in range(3)])
    firms = store.hs_insert_many("companies", [{"name": "Acme"}, {"name": "Globex"}, {"name": "Gone"}])
    store.hs_associate("contacts", people[0].id, "companies", firms[1].id, 279)
    store.hs_associate("contacts", people[0].id, "companies", firms[0].id, 1)
    store.hs_associate("contacts", people[0].id, "companies", firms[0].id, 279)
    store.hs_associate("companies", firms[0].id, "contacts", people[1].id, 280)
    store.hs_associate("contacts", people[2].id, "companies", firms[2].id, 279)
    store.hs_archive("companies", firms[2].id)
    inputs = [str(people[0].id), "abc", str(people[1].id), str(people[2].id), str(people[0].id)]
    answer = api.post(
        "/crm/v4/associations/contacts/companies/batch/read", json={"inputs": [{"id": i} for i in inputs]}
    )
    assert answer.status_code == 207
    body = answer.json()
    first = {"from": {"id": str(people[0].id)}, "to": [
        {"toObjectId": firms[0].id, "associationTypes": [
            {"category": "HUBSPOT_DEFINED", "typeId": 1, "label": "Primary"},
            {"category": "HUBSPOT_DEFINED", "typeId": 279, "label": None}]},
        {"toObjectId": firms[1].id, "associationTypes": [
            {"category": "HUBSPOT_DEFINED", "typeId": 279, "label": None}]}]}  # fmt: skip
    second = {"from": {"id": str(people[1].id)}, "to": [
        {"toObjectId": firms[0].id, "associationTypes": [
            {"category": "HUBSPOT_DEFINED", "typeId": 279, "label": None}]}]}  # fmt: skip
    assert body["results"] == [first, second, first]
    assert [e["context"]["fromObjectId"] for e in body["errors"]] == [["abc"], [str(people[2].id)]]
    assert body["numErrors"] == 2
    v3 = api.post(
        "/crm/v3/associations/contacts/companies/batch/read",
        json={"inputs": [{"id": str(people[0].id)}]},
    ).json()
    assert v3["results"] == [{"from": {"id": str(people[0].id)}, "to": [
        {"id": str(firms[0].id), "type": "contact_to_company"},
        {"id": str(firms[0].id), "type": "contact_to_company_unlabeled"},
        {"id": str(firms[1].id), "type": "contact_to_company_unlabeled"}]}]  # fmt: skip


def _search(api: httpx.Client, after: int = 0) -> dict[str, object]:
    body = {
        "filterGroups": [{"filters": [{"propertyName": "firstname", "operator": "EQ", "value": "ada"}]}],
        "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
        "properties": ["firstname"],
        "limit": 2,
        "after": str(after),
    }
    answer = api.post("/crm/v3/objects/contacts/search", json=body)
    assert answer.status_code == 200, answer.text
    out: dict[str, object] = answer.json()
    return out


def test_search_total_follows_every_kind_of_write(sandbox: SandboxServer, api: httpx.Client) -> None:
    sandbox.state.set_limits(LimitConfig(hs_search_per_second=1_000))
    store = sandbox.store
    made = store.hs_insert_many("contacts", [{"firstname": "ada"} for _ in range(3)] + [{"firstname": "bob"}])
    assert _search(api)["total"] == 3
    assert _search(api, 2)["total"] == 3  # the same query again, nothing written in between
    store.hs_insert("contacts", {"firstname": "Ada"})
    assert _search(api, 2)["total"] == 4
    store.hs_update("contacts", made[3].id, {"firstname": "ada"})
    assert _search(api)["total"] == 5
    store.hs_archive("contacts", made[0].id)
    page = _search(api)
    assert page["total"] == 4
    assert [r["id"] for r in page["results"]] == [str(made[1].id), str(made[2].id)]  # type: ignore[attr-defined]
    updated = api.post(
        "/crm/v3/objects/contacts/batch/update",
        json={"inputs": [{"id": str(made[1].id), "properties": {"firstname": "eve"}}]},
    )
    assert updated.status_code == 200
    assert _search(api)["total"] == 3


def test_batch_update_writes_each_record_as_a_single_update_would(
    sandbox: SandboxServer, api: httpx.Client
) -> None:
    store = sandbox.store
    at = datetime(2031, 5, 6, 7, 8, 9, 123000, tzinfo=UTC)
    store.clock.freeze(at)
    people = store.hs_insert_many(
        "contacts", [{"email": f"p{i}@example.com", "jobtitle": "CTO"} for i in range(3)]
    )
    inputs = [
        {"id": str(people[0].id), "properties": {"lifecyclestage": "customer", "jobtitle": ""}},
        {"id": str(people[1].id), "properties": {"jobtitle": "CEO"}},
        {"id": "999999", "properties": {"jobtitle": "nobody"}},
    ]
    answer = api.post("/crm/v3/objects/contacts/batch/update", json={"inputs": inputs})
    assert answer.status_code == 207
    results = {r["id"]: r for r in answer.json()["results"]}
    stamp = hs_datetime(at)
    first = store.hs_get("contacts", people[0].id)
    assert first is not None and "jobtitle" not in first.props
    assert first.props["lifecyclestage"] == "customer"
    assert first.props["hs_lifecyclestage_customer_date"] == stamp
    assert first.props["lastmodifieddate"] == first.props["hs_lastmodifieddate"] == stamp
    assert results[str(people[0].id)]["properties"] == {k: v for k, v in sorted(first.props.items())}
    second = store.hs_get("contacts", people[1].id)
    assert second is not None and second.props["jobtitle"] == "CEO"
    assert results[str(people[1].id)]["updatedAt"] == stamp
    untouched = store.hs_get("contacts", people[2].id)
    assert untouched is not None and untouched.props == people[2].props
    assert answer.json()["errors"][0]["context"] == {"ids": ["999999"]}


def test_one_record_named_twice_in_a_batch_update_gets_both_changes(
    sandbox: SandboxServer, api: httpx.Client
) -> None:
    person = sandbox.store.hs_insert("contacts", {"email": "ada@example.com"})
    inputs = [
        {"id": str(person.id), "properties": {"firstname": "Ada"}},
        {"id": "ada@example.com", "idProperty": "email", "properties": {"lastname": "Lovelace"}},
    ]
    answer = api.post("/crm/v3/objects/contacts/batch/update", json={"inputs": inputs})
    assert answer.status_code == 200, answer.text
    stored = sandbox.store.hs_get("contacts", person.id)
    assert stored is not None
    assert (stored.props["firstname"], stored.props["lastname"]) == ("Ada", "Lovelace")


@given(st.integers(0, 253_402_300_799_999))
def test_timestamps_render_as_hs_datetime_to_the_millisecond(ms: int) -> None:
    # exact: float seconds (ms / 1000) can land a millisecond off for far-future stamps
    exact = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)
    assert _iso_ms(ms) == hs_datetime(exact)
