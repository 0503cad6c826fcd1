"""`leadq sync --once`: one cycle now, its summary, planned writes in a dry run and the JSON report, with
secrets redacted; fake cycles for the output, and one real cycle on the in-process sandbox."""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
import typer
from rich.console import Console

from connector.errors import QuotaExhaustedError
from mappings import SANDBOX_TOKEN_ENV
from sandbox import SandboxServer
from sync.cli_ops_sync import run_once
from sync.context import CycleContext
from sync.report import CrmReport, PlannedWrite, RunReport
from tests.sync.cli_ops_support import LEAD, T0
from tests.sync.conftest import Invoke

# ---- sync --once ------------------------------------------------------------------------------------


def test_sync_requires_once(ops: Invoke, offline_config: Path) -> None:
    result = ops("sync", "-c", str(offline_config))
    assert result.exit_code == 2 and "use `leadq run` for the scheduled daemon" in result.stderr


def test_sync_with_a_bad_config_exits_2_with_its_line(ops: Invoke, tmp_path: Path) -> None:
    config = tmp_path / "leadq.yaml"
    config.write_text("salesforce:\n  connection:\n    instance_url: 42\n    bogus: true\n", encoding="utf-8")
    result = ops("sync", "--once", "-c", str(config))
    assert result.exit_code == 2
    assert f"{config}:4:" in result.stderr and result.stdout == ""


def test_sync_without_the_secret_exits_2_naming_the_variable(ops: Invoke, offline_config: Path) -> None:
    result = ops("sync", "--once", "--json", "-c", str(offline_config))
    assert result.exit_code == 2 and SANDBOX_TOKEN_ENV in result.stderr and result.stdout == ""


SECRET = "sandbox-secret-token-abcdef123456"


@pytest.fixture()
def sandbox_config(
    sandbox: SandboxServer, init_config: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> Path:
    """The `leadq init --sandbox` config with a long token (the fake cycles never reach the sandbox)."""
    monkeypatch.setenv(SANDBOX_TOKEN_ENV, SECRET)
    return init_config()


def fake_cycle(status: str, seen: list[tuple[list[str], bool]]) -> Callable[..., RunReport]:
    def cycle(ctx: CycleContext, *, dry_run: bool = False) -> RunReport:
        seen.append((list[str](ctx.crms), dry_run))
        report = RunReport(
            started_at=T0, finished_at=T0 + timedelta(seconds=4), dry_run=dry_run, status=status
        )
        sf = report.crm("salesforce")
        sf.pulled, sf.scored, sf.written, sf.tasks_created = Counter(Lead=10), 9, 7, 1
        sf.api_calls, sf.phases = {"query": 3, "composite/sobjects": 1}, {"pull": 1.0, "write": 0.5}
        sf.problems = [f"Lead 00Q9: Email 'x' is not an email (token {SECRET})"]
        sf.planned = [
            PlannedWrite("salesforce", "field_update", "Lead", LEAD, {"leadq_Score__c": 82, "leadq_Tier__c": "A"},
                         "score changed"),
            PlannedWrite("salesforce", "task", "Task", None, {"subject": "Review Ada Lovelace (52)"}, "borderline"),
        ]  # fmt: skip
        report.crms["hubspot"] = CrmReport(crm="hubspot", stopped="DAILY quota spent")
        return report

    return cycle


def test_sync_once_prints_a_summary_and_redacts(
    sandbox_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[tuple[list[str], bool]] = []
    out = Console(file=io.StringIO(), width=220)
    code = run_once(sandbox_config, dry_run=False, as_json=False, cycle=fake_cycle("partial", seen), out=out)
    text = out.file.getvalue()  # type: ignore[attr-defined]
    assert code == 0 and seen == [(["salesforce", "hubspot"], False)]
    assert "run - partial in 4.0 s" in text and "DAILY quota spent" in text
    salesforce_row = next(line for line in text.splitlines() if "Salesforce" in line)
    cells = [cell.strip() for cell in salesforce_row.split("│")[2:10]]
    assert cells == ["10", "9", "7", "0", "0", "1", "0", "4"]
    assert "1.5 s" in salesforce_row
    assert "is not an email" in text and SECRET not in text


def test_sync_once_dry_run_prints_the_planned_writes(sandbox_config: Path) -> None:
    seen: list[tuple[list[str], bool]] = []
    out = Console(file=io.StringIO(), width=220)
    code = run_once(sandbox_config, dry_run=True, as_json=False, cycle=fake_cycle("succeeded", seen), out=out)
    text = out.file.getvalue()  # type: ignore[attr-defined]
    assert code == 0 and seen[0][1] is True
    assert "Salesforce: 2 planned (dry run)" in text and "HubSpot: nothing to write" in text
    assert "leadq_Score__c -> 82" in text and "leadq_Tier__c -> A" in text and LEAD in text
    assert "task: Review Ada Lovelace (52)" in text and "borderline" in text
    assert "dry run: nothing was changed (1 record updates and 1 tasks/notes planned)" in text


def test_sync_once_json_is_one_report_object_and_failed_exits_1(
    sandbox_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run_once(sandbox_config, dry_run=False, as_json=True, cycle=fake_cycle("failed", []))
    printed = capsys.readouterr().out
    doc = json.loads(printed)
    assert code == 1 and printed.count("\n") == 1
    assert (doc["status"], doc["pulled"], doc["api_calls"]) == ("failed", 10, 4)
    assert SECRET not in printed and "**********" in printed


def test_a_connector_error_in_the_cycle_exits_1_without_the_secret(
    sandbox_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def cycle(ctx: CycleContext, *, dry_run: bool = False) -> RunReport:
        raise QuotaExhaustedError(f"REQUEST_LIMIT_EXCEEDED for session {SECRET}", crm="Salesforce")

    with pytest.raises(typer.Exit) as raised:
        run_once(sandbox_config, dry_run=False, as_json=False, cycle=cycle)
    err = capsys.readouterr().err
    assert raised.value.exit_code == 1
    assert "the cycle stopped: Salesforce: REQUEST_LIMIT_EXCEEDED" in err and SECRET not in err


def test_sync_once_runs_a_real_cycle_on_the_sandbox(
    sandbox: SandboxServer, init_config: Callable[..., Path], invoke: Invoke, ops: Invoke, tmp_path: Path
) -> None:
    # ImportError too: while the cycle is being written, its own imports may not resolve yet.
    pytest.importorskip("sync.cycle", exc_type=ImportError)
    from sandbox.seed import seed_org

    seed_org(sandbox.store, leads=60, seed=3)
    config = init_config()
    assert invoke("setup", "--config", str(config), "--no-sfdx").exit_code == 0
    dry = ops("sync", "--once", "--dry-run", "-c", str(config))
    assert dry.exit_code == 0, dry.stderr
    assert "nothing was changed" in dry.stdout
    result = ops("sync", "--once", "--json", "-c", str(config))
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    for key in ("pulled", "scored", "written", "rejected", "tasks_created", "tasks_completed", "api_calls",
                "duration_s"):  # fmt: skip
        assert key in doc, key
    assert doc["pulled"] > 0 and doc["scored"] > 0 and doc["api_calls"] > 0
    runs_doc = json.loads(ops("runs", "--json", "-c", str(config)).stdout)
    assert runs_doc["runs"][0]["status"] == doc["status"]
