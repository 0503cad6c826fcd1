"""The mappings leadq ships for each CRM: standard fields as features, and the writeback fields.

The files are plain data in the same shape as a CRM block of leadq.yaml (without `connection`); the config
schema fills every key an admin leaves out from them.
"""

from __future__ import annotations

import copy
from functools import cache
from importlib.resources import files
from typing import Any

from ruamel.yaml import YAML

CRM_FILES = {"salesforce": "salesforce.yaml", "hubspot": "hubspot.yaml"}


def default_mapping_text(crm: str) -> str:
    """The shipped default mapping of `crm` as YAML text, comments included."""
    return files(__name__).joinpath(CRM_FILES[crm]).read_text(encoding="utf-8")


@cache
def _default_mapping_data(crm: str) -> dict[str, Any]:
    data = YAML(typ="safe", pure=True).load(default_mapping_text(crm))
    assert isinstance(data, dict), f"{CRM_FILES[crm]} must be a mapping"
    return data


def default_mapping_data(crm: str) -> dict[str, Any]:
    """The shipped default mapping of `crm` as plain data (a fresh copy the caller may change)."""
    return copy.deepcopy(_default_mapping_data(crm))
