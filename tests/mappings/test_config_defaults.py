"""The shipped defaults: the config `leadq init` writes validates as written, and omitted keys get defaults."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mappings import (
    HubSpotWritebackField,
    SalesforceWritebackField,
    default_mapping,
    load_config,
    parse_config,
    render_default_config,
    write_default_config,
)
from sync.cli_config import init
from tests.mappings.conftest import MINIMAL_SALESFORCE


@pytest.mark.parametrize("crms", [("salesforce",), ("hubspot",), ("salesforce", "hubspot")])
@pytest.mark.parametrize("sandbox", [None, "https://127.0.0.1:8765/"])
def test_default_config_validates_with_no_edits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crms: tuple[str, ...], sandbox: str | None
) -> None:
    for name in ("LEADQ_SANDBOX_TOKEN", "SALESFORCE_CLIENT_SECRET", "HUBSPOT_PRIVATE_APP_TOKEN"):
        monkeypatch.setenv(name, "token")
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    path = write_default_config(tmp_path / "leadq.yaml", crms=crms, sandbox_url=sandbox, ca_bundle=ca)
    config = load_config(path)
    assert config.crms == crms
    assert config.state.url == f"sqlite:///{tmp_path / 'leadq.db'}"
    assert config.schedule.interval_minutes == 15
    text = path.read_text(encoding="utf-8")
    assert text.count("# ") > 30  # it is a commented file, not a dump
    if config.salesforce:
        assert config.salesforce.features == default_mapping("salesforce").features
        assert config.salesforce.connection.ca_bundle == ca
        if sandbox:
            assert config.salesforce.connection.instance_url == "https://127.0.0.1:8765"
            assert config.salesforce.connection.auth.method == "access_token"
    if config.hubspot:
        assert config.hubspot.writeback == default_mapping("hubspot").writeback
        if sandbox:
            assert config.hubspot.connection.base_url == "https://127.0.0.1:8765"
            auth = config.hubspot.connection.auth
            assert auth.method == "private_app" and auth.token.env == "LEADQ_SANDBOX_TOKEN"
            assert auth.token.reveal() == "token"


def test_write_default_config_refuses_to_overwrite(tmp_path: Path) -> None:
    path = write_default_config(tmp_path / "leadq.yaml", crms=["hubspot"])
    with pytest.raises(FileExistsError):
        write_default_config(path, crms=["hubspot"])
    write_default_config(path, crms=["salesforce"], overwrite=True)
    assert "salesforce:" in path.read_text(encoding="utf-8")
    with pytest.raises(ValueError, match="salesforce and/or hubspot"):
        render_default_config(crms=["pipedrive"])


def test_omitted_sections_take_the_shipped_defaults() -> None:
    config = parse_config(MINIMAL_SALESFORCE, resolve=False)
    sf = config.salesforce
    assert sf is not None
    assert sf.objects == ("Lead", "Contact", "Account", "Opportunity", "Task", "Event", "CampaignMember")
    assert sf.label.kind == "converted"
    assert sf.writeback.score.field == "leadq_Score__c"
    assert sf.connection.daily_quota_share == 0.25
    assert sf.connection.bulk_threshold == 2000
    assert sf.connection.api_version == "59.0"
    assert config.scoring.tiers.tier(80) == "A" and config.scoring.tiers.tier(39.9) == "D"
    assert config.scoring.min_labels_per_class == 200
    assert config.review.borderline == (45, 60)
    assert config.schedule.jitter_seconds == 30
    assert config.state.url.startswith("sqlite:///") and config.state.url.endswith("leadq.db")


def test_a_bare_writeback_name_renames_the_field_and_keeps_its_type() -> None:
    config = parse_config(MINIMAL_SALESFORCE + "  writeback:\n    reasons: Why__c\n", resolve=False)
    assert config.salesforce is not None
    reasons = config.salesforce.writeback.reasons
    assert isinstance(reasons, SalesforceWritebackField)
    assert (reasons.field, reasons.type, reasons.max_length) == ("Why__c", "LongTextArea", 32768)
    assert config.salesforce.writeback.tier.field == "leadq_Tier__c"


def test_shipped_writeback_fields_have_types_and_lengths() -> None:
    sf = default_mapping("salesforce").writeback
    assert [sf.field_for(slot).field for slot in sf.fields()] == [
        "leadq_Score__c", "leadq_Tier__c", "leadq_Reasons__c", "leadq_Action__c", "leadq_Model_Version__c",
        "leadq_Scored_At__c", "leadq_Review_Decision__c", "leadq_Override_Score__c",
    ]  # fmt: skip
    assert sf.reasons.type == "LongTextArea" and sf.reasons.max_length == 32768
    hs = default_mapping("hubspot").writeback
    assert [hs.field_for(slot).field for slot in hs.fields()] == [
        "leadq_score", "leadq_tier", "leadq_reasons", "leadq_action", "leadq_model_version", "leadq_scored_at",
        "leadq_review_decision", "leadq_override_score",
    ]  # fmt: skip
    assert isinstance(hs.reasons, HubSpotWritebackField)
    assert (hs.reasons.type, hs.reasons.field_type) == ("string", "textarea")
    assert hs.score.field_type == "number"


def test_feature_defaults_and_shorthands() -> None:
    text = MINIMAL_SALESFORCE + (
        "  label: converted_opportunity_won\n"
        "  features:\n"
        "    - {name: size, field: {Lead: NumberOfEmployees, Contact: Account.NumberOfEmployees}, type: number,\n"
        "       missing: 0, points: [{min: 100, points: 5}]}\n"
        "    - {name: src, field: LeadSource, type: category, missing: Unknown, values: {' WEB  site': Web},\n"
        "       points: {web: 3}}\n"
    )
    config = parse_config(text, resolve=False)
    assert config.salesforce is not None
    assert config.salesforce.label.kind == "converted_opportunity_won"
    size, src = config.salesforce.features
    assert size.label == "Number of employees"
    assert size.field_for("Contact") == "Account.NumberOfEmployees"
    assert size.field_for("Account") is None
    assert size.missing_value == 0.0
    assert size.points is not None and size.points.for_value(150.0) == 5 and size.points.for_value(50.0) == 0
    assert src.missing_value == "Unknown"
    assert src.values == {"web site": "Web"}
    assert src.points is not None and src.points.for_value("Web") == 3
    assert src.explain and not src.leaky and src.in_model


def test_leadq_init_command(tmp_path: Path) -> None:
    import typer

    app = typer.Typer()
    app.command()(init)
    app.command("noop")(lambda: None)
    runner = CliRunner()
    target = tmp_path / "conf" / "leadq.yaml"
    ca = tmp_path / "ca.pem"
    ca.write_text("x", encoding="utf-8")
    args = ["init", "--path", str(target), "--sandbox", "https://127.0.0.1:9999", "--ca-bundle", str(ca)]
    result = runner.invoke(app, [*args, "--crm", "hubspot"])
    assert result.exit_code == 0, result.output
    config = load_config(target, resolve=False)
    assert config.crms == ("hubspot",)
    assert config.hubspot is not None and config.hubspot.connection.ca_bundle == ca

    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert "already exists" in result.output

    result = runner.invoke(app, [*args, "--force"])
    assert result.exit_code == 0, result.output
    assert load_config(target, resolve=False).crms == ("salesforce", "hubspot")


def test_example_in_the_default_config_comments_is_valid(write_config: Callable[[str], Path]) -> None:
    # The commented policy example must work when an admin uncomments it.
    text = render_default_config(crms=["salesforce"])
    example = ["    " + line[6:] for line in text.splitlines() if line.startswith("  #   ")]
    uncommented = text.replace("  policies: []", "  policies:\n" + "\n".join(example))
    config = load_config(write_config(uncommented), resolve=False)
    assert [policy.name for policy in config.scoring.policies] == ["partner_referrals_reviewed"]
