"""Association reads ask for up to `association_batch_size` ids a call and still page each id's associations."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.errors import ConnectorConfigError
from connector.hubspot.associations import pages_with_associations
from sandbox import SandboxServer
from tests.connector.test_hubspot_support import (
    T0,
    connector_for,
    contacts,
    freeze,
    later,
    settings_for,
    unlimited,
)

READ = "POST /crm/v4/associations/contacts/companies/batch/read"


def test_a_page_of_ids_goes_in_one_call_and_splits_at_the_configured_size(sandbox: SandboxServer) -> None:
    unlimited(sandbox)
    store = sandbox.store
    people = store.hs_insert_many("contacts", contacts(450))
    firms = store.hs_insert_many("companies", [{"name": "Acme"}, {"name": "Globex"}])
    for n, p in enumerate(people):
        store.hs_associate("contacts", p.id, "companies", firms[n % 2].id, 279)
    # stored from the company's side: read from the contact's side as the inverse type
    store.hs_associate("companies", firms[1].id, "contacts", people[0].id, 280)
    ids = [str(p.id) for p in people]
    expected = {str(p.id): [str(firms[n % 2].id)] for n, p in enumerate(people)}
    expected[ids[0]] = [str(firms[0].id), str(firms[1].id)]
    with connector_for(sandbox) as hub:
        assert hub.associations("contacts", ids, "companies") == expected
        assert hub.calls.snapshot() == {READ: 1}
    with connector_for(sandbox, association_batch_size=200) as hub:
        assert hub.associations("contacts", ids, "companies") == expected
        assert hub.calls.snapshot() == {READ: 3}  # 200 + 200 + 50


def test_ids_asked_twice_or_without_links_keep_their_place(sandbox: SandboxServer) -> None:
    store = sandbox.store
    people = store.hs_insert_many("contacts", contacts(3))
    firm = store.hs_insert("companies", {"name": "Acme"})
    store.hs_associate("contacts", people[1].id, "companies", firm.id, 279)
    store.hs_associate("contacts", people[1].id, "companies", firm.id, 1)  # primary too: one id back
    ids = [str(people[1].id), str(people[0].id), str(people[1].id), str(people[2].id)]
    with connector_for(sandbox) as hub:
        links = hub.associations("contacts", ids, "companies")
    assert links == {str(people[1].id): [str(firm.id)], str(people[0].id): [], str(people[2].id): []}
    assert list(links) == [str(people[1].id), str(people[0].id), str(people[2].id)]


@pytest.mark.parametrize("size", [0, 1001])
def test_association_batch_size_is_bounded_by_the_api(sandbox: SandboxServer, size: int) -> None:
    with pytest.raises(ConnectorConfigError, match="association_batch_size must be"):
        settings_for(sandbox, association_batch_size=size)


# ------------------------------------------------------------------ pages read together (pull_changes)
class _Links:
    """An association reader over a fixed table that remembers what it was asked (injected, not patched)."""

    def __init__(self, table: dict[str, dict[str, list[str]]]) -> None:
        self.table = table
        self.asked: list[tuple[str, list[str]]] = []

    def __call__(self, ids: Sequence[str], to_type: str) -> dict[str, list[str]]:
        self.asked.append((to_type, list(ids)))
        links = self.table[to_type]
        return {i: list(links.get(i, [])) for i in ids}


_page_sizes = st.lists(st.integers(min_value=0, max_value=9), max_size=12)


@settings(max_examples=150, deadline=None)
@given(sizes=_page_sizes, size=st.integers(min_value=1, max_value=12), repeat=st.booleans(), data=st.data())
def test_pages_come_out_as_they_went_in_each_record_with_its_links(
    sizes: list[int], size: int, repeat: bool, data: st.DataObject
) -> None:
    numbers = iter(range(10_000))
    pages = [
        ([{"id": str(next(numbers)), "n": k} for k in range(n)], f"high-{p}") for p, n in enumerate(sizes)
    ]
    ids: list[str] = [str(r["id"]) for records, _ in pages for r in records]
    if repeat and ids:  # an id a later page brings again (a search restart could) keeps its links
        pages.append(([{"id": ids[0], "n": -1}], "again"))
        ids.append(ids[0])
    table = {
        to_type: {
            i: data.draw(st.lists(st.sampled_from(["7", "8", "9"]), max_size=2, unique=True)) for i in ids
        }
        for to_type in ("companies", "contacts")
    }
    expected = [([dict(r) for r in records], high) for records, high in pages]
    reader = _Links(table)
    out = list(pages_with_associations(iter(pages), ("companies", "contacts"), reader, size))
    assert [high for _, high in out] == [high for _, high in expected]
    for (records, _), (before, _) in zip(out, expected, strict=True):
        assert [{k: v for k, v in r.items() if k != "associations"} for r in records] == before
        for r in records:
            assert r["associations"] == {
                t: {"results": [{"id": i} for i in table[t][r["id"]]]} for t in ("companies", "contacts")
            }
            assert list(r["associations"]) == ["companies", "contacts"]
    # every id read once per to-type, `size` a call (the last call may hold fewer), companies first
    for to_type in ("companies", "contacts"):
        calls = [asked for t, asked in reader.asked if t == to_type]
        assert [i for asked in calls for i in asked] == ids
        assert all(len(asked) == size for asked in calls[:-1]) and all(0 < len(a) <= size for a in calls)
    assert [t for t, _ in reader.asked] == ["companies", "contacts"] * (len(reader.asked) // 2)


def test_a_page_is_handed_on_once_its_ids_are_read_and_not_before() -> None:
    pages = [([{"id": str(p * 10 + k)} for k in range(3)], p) for p in range(4)]
    reader = _Links({"companies": {}})
    seen: list[tuple[int, int]] = []  # (page, ids read by then)
    for records, high in pages_with_associations(iter(pages), ("companies",), reader, 5):
        seen.append((high, sum(len(ids) for _, ids in reader.asked)))
        assert all(r["associations"] == {"companies": {"results": []}} for r in records)
    # 5 ids a call: pages 0 and 1 after the first call (ids 0-4 cover page 0 only), and so on
    assert seen == [(0, 5), (1, 10), (2, 10), (3, 12)]


def test_without_to_types_pages_pass_through_untouched_and_nothing_is_read() -> None:
    pages = [([{"id": "1"}], None)]
    reader = _Links({})
    assert list(pages_with_associations(iter(pages), (), reader, 1000)) == [([{"id": "1"}], None)]
    assert reader.asked == []


def test_a_full_pull_reads_a_thousand_ids_a_call_across_search_pages(sandbox: SandboxServer) -> None:
    unlimited(sandbox)
    run = freeze(sandbox, later(T0, 3600))
    store = sandbox.store
    people = store.hs_insert_many("contacts", contacts(1250), when=T0)
    firm = store.hs_insert("companies", {"name": "Acme"})
    for p in people[::7]:
        store.hs_associate("contacts", p.id, "companies", firm.id, 279)
    with connector_for(sandbox) as hub:
        pages = list(hub.pull_changes("contacts", [], None, run_started=run, associations=["companies"]))
        calls = hub.calls.snapshot()
    linked = {str(p.id) for p in people[::7]}
    records = [r for page in pages for r in page.records]
    assert [r["id"] for r in records] == [str(p.id) for p in people]
    assert all(
        r["associations"]["companies"]["results"] == ([{"id": str(firm.id)}] if r["id"] in linked else [])
        for r in records
    )
    assert [len(page.records) for page in pages] == [200] * 6 + [50]
    assert calls == {"POST /crm/v3/objects/contacts/search": 7, READ: 2}  # 1,000 + 250 ids
