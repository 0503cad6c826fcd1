"""The cycle benchmark's sandbox: an org seeded once into an SQLite file, served from its own process.

Seeding and serving each run in a spawned process, so the benchmark's own process (leadq) measures only
its own peak memory, and client and server do not share one interpreter lock.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path

import requests

from sandbox import LimitConfig, SandboxOptions, SandboxServer

# HubSpot's pacing and Salesforce's daily quota are lifted: the benchmark counts calls, it does not wait
# for the real limits (the report says what they would cost).
UNLIMITED = LimitConfig(
    sf_daily_quota=10**9, hs_ten_second_limit=10**9, hs_search_per_second=10**9, hs_daily_limit=10**9
)


def _seed(db: str, leads: int, seed: int, conn: Connection) -> None:
    from sandbox.seed import seed_org
    from sandbox.store import Store

    store = Store(db)
    started = time.perf_counter()
    counts = seed_org(store, leads=leads, seed=seed)
    store.close()
    conn.send((counts, time.perf_counter() - started))


def seed_file(db: Path, leads: int, seed: int) -> tuple[dict[str, int], float]:
    """Seed an org with `leads` leads (both CRMs) into `db`; returns the counts per object and the seconds."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_seed, args=(str(db), leads, seed, child), daemon=True)
    proc.start()
    try:
        counts, seconds = parent.recv()
    except EOFError:
        raise RuntimeError(f"seeding {leads:,} leads into {db} failed (exit code {proc.exitcode})") from None
    proc.join()
    return counts, seconds


def _serve(db: str, state_dir: str, conn: Connection) -> None:
    server = SandboxServer(SandboxOptions(db=db, state_dir=Path(state_dir), limits=UNLIMITED))
    conn.send((server.url, str(server.ca_path), server.token))
    server.serve_forever()


@dataclass
class ServedOrg:
    """A sandbox process serving a seeded file: its URL, CA bundle and token."""

    url: str
    ca: str
    token: str
    process: BaseProcess

    def stop(self) -> None:
        self.process.terminate()
        self.process.join(10)


def serve(db: Path, state_dir: Path) -> ServedOrg:
    """Serve `db` from a spawned sandbox process; returns once it answers."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(str(db), str(state_dir), child), daemon=True)
    proc.start()
    url, ca, token = parent.recv()
    for _ in range(200):
        try:
            requests.get(f"{url}/__sandbox/health", verify=ca, timeout=1)
            break
        except requests.RequestException:
            time.sleep(0.1)
    return ServedOrg(url, ca, token, proc)
