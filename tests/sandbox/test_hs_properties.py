"""HubSpot properties and groups through the real client; custom properties usable on records at once."""

from __future__ import annotations

import json

import pytest
from hubspot import HubSpot
from hubspot.crm.contacts import ApiException as ContactApiException
from hubspot.crm.contacts import SimplePublicObjectInput, SimplePublicObjectInputForCreate
from hubspot.crm.properties import (
    ApiException,
    OptionInput,
    PropertyCreate,
    PropertyGroupCreate,
    PropertyGroupUpdate,
    PropertyUpdate,
)

from sandbox import SandboxServer

SCORE_OPTIONS = [OptionInput(label=t, value=t, display_order=i, hidden=False) for i, t in enumerate("ABCD")]


def _tier_property(group: str = "leadq") -> PropertyCreate:
    return PropertyCreate(
        name="leadq_tier",
        label="leadq tier",
        type="enumeration",
        field_type="select",
        group_name=group,
        options=SCORE_OPTIONS,
        description="Tier assigned by leadq",
    )


def test_default_definitions_cover_lead_scoring(hs: HubSpot) -> None:
    contacts = {p.name: p for p in hs.crm.properties.core_api.get_all("contacts").results}
    for name in ("email", "lifecyclestage", "hs_lead_status", "hs_analytics_num_page_views", "hubspot_owner_id",
                 "hs_email_open", "associatedcompanyid", "hs_lifecyclestage_customer_date", "hubspotscore"):  # fmt: skip
        assert name in contacts, name
    assert [o.value for o in contacts["lifecyclestage"].options][:2] == ["subscriber", "lead"]
    assert contacts["hs_analytics_num_page_views"].modification_metadata.read_only_value is True
    assert contacts["hubspot_owner_id"].referenced_object_type == "OWNER"
    companies = {p.name: p for p in hs.crm.properties.core_api.get_all("companies").results}
    assert len(companies["industry"].options) > 140
    deals = hs.crm.properties.core_api.get_by_name("deals", "dealstage")
    assert "closedwon" in [o.value for o in deals.options]
    assert hs.crm.properties.core_api.get_by_name("tasks", "hs_timestamp").type == "datetime"


def test_custom_property_lifecycle(hs: HubSpot) -> None:
    core = hs.crm.properties.core_api
    with pytest.raises(ApiException) as err:
        core.create("contacts", _tier_property("leadq"))  # the group does not exist yet
    assert err.value.status == 400
    group = hs.crm.properties.groups_api.create("contacts", PropertyGroupCreate(name="leadq", label="leadq"))
    assert (group.name, group.archived) == ("leadq", False)
    created = core.create("contacts", _tier_property())
    assert created.name == "leadq_tier" and created.created_at is not None
    assert created.modification_metadata.read_only_definition is False
    assert created.hubspot_defined is None  # custom definitions carry no hubspotDefined
    with pytest.raises(ApiException) as err:
        core.create("contacts", _tier_property())
    assert err.value.status == 409 and json.loads(err.value.body)["message"] == "Property already exists"

    # usable on records at once, and validated like HubSpot's own
    contact = hs.crm.contacts.basic_api.create(
        SimplePublicObjectInputForCreate(properties={"email": "p@example.com", "leadq_tier": "B"})
    )
    assert contact.properties["leadq_tier"] == "B"
    with pytest.raises(ContactApiException) as cerr:
        hs.crm.contacts.basic_api.update(contact.id, SimplePublicObjectInput(properties={"leadq_tier": "Z"}))
    assert "INVALID_OPTION" in json.loads(cerr.value.body)["message"]

    updated = core.update(
        "contacts",
        "leadq_tier",
        PropertyUpdate(
            label="Lead tier",
            options=[*SCORE_OPTIONS, OptionInput(label="E", value="E", display_order=4, hidden=False)],
        ),
    )
    assert updated.label == "Lead tier" and [o.value for o in updated.options][-1] == "E"
    hs.crm.contacts.basic_api.update(contact.id, SimplePublicObjectInput(properties={"leadq_tier": "E"}))

    core.archive("contacts", "leadq_tier")
    assert "leadq_tier" not in {p.name for p in core.get_all("contacts").results}
    assert "leadq_tier" in {p.name for p in core.get_all("contacts", archived=True).results}
    with pytest.raises(ContactApiException) as cerr:
        hs.crm.contacts.basic_api.update(contact.id, SimplePublicObjectInput(properties={"leadq_tier": "A"}))
    assert "PROPERTY_DOESNT_EXIST" in json.loads(cerr.value.body)["message"]
    got = hs.crm.contacts.basic_api.get_by_id(contact.id, properties=["leadq_tier"])
    assert "leadq_tier" not in got.properties  # archived definitions are not returned on records


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({"name": "LeadScore"}, 400),  # not lower-case snake
        ({"name": "hs_score"}, 400),  # reserved prefix
        ({"type": "number", "field_type": "select"}, 400),  # impossible combination
        ({"type": "enumeration", "field_type": "select", "options": []}, 400),  # enumeration without options
        ({"group_name": "nosuchgroup"}, 400),
        ({"name": "email"}, 409),
    ],
)
def test_property_create_validation(hs: HubSpot, changes: dict[str, object], status: int) -> None:
    fields: dict[str, object] = {
        "name": "leadq_score", "label": "leadq score", "type": "number", "field_type": "number",
        "group_name": "contactinformation",
    }  # fmt: skip
    fields |= changes
    with pytest.raises(ApiException) as err:
        hs.crm.properties.core_api.create("contacts", PropertyCreate(**fields))
    assert err.value.status == status
    assert json.loads(err.value.body)["status"] == "error"


def test_number_bool_and_date_custom_properties(hs: HubSpot, sandbox: SandboxServer) -> None:
    core = hs.crm.properties.core_api
    for name, type_, field in (("leadq_score", "number", "number"), ("leadq_reviewed", "bool", "booleancheckbox"),
                               ("leadq_review_day", "date", "date"), ("leadq_scored_at", "datetime", "date")):  # fmt: skip
        core.create(
            "contacts",
            PropertyCreate(
                name=name, label=name, type=type_, field_type=field, group_name="contactinformation"
            ),
        )
    assert [o.value for o in core.get_by_name("contacts", "leadq_reviewed").options] == ["true", "false"]
    ok = hs.crm.contacts.basic_api.create(
        SimplePublicObjectInputForCreate(
            properties={
                "leadq_score": "87.5",
                "leadq_reviewed": "false",
                "leadq_review_day": "1767225600000",
                "leadq_scored_at": "2026-01-01T10:00:00+02:00",
            }
        )
    )
    p = ok.properties
    assert (p["leadq_score"], p["leadq_reviewed"], p["leadq_review_day"]) == ("87.5", "false", "2026-01-01")
    assert p["leadq_scored_at"] == "2026-01-01T08:00:00.000Z"
    with pytest.raises(ContactApiException) as err:
        hs.crm.contacts.basic_api.update(
            ok.id,
            SimplePublicObjectInput(properties={"leadq_review_day": "1767261600000", "leadq_score": "1e"}),
        )
    message = json.loads(err.value.body)["message"]
    assert "not midnight" in message and "INVALID_DATE" in message and "INVALID_FLOAT" in message


def test_groups_and_hubspot_defined_guards(hs: HubSpot) -> None:
    groups = hs.crm.properties.groups_api
    assert "contactinformation" in {g.name for g in groups.get_all("contacts").results}
    groups.create("deals", PropertyGroupCreate(name="leadq", label="leadq", display_order=3))
    renamed = groups.update("deals", "leadq", PropertyGroupUpdate(label="leadq scoring"))
    assert renamed.label == "leadq scoring" and groups.get_by_name("deals", "leadq").display_order == 3
    with pytest.raises(ApiException) as err:
        groups.create("deals", PropertyGroupCreate(name="leadq", label="again"))
    assert err.value.status == 409
    groups.archive("deals", "leadq")
    assert "leadq" not in {g.name for g in groups.get_all("deals").results}
    with pytest.raises(ApiException) as err:
        groups.archive("contacts", "contactinformation")
    assert err.value.status == 400
    with pytest.raises(ApiException) as err:
        hs.crm.properties.core_api.archive("contacts", "email")
    assert err.value.status == 400
    with pytest.raises(ApiException) as err:
        hs.crm.properties.core_api.update("contacts", "email", PropertyUpdate(group_name="sales_properties"))
    assert err.value.status == 400
    with pytest.raises(ApiException) as err:
        hs.crm.properties.core_api.get_by_name("contacts", "nope")
    assert err.value.status == 404
