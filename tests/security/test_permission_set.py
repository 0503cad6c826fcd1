"""The shipped least privilege: the Salesforce permission set follows the config, and the docs follow the code."""

from __future__ import annotations

import re
from pathlib import Path
from xml.etree import ElementTree

import pytest

from mappings import RECORD_SLOTS, FeatureSpec, HubSpotMapping, SalesforceMapping, default_mapping
from sandbox import SandboxServer
from sync.connectors import CachedDescriber, build_connector
from sync.permissions import (
    NAMESPACE,
    PERMISSION_SET_PATH,
    hubspot_scopes,
    metadata_field,
    permission_set_xml,
    permissionable,
    salesforce_needs,
)
from sync.sfdx import sfdx_files
from tests.sync.cycle_fixtures import load, sandbox_config, set_up

ROOT = Path(__file__).resolve().parents[2]
NS = {"m": NAMESPACE}
Grants = tuple[dict[str, tuple[bool, bool]], dict[str, dict[str, bool]], set[str]]


def parse(xml: str) -> Grants:
    """(field -> (readable, editable), object -> its flags, enabled user permissions)."""
    root = ElementTree.fromstring(xml)  # noqa: S314 (our own generated text)
    assert root.tag == f"{{{NAMESPACE}}}PermissionSet"

    def flag(element: ElementTree.Element, name: str) -> bool:
        return element.findtext(f"m:{name}", namespaces=NS) == "true"

    fields = {
        str(e.findtext("m:field", namespaces=NS)): (flag(e, "readable"), flag(e, "editable"))
        for e in root.findall("m:fieldPermissions", NS)
    }
    objects = {
        str(e.findtext("m:object", namespaces=NS)): {
            name: flag(e, name)
            for name in (
                "allowRead",
                "allowCreate",
                "allowEdit",
                "allowDelete",
                "modifyAllRecords",
                "viewAllRecords",
            )
        }
        for e in root.findall("m:objectPermissions", NS)
    }
    users = {
        str(e.findtext("m:name", namespaces=NS))
        for e in root.findall("m:userPermissions", NS)
        if flag(e, "enabled")
    }
    return fields, objects, users


def salesforce(**changes: object) -> SalesforceMapping:
    block = default_mapping("salesforce")
    assert isinstance(block, SalesforceMapping)
    return block.model_copy(update=changes) if changes else block


def test_the_default_permission_set_grants_exactly_what_leadq_does() -> None:
    fields, objects, users = parse(permission_set_xml(salesforce()))
    assert objects == {
        "Account": {"allowRead": True, "allowCreate": False, "allowEdit": False, "allowDelete": False,
                    "modifyAllRecords": False, "viewAllRecords": False},
        "Campaign": {"allowRead": True, "allowCreate": False, "allowEdit": False, "allowDelete": False,
                     "modifyAllRecords": False, "viewAllRecords": False},
        "Contact": {"allowRead": True, "allowCreate": False, "allowEdit": True, "allowDelete": False,
                    "modifyAllRecords": False, "viewAllRecords": False},
        "Lead": {"allowRead": True, "allowCreate": False, "allowEdit": True, "allowDelete": False,
                 "modifyAllRecords": False, "viewAllRecords": False},
        "Opportunity": {"allowRead": True, "allowCreate": False, "allowEdit": False, "allowDelete": False,
                        "modifyAllRecords": False, "viewAllRecords": False},
    }  # fmt: skip
    assert users == {"ApiEnabled", "EditTask"}  # Tasks are created and edited through EditTask
    assert fields["Activity.leadq_Key__c"] == (True, True)  # set when a review task is created
    assert fields["Activity.leadq_Review_Decision__c"] == (True, False)  # the reviewer sets it; leadq reads
    editable = {name for name, (_, edit) in fields.items() if edit}
    assert editable == {f"{obj}.{salesforce().writeback.field_for(slot).field}" for obj in ("Lead", "Contact")
                        for slot in RECORD_SLOTS} | {"Activity.leadq_Key__c"}  # fmt: skip
    assert all(read for read, _ in fields.values())
    assert {"Lead.Title", "Lead.LeadSource", "Contact.MailingCountry", "Account.Industry"} <= set(fields)
    assert not {"Lead.LastName", "Lead.IsConverted", "Lead.SystemModstamp", "Lead.OwnerId"} & set(fields)


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"score": "My_Score__c", "reasons": "Why_Now__c"},
        {"objects": ["Lead"], "create_review_tasks": False},
    ],
)
def test_every_writeback_field_is_editable_and_every_read_field_readable(changes: dict[str, object]) -> None:
    base = salesforce()
    wb = base.writeback.model_copy(
        update={k: v for k, v in changes.items() if k in ("objects", "create_review_tasks")}
    )
    for slot in ("score", "reasons"):
        if slot in changes:
            wb = wb.model_copy(update={slot: wb.field_for(slot).model_copy(update={"field": changes[slot]})})
    features = [*base.features]
    extra = FeatureSpec.model_validate(
        {"name": "custom_thing", "field": {"Lead": "Custom_Thing__c"}, "type": "number", "label": "Thing"}
    )
    block = base.model_copy(update={"writeback": wb, "features": [*features, extra]})
    fields, objects, users = parse(permission_set_xml(block))
    needs = salesforce_needs(block)
    for written in wb.objects:
        for slot in RECORD_SLOTS:
            assert fields[f"{written}.{wb.field_for(slot).field}"] == (True, True), (written, slot)
    for obj, names in needs.read_fields.items():
        for name in names:
            if permissionable(obj, name):
                assert fields[metadata_field(obj, name)][0], (obj, name)
    assert fields["Lead.Custom_Thing__c"] == (True, False)
    assert ("EditTask" in users) is wb.create_review_tasks
    assert {o for o, flags in objects.items() if flags["allowEdit"]} == set(wb.objects)
    if "score" in changes:
        assert "Lead.leadq_Score__c" not in fields and fields["Lead.My_Score__c"] == (True, True)


def test_the_shipped_permission_set_is_the_generators_output() -> None:
    shipped = (ROOT / "salesforce" / PERMISSION_SET_PATH).read_text(encoding="utf-8")
    assert shipped == permission_set_xml(salesforce())
    assert sfdx_files(salesforce())[PERMISSION_SET_PATH] == shipped, "`leadq setup` writes it with the fields"


def test_every_field_of_the_permission_set_exists_in_the_org(
    sandbox: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load(sandbox_config(tmp_path, sandbox, "salesforce"), sandbox, monkeypatch)
    set_up(config)  # `leadq setup`: the writeback fields exist
    connector = build_connector(config, "salesforce")
    describe = CachedDescriber(connector)
    try:
        fields, objects, _ = parse(permission_set_xml(salesforce()))
        for name in fields:
            obj, field = name.split(".")
            description = describe("Task" if obj == "Activity" else obj)
            assert description is not None and field in description.fields, name
        assert all(describe(obj) is not None for obj in objects)
    finally:
        connector.close()


def test_the_docs_list_the_scopes_the_code_asks_for() -> None:
    text = (ROOT / "docs" / "permissions.md").read_text(encoding="utf-8")
    block = default_mapping("hubspot")
    assert isinstance(block, HubSpotMapping)
    documented = set(re.findall(r"^\| `(crm\.[a-z_.]+)`", text, flags=re.MULTILINE))
    assert documented >= set(hubspot_scopes(block))
    assert "leadq_Integration" in text and "sf org assign permset" in text
