"""The sandbox's Salesforce responses against responses recorded from real orgs (read from REFERENCE).

Recorded requests are replayed against the sandbox where they make sense, and key sets and value types of
the answers are compared with the recorded answers; values that depend on the org (ids, names, dates) are not.
"""

from __future__ import annotations

import json
import re
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox import SandboxServer, running_sandbox
from tests.conftest import REFERENCE

RECORDED = REFERENCE / "salesforce" / "recorded-nango"
RESTFORCE = REFERENCE / "salesforce" / "restforce-fixtures"
ID = re.compile(r"^[a-zA-Z0-9]{18}$")

pytestmark = pytest.mark.skipif(not RECORDED.is_dir(), reason="reference recordings not present")


def recorded(name: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, exchange) for every call in one recorded file."""
    data = json.loads((RECORDED / f"{name}.test.json").read_text())
    return [
        (method.upper(), path, entry)
        for method, calls in data["api"].items()
        for path, entry in calls.items()
    ]


def one(name: str, method: str | None = None) -> tuple[str, str, dict[str, Any]]:
    calls = [c for c in recorded(name) if method is None or c[0] == method]
    assert len(calls) == 1
    return calls[0]


def shape(value: Any) -> Any:
    """Key structure and JSON types of a value (lists by their first element)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


@pytest.fixture(scope="module")
def sb(sandbox_state_dir: Path) -> Iterator[SandboxServer]:
    with running_sandbox(state_dir=sandbox_state_dir) as server:
        yield server


@pytest.fixture()
def api(sb: SandboxServer) -> Iterator[httpx.Client]:
    ctx = ssl.create_default_context(cafile=str(sb.ca_path))
    with httpx.Client(base_url=sb.url, verify=ctx, headers={"Authorization": f"Bearer {sb.token}"}) as client:
        yield client


def replay(
    api: httpx.Client, method: str, url: str, entry: dict[str, Any], **overrides: Any
) -> httpx.Response:
    """Send a recorded request again (`params`/`json` overridable)."""
    request = entry.get("request") or {}
    params = overrides.get("params", request.get("params"))
    return api.request(method, url, params=params, json=overrides.get("json", request.get("data")))


def same_types(ours: dict[str, Any], real: dict[str, Any]) -> None:
    """Fields both records have carry the same JSON types (where neither is null)."""
    common = [k for k in set(ours) & set(real) if ours[k] is not None and real[k] is not None]
    assert len(common) >= 8
    assert {k: shape(ours[k]) for k in common} == {k: shape(real[k]) for k in common}


# ---------------------------------------------------------------- versions and limits
def test_version_list(api: httpx.Client) -> None:
    _, path, entry = one("list-available-resources")
    ours = api.get(path).json()
    real = {v["version"]: v for v in entry["response"]}
    assert all(set(v) == {"label", "url", "version"} for v in ours)
    assert [v for v in ours if v["version"] in real] == [
        real[v["version"]] for v in ours if v["version"] in real
    ]
    assert len([v for v in ours if v["version"] in real]) >= 30


def test_limits(api: httpx.Client) -> None:
    _, path, entry = one("get-limits")
    ours = api.get(path).json()
    real = entry["response"]
    assert set(ours) <= set(real)
    assert {"DailyApiRequests", "DailyBulkApiBatches", "DataStorageMB", "FileStorageMB"} <= set(ours)
    for key, value in ours.items():
        assert shape(value) == shape(real[key]), key
    assert api.get(path).headers["sforce-limit-info"].startswith("api-usage=")


# ---------------------------------------------------------------- describe
COMPARED = (
    "type", "soapType", "custom", "calculated", "autoNumber", "caseSensitive", "htmlFormatted", "digits", "precision",
    "scale", "nillable", "createable", "updateable", "polymorphicForeignKey", "relationshipName", "length", "byteLength",
    "defaultedOnCreate", "idLookup", "nameField", "groupable", "sortable", "filterable", "extraTypeInfo",
    "compoundFieldName", "namePointing", "restrictedPicklist", "defaultValue", "referenceTo", "externalId", "unique",
)  # fmt: skip
# Where the sandbox's schema (sandbox/sf_standard.py) knowingly simplifies a real org's field.
SCHEMA_DEVIATIONS: dict[tuple[str, str], set[str]] = {
    ("Account", "BillingStreet"): {"type", "extraTypeInfo"},  # a textarea in a real org
    ("Task", "Subject"): {"type", "nameField", "groupable"},  # a combobox and the name field
    ("Task", "Priority"): {"length", "byteLength"},
    ("Task", "TaskSubtype"): {"updateable", "length", "byteLength", "restrictedPicklist"},
    ("Task", "WhatId"): {"referenceTo"},  # a real org lists ~60 targets; the sandbox has three
}


def _describe_pair(api: httpx.Client, name: str, recorded_path: str, response: dict[str, Any]) -> None:
    ours = api.get(recorded_path).json()
    assert set(ours) == set(response)
    assert list(ours) == sorted(ours)
    real_fields = {f["name"]: f for f in response["fields"]}
    real_types = {
        k: {type(f[k]).__name__ for f in response["fields"] if f[k] is not None}
        for k in response["fields"][0]
    }
    for f in ours["fields"]:
        assert set(f) == set(response["fields"][0]), f["name"]
        for key, value in f.items():
            if value is not None and real_types[key]:
                assert type(value).__name__ in real_types[key], (name, f["name"], key)
        twin = real_fields.get(f["name"])
        if twin is None:
            continue
        known = SCHEMA_DEVIATIONS.get((name, f["name"]), set())
        differing = {k for k in COMPARED if f[k] != twin[k]} - known
        assert not differing, (name, f["name"], {k: (f[k], twin[k]) for k in differing})
    for key in ("childRelationships", "recordTypeInfos", "supportedScopes"):
        assert not ours[key] or set(ours[key][0]) == set(response[key][0]), key
    assert ours["recordTypeInfos"] and ours["supportedScopes"]
    picklist = next(f for f in ours["fields"] if f["picklistValues"])
    assert set(picklist["picklistValues"][0]) == {"active", "defaultValue", "label", "validFor", "value"}


def test_account_describe(api: httpx.Client) -> None:
    _, path, entry = one("describe-sobject")
    _describe_pair(api, "Account", path, entry["response"])
    ours = api.get(path).json()
    assert {"Contact", "Opportunity", "Task"} <= {r["childSObject"] for r in ours["childRelationships"]}
    assert set(ours["urls"]) == set(entry["response"]["urls"])
    assert (
        ours["recordTypeInfos"][0]["recordTypeId"] == entry["response"]["recordTypeInfos"][0]["recordTypeId"]
    )


def test_task_describe(api: httpx.Client) -> None:
    response = json.loads((RECORDED / "legacy-mocks" / "describe-Task.v60.json").read_text())
    _describe_pair(api, "Task", "/services/data/v60.0/sobjects/Task/describe", response)
    real = {f["name"]: f for f in response["fields"]}
    ours = {f["name"]: f for f in api.get("/services/data/v60.0/sobjects/Task/describe").json()["fields"]}
    for name in ("Status", "Priority"):
        assert ours[name]["defaultValue"] == real[name]["defaultValue"]
        assert ours[name]["defaultedOnCreate"] is real[name]["defaultedOnCreate"] is True
    assert set(ours["WhoId"]["referenceTo"]) == set(real["WhoId"]["referenceTo"])


def test_basic_info_and_describe_global(api: httpx.Client) -> None:
    _, path, entry = one("get-sobject-basic-info")
    api.post(path, json={"Name": "Recent"})
    ours = api.get(path).json()
    real = entry["response"]
    assert set(ours) == set(real) == {"objectDescribe", "recentItems"}
    assert set(ours["objectDescribe"]) == set(real["objectDescribe"])
    assert set(ours["objectDescribe"]["urls"]) == set(real["objectDescribe"]["urls"])
    assert shape(ours["recentItems"][0]) == shape(real["recentItems"][0])
    everything = api.get("/services/data/v63.0/sobjects").json()
    restforce = json.loads((RESTFORCE / "describe_sobjects_success_response.json").read_text())
    assert set(everything) == set(restforce)
    assert set(everything["sobjects"][0]) == set(real["objectDescribe"])
    assert set(restforce["sobjects"][0]) <= set(everything["sobjects"][0])


# ---------------------------------------------------------------- rows
def test_create_update_get_delete_record(api: httpx.Client) -> None:
    method, path, entry = one("create-record")
    created = replay(api, method, path, entry)
    assert created.status_code == entry["status"] == 201
    assert shape(created.json()) == shape(entry["response"])
    new_id = created.json()["id"]
    assert (
        ID.match(new_id) and created.headers["location"] == f"/services/data/v59.0/sobjects/Account/{new_id}"
    )

    method, path, entry = one("update-record")
    updated = replay(api, method, path.rsplit("/", 1)[0] + "/" + new_id, entry)
    assert updated.status_code == entry["status"] == 204 and updated.content == b""

    _, path, entry = one("get-record")
    got = api.get(path.rsplit("/", 1)[0] + "/" + new_id).json()
    real = entry["response"]
    assert set(got["attributes"]) == set(real["attributes"])
    assert len(set(got) & set(real)) >= 15
    same_types(got, real)

    method, path, entry = one("delete-record")
    deleted = replay(api, method, path.rsplit("/", 1)[0] + "/" + new_id, entry)
    assert deleted.status_code == entry["status"] == 204 and deleted.content == b""


def test_get_by_id_field_and_upserts(api: httpx.Client, sb: SandboxServer) -> None:
    _, path, entry = one("get-record-by-external-id")
    user = sb.store.sql('SELECT Id FROM "sf_User" LIMIT 1')[0][0]
    got = api.get(path.rsplit("/", 1)[0] + "/" + user)
    assert got.status_code == 200
    same_types(got.json(), entry["response"])

    method, path, entry = one("upsert-record")
    upserted = replay(api, method, path, entry)
    assert upserted.status_code == entry["status"] == 201
    assert shape(upserted.json()) == shape(entry["response"]) and upserted.json()["created"] is True
    assert upserted.headers["location"].endswith(upserted.json()["id"])

    account = api.post("/services/data/v59.0/sobjects/Account", json={"Name": "To update"}).json()["id"]
    method, path, entry = one("update-record-by-external-id")
    updated = replay(api, method, path.rsplit("/", 1)[0] + "/" + account, entry)
    assert updated.status_code == entry["status"] == 200
    assert updated.json() == {**entry["response"], "id": account}


# ---------------------------------------------------------------- collections and composite
def test_collections_replayed(api: httpx.Client) -> None:
    method, path, entry = one("create-sobject-collection")
    created = replay(api, method, path, entry)
    assert created.status_code == 200 and shape(created.json()) == shape(entry["response"])

    method, path, entry = one("update-sobject-collection")
    updated = replay(api, method, path, entry)  # a well-formed id of no record: the real error, verbatim
    assert updated.status_code == entry["status"] and updated.json() == entry["response"]

    method, path, entry = one("upsert-sobject-collection")
    upserted = replay(api, method, path, entry)  # records without attributes: the real parser error, verbatim
    assert upserted.status_code == entry["status"] and upserted.json() == entry["response"]

    method, path, entry = one("delete-sobject-collection", "DELETE")
    ids = [
        created.json()[0]["id"],
        api.post("/services/data/v66.0/sobjects/Account", json={"Name": "B"}).json()["id"],
    ]
    deleted = replay(api, method, path, entry, params={**entry["request"]["params"], "ids": ",".join(ids)})
    assert deleted.status_code == 200
    assert deleted.json() == [{"id": i, "success": True, "errors": []} for i in ids]
    assert shape(deleted.json()) == shape(entry["response"])


def test_composite_graph_replayed(api: httpx.Client) -> None:
    method, path, entry = one("composite-graph-request")
    answer = replay(api, method, path, entry)
    assert answer.status_code == 200
    assert shape(answer.json()) == shape(entry["response"])
    node = answer.json()["graphs"][0]["graphResponse"]["compositeResponse"][0]
    assert node["httpHeaders"]["Location"] == f"/services/data/v66.0/sobjects/Account/{node['body']['id']}"


# ---------------------------------------------------------------- error bodies (restforce fixtures, MIT)
def test_error_bodies_and_multiple_choices(api: httpx.Client) -> None:
    for name in ("sobject_find_error_response", "upsert_error_response", "sobject_describe_error_response"):
        real = json.loads((RESTFORCE / f"{name}.json").read_text())
        assert set(real[0]) == {"message", "errorCode"}
    missing_field = api.patch("/services/data/v59.0/sobjects/Account/Namez/x", json={})
    assert missing_field.json() == json.loads((RESTFORCE / "upsert_error_response.json").read_text())
    unknown = api.get("/services/data/v59.0/sobjects/Whizbang/describe")
    assert unknown.json() == json.loads((RESTFORCE / "sobject_describe_error_response.json").read_text())
    for _ in range(2):
        api.post("/services/data/v59.0/sobjects/Contact", json={"LastName": "Twin", "Email": "twin@x.com"})
    several = api.get("/services/data/v59.0/sobjects/Contact/Email/twin@x.com")
    real = json.loads((RESTFORCE / "upsert_multiple_error_response.json").read_text())
    assert several.status_code == 300 and shape(several.json()) == shape(real)
    assert all(re.match(r"^/services/data/v59\.0/sobjects/Contact/\w{18}$", url) for url in several.json())
