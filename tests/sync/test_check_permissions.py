"""`leadq check` reports the permissions the integration user lacks, and those it holds beyond leadq's needs."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.hubspot import HubSpotConnector
from connector.protocol import FieldInfo, ObjectDescription
from mappings import HubSpotMapping, SalesforceMapping, default_mapping, load_config
from sandbox import SandboxServer
from sandbox.hubspot.token_info import token_scopes
from sandbox.seed import seed_org
from sync.check import check_schema
from sync.check_permissions import check_permissions
from sync.check_types import Finding, Status
from sync.connectors import CachedDescriber, build_connector
from sync.permissions import SETUP_SCOPES, SalesforceNeeds, hubspot_scopes, salesforce_needs
from tests.sync.conftest import Invoke, only


@dataclass(frozen=True)
class DeletableDescription(ObjectDescription):
    """A describe that also says whether the user may delete records (Salesforce's `deletable`)."""

    deletable: bool = False


def exact_org(
    needs: SalesforceNeeds,
    *,
    hidden: tuple[str, ...] = (),
    flags: dict[str, dict[str, bool]] | None = None,
    editable: dict[str, tuple[str, ...]] | None = None,
) -> dict[str, ObjectDescription | None]:
    """Describes granting exactly what `needs` asks, but `hidden` objects, object `flags` and `editable`
    fields leadq only reads."""
    out: dict[str, ObjectDescription | None] = {}
    for obj in needs.read | needs.edit | needs.create:
        if obj in hidden:
            out[obj] = None
            continue
        edited = needs.edit_fields.get(obj, set()) | set((editable or {}).get(obj, ()))
        fields = {
            name: FieldInfo(name, name, "string", createable=name in edited, updateable=name in edited)
            for name in needs.read_fields.get(obj, set())
        }
        own = {"createable": obj in needs.create, "updateable": obj in needs.edit, "deletable": False}
        own.update((flags or {}).get(obj, {}))
        out[obj] = DeletableDescription(obj, obj, fields, **own)
    return out


def describer(org: dict[str, ObjectDescription | None]) -> Callable[[str], ObjectDescription | None]:
    return lambda obj: org.get(obj)


def salesforce() -> SalesforceMapping:
    block = default_mapping("salesforce")
    assert isinstance(block, SalesforceMapping)
    return block


def hubspot() -> HubSpotMapping:
    block = default_mapping("hubspot")
    assert isinstance(block, HubSpotMapping)
    return block


def permission(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.check.startswith("permission")]


def test_exactly_the_needed_rights_is_one_ok_finding() -> None:
    block = salesforce()
    found = check_permissions("salesforce", block, describer(exact_org(salesforce_needs(block))))
    assert [(f.status, f.check) for f in found] == [(Status.OK, "permissions")]
    assert "exactly what leadq needs" in found[0].message and "leadq_Integration" in found[0].message


def test_missing_edit_and_create_rights_are_errors() -> None:
    block = salesforce()
    org = exact_org(
        salesforce_needs(block), flags={"Lead": {"updateable": False}, "Task": {"createable": False}}
    )
    found = check_permissions("salesforce", block, describer(org))
    errors = {(f.object, f.check) for f in found if f.status is Status.ERROR}
    assert errors == {("Lead", "permission edit"), ("Task", "permission create")}
    assert all("grant it" in f.message for f in found if f.status is Status.ERROR)


def test_excess_object_rights_and_editable_read_fields_are_warnings() -> None:
    block = salesforce()
    org = exact_org(
        salesforce_needs(block),
        flags={"Account": {"updateable": True, "deletable": True}, "Lead": {"createable": True}},
        editable={"Lead": ("Title", "Email")},
    )
    found = check_permissions("salesforce", block, describer(org))
    warnings = {(f.object, f.check): f.message for f in found if f.status is Status.WARN}
    assert set(warnings) == {
        ("Account", "permission edit"), ("Account", "permission delete"), ("Lead", "permission create"),
        ("Lead", "permission field edit"),
    }  # fmt: skip
    assert "can delete Account records, which leadq never does" in warnings[("Account", "permission delete")]
    assert (
        "can edit 2 Lead fields leadq only reads (Email, Title)"
        in warnings[("Lead", "permission field edit")]
    )
    assert not [f for f in found if f.status is Status.ERROR]
    assert not [f for f in found if f.status is Status.OK], "no 'exactly' finding while there is excess"


def test_a_hidden_context_object_is_an_error_once() -> None:
    block = salesforce()
    org = exact_org(salesforce_needs(block), hidden=("Opportunity", "Lead"))
    found = check_schema("salesforce", block, describer(org))
    hidden = [f for f in permission(found) if f.status is Status.ERROR]
    assert [(f.object, f.check) for f in hidden] == [("Opportunity", "permission read")]
    # The hidden Lead is the feature and writeback checks' error, not reported a second time.
    assert any(f.object == "Lead" and f.check == "object" for f in found)


def test_hubspot_scopes_missing_excess_and_setup_only() -> None:
    block = hubspot()
    needed = hubspot_scopes(block, setup=False)
    assert check_permissions("hubspot", block, describer({}), scopes=needed)[0].status is Status.OK
    granted = [s for s in needed if s != "crm.objects.contacts.write"]
    granted += ["crm.objects.deals.write", "oauth", *SETUP_SCOPES]
    found = check_permissions("hubspot", block, describer({}), scopes=granted)
    by_scope = {f.check.removeprefix("permission "): f for f in found}
    assert by_scope["crm.objects.contacts.write"].status is Status.ERROR
    assert by_scope["crm.objects.deals.write"].status is Status.WARN
    assert by_scope["crm.schemas.contacts.write"].status is Status.OK
    assert "only by `leadq setup`" in by_scope["crm.schemas.contacts.write"].message
    assert "oauth" not in by_scope


def test_hubspot_scopes_unknown_say_where_to_compare() -> None:
    [finding] = check_permissions("hubspot", hubspot(), describer({}))
    assert finding.status is Status.OK and "docs/permissions.md" in finding.message


@pytest.mark.parametrize("label", ["lifecycle_stage", "won_deal"])
def test_hubspot_scopes_follow_the_config(label: str) -> None:
    block = hubspot().model_copy(update={"objects": ["contacts", "tasks"]})
    block = block.model_copy(update={"label": block.label.model_copy(update={"kind": label})})
    scopes = hubspot_scopes(block, setup=False)
    assert "crm.objects.companies.read" not in scopes
    assert ("crm.objects.deals.read" in scopes) is (label == "won_deal")


def test_check_on_the_sandbox_reports_the_sandbox_users_excess_rights(
    sandbox: SandboxServer, init_config: Callable[..., Path], invoke: Invoke, tmp_path: Path
) -> None:
    seed_org(sandbox.store, leads=50, seed=3)
    config = init_config()
    assert invoke("setup", "--config", str(config), "--no-sfdx").exit_code == 0
    result = invoke("check", "--config", str(config), "--json")
    doc = json.loads(result.stdout)
    assert doc["ok"] is True, [f for f in doc["findings"] if f["status"] == "error"]
    perms = [f for f in doc["findings"] if f["check"].startswith("permission")]
    # The sandbox's integration user may do anything: leadq says what it does not need.
    excess = {(f["object"], f["check"]) for f in only(perms, crm="salesforce", status="warn")}
    objects = {(obj, f"permission {right}") for obj in ("Account", "CampaignMember", "Event", "Opportunity")
               for right in ("create", "edit")}  # fmt: skip
    fields = {(obj, "permission field edit") for obj in ("Account", "Contact", "Lead", "Opportunity", "Task")}
    assert excess == objects | fields | {("Lead", "permission create"), ("Contact", "permission create")}
    assert not only(perms, status="error")


def test_hubspot_scope_findings_name_the_fix() -> None:
    block = hubspot()
    granted = [s for s in hubspot_scopes(block, setup=False) if s != "crm.objects.companies.read"]
    found = check_permissions("hubspot", block, describer({}), scopes=[*granted, "tickets"])
    [missing] = [f for f in found if f.status is Status.ERROR]
    assert missing.check == "permission crm.objects.companies.read"
    assert "read companies" in missing.message and "Scopes" in missing.message
    assert "add crm.objects.companies.read" in missing.message
    [excess] = [f for f in found if f.status is Status.WARN]
    assert excess.check == "permission tickets" and "least privilege" in excess.message
    assert "remove tickets" in excess.message


def _hubspot_permissions(config: Path) -> tuple[frozenset[str] | None, list[Finding]]:
    """What `leadq check` concludes about the HubSpot token, through the real connector."""
    loaded = load_config(config)
    block = loaded.crm("hubspot")
    assert isinstance(block, HubSpotMapping)
    connector = build_connector(loaded, "hubspot")
    assert isinstance(connector, HubSpotConnector)
    with connector:
        scopes = connector.granted_scopes()
        found = check_schema("hubspot", block, CachedDescriber(connector), scopes=scopes)
    return scopes, permission(found) + [f for f in found if f.check == "permissions"]


def test_the_sandbox_token_has_exactly_what_leadq_needs(
    sandbox: SandboxServer, init_config: Callable[..., Path]
) -> None:
    scopes, found = _hubspot_permissions(init_config("hubspot"))
    assert scopes == frozenset(hubspot_scopes(hubspot()))
    assert {(f.check, f.status) for f in found} == {
        ("permission crm.schemas.contacts.write", Status.OK),  # setup only: a note
        ("permissions", Status.OK),
    }


@given(
    drop=st.sets(st.sampled_from(hubspot_scopes(hubspot(), setup=False)), max_size=3),
    extra=st.sets(
        st.sampled_from(["crm.objects.deals.write", "tickets", "crm.objects.owners.read"]), max_size=2
    ),
)
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_missing_and_excess_scopes_of_the_live_token_are_reported(
    sandbox: SandboxServer, init_config: Callable[..., Path], drop: set[str], extra: set[str]
) -> None:
    granted = (set(hubspot_scopes(hubspot(), setup=False)) - drop) | extra
    token_scopes(sandbox.state).grant(granted)
    _, found = _hubspot_permissions(init_config("hubspot"))
    errors = {f.check.removeprefix("permission ") for f in found if f.status is Status.ERROR}
    warnings = {f.check.removeprefix("permission ") for f in found if f.status is Status.WARN}
    assert (errors, warnings) == (drop, extra)
    assert any(f.check == "permissions" for f in found) is not bool(drop or extra)


def test_leadq_check_reports_the_hubspot_tokens_scopes(
    sandbox: SandboxServer, init_config: Callable[..., Path], invoke: Invoke
) -> None:
    token_scopes(sandbox.state).grant([*hubspot_scopes(hubspot(), setup=False), "tickets"])
    config = init_config("hubspot")
    assert invoke("setup", "--config", str(config), "--no-sfdx").exit_code == 0
    doc = json.loads(invoke("check", "--config", str(config), "--json").stdout)
    perms = [f for f in doc["findings"] if f["crm"] == "hubspot" and f["check"].startswith("permission")]
    assert [(f["check"], f["status"]) for f in perms] == [("permission tickets", "warn")]
