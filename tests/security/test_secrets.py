"""Full cycles on both CRMs with distinctive secrets; not one of them may reach a log line, an error message,
a run report, the state database, the audit export, a `leadq check` report or a recorded cassette.

Every log record of every logger (leadq's, the CRM clients', urllib3's...) is captured at DEBUG as it is
emitted, before any redaction, so the claim is that secrets never reach `logging` at all. The state folder
is read as raw bytes (the SQLite file and its journals), so nothing stored escapes the scan either.
"""

from __future__ import annotations

import json
import logging
import ssl
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from sandbox import SandboxOptions, SandboxServer
from sandbox.server import running_sandbox
from sync.cli import app
from sync.logs import configure_logging
from tests.security.scan import Capture, Places, occurrences
from tests.sync.crm_access import TITLE, Org
from tests.sync.cycle_fixtures import sandbox_config

CASSETTES = Path(__file__).resolve().parents[1] / "connector" / "cassettes"
SF_TOKEN_ENV = "LEADQ_TEST_SF_ACCESS_TOKEN"
HS_TOKEN_ENV = "LEADQ_TEST_HS_PRIVATE_APP"
SF_SECRET_ENV = "LEADQ_TEST_SF_CLIENT_SECRET"
HS_SECRET_ENV = "LEADQ_TEST_HS_CLIENT_SECRET"
HS_REFRESH_ENV = "LEADQ_TEST_HS_REFRESH"
SANDBOX_TOKEN_LINE = "token: {env: LEADQ_SANDBOX_TOKEN}"


def distinctive(kind: str) -> str:
    return f"{kind}-SECRET-{uuid.uuid4().hex}"


@dataclass
class Leak:
    """The places a run touched, and the CLI results to check."""

    places: Places
    results: dict[str, Result]


@pytest.fixture()
def logs() -> Iterator[Capture]:
    """Every log record at DEBUG, raw; leadq's own JSON handler is installed too, as the daemon does."""
    root = logging.getLogger()
    level = root.level
    capture = Capture()
    root.addHandler(capture)
    # leadq's JSON handler too, told no secrets: only its credential patterns could hide a leak.
    configure_logging("DEBUG", json=True, stream=capture.formatted)
    try:
        yield capture
    finally:
        root.removeHandler(capture)
        for handler in [h for h in root.handlers if h.get_name() == "leadq"]:
            root.removeHandler(handler)
        root.setLevel(level)


def invoke(results: dict[str, Result], name: str, *args: str) -> Result:
    """`leadq ARGS...` in-process; every result is kept for the scan."""
    result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    results[name] = result
    return result


def admin(server: SandboxServer) -> httpx.Client:
    """The sandbox's admin API (it takes the sandbox's own token)."""
    return httpx.Client(
        base_url=server.url,
        verify=ssl.create_default_context(cafile=str(server.ca_path)),
        headers={"Authorization": f"Bearer {server.token}"},
    )


def faults(server: SandboxServer, **settings: Any) -> dict[str, Any]:
    """Configure fault injection through the sandbox's admin API; returns its snapshot."""
    with admin(server) as client:
        response = client.put("/__sandbox/faults", json=settings)
        response.raise_for_status()
        snapshot: dict[str, Any] = response.json()
        return snapshot


def injected(server: SandboxServer) -> dict[str, int]:
    with admin(server) as client:
        counts: dict[str, int] = client.get("/__sandbox/faults").json()["injected"]
        return counts


def touch(server: SandboxServer, n: int, title: str) -> None:
    """A person edits `n` people in each CRM, so the next cycle has something to score and write."""
    for crm in ("salesforce", "hubspot"):
        org = Org(server, crm)
        for person in sorted(org.scores())[:n]:
            org.update(person, {TITLE[crm]: title})


def gather(tmp: Path, logs: Capture, results: dict[str, Result], extra: Callable[[Places], None]) -> Places:
    places = Places()
    places.lines("log", logs.lines)
    places.lines("json-log", logs.formatted.getvalue().splitlines())
    for name, result in results.items():
        places.text(f"cli {name} stdout", result.stdout)
        places.text(f"cli {name} stderr", result.stderr)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            places.text(f"cli {name} exception", repr(result.exception))
    places.files(tmp, "state folder")
    places.files(CASSETTES, "cassettes")
    extra(places)
    return places


def report(title: str, places: Places, secrets: list[str], found: dict[str, int]) -> None:
    """The figure the README quotes: places and bytes scanned, secrets found."""
    # The scan itself must see a leak: a planted copy of each secret, and the random part of one alone.
    control = Places()
    control.lines("control", [f"Authorization: Bearer {s}" for s in secrets])
    control.text("control tail", "id=" + secrets[0].split("-SECRET-")[1])
    assert len(occurrences(control, secrets)) == len(secrets) + 1
    logs = sum(1 for name in places.items if name.startswith(("log:", "json-log:")))
    print(
        f"\nsecrets scan ({title}): "
        + json.dumps(
            {
                "places": len(places),
                "bytes": places.bytes,
                "log_lines": logs,
                "secrets": len(secrets),
                "secrets_found": sum(found.values()),
            }
        )
    )


# ------------------------------------------------------------------------------------ tokens in env vars
@pytest.fixture()
def token_org(sandbox_state_dir: Path) -> Iterator[tuple[SandboxServer, str]]:
    token = distinctive("tok")
    options = SandboxOptions(state_dir=sandbox_state_dir, seed_leads=40, seed=11, token=token)
    with running_sandbox(options) as server:
        yield server, token


def test_cycles_checks_faults_and_exports_never_show_the_access_tokens(
    tmp_path: Path, token_org: tuple[SandboxServer, str], logs: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, token = token_org
    wrong = distinctive("wrong")
    folder = tmp_path / "org"
    folder.mkdir()
    config = sandbox_config(
        folder, server, "salesforce", "hubspot",
        replace={f"access_{SANDBOX_TOKEN_LINE}": f"access_token: {{env: {SF_TOKEN_ENV}}}",
                 SANDBOX_TOKEN_LINE: f"token: {{env: {HS_TOKEN_ENV}}}"},
    )  # fmt: skip
    monkeypatch.setenv(SF_TOKEN_ENV, token)
    monkeypatch.setenv(HS_TOKEN_ENV, token)
    results: dict[str, Result] = {}
    c = str(config)

    assert invoke(results, "setup", "setup", "--config", c, "--no-sfdx").exit_code == 0
    first = invoke(results, "sync 1", "sync", "--once", "--json", "--config", c)
    assert first.exit_code == 0, first.stdout + first.stderr
    assert {crm: r["written"] > 0 for crm, r in json.loads(first.stdout)["crms"].items()} == {
        "salesforce": True, "hubspot": True}  # fmt: skip

    # Error paths: 5xx, locked rows, whole failed HubSpot batches, a spent quota, while people edit.
    touch(server, 15, "Head of Security")
    faults(server, seed=5, error_5xx=0.15, lock_row=0.3, batch_fail=0.5, quota=0.03)
    for n in range(2, 5):
        invoke(results, f"sync {n}", "sync", "--once", "--json", "--config", c)
    assert sum(injected(server).values()) > 0
    faults(server)
    settled = invoke(results, "sync 5", "sync", "--once", "--json", "--config", c)
    assert settled.exit_code == 0, settled.stdout + settled.stderr

    assert invoke(results, "runs", "runs", "--json", "--config", c).exit_code == 0
    assert invoke(results, "audit", "audit", "export", "--config", c).exit_code == 0
    csv_out = folder / "audit.csv"
    assert invoke(results, "audit csv", "audit", "export", "--format", "csv", "--out", str(csv_out),
                  "--config", c).exit_code == 0  # fmt: skip
    assert json.loads(invoke(results, "check", "check", "--json", "--config", c).stdout)["ok"] is True

    # Wrong credentials: each command says the CRM refused them, and never shows what was sent.
    monkeypatch.setenv(SF_TOKEN_ENV, wrong)
    monkeypatch.setenv(HS_TOKEN_ENV, wrong)
    refused = invoke(results, "sync refused", "sync", "--once", "--json", "--config", c)
    doc = json.loads(refused.stdout)
    assert refused.exit_code == 0 and doc["status"] == "partial"  # stopped, nothing lost
    assert all("credentials" in r["stopped"] or "401" in r["stopped"] for r in doc["crms"].values()), doc
    check = json.loads(invoke(results, "check refused", "check", "--json", "--config", c).stdout)
    connect = [f for f in check["findings"] if f["check"] == "connect"]
    assert len(connect) == 2 and all("refused the credentials" in f["message"] for f in connect)

    places = gather(folder, logs, results, lambda p: None)
    assert len(logs.lines) > 100, "DEBUG logging was captured"
    assert any(name.startswith("state folder/leadq.db") for name in places.items)
    secrets = [token, wrong]
    found = occurrences(places, secrets)
    report("access tokens", places, secrets, found)
    assert found == {}


# ------------------------------------------------------------------------------------ OAuth, sessions expiring
@pytest.fixture()
def oauth_org(sandbox_state_dir: Path) -> Iterator[SandboxServer]:
    # The configured token is never used here: every access token is issued by an OAuth flow.
    options = SandboxOptions(state_dir=sandbox_state_dir, seed_leads=30, seed=13, token=distinctive("unused"))
    with running_sandbox(options) as server:
        yield server


def test_oauth_flows_with_expiring_sessions_never_show_client_secrets_or_issued_tokens(
    tmp_path: Path, oauth_org: SandboxServer, logs: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = oauth_org
    state = server.state
    state.client_secret = distinctive("cs")
    issued: list[str] = []
    issue = state.issue_token

    def recording(*, with_refresh: bool = True) -> tuple[str, str | None]:
        access, refresh = issue(with_refresh=with_refresh)
        issued.extend(t for t in (access, refresh) if t)
        return access, refresh

    monkeypatch.setattr(state, "issue_token", recording)
    _, refresh = state.issue_token()
    assert refresh is not None
    folder = tmp_path / "org"
    folder.mkdir()
    config = sandbox_config(
        folder, server, "salesforce", "hubspot",
        replace={
            "method: access_token": "method: client_credentials",
            f"access_{SANDBOX_TOKEN_LINE}": f"client_id: {state.client_id}\n"
                                            f"      client_secret: {{env: {SF_SECRET_ENV}}}",
            "method: private_app": "method: oauth_refresh",
            SANDBOX_TOKEN_LINE: f"client_id: {state.client_id}\n      client_secret: {{env: {HS_SECRET_ENV}}}\n"
                                f"      refresh_token: {{env: {HS_REFRESH_ENV}}}",
        },
    )  # fmt: skip
    monkeypatch.setenv(SF_SECRET_ENV, state.client_secret)
    monkeypatch.setenv(HS_SECRET_ENV, state.client_secret)
    monkeypatch.setenv(HS_REFRESH_ENV, refresh)
    results: dict[str, Result] = {}
    c = str(config)

    assert invoke(results, "setup", "setup", "--config", c, "--no-sfdx").exit_code == 0
    faults(server, seed=9, session_expiry_calls=6, error_5xx=0.05)
    for n in range(1, 3):
        run = invoke(results, f"sync {n}", "sync", "--once", "--json", "--config", c)
        assert run.exit_code == 0, run.stdout + run.stderr
    assert injected(server).get("session_expiry", 0) > 0, "sessions expired and were renewed"
    faults(server)
    assert json.loads(invoke(results, "check", "check", "--json", "--config", c).stdout)["ok"] is True
    assert invoke(results, "runs", "runs", "--json", "--config", c).exit_code == 0
    assert invoke(results, "audit", "audit", "export", "--config", c).exit_code == 0

    bad = distinctive("badcs")
    monkeypatch.setenv(SF_SECRET_ENV, bad)
    refused = json.loads(invoke(results, "sync refused", "sync", "--once", "--json", "--config", c).stdout)
    assert refused["crms"]["salesforce"]["stopped"] and not refused["crms"]["hubspot"]["stopped"], refused

    places = gather(folder, logs, results, lambda p: None)
    secrets = [state.client_secret, bad, refresh, *issued]
    assert len(issued) > 3, "sessions were renewed several times"
    found = occurrences(places, secrets)
    report("oauth", places, secrets, found)
    assert found == {}
