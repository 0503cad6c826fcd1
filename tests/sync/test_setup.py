"""`leadq setup` against the in-process sandbox: the plan, idempotence, conflicts, and the SFDX output."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from connector.protocol import WriteOutcome, WriteStatus
from connector.salesforce.fields import EXISTS
from mappings import default_mapping, write_default_config
from sandbox import SandboxServer
from sandbox.sf_schema import SfField
from sync.check_types import writeback_targets
from sync.setup import Planned, Step, field_spec, settled
from sync.sfdx import sfdx_files
from tests.sync.conftest import Invoke

LEADQ_FIELDS = 18  # 8 on Lead, 8 on Contact, 2 on Task
LEADQ_PROPERTIES = 11  # 8 on contacts, 2 on tasks, the key on notes


def _writes(sandbox: SandboxServer) -> list[dict[str, Any]]:
    """Requests that create a field or a property (or its group)."""
    entries = sandbox.state.log.snapshot()["requests"]
    return [
        e
        for e in entries
        if e["method"] == "POST" and ("tooling" in e["path"] or "/properties/" in e["path"])
    ]


def _custom_sf_fields(sandbox: SandboxServer) -> set[str]:
    return {
        f"{r['object']}.{r['name']}" for r in sandbox.store.sql("SELECT object, name FROM sf_custom_field")
    }


def _leadq_properties(sandbox: SandboxServer) -> set[str]:
    store = sandbox.store
    return {
        f"{t}.{name}"
        for t in ("contacts", "tasks", "notes")
        for name in store.hs_properties(t)
        if "leadq" in name
    }


def test_dry_run_changes_nothing(
    sandbox: SandboxServer, init_config: Callable[..., Path], invoke: Invoke, tmp_path: Path
) -> None:
    config = init_config()
    result = invoke("setup", "--config", str(config), "--dry-run")
    assert result.exit_code == 0, result.stdout
    assert result.stdout.count("would create") == LEADQ_FIELDS + LEADQ_PROPERTIES
    assert f"{LEADQ_FIELDS + LEADQ_PROPERTIES} to create, 0 present" in result.stdout
    assert "would write 20 SFDX source files" in result.stdout
    assert _writes(sandbox) == []
    assert _custom_sf_fields(sandbox) == set() and _leadq_properties(sandbox) == set()
    assert not (tmp_path / "salesforce").exists()


def test_setup_twice_creates_once(
    sandbox: SandboxServer, init_config: Callable[..., Path], invoke: Invoke, tmp_path: Path
) -> None:
    config = init_config()
    first = invoke("setup", "--config", str(config))
    assert first.exit_code == 0, first.stdout
    assert f"{LEADQ_FIELDS + LEADQ_PROPERTIES} created, 0 present" in first.stdout
    assert "field-level security" in first.stdout and "permission set" in first.stdout
    assert "leadq_Key__c" in {name.split(".")[1] for name in _custom_sf_fields(sandbox)}
    key = sandbox.store.sf_field("Task", "leadq_Key__c")
    assert key is not None and key.external_id, "task keys are looked up by value: the field is indexed"
    assert not sandbox.store.sf_field("Lead", "leadq_Reasons__c").external_id  # type: ignore[union-attr]
    assert {"tasks.leadq_key", "notes.leadq_key", "contacts.leadq_score"} <= _leadq_properties(sandbox)
    tier = sandbox.store.hs_properties("contacts")["leadq_tier"]
    assert tier["groupName"] == "leadq" and [o["value"] for o in tier["options"]] == ["A", "B", "C", "D"]
    sfdx = tmp_path / "salesforce"
    assert (sfdx / "sfdx-project.json").is_file()

    assert len(_writes(sandbox)) >= LEADQ_FIELDS + LEADQ_PROPERTIES, "the request log sees creations"
    sandbox.state.log.reset()
    second = invoke("setup", "--config", str(config))
    assert second.exit_code == 0, second.stdout
    assert f"0 created, {LEADQ_FIELDS + LEADQ_PROPERTIES} present" in second.stdout
    assert "(0 changed)" in second.stdout
    assert _writes(sandbox) == []
    assert "field-level security" not in second.stdout


def test_field_of_the_wrong_type_is_a_conflict(
    sandbox: SandboxServer, init_config: Callable[..., Path], invoke: Invoke
) -> None:
    sandbox.store.sf_add_field("Lead", SfField("leadq_Tier__c", "string", "Tier", length=1, custom=True))
    result = invoke("setup", "--config", str(init_config("salesforce")), "--no-sfdx")
    assert result.exit_code == 1
    assert "conflict" in result.stdout and "exists as a string" in result.stdout
    assert "Lead.leadq_Tier__c" in _custom_sf_fields(sandbox)
    assert "Lead.leadq_Score__c" in _custom_sf_fields(sandbox), "the other fields are still created"


def test_sfdx_out_gets_the_generated_source(
    sandbox: SandboxServer, init_config: Callable[..., Path], invoke: Invoke, tmp_path: Path
) -> None:
    out = tmp_path / "deploy"
    assert invoke("setup", "--config", str(init_config("salesforce")), "--sfdx-out", str(out)).exit_code == 0
    expected = sfdx_files(default_mapping("salesforce"))
    written = {str(p.relative_to(out)): p.read_text(encoding="utf-8") for p in out.rglob("*") if p.is_file()}
    assert written == expected


def test_a_task_key_field_without_an_index_is_present_with_a_warning(
    sandbox: SandboxServer, init_config: Callable[..., Path], invoke: Invoke
) -> None:
    """An org set up by hand (or before leadq asked for External ID) keeps its field; setup says what it costs."""
    sandbox.store.sf_add_field("Task", SfField("leadq_Key__c", "string", "leadq Key", length=80, custom=True))
    result = invoke("setup", "--config", str(init_config("salesforce")), "--no-sfdx")
    assert result.exit_code == 0, result.stdout
    assert "not an External ID" in result.stdout and "tick External ID" in result.stdout
    assert result.stdout.count("not an External ID") == 1, "only the key field is meant to be indexed"


def test_field_existing_but_hidden_says_to_grant_access() -> None:
    target = writeback_targets("salesforce", default_mapping("salesforce"))[0]
    planned = Planned("salesforce", target, field_spec(target), Step.CREATE)
    hidden = settled(planned, WriteOutcome("Lead.leadq_Score__c", WriteStatus.WRITTEN, code=EXISTS))
    assert hidden.step is Step.HIDDEN and "field-level security" in hidden.message
    created = settled(planned, WriteOutcome("Lead.leadq_Score__c", WriteStatus.WRITTEN, "00N1", created=True))
    assert created.step is Step.CREATED
    failed = settled(
        planned, WriteOutcome("Lead.leadq_Score__c", WriteStatus.REJECTED, code="X", message="no")
    )
    assert failed.step is Step.FAILED and failed.message == "X: no"


def test_field_specs_follow_the_config() -> None:
    specs = {
        (t.object, t.slot): field_spec(t)
        for t in writeback_targets("salesforce", default_mapping("salesforce"))
    }
    score, reasons, key = specs["Lead", "score"], specs["Lead", "reasons"], specs["Task", "task_key"]
    assert (score.type, score.precision, score.scale) == ("number", 3, 0)
    assert (reasons.type, reasons.length) == ("longtext", 32768)
    assert (key.name, key.type, key.length, key.external_id) == ("leadq_Key__c", "text", 80, True)
    assert not score.external_id and not specs["Task", "task_decision"].external_id
    assert specs["Task", "task_decision"].options == ("Approve", "Reject", "Override")
    hs = {(t.object, t.slot): field_spec(t) for t in writeback_targets("hubspot", default_mapping("hubspot"))}
    assert hs["contacts", "reasons"].type == "longtext" and hs["contacts", "tier"].type == "picklist"
    assert hs["notes", "task_key"].name == "leadq_key" and hs["contacts", "score"].group == "leadq"


def test_unreachable_crm_fails_but_the_sfdx_source_is_still_written(
    sandbox: SandboxServer, invoke: Invoke, tmp_path: Path, token_env: str
) -> None:
    config = write_default_config(
        tmp_path / "leadq.yaml",
        crms=["salesforce"],
        sandbox_url="https://127.0.0.1:9",
        ca_bundle=sandbox.ca_path,
    )
    result = invoke("setup", "--config", str(config))
    assert result.exit_code == 1
    assert "cannot reach Salesforce at https://127.0.0.1:9" in result.stdout
    assert (tmp_path / "salesforce" / "sfdx-project.json").is_file(), "deploying by hand needs no connection"
