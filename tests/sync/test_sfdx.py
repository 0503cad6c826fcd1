"""The SFDX source in salesforce/ is what the generator makes of the shipped mapping, and valid metadata."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from connector.salesforce.fields import metadata
from mappings import default_mapping
from sandbox.salesforce.custom_fields import field_from_metadata
from sync.check_types import writeback_targets
from sync.setup import field_spec
from sync.sfdx import NAMESPACE, sfdx_files

ROOT = Path(__file__).resolve().parents[2] / "salesforce"
NS = f"{{{NAMESPACE}}}"
REGENERATE = (
    ".venv/bin/python -c 'from pathlib import Path; from mappings import default_mapping; "
    'from sync.sfdx import sfdx_files, write_sfdx; write_sfdx(sfdx_files(default_mapping("salesforce")), '
    'Path("salesforce"))\''
)


def _committed() -> dict[str, str]:
    return {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8") for p in ROOT.rglob("*") if p.is_file()}


def test_committed_files_equal_the_generator_output() -> None:
    expected = sfdx_files(default_mapping("salesforce"))
    assert _committed() == expected, f"regenerate with: {REGENERATE}"


def _as_dict(element: ElementTree.Element) -> Any:
    # Back to the Tooling API `Metadata` shape: repeated tags become lists, leaves typed like the original.
    if len(element) == 0:
        text = element.text or ""
        return {"true": True, "false": False}.get(text, int(text) if text.isdigit() else text)
    out: dict[str, Any] = {}
    for child in element:
        key = child.tag.removeprefix(NS)
        value = _as_dict(child)
        if key == "value":
            out.setdefault(key, []).append(value)
        else:
            out[key] = value
    return out


@pytest.mark.parametrize(
    "path", sorted(p for p in sfdx_files(default_mapping("salesforce")) if "/fields/" in p)
)
def test_each_field_file_is_valid_metadata_of_its_spec(path: str) -> None:
    text = sfdx_files(default_mapping("salesforce"))[path]
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    root = ElementTree.fromstring(text)  # noqa: S314 (our own generated text)
    assert root.tag == f"{NS}CustomField"
    content = _as_dict(root)
    name = content.pop("fullName")
    assert path.endswith(f"/fields/{name}.field-meta.xml")
    obj = path.split("/")[-3]
    targets = [
        t
        for t in writeback_targets("salesforce", default_mapping("salesforce"))
        if t.spec.field == name and {"Activity": "Task"}.get(obj, obj) == t.object
    ]
    assert len(targets) == 1
    assert content == metadata(field_spec(targets[0])), "the deploy and `leadq setup` make the same field"
    field_from_metadata(name, content)  # what a real org refuses, the sandbox refuses too


def test_task_fields_live_on_activity_and_project_file_points_at_force_app() -> None:
    files = sfdx_files(default_mapping("salesforce"))
    objects = {p.split("/")[-3] for p in files if "/fields/" in p}
    assert objects == {"Lead", "Contact", "Activity"}
    project = json.loads(files["sfdx-project.json"])
    assert project["packageDirectories"] == [{"path": "force-app", "default": True}]
    assert project["sourceApiVersion"] == "59.0"
