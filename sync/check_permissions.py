"""`leadq check`'s permission findings: the rights and HubSpot scopes the integration user has vs needs.

`sync.permissions` derives what leadq needs from the config and compares it with what the CRM shows
(`Gap`s); this module turns the gaps into findings that say where to fix them. Salesforce answers per
object and field in describe; HubSpot with the token's granted scopes.
"""

from __future__ import annotations

from collections.abc import Collection

from mappings import SalesforceMapping
from sync.check_types import (
    PERMISSION_SET,
    CrmBlock,
    Describer,
    Finding,
    Status,
    scored_objects,
    writeback_targets,
)
from sync.permissions import Gap, hubspot_gaps, salesforce_gaps, salesforce_needs

_GAP_STATUS = {"missing": Status.ERROR, "excess": Status.WARN, "setup": Status.OK}
PERMISSIONS_DOC = "docs/permissions.md"


def check_permissions(
    crm: str, block: CrmBlock, describe: Describer, *, scopes: Collection[str] | None = None
) -> list[Finding]:
    """Rights the integration user lacks (errors) or holds beyond what leadq needs (warnings).

    Salesforce: describe's createable/updateable (and deletable, when the describe carries it) on every
    object leadq touches, and edit access on fields it only reads. HubSpot: the token's granted `scopes`
    (`HubSpotConnector.granted_scopes()`): a missing scope is an error naming where to add it, one leadq
    never uses a warning, the setup-only scope a note. Without them (HubSpot did not say) one finding
    says where to compare by hand.
    """
    if isinstance(block, SalesforceMapping):
        needs = salesforce_needs(block)
        described = {obj: describe(obj) for obj in sorted(needs.read | needs.edit | needs.create)}
        # An invisible scored or writeback object is already an error of the feature and writeback checks.
        reported = {t.object for t in writeback_targets(crm, block)} | set(scored_objects(crm, block))
        gaps = [g for g in salesforce_gaps(needs, described)
                if not (g.kind == "missing" and g.right == "read" and g.object in reported)]  # fmt: skip
        where = f"the {PERMISSION_SET} (leadq_Integration in salesforce/force-app; {PERMISSIONS_DOC})"
    elif scopes is None:
        return [Finding(crm, "", "", "permissions", Status.OK,
                        "scopes not checked: HubSpot did not say which scopes the token has; compare the "
                        f"app's scopes (its Scopes tab) with {PERMISSIONS_DOC}")]  # fmt: skip
    else:
        gaps = hubspot_gaps(block, scopes)
        where = f"the token's scopes ({PERMISSIONS_DOC})"
    out = [_gap_finding(crm, gap) for gap in gaps]
    if not any(g.kind in ("missing", "excess") for g in gaps):
        out.append(Finding(crm, "", "", "permissions", Status.OK, f"exactly what leadq needs, per {where}"))
    return out


def _gap_finding(crm: str, gap: Gap) -> Finding:
    return Finding(crm, gap.object, gap.field, f"permission {gap.right}", _GAP_STATUS[gap.kind], gap.message)
