"""`leadq model list | promote | rollback` and `leadq report`, driven through a typer app wired like leadq's."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner, Result

from mappings import load_config, write_default_config
from scoring.registry import ModelRegistry
from scoring.training import TrainedModel, train
from sync.cli_model import model_app, registry_for, report
from sync.context import state_dir_for
from sync.state import StateStore
from tests.scoring.model_fixtures import CONFIG, SPECS, lead_data, one_thread, trained_model

Run = Callable[..., Result]
PLOTS = ("Calibration", "ROC", "Lift", "Score distribution by outcome", "Mean |contribution| by source")


@pytest.fixture(autouse=True)
def _single_thread() -> Iterator[None]:
    with one_thread():
        yield


@cache
def models() -> tuple[TrainedModel, TrainedModel]:
    """Two versions of a model trained with a holdout (what the report plots)."""
    frame, outcome = lead_data(1500)
    return tuple(  # type: ignore[return-value]
        train(
            frame, outcome, CONFIG, holdout=0.25, random_state=seed, params={"max_iter": 30}, features=SPECS
        )
        for seed in (0, 1)
    )


@pytest.fixture()
def config(tmp_path: Path) -> Path:
    """A Salesforce-only leadq.yaml (no CRM is reached: these commands read the config without secrets)."""
    return write_default_config(tmp_path / "leadq.yaml", crms=("salesforce",))


@pytest.fixture()
def run(config: Path) -> Run:
    app = typer.Typer()
    app.add_typer(model_app, name="model")
    app.command("report")(report)
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        result = runner.invoke(app, [*args, "--config", str(config)])
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    return invoke


@pytest.fixture()
def versions(config: Path) -> tuple[str, str]:
    registry = registry_for(config, "salesforce")
    assert registry.root == state_dir_for(config) / "salesforce" / "models"
    return registry.save(models()[0]), registry.save(models()[1])


def listed(run: Run) -> list[dict[str, Any]]:
    result = run("model", "list", "--json")
    assert result.exit_code == 0, result.output
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def champion(rows: list[dict[str, Any]]) -> list[str]:
    return [row["version"] for row in rows if row["champion"]]


def test_list_promote_and_rollback_move_the_champion(run: Run, versions: tuple[str, str]) -> None:
    first, second = versions
    rows = listed(run)
    assert [row["version"] for row in rows] == [first, second] and champion(rows) == []
    assert {row["crm"] for row in rows} == {"salesforce"}
    assert all(0.6 < row["auc"] < 1 and row["ece"] is not None and row["brier"] > 0 for row in rows)
    assert all(row["training_rows"] == 1125 and len(row["data_hash"]) == 64 for row in rows)

    promoted = run("model", "promote", first)
    assert promoted.exit_code == 0 and f"salesforce: champion (none) -> {first}" in promoted.stdout
    assert champion(listed(run)) == [first]
    again = run("model", "promote", second, "--crm", "salesforce")
    assert again.exit_code == 0 and f"champion {first} -> {second}" in again.stdout
    assert champion(listed(run)) == [second]

    table = run("model", "list")
    assert table.exit_code == 0 and first in table.stdout and "*" in table.stdout and "AUC" in table.stdout

    back = run("model", "rollback")
    assert back.exit_code == 0 and f"champion {second} -> {first} (rolled back)" in back.stdout
    assert champion(listed(run)) == [first]
    nothing_left = run("model", "rollback")
    assert nothing_left.exit_code == 1 and "no previous champion" in nothing_left.stderr
    assert champion(listed(run)) == [first]


def test_promotion_and_rollback_are_audited_when_the_state_store_exists(
    run: Run, config: Path, versions: tuple[str, str]
) -> None:
    first, second = versions
    store = StateStore.open(load_config(config, resolve=False).state.url)
    try:
        store.register_model(
            second, "salesforce", "all", str(registry_for(config, "salesforce").root / second)
        )
        assert "recorded in the audit log" in run("model", "promote", first).stdout
        run("model", "promote", second)
        assert [m.role for m in store.models("salesforce")] == ["champion"]  # indexed: its role follows
        run("model", "rollback")
        assert [m.role for m in store.models("salesforce")] == ["challenger"]
        entries = [(e["action"], e["actor"], e["crm"], e["detail"]) for e in store.audit_export()]
    finally:
        store.close()
    assert entries == [
        ("model_promote", "admin", "salesforce", {"from": None, "to": first}),
        ("model_promote", "admin", "salesforce", {"from": first, "to": second}),
        ("model_rollback", "admin", "salesforce", {"from": second, "to": first}),
    ]


def test_without_a_state_store_the_change_is_made_and_no_database_is_created(
    run: Run, config: Path, versions: tuple[str, str]
) -> None:
    result = run("model", "promote", versions[0])
    assert result.exit_code == 0 and "audit" not in result.stdout
    assert not (config.parent / "leadq.db").exists()
    assert champion(listed(run)) == [versions[0]]


def test_a_tampered_artifact_is_refused_on_promote(run: Run, config: Path, versions: tuple[str, str]) -> None:
    first, second = versions
    run("model", "promote", first)
    path = registry_for(config, "salesforce").root / second / "model.skops"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    result = run("model", "promote", second)
    assert result.exit_code == 1
    assert "does not match" in result.stderr and "will not be loaded" in result.stderr
    assert champion(listed(run)) == [first]


def test_unknown_versions_and_unconfigured_crms_are_errors(run: Run, versions: tuple[str, str]) -> None:
    missing = run("model", "promote", "20990101-000000-deadbeef")
    assert missing.exit_code == 1 and "no model version '20990101-000000-deadbeef'" in missing.stderr
    other = run("model", "list", "--crm", "hubspot")
    assert other.exit_code == 2 and "hubspot: not configured" in other.stderr


def test_report_writes_the_champions_html_with_every_plot(
    run: Run, config: Path, versions: tuple[str, str]
) -> None:
    first, _ = versions
    run("model", "promote", first)
    result = run("report")
    assert result.exit_code == 0, result.output
    path = Path(result.stdout.strip())
    assert path == state_dir_for(config) / "reports" / f"salesforce-{first}.html"
    text = path.read_text(encoding="utf-8")
    for plot in PLOTS:
        assert f'alt="{plot}' in text
    assert "rules only" in text and "Drift (PSI" in text and first in text

    chosen = config.parent / "out" / "model.html"
    custom = run("report", "--crm", "salesforce", "--out", str(chosen))
    assert custom.exit_code == 0 and custom.stdout.strip() == str(chosen) and chosen.exists()


def test_report_without_a_model_says_scores_are_rule_based(run: Run, config: Path) -> None:
    result = run("report")
    assert result.exit_code == 1
    message = " ".join(result.stderr.split())
    assert "no model is trained yet" in message and "rule-based" in message
    assert "200 converted and 200 not-converted" in message and "min_labels_per_class" in message
    assert not (state_dir_for(config) / "reports").exists()
    assert listed(run) == []


def test_report_of_a_champion_without_holdout_is_an_error(run: Run, config: Path) -> None:
    registry = ModelRegistry(state_dir_for(config) / "salesforce")
    version = registry.save(trained_model())
    unpromoted = run("report")
    assert unpromoted.exit_code == 1 and "promote a version" in unpromoted.stderr
    registry.promote(version)
    result = run("report")
    assert result.exit_code == 1 and "trained without a holdout" in " ".join(result.stderr.split())
