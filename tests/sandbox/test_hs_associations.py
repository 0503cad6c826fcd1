"""HubSpot associations through the real `hubspot-api-client`: v4 default/labelled/list/batch, v3 batch, helpers."""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from hubspot import HubSpot
from hubspot.crm.associations import BatchInputPublicAssociation, BatchInputPublicObjectId, PublicAssociation
from hubspot.crm.associations.v4 import (
    ApiException,
    AssociationSpec,
    BatchInputPublicAssociationMultiArchive,
    BatchInputPublicAssociationMultiPost,
    BatchInputPublicDefaultAssociationMultiPost,
    BatchInputPublicFetchAssociationsBatchRequest,
    PublicAssociationMultiArchive,
    PublicAssociationMultiPost,
    PublicDefaultAssociationMultiPost,
    PublicFetchAssociationsBatchRequest,
    PublicObjectId,
)

from sandbox import SandboxServer
from sandbox.errors import HsApiError
from sandbox.hubspot.associations import (
    associate_on_create,
    plan_create_associations,
    read_links,
    v3_association_results,
)
from tests.conftest import REFERENCE

HUBSPOT = "HUBSPOT_DEFINED"


def refused(call: Callable[[], Any]) -> tuple[int, dict[str, Any]]:
    """Status and body of an ApiException, without keeping the exception (it holds a connection open)."""
    try:
        call()
    except ApiException as exc:
        return int(exc.status), json.loads(exc.body)
    raise AssertionError("the request succeeded")


def types_of(
    hs: HubSpot, from_type: str, from_id: int, to_type: str
) -> dict[int, list[tuple[int, str | None]]]:
    page = hs.crm.associations.v4.basic_api.get_page(from_type, str(from_id), to_type)
    return {int(r.to_object_id): [(t.type_id, t.label) for t in r.association_types] for r in page.results}


@pytest.fixture()
def ids(sandbox: SandboxServer) -> dict[str, int]:
    store = sandbox.store
    out = {f"contact{i}": store.hs_insert("contacts", {"firstname": f"C{i}"}).id for i in range(3)}
    out |= {f"company{i}": store.hs_insert("companies", {"name": f"Co{i}"}).id for i in range(3)}
    out |= {"deal": store.hs_insert("deals", {"dealname": "D"}).id}
    out |= {"task": store.hs_insert("tasks", {"hs_task_subject": "T"}).id}
    out |= {"note": store.hs_insert("notes", {"hs_note_body": "N"}).id}
    return out


def test_default_association_reads_from_both_sides(hs: HubSpot, ids: dict[str, int]) -> None:
    c, co = ids["contact0"], ids["company0"]
    made = hs.crm.associations.v4.basic_api.create_default("contacts", str(c), "companies", str(co))
    assert made.status == "COMPLETE" and made.started_at and made.completed_at
    specs = {(r._from.id, r.to.id, r.association_spec.association_type_id) for r in made.results}
    assert specs == {(str(c), str(co), 279), (str(co), str(c), 280)}
    assert types_of(hs, "contacts", c, "companies") == {co: [(279, None)]}
    assert types_of(hs, "company", co, "0-1") == {c: [(280, None)]}, (
        "singular names and type ids work in paths"
    )


def test_labelled_primary_company_moves_and_keeps_the_unlabelled_link(
    hs: HubSpot, ids: dict[str, int]
) -> None:
    basic = hs.crm.associations.v4.basic_api
    c, a, b = ids["contact0"], ids["company0"], ids["company1"]
    pair = basic.create("contacts", str(c), "companies", str(a), [AssociationSpec(HUBSPOT, 1)])
    assert (pair.from_object_type_id, pair.to_object_type_id, pair.labels) == ("0-1", "0-2", ["Primary"])
    assert types_of(hs, "contacts", c, "companies") == {a: [(1, "Primary"), (279, None)]}
    assert types_of(hs, "companies", a, "contacts") == {c: [(2, "Primary"), (280, None)]}
    basic.create("companies", str(b), "contacts", str(c), [AssociationSpec(HUBSPOT, 2)])
    assert types_of(hs, "contacts", c, "companies") == {a: [(279, None)], b: [(1, "Primary"), (279, None)]}, (
        "a contact has one primary company"
    )
    basic.archive("contacts", str(c), "companies", str(b))
    assert types_of(hs, "contacts", c, "companies") == {a: [(279, None)]}


def test_parent_and_child_companies(hs: HubSpot, ids: dict[str, int]) -> None:
    parent, child = ids["company0"], ids["company1"]
    hs.crm.associations.v4.basic_api.create(
        "companies", str(parent), "companies", str(child), [AssociationSpec(HUBSPOT, 13)]
    )
    assert types_of(hs, "companies", parent, "companies") == {child: [(13, "Child Company"), (450, None)]}
    assert types_of(hs, "companies", child, "companies") == {parent: [(14, "Parent Company"), (450, None)]}


def test_batch_read_reports_ids_without_associations_as_207_errors(hs: HubSpot, ids: dict[str, int]) -> None:
    c0, c1 = ids["contact0"], ids["contact1"]
    for co in ("company0", "company1"):
        hs.crm.associations.v4.basic_api.create_default("contacts", str(c0), "companies", str(ids[co]))
    got = hs.crm.associations.v4.batch_api.get_page(
        "contacts",
        "companies",
        BatchInputPublicFetchAssociationsBatchRequest(
            inputs=[
                PublicFetchAssociationsBatchRequest(id=str(c0)),
                PublicFetchAssociationsBatchRequest(id=str(c1)),
            ]
        ),
    )
    assert got.status == "COMPLETE" and got.num_errors == 1
    (result,) = got.results
    assert result._from.id == str(c0)
    assert [int(t.to_object_id) for t in result.to] == sorted([ids["company0"], ids["company1"]])
    assert (
        result.to[0].association_types[0].type_id == 279
        and result.to[0].association_types[0].category == HUBSPOT
    )
    err = got.errors[0]
    assert (err.category, err.sub_category) == ("OBJECT_NOT_FOUND", "crm.associations.NO_ASSOCIATIONS_FOUND")
    assert err.message == f"No company is associated with contact {c1}." and err.context["fromObjectId"] == [
        str(c1)
    ]


def test_engagement_associations_in_batches(hs: HubSpot, ids: dict[str, int]) -> None:
    batch = hs.crm.associations.v4.batch_api
    task, note, c = ids["task"], ids["note"], ids["contact0"]
    made = batch.create(
        "tasks",
        "contacts",
        BatchInputPublicAssociationMultiPost(
            inputs=[PublicAssociationMultiPost(_from=PublicObjectId(id=str(task)), to=PublicObjectId(id=str(c)),
                                               types=[AssociationSpec(HUBSPOT, 204)])]
        ),
    )  # fmt: skip
    assert made.results[0].from_object_type_id == "0-27" and made.results[0].labels == []
    defaults = batch.create_default(
        "notes",
        "contacts",
        BatchInputPublicDefaultAssociationMultiPost(
            inputs=[
                PublicDefaultAssociationMultiPost(
                    _from=PublicObjectId(id=str(note)), to=PublicObjectId(id=str(c))
                )
            ]
        ),
    )
    assert {r.association_spec.association_type_id for r in defaults.results} == {202, 201}
    assert types_of(hs, "contacts", c, "tasks") == {task: [(203, None)]}
    assert types_of(hs, "contacts", c, "notes") == {note: [(201, None)]}
    batch.archive(
        "contacts",
        "tasks",
        BatchInputPublicAssociationMultiArchive(
            inputs=[
                PublicAssociationMultiArchive(
                    _from=PublicObjectId(id=str(c)), to=[PublicObjectId(id=str(task))]
                )
            ]
        ),
    )
    assert types_of(hs, "tasks", task, "contacts") == {}, "archived from the other side too"


def test_list_pages_and_skips_archived_records(
    hs: HubSpot, sandbox: SandboxServer, ids: dict[str, int]
) -> None:
    c = ids["contact0"]
    for co in ("company0", "company1", "company2"):
        hs.crm.associations.v4.basic_api.create_default("contacts", str(c), "companies", str(ids[co]))
    sandbox.store.hs_archive("companies", ids["company2"])
    first = hs.crm.associations.v4.basic_api.get_page("contacts", str(c), "companies", limit=1)
    assert [int(r.to_object_id) for r in first.results] == [ids["company0"]]
    assert first.paging.next.after == "1" and first.paging.next.link.startswith(sandbox.url)
    rest = hs.crm.associations.v4.basic_api.get_page("contacts", str(c), "companies", after="1")
    assert [int(r.to_object_id) for r in rest.results] == [ids["company1"]] and rest.paging is None


def test_invalid_requests_are_400(hs: HubSpot, sandbox: SandboxServer, ids: dict[str, int]) -> None:
    basic = hs.crm.associations.v4.basic_api
    c, co = str(ids["contact0"]), str(ids["company0"])
    status, body = refused(
        lambda: basic.create("contacts", c, "companies", co, [AssociationSpec(HUBSPOT, 204)])
    )
    assert status == 400 and body["category"] == "VALIDATION_ERROR" and "0-27" in body["message"]
    status, body = refused(lambda: basic.create_default("contacts", c, "companies", "999"))
    assert status == 400 and body["message"] == "One or more associations are invalid"
    status, body = refused(lambda: basic.get_page("widgets", c, "companies"))
    assert status == 400 and body["message"] == "Unable to infer object type from: widgets"
    status, _ = refused(lambda: basic.create_default("tasks", str(ids["task"]), "notes", str(ids["note"])))
    assert status == 400, "tasks and notes have no association type"
    ctx = ssl.create_default_context(cafile=str(sandbox.ca_path))
    with httpx.Client(
        base_url=sandbox.url, verify=ctx, headers={"Authorization": f"Bearer {sandbox.token}"}
    ) as h:
        for path, body_ in [
            ("/crm/v4/associations/contacts/companies/batch/read", {"inputs": "x"}),
            ("/crm/v4/associations/contacts/companies/batch/create", {"inputs": [{"from": {"id": c}}]}),
            ("/crm/v4/associations/contacts/companies/batch/create", {"inputs": [{"from": {"id": c}, "to": {"id": co},
                                                                                  "types": [{"associationTypeId": 1}]}]}),
            ("/crm/v3/associations/contacts/companies/batch/create", {"inputs": [{"from": {"id": c}, "to": {"id": co},
                                                                                  "type": "contact_to_deal"}]}),
            ("/crm/v4/associations/contacts/companies/batch/archive", [1, 2]),
        ]:  # fmt: skip
            r = h.post(path, json=body_)
            assert r.status_code == 400 and r.json()["category"] == "VALIDATION_ERROR", (path, body_)
        r = h.put(f"/crm/v4/objects/contacts/{c}/associations/companies/{co}", content=b"[{")
        assert r.status_code == 400


def test_v3_batch_create_matches_the_recorded_shape_and_reads_back(hs: HubSpot, ids: dict[str, int]) -> None:
    recorded = json.loads((REFERENCE / "hubspot/recorded-nango/create-association.test.json").read_text())
    (call,) = recorded["api"]["post"].values()
    c, co = str(ids["contact0"]), str(ids["company0"])
    body = json.loads(
        json.dumps(call["request"]["data"])
        .replace('"713492963559"', f'"{c}"')
        .replace('"406260751575"', f'"{co}"')
    )
    v3 = hs.crm.associations.batch_api
    made = v3.create(
        "contacts", "companies", BatchInputPublicAssociation(inputs=[PublicAssociation(**_v3(body))])
    )
    ours = [(r._from.id, r.to.id, r.type) for r in made.results]
    theirs = [(r["from"]["id"], r["to"]["id"], r["type"]) for r in call["response"]["results"]]
    assert ours == [(co, c, "company_to_contact"), (c, co, "contact_to_company")]
    assert [t for *_, t in ours] == [t for *_, t in theirs] and made.status == call["response"]["status"]
    read = v3.read("companies", "contacts", BatchInputPublicObjectId(inputs=[{"id": co}]))
    assert {(x.id, x.type) for x in read.results[0].to} == {
        (c, "company_to_contact"),
        (c, "company_to_contact_unlabeled"),
    }


def _v3(body: dict[str, Any]) -> dict[str, Any]:
    (item,) = body["inputs"]
    return {"_from": {"id": item["from"]["id"]}, "to": {"id": item["to"]["id"]}, "type": item["type"]}


def test_associate_on_create_helper(sandbox: SandboxServer, ids: dict[str, int]) -> None:
    store = sandbox.store
    task = ids["task"]
    good = [{"to": {"id": ids["contact0"]}, "types": [{"associationCategory": HUBSPOT, "associationTypeId": 204}]},
            {"to": {"id": str(ids["company0"])}, "types": [{"associationCategory": HUBSPOT, "associationTypeId": 192}]}]  # fmt: skip
    associate_on_create(store, "tasks", task, good)
    assert read_links(store, "contacts", ids["contact0"], "tasks") == {task: [(HUBSPOT, 203)]}
    assert v3_association_results(store, "tasks", task, "companies") == [
        {"id": str(ids["company0"]), "type": "task_to_company"}
    ]
    bad_cases: list[tuple[Any, str]] = [
        ([{"to": {"id": ids["contact0"]}, "types": [{"associationCategory": HUBSPOT, "associationTypeId": 202}]}],
         "invalid from object type 0-27 for associations to be created. expected: 0-46"),
        ([{"to": {"id": 12345}, "types": [{"associationCategory": HUBSPOT, "associationTypeId": 204}]}],
         "One or more associations are invalid"),
        ([{"to": {"id": ids["contact0"]}, "types": []}], "Invalid input JSON"),
        ({"to": 1}, "Invalid input JSON"),
        ([{"to": {"id": ids["contact0"]}, "types": [{"associationCategory": "USER_DEFINED", "associationTypeId": 7}]}],
         "doesn't exist"),
    ]  # fmt: skip
    for associations, message in bad_cases:
        with pytest.raises(HsApiError) as exc:
            plan_create_associations(store, "tasks", associations)
        assert exc.value.status == 400 and message in exc.value.message
    assert plan_create_associations(store, "notes", None) == []
