"""A seeded org served for a benchmark of one phase, with leadq set up on its Salesforce side.

The benchmarks that time or measure one part of the cycle (`send`, `world_memory`) start the same way: a
copy of the seeded org (seeded once, reused from the cache) served from its own process, a leadq config
pointing at it, and `leadq setup`.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from benchmarks.cycle import _seeded
from benchmarks.cycle_org import serve
from benchmarks.cycle_run import TUNING, _config
from connector.protocol import CRMConnector
from mappings import LeadqConfig
from sync.cli_setup import setup_crm
from sync.connectors import build_connector
from sync.state import StateStore


@dataclass
class ServedSalesforce:
    """leadq set up on a served org: its config, a connector and state store (closed at the end), and a
    scratch folder."""

    config: LeadqConfig
    connector: CRMConnector
    store: StateStore
    work: Path


@contextmanager
def served_salesforce(
    leads: int, seed: int, cache: Path | None, console: Console
) -> Iterator[ServedSalesforce]:
    """Serve a copy of the `leads`-lead org (seeded into `cache`, or a temporary folder, on first use) and
    set leadq up on its Salesforce side; everything is stopped and removed when the block ends."""
    with tempfile.TemporaryDirectory(prefix="leadq-bench-") as tmp:
        work = Path(tmp)
        org_db, _, _ = _seeded(cache if cache is not None else work, leads, seed, console)
        db = work / "org.db"
        shutil.copy(org_db, db)
        org = serve(db, work)
        try:
            config = _config(work, org.url, org.ca, org.token)
            _, error = setup_crm(config, "salesforce", dry_run=False)
            if error is not None:
                raise SystemExit(f"leadq setup failed: {error}")
            connector = build_connector(config, "salesforce", **TUNING["salesforce"])
            store = StateStore.open(config.state.url)
            try:
                yield ServedSalesforce(config, connector, store, work)
            finally:
                store.close()
                connector.close()
        finally:
            org.stop()
