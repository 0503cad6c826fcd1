"""The least privilege leadq needs in each CRM, derived from the config, and the gaps a describe shows.

Salesforce: `salesforce_needs(block)` lists the objects leadq reads, edits and creates and the fields it
reads and edits; `permission_set_xml(block)` renders them as the `leadq_Integration` permission set (SFDX
source, shipped by `sync.sfdx`). How Salesforce expresses each need:

- Lead, Contact, Account, Opportunity: object permissions (read; edit where leadq writes back).
- Task and Event have no object permissions: reading them follows the records they hang on, creating and
  editing Tasks is the `EditTask` user permission. CampaignMember access follows Campaign read.
- Field-level security for every field leadq reads (edit for the writeback fields). Fields Salesforce
  does not let a permission set control (required, system and formula-like fields such as Lead.LastName,
  Lead.IsConverted, SystemModstamp) are readable with the object and are left out: a deploy refuses them.
  Custom Task/Event fields are `Activity.` fields in metadata.
- `ApiEnabled`: the integration user works only through the API.

HubSpot: `hubspot_scopes(block)` are the private app scopes (docs/permissions.md explains each); the
connector reads the scopes a token was granted (`HubSpotConnector.granted_scopes()`).

`salesforce_gaps` and `hubspot_gaps` compare the needs with what the CRM shows the integration user
(describe's createable/updateable flags, or a token's granted scopes): missing rights stop leadq, excess
ones are more than it needs. `sync.check_permissions.check_permissions` turns them into `leadq check` findings.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from connector.protocol import FieldInfo, ObjectDescription
from mappings import RECORD_SLOTS, HubSpotMapping, SalesforceMapping
from sync.fields import pull_fields

PERMISSION_SET_NAME = "leadq_Integration"
PERMISSION_SET_PATH = f"force-app/main/default/permissionsets/{PERMISSION_SET_NAME}.permissionset-meta.xml"
NAMESPACE = "http://soap.sforce.com/2006/04/metadata"
ACTIVITY = frozenset({"Task", "Event"})
TASK = "Task"
# Objects whose access Salesforce derives from others (see the module docstring).
DERIVED = {"Task": None, "Event": None, "CampaignMember": "Campaign"}
USER_PERMISSIONS = {"api": "ApiEnabled", "tasks": "EditTask"}
# Fields a permission set cannot grant: always readable with the object (required, system, derived).
SYSTEM_FIELDS = frozenset({"Id", "IsDeleted", "CreatedDate", "CreatedById", "LastModifiedDate", "LastModifiedById",
                           "SystemModstamp", "OwnerId", "Name"})  # fmt: skip
NOT_PERMISSIONABLE: dict[str, frozenset[str]] = {
    "Lead": frozenset({"LastName", "Company", "Status", "IsConverted", "ConvertedDate", "ConvertedAccountId",
                       "ConvertedContactId", "ConvertedOpportunityId"}),
    "Contact": frozenset({"LastName"}),
    "Account": frozenset(),
    "Opportunity": frozenset({"StageName", "CloseDate", "IsWon", "IsClosed"}),
}  # fmt: skip
# Relationship name -> the object it points to, for feature paths like `Account.Industry`.
HOPS = {"Account": "Account", "Parent": "Account", "ConvertedAccount": "Account", "ConvertedContact": "Contact",
        "ConvertedOpportunity": "Opportunity", "Opportunity": "Opportunity", "Contact": "Contact",
        "Lead": "Lead", "Campaign": "Campaign"}  # fmt: skip
LABEL_READS: dict[str, tuple[tuple[str, str], ...]] = {
    "converted": (("Lead", "IsConverted"), ("Lead", "ConvertedDate")),
    "converted_opportunity_won": (("Lead", "IsConverted"), ("Lead", "ConvertedOpportunityId"),
                                  ("Opportunity", "IsWon")),
}  # fmt: skip


@dataclass
class SalesforceNeeds:
    """What leadq does with each object and field, before Salesforce's way of granting it."""

    read: set[str] = field(default_factory=set)
    edit: set[str] = field(default_factory=set)
    create: set[str] = field(default_factory=set)
    read_fields: dict[str, set[str]] = field(default_factory=dict)
    edit_fields: dict[str, set[str]] = field(default_factory=dict)
    unresolved: list[str] = field(default_factory=list)  # paths through custom relationships

    def reads(self, obj: str, name: str) -> None:
        self.read.add(obj)
        self.read_fields.setdefault(obj, set()).add(name)

    def edits(self, obj: str, name: str) -> None:
        self.reads(obj, name)
        self.edit_fields.setdefault(obj, set()).add(name)


def _hop_field(hop: str) -> str:
    return f"{hop[:-3]}__c" if hop.endswith("__r") else f"{hop}Id"


def _read_path(needs: SalesforceNeeds, obj: str, path: str) -> None:
    *hops, leaf = path.split(".")
    current = obj
    for hop in hops:
        needs.reads(current, _hop_field(hop))
        target = HOPS.get(hop)
        if target is None:
            needs.unresolved.append(f"{obj}.{path}")
            return
        current = target
    needs.reads(current, leaf)


def salesforce_needs(block: SalesforceMapping) -> SalesforceNeeds:
    """The objects and fields leadq reads, edits and creates with this config."""
    needs = SalesforceNeeds()
    for read in block.objects:
        for path in pull_fields("salesforce", read, block):
            _read_path(needs, read, path)
    for holder, name in LABEL_READS.get(block.label.kind, ()):
        needs.reads(holder, name)
    wb = block.writeback
    for obj in wb.objects:
        needs.edit.add(obj)
        for slot in RECORD_SLOTS:
            needs.edits(obj, wb.field_for(slot).field)
    if wb.create_review_tasks:
        # Review tasks and notes are Tasks leadq creates (with their key) and reassigns when overdue.
        needs.create.add(TASK)
        needs.edit.add(TASK)
        needs.edits(TASK, wb.field_for("task_key").field)
        needs.reads(TASK, wb.field_for("task_decision").field)
    return needs


def permissionable(obj: str, name: str) -> bool:
    """Whether a permission set can grant field-level access to `obj.name` (see the module docstring)."""
    if name in SYSTEM_FIELDS or name in NOT_PERMISSIONABLE.get(obj, frozenset()):
        return False
    # Standard activity and campaign member fields follow the object; their custom fields have FLS.
    return not (obj in DERIVED and not name.endswith("__c"))


def metadata_field(obj: str, name: str) -> str:
    """The field's name in permission set metadata: custom Task/Event fields are `Activity.` fields."""
    return f"{'Activity' if obj in ACTIVITY else obj}.{name}"


@dataclass(frozen=True)
class ObjectGrant:
    """One `objectPermissions` entry."""

    object: str
    read: bool = True
    create: bool = False
    edit: bool = False


def object_grants(needs: SalesforceNeeds) -> list[ObjectGrant]:
    """The object permissions of the needs; activities and campaign members map to what grants them."""
    grants: dict[str, ObjectGrant] = {}
    for obj in sorted(needs.read | needs.edit | needs.create):
        target = DERIVED.get(obj, obj)
        if target is None:
            continue
        old = grants.get(target, ObjectGrant(target))
        grants[target] = ObjectGrant(
            target, True, old.create or obj in needs.create, old.edit or obj in needs.edit
        )
    return [grants[k] for k in sorted(grants)]


def field_grants(needs: SalesforceNeeds) -> dict[str, bool]:
    """Metadata field name -> editable, for every field a permission set can grant."""
    out: dict[str, bool] = {}
    for obj, names in needs.read_fields.items():
        for name in names:
            if permissionable(obj, name):
                key = metadata_field(obj, name)
                out[key] = out.get(key, False) or name in needs.edit_fields.get(obj, set())
    return dict(sorted(out.items()))


def user_permissions(needs: SalesforceNeeds) -> list[str]:
    """`ApiEnabled`, and `EditTask` when leadq creates or edits Tasks."""
    names = [USER_PERMISSIONS["api"]]
    if TASK in needs.create or TASK in needs.edit:
        names.append(USER_PERMISSIONS["tasks"])
    return sorted(names)


def _flag(value: bool) -> str:
    return "true" if value else "false"


def permission_set_xml(block: SalesforceMapping) -> str:
    """The `leadq_Integration` permission set for `block`, in the order `sf project retrieve` writes."""
    needs = salesforce_needs(block)
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<PermissionSet xmlns="{NAMESPACE}">',
        "    <description>What the leadq integration user needs: read the mapped objects and fields, write "
        "the leadq fields back, create review tasks. Generated from leadq.yaml by leadq setup.</description>",
    ]
    for name, editable in field_grants(needs).items():
        lines += ["    <fieldPermissions>", f"        <editable>{_flag(editable)}</editable>",
                  f"        <field>{escape(name)}</field>", "        <readable>true</readable>",
                  "    </fieldPermissions>"]  # fmt: skip
    lines += [
        "    <hasActivationRequired>false</hasActivationRequired>",
        "    <label>leadq Integration</label>",
    ]
    for grant in object_grants(needs):
        lines += ["    <objectPermissions>", f"        <allowCreate>{_flag(grant.create)}</allowCreate>",
                  "        <allowDelete>false</allowDelete>", f"        <allowEdit>{_flag(grant.edit)}</allowEdit>",
                  "        <allowRead>true</allowRead>", "        <modifyAllRecords>false</modifyAllRecords>",
                  f"        <object>{escape(grant.object)}</object>", "        <viewAllRecords>false</viewAllRecords>",
                  "    </objectPermissions>"]  # fmt: skip
    for name in user_permissions(needs):
        lines += ["    <userPermissions>", "        <enabled>true</enabled>", f"        <name>{name}</name>",
                  "    </userPermissions>"]  # fmt: skip
    return "\n".join([*lines, "</PermissionSet>"]) + "\n"


# ------------------------------------------------------------------------------------------- HubSpot
SETUP_SCOPES = frozenset({"crm.schemas.contacts.write"})
"""Needed only by `leadq setup` (creating leadq's properties); remove them afterwards if you like."""


def hubspot_scopes(block: HubSpotMapping, *, setup: bool = True) -> list[str]:
    """The private app scopes leadq needs with this config (`setup`: include `leadq setup`'s)."""
    scopes = {
        "crm.objects.contacts.read",  # contacts, and the tasks/notes/calls/meetings/emails on them
        "crm.objects.contacts.write",  # writeback on contacts; creating review tasks and notes
        "crm.schemas.contacts.read",  # contact properties, for `leadq check` and the pull
    }
    if "companies" in block.objects:
        scopes.add("crm.objects.companies.read")
    if "deals" in block.objects or block.label.kind == "won_deal":
        scopes.add("crm.objects.deals.read")
    if block.label.kind == "won_deal":
        scopes.add("crm.schemas.deals.read")  # `leadq check` proves the deal stage property
    if setup:
        scopes |= SETUP_SCOPES
    return sorted(scopes)


# ------------------------------------------------------------------------------------------- gaps
@dataclass(frozen=True)
class Gap:
    """A right the integration user lacks (`missing`) or has without leadq needing it (`excess`)."""

    kind: str  # missing | excess | setup
    object: str
    field: str
    right: str  # read | create | edit | delete | field edit | a scope
    message: str


def salesforce_gaps(needs: SalesforceNeeds, described: dict[str, ObjectDescription | None]) -> list[Gap]:
    """Missing and excess object rights, and edit access on fields leadq only reads, per describe."""
    out: list[Gap] = []
    for obj in sorted(described):
        description = described[obj]
        if description is None:
            out.append(Gap("missing", obj, "", "read", f"{obj} is not visible: grant read access to {obj}"))
            continue
        for right, needed, has in (
            ("create", obj in needs.create, description.createable),
            ("edit", obj in needs.edit, description.updateable),
            ("delete", False, bool(getattr(description, "deletable", False))),
        ):
            if needed and not has:
                out.append(Gap("missing", obj, "", right, f"leadq needs to {right} {obj} records: grant it"))
            elif has and not needed:
                out.append(Gap("excess", obj, "", right, f"the integration user can {right} {obj} records, "
                               "which leadq never does: remove that right"))  # fmt: skip
        out.extend(_field_gaps(needs, obj, description))
    return out


def _field_gaps(needs: SalesforceNeeds, obj: str, description: ObjectDescription) -> Iterable[Gap]:
    edited = needs.edit_fields.get(obj, set())
    extra = sorted(
        info.name
        for name in needs.read_fields.get(obj, set()) - edited
        if (info := _field(description, name)) is not None and info.updateable and permissionable(obj, name)
    )
    if extra:
        shown = ", ".join(extra[:6]) + (f" and {len(extra) - 6} more" if len(extra) > 6 else "")
        fields = "field" if len(extra) == 1 else "fields"
        yield Gap("excess", obj, "", "field edit", f"the integration user can edit {len(extra)} {obj} {fields} "
                  f"leadq only reads ({shown}): make them read-only in field-level security")  # fmt: skip


def _field(description: ObjectDescription, name: str) -> FieldInfo | None:
    found = description.fields.get(name)
    if found is None:
        low = name.lower()
        found = next((f for f in description.fields.values() if f.name.lower() == low), None)
    return found


SCOPE_USES = {
    "crm.objects.contacts.read": "search and read contacts and the activity on them",
    "crm.objects.contacts.write": "write scores back on contacts and create review tasks and notes",
    "crm.schemas.contacts.read": "read contact property definitions",
    "crm.objects.companies.read": "read companies for the account graph",
    "crm.objects.deals.read": "read deals for outcomes and graph context",
    "crm.schemas.deals.read": "read the deal stage property of the won_deal label",
}
SCOPE_FIX = (
    "in HubSpot open the private app (Settings > Integrations > Private Apps, or Development > Legacy apps), "
    "tab Scopes"
)
OAUTH_SCOPE = "oauth"  # every OAuth access token carries it


def hubspot_gaps(block: HubSpotMapping, granted: Collection[str]) -> list[Gap]:
    """Scopes leadq needs that the token lacks, and scopes it holds that leadq never uses."""
    needed = set(hubspot_scopes(block, setup=False))
    have = set(granted)
    out = [
        Gap("missing", "", "", s, f"the token lacks the scope {s}, which leadq needs to {SCOPE_USES.get(s, 'run')}: "
            f"{SCOPE_FIX}, add {s} and use the token it then shows (an OAuth app: add the scope and reinstall)")
        for s in sorted(needed - have)
    ]  # fmt: skip
    for scope in sorted(have - needed):
        if scope in SETUP_SCOPES:
            out.append(
                Gap("setup", "", "", scope, f"{scope} is needed only by `leadq setup`; remove it after setup")
            )
        elif scope != OAUTH_SCOPE:
            out.append(Gap("excess", "", "", scope, f"the token has the scope {scope}, which leadq never uses "
                           f"(least privilege): {SCOPE_FIX}, and remove {scope}"))  # fmt: skip
    return out
