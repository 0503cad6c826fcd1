"""`leadq check` against the in-process sandbox, and the pure checks behind it."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from connector.protocol import ChangePage, FieldInfo, ObjectDescription
from mappings import default_mapping
from sandbox import SandboxServer, running_sandbox
from sandbox.seed import seed_org
from sandbox.sf_schema import SfField
from sync.check import check_schema
from sync.check_types import Status
from sync.leakage import LabelSplit, balanced, leakage_findings, pull_sample
from tests.sync.conftest import Invoke, findings, only, salesforce_config


def test_check_passes_on_init_config_after_setup(
    sandbox: SandboxServer, init_config: Callable[..., Path], invoke: Invoke, tmp_path: Path
) -> None:
    seed_org(sandbox.store, leads=300, seed=7)
    config = init_config()
    assert invoke("setup", "--config", str(config), "--sfdx-out", str(tmp_path / "sfdx")).exit_code == 0
    result = invoke("check", "--config", str(config))
    assert result.exit_code == 0, result.stdout
    assert "0 error: the config works" in result.stdout
    doc = json.loads(invoke("check", "--config", str(config), "--json").stdout)
    assert doc["ok"] is True
    read = only(doc["findings"], check="read")
    assert {(f["crm"], f["object"]) for f in read} == {("salesforce", "Lead"), ("hubspot", "contacts")}
    assert all("read 300 " in f["message"] for f in read)


def test_missing_writeback_fields_fail_and_name_the_fix(
    sandbox: SandboxServer, init_config: Callable[..., Path], invoke: Invoke
) -> None:
    config = init_config("salesforce")
    result = invoke("check", "--config", str(config))
    assert result.exit_code == 1
    assert "run `leadq setup`" in result.stdout
    missing = only(
        findings(invoke("check", "--config", str(config), "--json")), check="exists", status="error"
    )
    assert {(f["object"], f["field"]) for f in missing} >= {
        ("Lead", "leadq_Score__c"),
        ("Task", "leadq_Key__c"),
    }
    assert all("run `leadq setup`" in f["message"] for f in missing)


def test_field_the_integration_user_cannot_edit_is_an_error(
    sandbox: SandboxServer, init_config: Callable[..., Path], invoke: Invoke, tmp_path: Path
) -> None:
    sandbox.store.sf_add_field(
        "Lead", SfField("leadq_Score__c", "double", "Score", custom=True, updateable=False, precision=3)
    )
    config = init_config("salesforce")
    assert invoke("setup", "--config", str(config), "--no-sfdx").exit_code == 0
    result = invoke("check", "--config", str(config), "--json")
    assert result.exit_code == 1
    [error] = only(findings(result), status="error")
    assert (error["object"], error["field"], error["check"]) == ("Lead", "leadq_Score__c", "updateable")
    assert "grant edit access" in error["message"] and "permission set" in error["message"]


def test_type_mismatches_are_errors(
    sandbox: SandboxServer, token_env: str, invoke: Invoke, tmp_path: Path
) -> None:
    sandbox.store.sf_add_field("Lead", SfField("leadq_Tier__c", "double", "Tier", custom=True, precision=3))
    config = salesforce_config(
        tmp_path,
        sandbox,
        """\
        objects: [Lead, Task]
        features:
          - {name: size, field: Company, type: number}
          - {name: opted_out, field: HasOptedOutOfEmail, type: boolean}
        writeback: {objects: [Lead]}
        """,
    )
    result = invoke("check", "--config", str(config), "--json")
    assert result.exit_code == 1
    errors = only(findings(result), check="type", status="error")
    assert {(f["object"], f["field"]) for f in errors} == {("Lead", "Company"), ("Lead", "leadq_Tier__c")}
    feature = only(errors, field="Company")[0]["message"]
    assert "a number feature cannot read a string field" in feature
    assert (
        "the field is a double, the config writes Picklist"
        in only(errors, field="leadq_Tier__c")[0]["message"]
    )
    assert only(findings(result), field="HasOptedOutOfEmail", check="exists", status="ok")


def test_field_filled_only_after_conversion_is_flagged(
    sandbox: SandboxServer, token_env: str, invoke: Invoke, tmp_path: Path
) -> None:
    store = sandbox.store
    seed_org(store, leads=300, seed=7)
    for name in ("Demo_Outcome__c", "Win_Notes__c"):
        store.sf_add_field("Lead", SfField(name, "string", name, length=80, custom=True))
    converted = [r["Id"] for r in store.sql("SELECT Id FROM sf_Lead WHERE IsConverted = 1")]
    for lead_id in converted:
        store.sf_update("Lead", lead_id, {"Demo_Outcome__c": "booked", "Win_Notes__c": "signed"})
    config = salesforce_config(
        tmp_path,
        sandbox,
        """\
        objects: [Lead, Task]
        features:
          - {name: source, field: LeadSource, type: category}
          - {name: demo, field: Demo_Outcome__c, type: category}
          - {name: win_notes, field: Win_Notes__c, type: text, leaky: true}
          - {name: title, field: Title, type: text, leaky: true}
        writeback: {objects: [Lead]}
        """,
    )
    result = invoke("check", "--config", str(config), "--json")
    leakage = only(findings(result), check="leakage")
    [warn] = only(leakage, status="warn")
    assert warn["field"] == "Demo_Outcome__c"
    assert "filled in 100% of converted but 0% of unconverted leads" in warn["message"]
    assert "leaky: true" in warn["message"]
    assert "marked leaky, kept out of models" in only(leakage, field="Win_Notes__c")[0]["message"]
    assert "marked leaky but is filled alike" in only(leakage, field="Title")[0]["message"]
    assert "no sign of leakage" in only(leakage, field="LeadSource")[0]["message"]


def test_json_output_shape(sandbox: SandboxServer, init_config: Callable[..., Path], invoke: Invoke) -> None:
    result = invoke("check", "--config", str(init_config("hubspot")), "--json")
    doc = json.loads(result.stdout)
    assert set(doc) == {"ok", "summary", "findings"}
    assert doc["ok"] is False and result.exit_code == 1
    assert set(doc["summary"]) == {"ok", "warn", "error"}
    assert sum(doc["summary"].values()) == len(doc["findings"])
    for finding in doc["findings"]:
        assert set(finding) == {"crm", "object", "field", "check", "status", "message"}
        assert finding["status"] in ("ok", "warn", "error") and finding["crm"] == "hubspot"


SECRET = "lq-7f3Q9xZ-distinctive-token-20931"


@pytest.mark.parametrize("where", ["unreachable", "refused"])
def test_unusable_crm_is_one_clear_error_without_the_secret(
    where: str,
    sandbox_state_dir: Path,
    tmp_path: Path,
    invoke: Invoke,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("LEADQ_SANDBOX_TOKEN", SECRET)
    with running_sandbox(state_dir=sandbox_state_dir) as server:  # answers, but knows another token
        url = "https://127.0.0.1:9" if where == "unreachable" else server.url
        config = tmp_path / "leadq.yaml"
        assert (
            invoke(
                "init", "--path", str(config), "--sandbox", url, "--ca-bundle", str(server.ca_path)
            ).exit_code
            == 0
        )
        table = invoke("check", "--config", str(config))
        as_json = invoke("check", "--config", str(config), "--json")
    assert table.exit_code == as_json.exit_code == 1
    found = findings(as_json)
    assert [(f["crm"], f["check"], f["status"]) for f in found] == [
        ("salesforce", "connect", "error"),
        ("hubspot", "connect", "error"),
    ]
    for finding, name in zip(found, ("Salesforce", "HubSpot"), strict=True):
        text = finding["message"]
        assert name in text and url in text
        if where == "unreachable":
            assert f"cannot reach {name}" in text and "check the URL" in text
        else:
            assert "refused the credentials" in text and "env LEADQ_SANDBOX_TOKEN" in text
    everything = table.stdout + table.stderr + as_json.stdout + as_json.stderr + caplog.text
    assert SECRET not in everything
    assert SECRET[:12] not in everything


# ------------------------------------------------------------------------------------------ pure checks
def _describe(**objects: dict[str, FieldInfo]) -> Callable[[str], ObjectDescription | None]:
    table = {name: ObjectDescription(name, name, fields) for name, fields in objects.items()}
    return table.get


def test_relationship_paths_resolve_through_lookups() -> None:
    mapping = default_mapping("salesforce")
    account = {"Industry": FieldInfo("Industry", "Industry", "picklist")}
    contact = {"AccountId": FieldInfo("AccountId", "Account ID", "reference", reference_to=("Account",))}
    out = check_schema("salesforce", mapping, _describe(Contact=contact, Account=account))
    [industry] = [f for f in out if f.object == "Contact" and f.field == "Account.Industry"]
    assert industry.status is Status.OK and "Account.Industry, picklist" in industry.message
    [revenue] = [f for f in out if f.object == "Contact" and f.field == "Account.AnnualRevenue"]
    assert revenue.status is Status.ERROR and "Account.AnnualRevenue is not in describe" in revenue.message
    lead = [f for f in out if f.object == "Lead" and f.check == "object"]
    assert lead and "not visible" in lead[0].message


@pytest.mark.parametrize(
    ("converted", "unconverted", "expected"),
    [
        (0.95, 0.10, Status.WARN),  # mostly after conversion, rarely before
        (0.70, 0.10, Status.WARN),  # gap above one half
        (0.60, 0.30, Status.OK),
        (0.50, 0.50, Status.OK),
    ],
)
def test_fill_rate_thresholds(converted: float, unconverted: float, expected: Status) -> None:
    mapping = default_mapping("salesforce")
    n = 100
    records = [{"IsConverted": True, "Title": "x" if i < converted * n else None} for i in range(n)] + [
        {"IsConverted": False, "Title": "x" if i < unconverted * n else ""} for i in range(n)
    ]
    split = LabelSplit("Lead", ("IsConverted",), "leads")
    [finding] = leakage_findings("salesforce", mapping, split, ["Title"], records)
    assert finding.status is expected


def test_too_small_a_sample_is_not_judged() -> None:
    records = [{"IsConverted": True, "Title": "x"}] * 3 + [{"IsConverted": False}] * 50
    split = LabelSplit("Lead", ("IsConverted",), "leads")
    [finding] = leakage_findings("salesforce", default_mapping("salesforce"), split, ["Title"], records)
    assert finding.status is Status.OK and finding.message.startswith("not checked")


class _Pages:
    """A stand-in connector whose pull yields pages of 500 leads, the converted ones last."""

    def __init__(self) -> None:
        self.served = 0

    def pull_changes(
        self, obj: str, fields: Any, cursor: Any, *, run_started: datetime, associations: Any = None
    ) -> Iterator[ChangePage]:
        for page in range(40):
            self.served += 1
            records = [{"Id": f"{page}-{i}", "IsConverted": page >= 8} for i in range(500)]
            yield ChangePage(obj, records, run_started)


def test_sample_reads_on_until_both_groups_are_there() -> None:
    split = LabelSplit("Lead", ("IsConverted",), "leads")
    mapping = default_mapping("salesforce")
    source = _Pages()
    records = pull_sample(source, "Lead", ["IsConverted"], enough=balanced(mapping, split))  # type: ignore[arg-type]
    assert len(records) == 4500 and source.served == 9, "the first converted page is enough"
    capped = _Pages()
    assert len(pull_sample(capped, "Lead", [], cap=3000, enough=lambda _: False)) == 3000  # type: ignore[arg-type]
    assert capped.served == 6
    plain = _Pages()
    assert len(pull_sample(plain, "Lead", [])) == 2000 and plain.served == 4  # type: ignore[arg-type]
