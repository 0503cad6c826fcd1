"""Helpers for the mappings tests: configs written to temporary files, default mappings."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from mappings import HubSpotMapping, SalesforceMapping, default_mapping

MINIMAL_SALESFORCE = """\
salesforce:
  connection:
    instance_url: https://acme.my.salesforce.com
    auth:
      method: access_token
      access_token: {env: SF_TOKEN}
"""


@pytest.fixture()
def write_config(tmp_path: Path) -> Callable[[str], Path]:
    """Write dedented YAML to leadq.yaml in a temporary folder and return its path."""

    def write(text: str) -> Path:
        path = tmp_path / "leadq.yaml"
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


@pytest.fixture()
def sf_mapping() -> SalesforceMapping:
    mapping = default_mapping("salesforce")
    assert isinstance(mapping, SalesforceMapping)
    return mapping


@pytest.fixture()
def hs_mapping() -> HubSpotMapping:
    mapping = default_mapping("hubspot")
    assert isinstance(mapping, HubSpotMapping)
    return mapping
