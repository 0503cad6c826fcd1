"""SFDX source for leadq's Salesforce custom fields, for admins who deploy with the Salesforce CLI.

The files are rendered from the same `FieldSpec`s `leadq setup` sends, through the same Tooling API
`Metadata` (`connector.salesforce.fields.metadata`), so a deploy and a setup make identical fields.
Custom fields of Task (and Event) are defined on Activity in Salesforce metadata, so their source lives
under `objects/Activity/fields/`. The `leadq_Integration` permission set (`sync.permissions`) grants the
integration user exactly the object and field access the same config needs; assign it to that user.

    sf project deploy start --source-dir salesforce/force-app

The repository keeps the files for the shipped default mapping under `salesforce/`; a test asserts they
equal `sfdx_files(default_mapping("salesforce"))`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from connector.salesforce.fields import api_name, metadata
from mappings import SalesforceMapping
from mappings.config.connections import DEFAULT_API_VERSION
from sync.check_types import CrmBlock, writeback_targets
from sync.permissions import PERMISSION_SET_PATH, permission_set_xml
from sync.setup import field_spec

NAMESPACE = "http://soap.sforce.com/2006/04/metadata"
FIELDS_DIR = "force-app/main/default/objects"
METADATA_OBJECT = {"Task": "Activity", "Event": "Activity"}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return escape(str(value))


def _elements(name: str, value: Any, depth: int) -> list[str]:
    pad = "    " * depth
    if isinstance(value, list):
        return [line for item in value for line in _elements(name, item, depth)]
    if isinstance(value, dict):
        inner = [line for key, child in _ordered(value) for line in _elements(key, child, depth + 1)]
        return [f"{pad}<{name}>", *inner, f"{pad}</{name}>"]
    return [f"{pad}<{name}>{_text(value)}</{name}>"]


def _ordered(mapping: dict[str, Any]) -> list[tuple[str, Any]]:
    # The order `sf project retrieve` writes: fullName first, then alphabetical.
    return sorted(mapping.items(), key=lambda item: (item[0] != "fullName", item[0]))


def field_xml(full_name: str, meta: dict[str, Any]) -> str:
    """One `.field-meta.xml` document for a field's Tooling `Metadata`."""
    body = [
        line for key, value in _ordered({"fullName": full_name, **meta}) for line in _elements(key, value, 1)
    ]
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<CustomField xmlns="{NAMESPACE}">',
        *body,
        "</CustomField>",
    ]
    return "\n".join(lines) + "\n"


def project_json(api_version: str = DEFAULT_API_VERSION) -> str:
    """`sfdx-project.json`: the SFDX project around `force-app`."""
    project = {
        "packageDirectories": [{"path": "force-app", "default": True}],
        "name": "leadq",
        "namespace": "",
        "sourceApiVersion": api_version,
    }
    return json.dumps(project, indent=2) + "\n"


def sfdx_files(block: CrmBlock, api_version: str = DEFAULT_API_VERSION) -> dict[str, str]:
    """Relative path -> file text: every Salesforce writeback field of `block`, the permission set of the
    integration user, and the project file."""
    files = {"sfdx-project.json": project_json(api_version)}
    if isinstance(block, SalesforceMapping):
        files[PERMISSION_SET_PATH] = permission_set_xml(block)
    for target in writeback_targets("salesforce", block):
        spec = field_spec(target)
        name = api_name(spec)
        obj = METADATA_OBJECT.get(target.object, target.object)
        files[f"{FIELDS_DIR}/{obj}/fields/{name}.field-meta.xml"] = field_xml(name, metadata(spec))
    return dict(sorted(files.items()))


def write_sfdx(files: dict[str, str], root: Path) -> tuple[int, int]:
    """Write the files under `root`; (files written, of which changed). Unchanged files are not touched."""
    changed = 0
    for relative, text in files.items():
        path = root / relative
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        changed += 1
    return len(files), changed
