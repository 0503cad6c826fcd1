"""Fixtures shared by the sandbox tests."""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import httpx
import pytest

from sandbox import SandboxServer


@pytest.fixture()
def api(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    """A plain HTTPS client on the sandbox, trusting its CA, with the sandbox token as bearer."""
    with httpx.Client(
        base_url=sandbox.url,
        verify=ssl.create_default_context(cafile=str(sandbox.ca_path)),
        headers={"Authorization": f"Bearer {sandbox.token}"},
    ) as client:
        yield client
