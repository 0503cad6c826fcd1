"""Salesforce object and field metadata: the shapes `describe` reports and the SQLite storage of each type.

`SfField` and `SfObject` are the single source of truth for what `describe` returns, which columns the SQLite
tables have and how SOQL values are typed. The standard objects the sandbox serves are in
`sandbox.sf_standard`; custom fields created through the Tooling API are added at run time
(see `Store.sf_add_field`) with the same `SfField` shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# describe `type` -> SQLite storage class
STORAGE = {
    "id": "TEXT",
    "reference": "TEXT",
    "string": "TEXT",
    "textarea": "TEXT",
    "email": "TEXT",
    "phone": "TEXT",
    "url": "TEXT",
    "picklist": "TEXT",
    "multipicklist": "TEXT",
    "combobox": "TEXT",
    "date": "TEXT",
    "datetime": "TEXT",
    "boolean": "INTEGER",
    "int": "INTEGER",
    "double": "REAL",
    "currency": "REAL",
    "percent": "REAL",
}

# describe `soapType` per field type, as the real describe reports it
SOAP_TYPE = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "int": "xsd:int",
    "double": "xsd:double",
    "currency": "xsd:double",
    "percent": "xsd:double",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
}

KEY_PREFIX = {
    "User": "005",
    "Account": "001",
    "Contact": "003",
    "Lead": "00Q",
    "Opportunity": "006",
    "Task": "00T",
    "Event": "00U",
    "Campaign": "701",
    "CampaignMember": "00v",
}


@dataclass(frozen=True)
class SfField:
    """One field as `describe` reports it."""

    name: str
    type: str
    label: str
    length: int = 0
    custom: bool = False
    createable: bool = True
    updateable: bool = True
    nillable: bool = True
    filterable: bool = True
    picklist: tuple[str, ...] = ()
    restricted_picklist: bool = False
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    external_id: bool = False
    unique: bool = False
    precision: int = 0
    scale: int = 0
    default: str | int | float | bool | None = None
    name_field: bool = False
    calculated: bool = False

    @property
    def storage(self) -> str:
        return STORAGE[self.type]


@dataclass(frozen=True)
class SfObject:
    """One sObject: its name, labels and fields in describe order."""

    name: str
    label: str
    label_plural: str
    fields: tuple[SfField, ...] = field(default_factory=tuple)

    @property
    def key_prefix(self) -> str:
        return KEY_PREFIX.get(self.name, "a00")


# the audit fields the platform sets on every record of every object (the API cannot write them)
SYSTEM_FIELDS = frozenset(
    {
        "Id",
        "IsDeleted",
        "CreatedDate",
        "CreatedById",
        "LastModifiedDate",
        "LastModifiedById",
        "SystemModstamp",
    }
)
