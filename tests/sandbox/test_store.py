"""The sandbox store on disk: a reopened file keeps both CRMs' data and resumes both id sequences.

`Store` is built from three modules (connection, Salesforce tables, HubSpot tables), each creating its
part of the schema in one transaction; these tests hold the parts together across a restart.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.hs_standard import DEFAULT_PROPERTIES
from sandbox.sf_schema import SfField
from sandbox.store import Store, integration_user_id


def test_a_reopened_store_keeps_data_definitions_and_links(tmp_path: Path) -> None:
    path = str(tmp_path / "crm.db")
    first = Store(path)
    lead = first.sf_insert("Lead", {"LastName": "Ng", "Company": "Acme"})
    first.sf_add_field("Lead", SfField("Score__c", "double", "Score", custom=True))
    first.sf_update("Lead", lead, {"Score__c": 71.0})
    contact = first.hs_insert("contacts", {"email": "ng@acme.example"})
    company = first.hs_insert("companies", {"name": "Acme"})
    first.hs_associate("contacts", contact.id, "companies", company.id, 279)
    first.hs_put_property("contacts", {"name": "leadq_score", "type": "number", "groupName": "x"})
    first.hs_put_property("contacts", first.hs_properties("contacts")["email"] | {"label": "E-mail"})
    first.meta_set("seeded", "yes")
    first.close()

    again = Store(path)
    try:
        assert again.sf_get("Lead", lead) is not None
        assert (again.sf_get("Lead", lead) or {})["Score__c"] == 71.0
        assert again.sf_field("lead", "score__c") is not None
        assert again.hs_get("contacts", contact.id) == contact
        assert again.hs_associations("companies", company.id, "contacts") == [
            (contact.id, "HUBSPOT_DEFINED", 279)
        ]
        assert "leadq_score" in again.hs_properties("contacts")
        # defaults are not added twice, and one the portal changed is not put back
        assert len(again.hs_properties("contacts")) == len(DEFAULT_PROPERTIES["contacts"]) + 1
        assert again.hs_properties("contacts")["email"]["label"] == "E-mail"
        assert again.meta_get("seeded") == "yes"
        assert again.sf_count("User") == 1
        assert again.sf_get("User", integration_user_id()) is not None
    finally:
        again.close()


@settings(max_examples=10, deadline=None)
@given(leads=st.integers(0, 4), contacts=st.integers(0, 4), tasks=st.integers(0, 3))
def test_ids_made_after_a_restart_never_reuse_stored_ones(leads: int, contacts: int, tasks: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "crm.db")
        first = Store(path)
        sf_before = set(first.sf_insert_many("Lead", [{"LastName": f"L{i}"} for i in range(leads)]))
        hs_before = {
            r.id for r in first.hs_insert_many("contacts", [{"email": f"{i}@x.io"} for i in range(contacts)])
        }
        hs_before |= {
            r.id for r in first.hs_insert_many("tasks", [{"hs_task_subject": "s"} for _ in range(tasks)])
        }
        first.close()

        again = Store(path)
        try:
            sf_after = again.sf_insert_many("Lead", [{"LastName": "New"}, {"LastName": "Newer"}])
            hs_after = [r.id for r in again.hs_insert_many("companies", [{"name": "A"}, {"name": "B"}])]
            assert not set(sf_after) & (sf_before | {integration_user_id()})
            assert not set(hs_after) & hs_before
            assert len(set(hs_after)) == 2
            assert all(i > max(hs_before, default=0) for i in hs_after)
            assert again.sf_count("Lead") == leads + 2
            assert again.hs_count("contacts") == contacts
        finally:
            again.close()


def test_the_recycle_bin_read_is_answered_from_an_index_of_deleted_rows(tmp_path: Path) -> None:
    """leadq reads deletions with `queryAll ... WHERE IsDeleted = true` over a modstamp window; that read
    must not look up every live record of the window (a first pull of a 1M-lead org timed out on it)."""
    from sandbox.soql import execute
    from sandbox.soql.compiler import compile_query
    from sandbox.soql.parser import parse

    store = Store(str(tmp_path / "crm.db"))
    try:
        kept = store.sf_insert("Lead", {"LastName": "Ng", "Company": "Acme"})
        gone = store.sf_insert("Lead", {"LastName": "Ito", "Company": "Initech"})
        store.sf_delete("Lead", gone)
        soql = (
            "SELECT Id, SystemModstamp FROM Lead WHERE IsDeleted = true AND "
            "SystemModstamp >= 2000-01-01T00:00:00Z AND SystemModstamp < 2100-01-01T00:00:00Z "
            "ORDER BY SystemModstamp, Id"
        )
        plan = compile_query(store, soql, parse(soql), include_deleted=True, version="v60.0")
        with store.transaction() as c:
            explained = c.execute("EXPLAIN QUERY PLAN " + plan.sql, plan.params)
            steps = " ".join(str(row[-1]) for row in explained)
        assert "sf_Lead_deleted (IsDeleted=? AND SystemModstamp>? AND SystemModstamp<?)" in steps, steps
        assert "TEMP B-TREE" not in steps, steps  # the index gives the order too
        result = execute(store, soql, include_deleted=True)
        assert [r["Id"] for r in result.records(0, len(result))] == [gone]
        live = execute(store, "SELECT Id FROM Lead ORDER BY SystemModstamp, Id", include_deleted=False)
        assert [r["Id"] for r in live.records(0, len(live))] == [kept]
    finally:
        store.close()


def test_a_file_store_keeps_its_wal_file_small_once_checkpointed(tmp_path: Path) -> None:
    from sandbox.store_base import WAL_SIZE_LIMIT

    store = Store(str(tmp_path / "crm.db"))
    try:
        assert store.conn.execute("PRAGMA journal_size_limit").fetchone()[0] == WAL_SIZE_LIMIT
    finally:
        store.close()
    memory = Store()
    try:
        assert memory.conn.execute("PRAGMA journal_mode").fetchone()[0] == "memory"
    finally:
        memory.close()


def test_reads_by_id_use_the_primary_key_not_the_recycle_bin_index(tmp_path: Path) -> None:
    """The (IsDeleted, SystemModstamp, Id) index must not answer `IsDeleted = false AND Id IN (...)`: through
    it, every batch update and every query by ids read all live rows (a 1M-lead write-back slowed to ~340
    records a second on it)."""
    from sandbox.soql.compiler import compile_query
    from sandbox.soql.parser import parse
    from sandbox.store import LIVE

    store = Store(str(tmp_path / "crm.db"))
    try:
        ids = store.sf_insert_many("Lead", [{"LastName": f"L{n}", "Company": "Acme"} for n in range(30)])
        listed = ", ".join(f"'{i}'" for i in ids[:5])
        soql = f"SELECT Id, Company FROM Lead WHERE Id IN ({listed})"
        plan = compile_query(store, soql, parse(soql), include_deleted=False, version="v60.0")
        batch = f'SELECT Id FROM "sf_Lead" WHERE {LIVE} AND Id IN (?, ?)'
        with store.transaction() as c:
            for sql, params in ((plan.sql, plan.params), (batch, ids[:2])):
                steps = " ".join(str(row[-1]) for row in c.execute("EXPLAIN QUERY PLAN " + sql, params))
                assert "sqlite_autoindex_sf_Lead_1 (Id=?)" in steps, steps
        window = (
            "SELECT Id FROM Lead WHERE SystemModstamp >= 2000-01-01T00:00:00Z ORDER BY SystemModstamp, Id"
        )
        plan = compile_query(store, window, parse(window), include_deleted=False, version="v60.0")
        with store.transaction() as c:
            steps = " ".join(str(row[-1]) for row in c.execute("EXPLAIN QUERY PLAN " + plan.sql, plan.params))
        assert "sf_Lead_deleted (IsDeleted=? AND SystemModstamp>?)" in steps, "a window still reads it"
        assert store.sf_update_many("Lead", [(ids[0], {"Company": "Initech"})]) == [True]
        assert (store.sf_get("Lead", ids[0]) or {})["Company"] == "Initech"
    finally:
        store.close()
