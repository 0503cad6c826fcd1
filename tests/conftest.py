"""Shared fixtures: an in-process HTTPS sandbox and the real CRM clients pointed at it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from hubspot import HubSpot
from simple_salesforce.api import Salesforce

from sandbox import SandboxServer, running_sandbox

os.environ.setdefault("OMP_NUM_THREADS", "1")

SHARED = Path(__file__).resolve().parents[2] / "shared"
REFERENCE = SHARED / "reference"
DATA = SHARED / "data"


@pytest.fixture(scope="session")
def sandbox_state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One CA for the whole test session (generating keys is the slow part of start-up)."""
    return tmp_path_factory.mktemp("sandbox-state")


@pytest.fixture()
def sandbox(sandbox_state_dir: Path) -> Iterator[SandboxServer]:
    """A fresh, empty sandbox (in-memory database) on a free port, for one test."""
    with running_sandbox(state_dir=sandbox_state_dir) as server:
        yield server


def salesforce_client(server: SandboxServer, version: str = "59.0") -> Salesforce:
    """simple-salesforce pointed at the sandbox by instance URL and CA bundle only."""
    session = requests.Session()
    session.trust_env = False  # else REQUESTS_CA_BUNDLE would override `verify`
    session.verify = str(server.ca_path)
    return Salesforce(instance_url=server.url, session_id=server.token, session=session, version=version)


def hubspot_client(server: SandboxServer) -> HubSpot:
    """hubspot-api-client pointed at the sandbox by host and CA bundle only."""
    return HubSpot(access_token=server.token, host=server.url, ssl_ca_cert=str(server.ca_path))


@pytest.fixture()
def sf(sandbox: SandboxServer) -> Salesforce:
    return salesforce_client(sandbox)


@pytest.fixture()
def hs(sandbox: SandboxServer) -> HubSpot:
    return hubspot_client(sandbox)
