"""The chaos benchmark's org: seeded once into an SQLite file with leadq set up, then served from a copy per run.

Each run (reference, faults, kills, quota, load) copies the set-up file into its own folder and serves it
from a spawned sandbox process, so every run starts from the same org. Auth is OAuth on both CRMs
(Salesforce client credentials, HubSpot refresh token) so the sandbox's expired-session fault has sessions
to expire: the sandbox's fixed bearer token never expires.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import shutil
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import httpx

from mappings import SANDBOX_TOKEN_ENV, Crm, LeadqConfig, load_config, write_default_config
from sandbox import LimitConfig, SandboxOptions, SandboxServer
from sandbox.state import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

CRMS: tuple[Crm, ...] = ("salesforce", "hubspot")
SECRET_ENV = "LEADQ_CHAOS_CLIENT_SECRET"  # noqa: S105 (variable names, not values)
REFRESH_ENV = "LEADQ_CHAOS_REFRESH_TOKEN"
UNLIMITED = LimitConfig(
    sf_daily_quota=10**9, hs_ten_second_limit=10**9, hs_search_per_second=10**9, hs_daily_limit=10**9
)
_SF_AUTH = (
    "      method: access_token     # client_credentials | jwt_bearer | refresh_token | password | access_token\n"
    f"      access_token: {{env: {SANDBOX_TOKEN_ENV}}}\n"
)
_HS_AUTH = f"      method: private_app      # private_app | oauth_refresh\n      token: {{env: {SANDBOX_TOKEN_ENV}}}\n"


def _seed(db: str, leads: int, seed: int, conn: Connection) -> None:
    from sandbox.seed import seed_org
    from sandbox.store import Store

    store = Store(db)
    counts = seed_org(store, leads=leads, seed=seed)
    store.close()
    conn.send(counts)


def seed_file(db: Path, leads: int, seed: int) -> dict[str, int]:
    """Seed an org of `leads` leads (both CRMs) into `db` in a spawned process; the counts per object."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_seed, args=(str(db), leads, seed, child), daemon=True)
    proc.start()
    try:
        counts: dict[str, int] = parent.recv()
    except EOFError:
        raise RuntimeError(f"seeding {leads:,} leads into {db} failed (exit code {proc.exitcode})") from None
    proc.join()
    return counts


def _serve(db: str, state_dir: str, limits: LimitConfig, conn: Connection) -> None:
    server = SandboxServer(SandboxOptions(db=db, state_dir=Path(state_dir), limits=limits))
    conn.send((server.url, str(server.ca_path), server.token))
    server.serve_forever()


@dataclass
class ServedOrg:
    """A sandbox process serving one copy of the org; `admin` drives its `/__sandbox/` endpoints."""

    db: Path
    url: str
    ca: str
    token: str
    process: BaseProcess

    def admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """Call `/__sandbox/<path>`; the decoded JSON answer."""
        response = httpx.request(
            method, f"{self.url}/__sandbox/{path}", json=body, verify=self.ca, timeout=30,
            headers={"Authorization": f"Bearer {self.token}"},
        )  # fmt: skip
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def faults(self, config: dict[str, Any] | None = None) -> dict[str, Any]:
        """Set the fault config (when given) and return what was injected so far."""
        return self.admin("PUT", "faults", config) if config is not None else self.admin("GET", "faults")

    def limits(self, limits: LimitConfig | None = None) -> dict[str, Any]:
        """Set the limits (resets the Salesforce quota's count) when given; the current figures."""
        if limits is None:
            return self.admin("GET", "limits")
        return self.admin("PUT", "limits", limits.__dict__)

    def request_counters(self) -> dict[str, int]:
        """Requests per `METHOD endpoint` the sandbox served (without the bounded request list)."""
        counters: dict[str, int] = self.admin("GET", "requests?since=1000000000000")["counters"]
        return counters

    def refresh_token(self) -> str:
        """A HubSpot refresh token this sandbox process issued (the install flow's code exchange)."""
        response = httpx.post(
            f"{self.url}/oauth/v1/token", verify=self.ca, timeout=30,
            data={"grant_type": "authorization_code", "code": "chaos", "redirect_uri": "https://localhost/cb",
                  "client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET},
        )  # fmt: skip
        response.raise_for_status()
        return str(response.json()["refresh_token"])

    def stop(self) -> None:
        self.process.terminate()
        self.process.join(15)


def serve(db: Path, state_dir: Path, limits: LimitConfig = UNLIMITED) -> ServedOrg:
    """Serve `db` from a spawned sandbox process; returns once it answers."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(str(db), str(state_dir), limits, child), daemon=True)
    proc.start()
    url, ca, token = parent.recv()
    for _ in range(300):
        try:
            httpx.get(f"{url}/__sandbox/health", verify=ca, timeout=1).raise_for_status()
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    return ServedOrg(db, url, ca, token, proc)


def copy_db(source: Path, target: Path) -> Path:
    """Copy an SQLite file with its WAL files (a served file's last writes may still sit in its WAL)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        src = Path(f"{source}{suffix}")
        dst = Path(f"{target}{suffix}")
        if src.exists():
            shutil.copyfile(src, dst)
        elif dst.exists():
            dst.unlink()
    return target


def write_config(
    folder: Path,
    org: ServedOrg,
    *,
    crms: tuple[Crm, ...] = CRMS,
    oauth: bool = True,
    quota_share: float | None = None,
    bulk_threshold: int | None = None,
    interval_minutes: int | None = None,
) -> Path:
    """A `leadq init --sandbox` config for `org` in `folder` (state DB next to it), with chaos tweaks.

    `oauth` swaps the fixed token for renewable sessions (client credentials, refresh token) and sets
    the environment variables the config reads; the other arguments replace the template's values.
    """
    os.environ[SANDBOX_TOKEN_ENV] = org.token
    path = write_default_config(
        folder / "leadq.yaml", crms=crms, sandbox_url=org.url, ca_bundle=org.ca, overwrite=True
    )
    text = path.read_text(encoding="utf-8")
    if oauth:
        os.environ[SECRET_ENV] = DEFAULT_CLIENT_SECRET
        if "salesforce" in crms:
            text = _replace(text, _SF_AUTH, "      method: client_credentials\n"
                            f"      client_id: {DEFAULT_CLIENT_ID}\n      client_secret: {{env: {SECRET_ENV}}}\n")  # fmt: skip
        if "hubspot" in crms:
            os.environ[REFRESH_ENV] = org.refresh_token()
            text = _replace(text, _HS_AUTH, f"      method: oauth_refresh\n      client_id: {DEFAULT_CLIENT_ID}\n"
                            f"      client_secret: {{env: {SECRET_ENV}}}\n      refresh_token: {{env: {REFRESH_ENV}}}\n")  # fmt: skip
    if quota_share is not None:
        text = _replace(text, "daily_quota_share: 0.25", f"daily_quota_share: {quota_share}")
    if bulk_threshold is not None:
        text = _replace(text, "bulk_threshold: 2000", f"bulk_threshold: {bulk_threshold}")
    if interval_minutes is not None:
        text = _replace(text, "interval_minutes: 15", f"interval_minutes: {interval_minutes}")
        text = _replace(text, "jitter_seconds: 30", "jitter_seconds: 0")
    path.write_text(text, encoding="utf-8")
    return path


def _replace(text: str, old: str, new: str) -> str:
    if old not in text:
        raise RuntimeError(
            f"the config template changed: {old.strip()!r} is not in it; update benchmarks/chaos_org"
        )
    return text.replace(old, new)


def load(path: Path) -> LeadqConfig:
    """The config at `path` with its secrets resolved from the environment `write_config` set."""
    return load_config(path)


def prepare_base(folder: Path, leads: int, seed: int) -> tuple[Path, dict[str, int], float]:
    """Seed the org and run `leadq setup` on it once; the set-up file, counts and seconds it took."""
    from sync.cli_setup import setup_crm

    started = time.perf_counter()
    db = folder / "org.db"
    counts = seed_file(db, leads, seed)
    org = serve(db, folder / "sandbox")
    try:
        config = load(write_config(folder / "setup", org, oauth=False))
        for crm in CRMS:
            _, error = setup_crm(config, crm, dry_run=False)
            if error is not None:
                raise RuntimeError(f"leadq setup failed on {crm}: {error}")
    finally:
        org.stop()
    return db, counts, time.perf_counter() - started
