"""Describe results in the real shapes: describeGlobal, sObject basic info, and the full sObject describe.

Everything is derived from `SfObject`/`SfField` metadata (custom fields included), with the key sets and
per-type conventions of a real org's describe (byteLength = 3 x length for text, digits for integers,
`plaintextarea` for text areas, polymorphic references, child relationships from the other objects).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sandbox.salesforce.fieldvalues import TEXT_TYPES
from sandbox.salesforce.records import is_id_lookup
from sandbox.sf_schema import SOAP_TYPE, SYSTEM_FIELDS, SfField, SfObject

MASTER_RECORD_TYPE = "012000000000000AAA"
_NOT_GROUPABLE = frozenset({"double", "currency", "percent", "datetime"})
_ADDRESS_PARTS = ("Street", "City", "State", "PostalCode", "Country")
_SCOPES: dict[str, list[tuple[str, str]]] = {
    "Task": [("My delegated tasks", "delegated"), ("All tasks", "everything"), ("My tasks", "mine")],
    "Event": [("My delegated events", "delegated"), ("All events", "everything"), ("My events", "mine")],
}
_NO_SCOPES = frozenset({"User", "CampaignMember"})
_QUEUE_OWNED = frozenset({"Lead", "Task", "Event", "Case"})  # owned by a user or a queue (Group)
_INT_DIGITS = 8  # an integer field's digits when the schema does not say


def _plural_name(obj: SfObject) -> str:
    return obj.label_plural.replace(" ", "")


def _scopes(obj: SfObject) -> list[dict[str, str]]:
    if obj.name in _NO_SCOPES:
        return []
    default = [
        (f"All {obj.label_plural.lower()}", "everything"),
        (f"My {obj.label_plural.lower()}", "mine"),
        ("Filter by scope", "scopingRule"),
        (f"My team's {obj.label_plural.lower()}", "team"),
    ]
    return [{"label": label, "name": name} for label, name in _SCOPES.get(obj.name, default)]


def _compound(obj: SfObject, name: str) -> str | None:
    for prefix in ("Billing", "Shipping", "Mailing", ""):
        if name in (prefix + part for part in _ADDRESS_PARTS) and (prefix or obj.name == "Lead"):
            return f"{prefix}Address"
    if (obj.name in ("Lead", "Contact", "User") and name in ("FirstName", "LastName")) or (
        obj.name == "Account" and name == "Name"
    ):
        return "Name"
    return None


def _extra_type_info(obj: SfObject, f: SfField) -> str | None:
    if f.type == "textarea":
        return "plaintextarea"
    if obj.name == "Account" and f.name == "Name":
        return "switchablepersonname"  # person accounts share the field
    if f.name_field and obj.name in ("Lead", "Contact", "User"):
        return "personname"
    return None


def picklist_values(f: SfField) -> list[dict[str, Any]]:
    """`picklistValues` entries: every value active, the field's default flagged."""
    return [
        {"active": True, "defaultValue": value == f.default, "label": value, "validFor": None, "value": value}
        for value in f.picklist
    ]


def describe_field(obj: SfObject, f: SfField) -> dict[str, Any]:
    """One field's describe entry, with the 57 keys a real describe has (in its alphabetical order)."""
    kind = f.type
    text = kind in TEXT_TYPES
    long_text = kind == "textarea" and f.length > 255
    is_ref = kind in ("reference", "id")
    numeric = kind in ("double", "currency", "percent")
    defaulted = f.default is not None or kind == "boolean" or f.name in SYSTEM_FIELDS or f.name == "OwnerId"
    reference_to = (
        ["Group", "User"] if f.name == "OwnerId" and obj.name in _QUEUE_OWNED else list(f.reference_to)
    )
    polymorphic = kind == "reference" and len(reference_to) > 1
    return {
        "aggregatable": kind != "boolean" and not long_text,
        "aiPredictionField": False,
        "autoNumber": False,
        "byteLength": 18 if is_ref else (f.length * 3 if text else 0),
        "calculated": f.calculated,
        "calculatedFormula": None,
        "cascadeDelete": False,
        "caseSensitive": False,
        "compoundFieldName": _compound(obj, f.name),
        "controllerName": None,
        "createable": f.createable,
        "custom": f.custom,
        "defaultValue": f.default if kind in ("boolean", "picklist") else None,
        "defaultValueFormula": None,
        "defaultedOnCreate": defaulted,
        "dependentPicklist": False,
        "deprecatedAndHidden": False,
        "digits": (f.precision or _INT_DIGITS) if kind == "int" else 0,
        "displayLocationInDecimal": False,
        "encrypted": False,
        "externalId": f.external_id,
        "extraTypeInfo": _extra_type_info(obj, f),
        "filterable": f.filterable and not long_text,
        "filteredLookupInfo": None,
        "formulaTreatNullNumberAsZero": False,
        "groupable": kind not in _NOT_GROUPABLE and not long_text,
        "highScaleNumber": False,
        "htmlFormatted": False,
        "idLookup": is_id_lookup(obj, f),
        "inlineHelpText": None,
        "label": f.label,
        "length": f.length if (text or is_ref) else 0,
        "mask": None,
        "maskType": None,
        "name": f.name,
        "nameField": f.name_field,
        "namePointing": polymorphic,
        "nillable": f.nillable,
        "permissionable": f.nillable and (f.createable or f.updateable),
        "picklistValues": picklist_values(f) if kind in ("picklist", "multipicklist", "combobox") else [],
        "polymorphicForeignKey": polymorphic,
        "precision": f.precision if numeric else 0,
        "queryByDistance": False,
        "referenceTargetField": None,
        "referenceTo": reference_to,
        "relationshipName": f.relationship_name,
        "relationshipOrder": None,
        "restrictedDelete": False,
        "restrictedPicklist": f.restricted_picklist,
        "scale": f.scale if numeric else 0,
        "searchPrefilterable": False,
        "soapType": SOAP_TYPE.get(kind, "xsd:string"),
        "sortable": not long_text,
        "type": kind,
        "unique": f.unique,
        "updateable": f.updateable,
        "writeRequiresMasterRead": False,
    }


def child_relationships(objects: Mapping[str, SfObject], parent: str) -> list[dict[str, Any]]:
    """Every reference from another object to `parent`; the first per child object is named (`Contacts`)."""
    out: list[dict[str, Any]] = []
    for child in sorted(objects.values(), key=lambda o: o.name):
        named = False
        for f in child.fields:
            if f.type != "reference" or parent not in f.reference_to or f.name in SYSTEM_FIELDS:
                continue
            name = None if named or f.name == "OwnerId" else _plural_name(child)
            named = named or name is not None
            out.append(
                {
                    "cascadeDelete": False,
                    "childSObject": child.name,
                    "deprecatedAndHidden": False,
                    "field": f.name,
                    "junctionIdListNames": [],
                    "junctionReferenceTo": [],
                    "relationshipName": name,
                    "restrictedDelete": False,
                }
            )
    return out


def _urls(obj: SfObject, version: str) -> dict[str, str]:
    base = f"/services/data/v{version}/sobjects/{obj.name}"
    return {
        "compactLayouts": f"{base}/describe/compactLayouts",
        "rowTemplate": f"{base}/{{ID}}",
        "approvalLayouts": f"{base}/describe/approvalLayouts",
        "listviews": f"{base}/listviews",
        "describe": f"{base}/describe",
        "quickActions": f"{base}/quickActions",
        "layouts": f"{base}/describe/layouts",
        "sobject": base,
    }


def object_summary(obj: SfObject, version: str) -> dict[str, Any]:
    """The object-level entry of describeGlobal and of sObject basic info (`objectDescribe`)."""
    deletable = obj.name != "User"
    return {
        "activateable": False,
        "associateEntityType": None,
        "associateParentEntity": None,
        "createable": True,
        "custom": obj.name.endswith("__c"),
        "customSetting": False,
        "deepCloneable": False,
        "deletable": deletable,
        "deprecatedAndHidden": False,
        "feedEnabled": obj.name not in ("CampaignMember",),
        "hasSubtypes": False,
        "isInterface": False,
        "isSubtype": False,
        "keyPrefix": obj.key_prefix,
        "label": obj.label,
        "labelPlural": obj.label_plural,
        "layoutable": True,
        "mergeable": obj.name in ("Account", "Contact", "Lead"),
        "mruEnabled": obj.name != "CampaignMember",
        "name": obj.name,
        "queryable": True,
        "replicateable": True,
        "retrieveable": True,
        "searchable": obj.name != "CampaignMember",
        "triggerable": True,
        "undeletable": deletable,
        "updateable": True,
        "urls": _urls(obj, version),
    }


def describe_global(objects: Mapping[str, SfObject], version: str) -> dict[str, Any]:
    """`GET .../sobjects`: every object the org has."""
    return {
        "encoding": "UTF-8",
        "maxBatchSize": 200,
        "sobjects": [object_summary(o, version) for o in sorted(objects.values(), key=lambda o: o.name)],
    }


def describe_object(
    objects: Mapping[str, SfObject], obj: SfObject, version: str, base_url: str
) -> dict[str, Any]:
    """`GET .../sobjects/{Obj}/describe`: object-level keys, fields, child relationships, record types."""
    summary = object_summary(obj, version)
    urls = dict(summary.pop("urls"))
    urls.update(
        {
            "uiDetailTemplate": f"{base_url}/{{ID}}",
            "uiEditTemplate": f"{base_url}/{{ID}}/e",
            "uiNewRecord": f"{base_url}/{obj.key_prefix}/e",
        }
    )
    out: dict[str, Any] = {
        **summary,
        "actionOverrides": [],
        "childRelationships": child_relationships(objects, obj.name),
        "compactLayoutable": True,
        "defaultImplementation": None,
        "extendedBy": None,
        "extendsInterfaces": None,
        "fields": [describe_field(obj, f) for f in obj.fields],
        "implementedBy": None,
        "implementsInterfaces": None,
        "listviewable": None,
        "lookupLayoutable": None,
        "namedLayoutInfos": [],
        "networkScopeFieldName": None,
        "recordTypeInfos": [
            {
                "active": True,
                "available": True,
                "defaultRecordTypeMapping": True,
                "developerName": "Master",
                "master": True,
                "name": "Master",
                "recordTypeId": MASTER_RECORD_TYPE,
                "urls": {
                    "layout": f"/services/data/v{version}/sobjects/{obj.name}/describe/layouts/{MASTER_RECORD_TYPE}"
                },
            }
        ],
        "searchLayoutable": True,
        "sobjectDescribeOption": "FULL",
        "supportedScopes": _scopes(obj),
        "urls": urls,
    }
    return dict(sorted(out.items()))
