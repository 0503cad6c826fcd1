"""A local Salesforce REST + HubSpot CRM v3 server: the demo's CRM and the tests' CRM.

Public surface: `running_sandbox`, `SandboxServer`, `SandboxOptions`, `FaultConfig`, `LimitConfig`.
"""

from __future__ import annotations

from sandbox.faults import FaultConfig
from sandbox.limits import LimitConfig
from sandbox.server import SandboxOptions, SandboxServer, running_sandbox

__all__ = ["FaultConfig", "LimitConfig", "SandboxOptions", "SandboxServer", "running_sandbox"]
