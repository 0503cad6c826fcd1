"""What `leadq check` concludes from the config and the CRM's own schema: one `Finding` per check.

Pure logic: the caller describes objects (`Describer`) and pulls a sample (`sync.leakage`); nothing here
talks to a CRM. A finding names the CRM, object and field, the check, a status (ok, warn, error) and a
message that says what to do.

Salesforce hides fields the integration user may not read (field-level security) from describe, so "not
in describe" covers both "missing" and "not readable", and the message says how to fix both.

This module checks the schema: feature, writeback and label fields. The rights and scopes of the
integration user are `sync.check_permissions`; the shared types (`Finding`, `Status`, `Report`,
`writeback_targets`) are `sync.check_types`. `check_schema` runs them all for one CRM.
"""

from __future__ import annotations

from collections.abc import Collection

from connector.hubspot.tasks import KEY_PROPERTY as HUBSPOT_TASK_KEY
from connector.protocol import FieldInfo, ObjectDescription
from connector.salesforce.tasks import KEY_FIELD as SALESFORCE_TASK_KEY
from mappings import FeatureSpec, HubSpotWritebackField, WritebackField
from sync.check_permissions import check_permissions
from sync.check_types import (
    PERMISSION_SET,
    CrmBlock,
    Describer,
    Finding,
    Status,
    WritebackTarget,
    scored_objects,
    writeback_targets,
)

TASK_KEY = {"salesforce": SALESFORCE_TASK_KEY, "hubspot": HUBSPOT_TASK_KEY}


# ---------------------------------------------------------------------------------------------- types
_SF_FEATURE_TYPES: dict[str, frozenset[str]] = {
    "number": frozenset({"int", "double", "currency", "percent", "long"}),
    "date": frozenset({"date", "datetime"}),
    "boolean": frozenset({"boolean"}),
    "category": frozenset({"picklist", "multipicklist", "combobox", "string", "reference", "id", "email",
                           "url", "phone"}),
    "text": frozenset({"string", "textarea", "email", "url", "phone", "picklist", "multipicklist", "combobox"}),
}  # fmt: skip
_HS_FEATURE_TYPES: dict[str, frozenset[str]] = {
    "number": frozenset({"number"}),
    "date": frozenset({"date", "datetime"}),
    "boolean": frozenset({"bool"}),
    "category": frozenset({"enumeration", "string", "bool"}),
    "text": frozenset({"string", "enumeration", "phone_number"}),
}
# A transform reads its source field, whatever the feature it produces.
_SF_TRANSFORM_TYPES = {
    "age_days": frozenset({"date", "datetime"}),
    "email_domain": frozenset({"email", "string"}),
    "free_email": frozenset({"email", "string"}),
}
_HS_TRANSFORM_TYPES = {
    "age_days": frozenset({"date", "datetime"}),
    "email_domain": frozenset({"string"}),
    "free_email": frozenset({"string"}),
}
_SF_WRITEBACK_TYPES = {
    "Number": frozenset({"double", "int", "currency", "percent"}),
    "Text": frozenset({"string"}),
    "LongTextArea": frozenset({"textarea"}),
    "Picklist": frozenset({"picklist"}),
    "DateTime": frozenset({"datetime"}),
    "Checkbox": frozenset({"boolean"}),
}
_HS_WRITEBACK_TYPES = {
    "number": frozenset({"number"}),
    "string": frozenset({"string"}),
    "enumeration": frozenset({"enumeration"}),
    "datetime": frozenset({"datetime", "date"}),
    "bool": frozenset({"bool"}),
}


def feature_types(crm: str, feature: FeatureSpec) -> frozenset[str]:
    """The CRM field types a feature can read."""
    if feature.transform:
        table = _SF_TRANSFORM_TYPES if crm == "salesforce" else _HS_TRANSFORM_TYPES
        return table[feature.transform]
    return (_SF_FEATURE_TYPES if crm == "salesforce" else _HS_FEATURE_TYPES)[feature.type]


def writeback_type_ok(crm: str, spec: WritebackField, info: FieldInfo) -> bool:
    """Whether an existing field can hold what the config says the slot writes."""
    table = _SF_WRITEBACK_TYPES if crm == "salesforce" else _HS_WRITEBACK_TYPES
    return info.type in table[spec.type]


def lookup(description: ObjectDescription, name: str) -> FieldInfo | None:
    """A field by API name, case-insensitively for Salesforce (HubSpot names are lower-case anyway)."""
    found = description.fields.get(name)
    if found is not None:
        return found
    low = name.lower()
    return next((f for f in description.fields.values() if f.name.lower() == low), None)


def resolve_path(describe: Describer, obj: str, path: str) -> tuple[str, FieldInfo | None, str]:
    """Follow `Account.Industry` from `obj`: (object holding the leaf, its field or None, why not found).

    A hop is a lookup's relationship name: `Account` is the field `AccountId`, `Parent__r` is `Parent__c`.
    """
    *hops, leaf = path.split(".")
    current = describe(obj)
    if current is None:
        return obj, None, f"the object {obj} is not visible"
    for hop in hops:
        key = f"{hop[:-3]}__c" if hop.endswith("__r") else f"{hop}Id"
        ref = lookup(current, key)
        if ref is None or not ref.reference_to:
            return current.name, None, f"{current.name} has no relationship {hop}"
        target = next((d for d in map(describe, ref.reference_to) if d is not None), None)
        if target is None:
            return ref.reference_to[0], None, f"the object {ref.reference_to[0]} is not visible"
        current = target
    info = lookup(current, leaf)
    return current.name, info, "" if info else f"{current.name}.{leaf} is not in describe"


# ---------------------------------------------------------------------------------------------- needs
def feature_paths(crm: str, block: CrmBlock, obj: str) -> dict[str, list[FeatureSpec]]:
    """Field path -> the features reading it, on one scored object."""
    out: dict[str, list[FeatureSpec]] = {}
    for feature in block.features:
        path = feature.field_for(obj)
        if path is not None:
            out.setdefault(path, []).append(feature)
    return out


def label_fields(crm: str, block: CrmBlock) -> list[tuple[str, str, frozenset[str], bool]]:
    """(object, field, acceptable types, required) for the configured label."""
    kind = block.label.kind
    if kind == "converted":
        return [("Lead", "IsConverted", frozenset({"boolean"}), True),
                ("Lead", "ConvertedDate", frozenset({"date", "datetime"}), False)]  # fmt: skip
    if kind == "converted_opportunity_won":
        return [("Lead", "IsConverted", frozenset({"boolean"}), True),
                ("Lead", "ConvertedOpportunityId", frozenset({"reference"}), True),
                ("Opportunity", "IsWon", frozenset({"boolean"}), True)]  # fmt: skip
    if kind == "lifecycle_stage":
        return [("contacts", "lifecyclestage", frozenset({"enumeration", "string"}), True)]
    return [("deals", "dealstage", frozenset({"enumeration", "string"}), True),
            ("deals", "hs_is_closed_won", frozenset({"bool"}), False)]  # fmt: skip


# ---------------------------------------------------------------------------------------------- checks
def _missing_fix(crm: str) -> str:
    if crm == "salesforce":
        return (
            "check the API name in leadq.yaml; if the field exists, grant the integration user read access "
            f"to it (field-level security, {PERMISSION_SET})"
        )
    return "check the property's internal name in leadq.yaml (Settings > Properties)"


def check_features(crm: str, block: CrmBlock, describe: Describer) -> list[Finding]:
    """Every mapped feature field exists, is visible, and has a type the feature can read."""
    out: list[Finding] = []
    for obj in scored_objects(crm, block):
        if describe(obj) is None:
            out.append(Finding(crm, obj, "", "object", Status.ERROR,
                               f"{obj} is not visible to the integration user: grant it read access to {obj}"))  # fmt: skip
            continue
        for path, features in feature_paths(crm, block, obj).items():
            out.extend(_check_feature_field(crm, block, describe, obj, path, features))
    return out


def _check_feature_field(
    crm: str, block: CrmBlock, describe: Describer, obj: str, path: str, features: list[FeatureSpec]
) -> list[Finding]:
    names = ", ".join(f.name for f in features)
    if crm == "hubspot" and "." in path:
        return [Finding(crm, obj, path, "exists", Status.ERROR,
                        f"feature {names}: HubSpot properties are not paths; name a contact property")]  # fmt: skip
    holder, info, why = resolve_path(describe, obj, path)
    if info is None:
        return [Finding(crm, obj, path, "exists", Status.ERROR,
                        f"feature {names}: {why}; {_missing_fix(crm)}")]  # fmt: skip
    out = [Finding(crm, obj, path, "exists", Status.OK, f"readable ({holder}.{info.name}, {info.type})")]
    for feature in features:
        allowed = feature_types(crm, feature)
        if info.type in allowed:
            continue
        what = f"transform {feature.transform}" if feature.transform else f"a {feature.type} feature"
        out.append(Finding(crm, obj, path, "type", Status.ERROR,
                           f"feature {feature.name}: {what} cannot read a {info.type} field (it reads "
                           f"{', '.join(sorted(allowed))}); change the feature's type or map another field"))  # fmt: skip
    return out


def check_writeback(crm: str, block: CrmBlock, describe: Describer) -> list[Finding]:
    """Every writeback field exists with a compatible type and is writable by the integration user."""
    out: list[Finding] = []
    described: dict[str, ObjectDescription | None] = {}
    for target in writeback_targets(crm, block):
        obj, spec = target.object, target.spec
        if obj not in described:
            described[obj] = describe(obj)
            if described[obj] is None:
                out.append(Finding(crm, obj, "", "object", Status.ERROR,
                                   f"{obj} is not visible to the integration user: grant it access to {obj}"))  # fmt: skip
        description = described[obj]
        if description is None:
            continue
        out.extend(_check_writeback_field(crm, target, lookup(description, spec.field)))
    return out


def _check_writeback_field(crm: str, target: WritebackTarget, info: FieldInfo | None) -> list[Finding]:
    obj, slot, spec = target.object, target.slot, target.spec
    at = f"writeback.{slot}"
    if slot == "task_key" and spec.field != TASK_KEY[crm]:
        return [Finding(crm, obj, spec.field, "task key", Status.ERROR,
                        f"{at}: review tasks are found by {TASK_KEY[crm]}; set task_key back to {TASK_KEY[crm]}")]  # fmt: skip
    if info is None:
        hidden = " (or grant the integration user access to it, if it exists)" if crm == "salesforce" else ""
        return [Finding(crm, obj, spec.field, "exists", Status.ERROR,
                        f"{at}: the field is missing: run `leadq setup`{hidden}")]  # fmt: skip
    if not writeback_type_ok(crm, spec, info):
        return [Finding(crm, obj, spec.field, "type", Status.ERROR,
                        f"{at}: the field is a {info.type}, the config writes {spec.type}; change the field "
                        f"in the CRM or writeback.{slot}.type")]  # fmt: skip
    out: list[Finding] = []
    # Task decisions are set by reviewers and only read by leadq; the task key is set when a task is made.
    writable = info.createable if slot == "task_key" else info.updateable
    if slot == "task_decision":
        out.append(Finding(crm, obj, spec.field, "exists", Status.OK, f"{at}: readable ({info.type})"))
    elif not writable:
        fix = (f"grant edit access to {obj}.{info.name} in {PERMISSION_SET} (field-level security)"
               if crm == "salesforce" else "use a property that is not read-only or calculated")  # fmt: skip
        out.append(Finding(crm, obj, spec.field, "createable" if slot == "task_key" else "updateable", Status.ERROR,
                           f"{at}: the integration user cannot write this field; {fix}"))  # fmt: skip
    else:
        check = "createable" if slot == "task_key" else "updateable"
        out.append(Finding(crm, obj, spec.field, check, Status.OK, f"{at}: writable ({info.type})"))
    out.extend(_shape_warnings(crm, target, info))
    return out


def _shape_warnings(crm: str, target: WritebackTarget, info: FieldInfo) -> list[Finding]:
    obj, spec = target.object, target.spec
    at = f"writeback.{target.slot}"
    out: list[Finding] = []
    missing = [o for o in spec.options if o not in info.picklist_values] if info.picklist_values else []
    if missing:
        out.append(Finding(crm, obj, spec.field, "options", Status.WARN,
                           f"{at}: the field lacks the values {', '.join(missing)}; add them, or writes of "
                           "those values are refused"))  # fmt: skip
    wanted = spec.max_length
    limit = info.length
    if crm == "salesforce" and wanted and limit and info.type in ("string", "textarea") and limit < wanted:
        out.append(Finding(crm, obj, spec.field, "length", Status.WARN,
                           f"{at}: the field holds {limit} characters, the config writes up to {wanted}; "
                           f"set writeback.{target.slot}.length: {limit} (longer text is then cut to fit)"))  # fmt: skip
    if isinstance(spec, HubSpotWritebackField) and info.group not in (None, "leadq"):
        out.append(Finding(crm, obj, spec.field, "group", Status.OK,
                           f"{at}: in property group {info.group} (leadq creates its own in 'leadq')"))  # fmt: skip
    return out


def check_label(crm: str, block: CrmBlock, describe: Describer) -> list[Finding]:
    """The fields the training label comes from exist, with the right types and values."""
    out: list[Finding] = []
    kind = block.label.kind
    for obj, name, types, required in label_fields(crm, block):
        description = describe(obj)
        info = lookup(description, name) if description is not None else None
        if info is None:
            status = Status.ERROR if required else Status.WARN
            out.append(Finding(crm, obj, name, "label", status,
                               f"label {kind} reads {obj}.{name}, which is not visible; grant the integration "
                               f"user read access to it"))  # fmt: skip
            continue
        if info.type not in types:
            out.append(Finding(crm, obj, name, "label", Status.ERROR,
                               f"label {kind}: {obj}.{name} is a {info.type}, expected {' or '.join(sorted(types))}"))  # fmt: skip
            continue
        out.append(Finding(crm, obj, name, "label", Status.OK, f"label {kind}: readable ({info.type})"))
        stages = getattr(block.label, "stages", ())
        unknown = [s for s in stages if info.picklist_values and s not in info.picklist_values]
        if unknown:
            out.append(Finding(crm, obj, name, "label", Status.ERROR,
                               f"label stages {', '.join(unknown)} are not lifecycle stages here (internal "
                               f"values: {', '.join(info.picklist_values)}); fix label.stages"))  # fmt: skip
    return out


def check_schema(
    crm: str, block: CrmBlock, describe: Describer, *, scopes: Collection[str] | None = None
) -> list[Finding]:
    """Features, writeback fields, label fields and permissions of one CRM, against its describes."""
    return [
        *check_features(crm, block, describe),
        *check_writeback(crm, block, describe),
        *check_label(crm, block, describe),
        *check_permissions(crm, block, describe, scopes=scopes),
    ]
