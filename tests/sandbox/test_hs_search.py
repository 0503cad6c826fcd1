"""HubSpot CRM search through the real `hubspot-api-client`: filters, sorts, paging, the 10,000 cap, errors, shape."""

from __future__ import annotations

import json
import re
import ssl
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from hubspot import HubSpot
from hubspot.crm.contacts import ApiException, Filter, FilterGroup, PublicObjectSearchRequest

from sandbox import LimitConfig, SandboxServer
from sandbox.clock import epoch_ms
from tests.conftest import REFERENCE

RECORDED = REFERENCE / "hubspot" / "recorded-nango"
T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def raw(server: SandboxServer) -> httpx.Client:
    """Plain HTTP to the sandbox, for bodies the client library would not send and for exact JSON."""
    ctx = ssl.create_default_context(cafile=str(server.ca_path))
    return httpx.Client(base_url=server.url, verify=ctx, headers={"Authorization": f"Bearer {server.token}"})


def lift_limits(server: SandboxServer) -> None:
    server.state.set_limits(LimitConfig(hs_search_per_second=1000, hs_ten_second_limit=100_000))


def f(prop: str, op: str, value: Any = None, **kw: Any) -> Filter:
    return Filter(property_name=prop, operator=op, value=value, **kw)


def search(hs: HubSpot, *groups: list[Filter], **kw: Any) -> Any:
    req = PublicObjectSearchRequest(filter_groups=[FilterGroup(filters=g) for g in groups], **kw)
    return hs.crm.contacts.search_api.do_search(public_object_search_request=req)


def names(page: Any) -> list[str]:
    return [r.properties["firstname"] for r in page.results]


def refused(call: Callable[[], Any]) -> tuple[int, dict[str, Any]]:
    """Status and body of an ApiException. The exception is not kept: it holds the client's connection open,
    and an open connection makes the sandbox's shutdown wait."""
    try:
        call()
    except ApiException as exc:
        return int(exc.status), json.loads(exc.body)
    raise AssertionError("the request succeeded")


@pytest.fixture()
def people(sandbox: SandboxServer) -> list[int]:
    """Five contacts, created a minute apart, plus one archived one that search must never return."""
    lift_limits(sandbox)
    store = sandbox.store
    rows = [
        {"firstname": "Ada", "lastname": "Lovelace", "email": "ada@acme.com", "annualrevenue": "1000",
         "lifecyclestage": "lead", "hs_email_optout": "true", "notes_last_updated": "2024-01-10T08:00:00.000Z"},
        {"firstname": "Grace", "lastname": "Hopper", "email": "grace@navy.mil", "annualrevenue": "250.5",
         "lifecyclestage": "customer", "hs_email_optout": "false"},
        {"firstname": "alan", "lastname": "Turing", "email": "alan@acme.com", "annualrevenue": "99",
         "lifecyclestage": "lead", "company": "Bletchley Park"},
        {"firstname": "Edsger", "lastname": "Dijkstra", "annualrevenue": "5000",
         "notes_last_updated": "2024-02-20T00:00:00.000Z"},
        {"firstname": "Barbara", "lastname": "Liskov", "email": "barbara@mit.edu", "lifecyclestage": "opportunity"},
    ]  # fmt: skip
    ids = [store.hs_insert("contacts", r, when=T0 + timedelta(minutes=i)).id for i, r in enumerate(rows)]
    gone = store.hs_insert("contacts", {"firstname": "Ghost", "email": "ghost@acme.com"}, when=T0).id
    store.hs_archive("contacts", gone)
    return ids


def test_filters_and_within_groups_or_across_and_skip_archived(hs: HubSpot, people: list[int]) -> None:
    page = search(hs, [f("email", "CONTAINS_TOKEN", "*@acme.com")])
    assert names(page) == ["Ada", "alan"] and page.total == 2, "the archived Ghost never comes back"
    page = search(hs, [f("lifecyclestage", "EQ", "lead"), f("annualrevenue", "GT", "100")])
    assert names(page) == ["Ada"]
    page = search(hs, [f("annualrevenue", "GTE", "5000")], [f("firstname", "EQ", "GRACE")])
    assert names(page) == ["Grace", "Edsger"], "OR across groups, string EQ ignores case, creation order"
    assert names(search(hs, [f("annualrevenue", "BETWEEN", "99", high_value="250.5")])) == ["Grace", "alan"]
    assert names(search(hs, [f("annualrevenue", "LT", "100")])) == ["alan"], "numeric, not text, comparison"


def test_operators_on_missing_values_enums_bools_and_datetimes(hs: HubSpot, people: list[int]) -> None:
    assert names(search(hs, [f("email", "NOT_HAS_PROPERTY")])) == ["Edsger"]
    assert names(search(hs, [f("company", "HAS_PROPERTY")])) == ["alan"]
    assert names(search(hs, [f("lifecyclestage", "NEQ", "lead")])) == ["Grace", "Edsger", "Barbara"]
    assert names(search(hs, [f("lifecyclestage", "EQ", "LEAD")])) == [], "enumeration values are exact"
    assert names(search(hs, [f("lifecyclestage", "NOT_IN", None, values=["lead", "customer"])])) == [
        "Edsger", "Barbara"
    ]  # fmt: skip
    assert names(search(hs, [f("firstname", "IN", None, values=["alan", "ada"])])) == ["Ada", "alan"]
    assert names(search(hs, [f("firstname", "IN", None, values=["Ada"])])) == [], "string IN wants lower case"
    assert names(search(hs, [f("hs_email_optout", "EQ", "TRUE")])) == ["Ada"]
    jan15 = epoch_ms(datetime(2024, 1, 15, tzinfo=UTC))
    assert names(search(hs, [f("notes_last_updated", "GT", str(jan15))])) == ["Edsger"]
    assert names(search(hs, [f("notes_last_updated", "LT", "2024-01-15")])) == ["Ada"], "ISO values too"
    assert names(search(hs, [f("company", "CONTAINS_TOKEN", "bletch*")])) == ["alan"]
    assert names(search(hs, [f("company", "NOT_CONTAINS_TOKEN", "park")])) == [
        "Ada",
        "Grace",
        "Edsger",
        "Barbara",
    ]


def test_incremental_window_on_lastmodifieddate_with_epoch_ms(hs: HubSpot, people: list[int]) -> None:
    start, end = epoch_ms(T0 + timedelta(minutes=1)), epoch_ms(T0 + timedelta(minutes=3))
    page = search(
        hs,
        [f("lastmodifieddate", "GTE", str(start)), f("lastmodifieddate", "LT", str(end))],
        sorts=[{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
        properties=["firstname"],
    )
    assert names(page) == ["Grace", "alan"]
    first = page.results[0]
    assert set(first.properties) == {"createdate", "firstname", "hs_object_id", "lastmodifieddate"}
    assert first.id == first.properties["hs_object_id"] == str(people[1])


def test_sorts_in_object_and_string_forms_and_free_text_query(hs: HubSpot, people: list[int]) -> None:
    by_revenue = search(hs, sorts=[{"propertyName": "annualrevenue", "direction": "DESCENDING"}])
    assert names(by_revenue) == ["Edsger", "Ada", "Grace", "alan", "Barbara"], "numeric order, unset last"
    as_json = search(hs, sorts=[json.dumps({"propertyName": "firstname", "direction": "ASCENDING"})])
    assert names(as_json) == ["Ada", "alan", "Barbara", "Edsger", "Grace"], "strings sort case-insensitively"
    assert names(search(hs, sorts=["lastname"])) == ["Edsger", "Grace", "Barbara", "Ada", "alan"]
    by_id = search(hs, sorts=[{"propertyName": "hs_object_id", "direction": "DESCENDING"}])
    assert [int(r.id) for r in by_id.results] == sorted(people, reverse=True)
    assert names(search(hs, query="ACME")) == ["Ada", "alan"]
    assert names(search(hs, query="bletchley")) == ["alan"], "query covers the company name of contacts"


def test_paging_with_after_across_pages(hs: HubSpot, sandbox: SandboxServer) -> None:
    lift_limits(sandbox)
    sandbox.store.hs_insert_many("contacts", [{"firstname": f"p{i:02d}"} for i in range(23)], when=T0)
    seen: list[str] = []
    after: str | None = None
    pages = 0
    while True:
        page = search(
            hs, limit=10, after=after, sorts=[{"propertyName": "createdate", "direction": "ASCENDING"}]
        )
        assert page.total == 23
        seen += names(page)
        pages += 1
        if page.paging is None:
            break
        after = page.paging.next.after
        assert after == str(len(seen)), "`after` is the offset of the next page, as a string"
    assert pages == 3 and seen == [f"p{i:02d}" for i in range(23)], "ties on createdate break by id"


def test_other_object_types_search(hs: HubSpot, sandbox: SandboxServer) -> None:
    lift_limits(sandbox)
    store = sandbox.store
    store.hs_insert_many(
        "deals", [{"dealname": "Big", "amount": "900"}, {"dealname": "Small", "amount": "5"}]
    )
    store.hs_insert("tasks", {"hs_task_subject": "Review lead", "hs_task_status": "NOT_STARTED"})
    store.hs_insert("notes", {"hs_note_body": "Called twice"})
    store.hs_insert("companies", {"name": "Acme Corp", "domain": "acme.com"})
    deals = hs.crm.deals.search_api.do_search(
        public_object_search_request=PublicObjectSearchRequest(
            filter_groups=[{"filters": [{"propertyName": "amount", "operator": "GT", "value": "10"}]}]
        )
    )
    assert [d.properties["dealname"] for d in deals.results] == ["Big"]
    tasks = hs.crm.objects.tasks.search_api.do_search(
        public_object_search_request=PublicObjectSearchRequest(
            filter_groups=[
                {"filters": [{"propertyName": "hs_task_status", "operator": "EQ", "value": "NOT_STARTED"}]}
            ],
            properties=["hs_task_subject"],
        )
    )
    assert tasks.total == 1 and tasks.results[0].properties["hs_task_subject"] == "Review lead"
    assert set(tasks.results[0].properties) == {
        "hs_createdate",
        "hs_lastmodifieddate",
        "hs_object_id",
        "hs_task_subject",
    }
    notes = hs.crm.objects.notes.search_api.do_search(
        public_object_search_request=PublicObjectSearchRequest()
    )
    assert notes.total == 1
    companies = hs.crm.companies.search_api.do_search(
        public_object_search_request=PublicObjectSearchRequest(query="acme")
    )
    assert companies.results[0].properties["domain"] == "acme.com"
    with raw(sandbox) as c:
        assert c.post("/crm/v3/objects/0-1/search", json={}).status_code == 200, "objectTypeId works too"
        r = c.post("/crm/v3/objects/widgets/search", json={})
        assert r.status_code == 400 and r.json()["message"] == "Unable to infer object type from: widgets"


def test_validation_errors_are_400_never_500(hs: HubSpot, sandbox: SandboxServer, people: list[int]) -> None:
    status, body = refused(lambda: search(hs, [f("favourite_colour", "EQ", "blue")]))
    assert status == 400 and body["category"] == "VALIDATION_ERROR"
    assert "favourite_colour" in body["message"] and body["status"] == "error" and body["correlationId"]
    assert refused(lambda: search(hs, limit=201))[0] == 400
    status, body = refused(lambda: search(hs, *[[f("firstname", "EQ", "x")]] * 6))
    assert status == 400 and "filter groups" in body["message"]
    assert refused(lambda: search(hs, [f("firstname", "HAS_PROPERTY")] * 7))[0] == 400
    assert refused(lambda: search(hs, *[[f("firstname", "HAS_PROPERTY")] * 4] * 5))[0] == 400, (
        "18 filters at most"
    )
    search(hs, *[[f("firstname", "HAS_PROPERTY")] * 6] * 3)  # exactly at the limits
    bad_bodies: list[Any] = [
        {"filterGroups": [{"filters": [{"propertyName": "annualrevenue", "operator": "BETWEEN", "value": "1"}]}]},
        {"filterGroups": [{"filters": [{"propertyName": "firstname", "operator": "LIKE", "value": "a"}]}]},
        {"filterGroups": [{"filters": [{"operator": "EQ", "value": "a"}]}]},
        {"filterGroups": [{"filters": [{"propertyName": "firstname", "operator": "IN"}]}]},
        {"filterGroups": [{"filters": [{"propertyName": "annualrevenue", "operator": "GT", "value": "lots"}]}]},
        {"filterGroups": [{"filters": [{"propertyName": "notes_last_updated", "operator": "GT", "value": "soon"}]}]},
        {"filterGroups": "nope"}, {"filterGroups": [7]}, {"sorts": [{"direction": "UP"}]}, {"sorts": [{}]},
        {"limit": "ten"}, {"limit": -1}, {"after": "x"}, {"properties": "firstname"}, {"query": 5}, [], "text",
    ]  # fmt: skip
    with raw(sandbox) as c:
        for body in bad_bodies:
            r = c.post("/crm/v3/objects/contacts/search", json=body)
            assert r.status_code == 400 and r.json()["category"] == "VALIDATION_ERROR", body
        r = c.post(
            "/crm/v3/objects/contacts/search",
            content=b'{"limit": ',
            headers={"Content-Type": "application/json"},
        )
        assert r.status_code == 400 and r.json()["message"].startswith("Invalid input JSON on line 1")


def test_ten_thousand_result_cap(hs: HubSpot, sandbox: SandboxServer) -> None:
    """More than 10,000 contacts on one modified stamp: page to the cap, get the real 400, restart by id."""
    lift_limits(sandbox)
    stamp = datetime(2024, 5, 1, tzinfo=UTC)
    sandbox.store.hs_insert_many("contacts", [{"firstname": f"c{i}"} for i in range(10_050)], when=stamp)
    window = [
        f("lastmodifieddate", "GTE", str(epoch_ms(stamp))),
        f("lastmodifieddate", "LT", str(epoch_ms(stamp) + 1)),
    ]
    order = [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}]
    ids: list[int] = []
    after: str | None = None
    while after != "10000":
        page = search(hs, window, sorts=order, limit=200, after=after, properties=["firstname"])
        assert page.total == 10_050, "total reports the true count"
        ids += [int(r.id) for r in page.results]
        after = page.paging.next.after
    assert len(ids) == 10_000 and ids == sorted(ids) and len(set(ids)) == 10_000, "ties break by id: no gaps"
    status, body = refused(lambda: search(hs, window, sorts=order, limit=200, after=after))
    assert status == 400 and body["category"] == "VALIDATION_ERROR"
    assert refused(lambda: search(hs, window, sorts=order, limit=1, after="10000"))[0] == 400
    rest = search(hs, [*window, f("hs_object_id", "GT", str(ids[-1]))], sorts=order, limit=200)
    assert rest.total == 50 and int(rest.results[0].id) > ids[-1] and rest.paging is None


def _shape(value: Any) -> Any:
    """Key sets and value types of a JSON value (lists by their first element)."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", value):
        return "datetime"
    return type(value).__name__


def _recorded(name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    data = json.loads((RECORDED / f"{name}.test.json").read_text())
    (call,) = data["api"]["post"].values()
    return call["request"]["data"], call["response"]


def test_response_shape_matches_recorded_real_searches(sandbox: SandboxServer) -> None:
    lift_limits(sandbox)
    store = sandbox.store
    deal_request, deal_real = _recorded("search-deals")
    store.hs_insert_many(
        "deals",
        [{"dealname": f"Deal {i}", "amount": "3000", "dealstage": "appointmentscheduled", "pipeline": "default"}
         for i in range(deal_real["total"])],
    )  # fmt: skip
    company_request, company_real = _recorded("search-companies")
    store.hs_insert_many(
        "companies", [{"name": f"Test Company {i}", "domain": "test.com"} for i in range(55)]
    )
    store.hs_insert_many("companies", [{"name": "Other", "city": "Boston", "industry": "COMPUTER_SOFTWARE"}])
    store.hs_update("companies", store.hs_insert("companies", {"name": "Test Co"}).id, {"city": "Boston"})
    with raw(sandbox) as c:
        deals = c.post("/crm/v3/objects/deals/search", json=deal_request).json()
        companies = c.post("/crm/v3/objects/companies/search", json=company_request).json()
    assert _shape(deals) == _shape(deal_real), "same keys and value types as the real search (closedate null)"
    assert deals["paging"] == {"next": {"after": "5"}} and deals["total"] == deal_real["total"]
    assert companies["total"] == 56 and "paging" not in companies
    real_props = {k for r in company_real["results"] for k in r["properties"]}
    assert all(set(r["properties"]) == real_props for r in companies["results"])
    assert set(companies) == set(company_real) and set(companies["results"][0]) == set(
        company_real["results"][0]
    )
    for ours, theirs in ((deals, deal_real), (companies, company_real)):
        assert {type(v).__name__ for r in ours["results"] for v in r["properties"].values()} <= {
            "str",
            "NoneType",
        }
        assert (
            ours["results"][0]["url"].split("/record/")[1].split("/")[0]
            == (theirs["results"][0]["url"].split("/record/")[1].split("/")[0])
        )
