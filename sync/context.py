"""What a cycle works with: the config, the state store, one connector per CRM, the state folder, a clock.

The daemon builds one `CycleContext` at start-up and keeps it across cycles (the in-memory `worlds`
hold the account graph between cycles; a fresh process rebuilds them from the snapshots in the store).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from connector.protocol import CRMConnector
from mappings import Crm, CrmMapping, LeadqConfig
from sync.state import StateStore

if TYPE_CHECKING:
    from sync.world import World


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class CycleContext:
    """Everything one cycle needs; built once by the daemon or `leadq sync --once`."""

    config: LeadqConfig
    store: StateStore
    connectors: Mapping[Crm, CRMConnector]
    state_dir: Path  # models/, reports/ live here
    clock: Callable[[], datetime] = utc_now
    worlds: dict[Crm, World] = field(default_factory=dict)
    stop_requested: Callable[[], bool] = lambda: False  # SIGTERM: finish the current batch, then stop
    extra: dict[str, Any] = field(default_factory=dict)

    def mapping(self, crm: Crm) -> CrmMapping:
        """The config block of one CRM (raises KeyError when the CRM is not configured)."""
        block = self.config.salesforce if crm == "salesforce" else self.config.hubspot
        if block is None:
            raise KeyError(f"{crm} is not configured in leadq.yaml")
        return block

    @property
    def crms(self) -> list[Crm]:
        """The configured CRMs that have a connector, in a stable order."""
        return [crm for crm in ("salesforce", "hubspot") if crm in self.connectors]

    @property
    def models_dir(self) -> Path:
        return self.state_dir / "models"

    @property
    def reports_dir(self) -> Path:
        return self.state_dir / "reports"


STATE_FOLDER = ".leadq"


def state_dir_for(config_path: Path) -> Path:
    """Where models and reports live: `.leadq/` next to the config file (mount it in Docker)."""
    return config_path.resolve().parent / STATE_FOLDER
