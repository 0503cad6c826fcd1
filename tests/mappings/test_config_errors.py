"""Every kind of config error names its line, column, key path and a fix, and all are reported at once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mappings import ConfigError, ConfigIssue, load_config, parse_config
from tests.mappings.conftest import MINIMAL_SALESFORCE


def issues_of(text: str) -> list[ConfigIssue]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, resolve=False)
    return caught.value.issues


def only(text: str) -> ConfigIssue:
    issues = issues_of(text)
    assert len(issues) == 1, [str(i) for i in issues]
    return issues[0]


def test_minimal_config_is_valid() -> None:
    config = parse_config(MINIMAL_SALESFORCE, resolve=False)
    assert config.crms == ("salesforce",)
    assert config.hubspot is None


def test_feature_type_misspelt_matches_the_documented_message() -> None:
    text = MINIMAL_SALESFORCE + (
        "  features:\n"
        "    - {name: a, field: LeadSource, type: category}\n"
        "    - name: b\n"
        "      field: Industry\n"
        "      type: nmber\n"
    )
    issue = only(text)
    assert (issue.line, issue.column) == (11, 7)
    assert issue.path == "salesforce.features[1].type"
    assert str(issue) == (
        "leadq.yaml:11:7 salesforce.features[1].type: 'nmber' is not one of number, category, boolean, date, "
        "text — fix the spelling: did you mean 'number'?"
    )


def test_many_errors_are_reported_together_in_file_order() -> None:
    text = """\
salesforce:
  connection:
    instance_url: https://acme.my.salesforce.com
    auth:
      method: client_credentials
      client_id: abc
      client_secret: {env: SF_SECRET}
    daily_quota_shar: 0.3
    bulk_threshold: lots
  writeback:
    score: Score
hubspot:
  connection:
    auth: {method: privat_app, token: {env: HS}}
  label: won_deel
review:
  borderline: [60, 45]
  escalation: managr
scoring:
  tiers: {A: 50, B: 60}
  policies:
    - {name: p, when: "x > 1", action: route, reason: r}
schedule:
  cron: "bad"
statee: {}
"""
    issues = issues_of(text)
    where = [(i.line, i.path) for i in issues]
    assert where == [
        (8, "salesforce.connection.daily_quota_shar"),
        (9, "salesforce.connection.bulk_threshold"),
        (11, "salesforce.writeback.score"),
        (14, "hubspot.connection.auth.method"),
        (15, "hubspot.label"),
        (17, "review.borderline"),
        (18, "review.escalation"),
        (20, "scoring.tiers"),
        (22, "scoring.policies[0]"),
        (24, "schedule.cron"),
        (25, "statee"),
    ]
    assert all(i.fix and i.message and i.column for i in issues)
    rendered = str(ConfigError(issues))
    assert rendered.startswith("leadq.yaml has 11 problems:")
    assert rendered.count("\n") == 11


@pytest.mark.parametrize(
    ("snippet", "path", "message", "fix"),
    [
        (
            "    bulk_thresold: 5\n",
            "salesforce.connection.bulk_thresold",
            "unknown key",
            "did you mean 'bulk_threshold'",
        ),
        ("    zzz: 5\n", "salesforce.connection.zzz", "unknown key 'zzz'", "keys allowed here: instance_url"),
        (
            "    bulk_threshold: 0\n",
            "salesforce.connection.bulk_threshold",
            "must be >= 1",
            "write a value >= 1",
        ),
        (
            "    daily_quota_share: lots\n",
            "salesforce.connection.daily_quota_share",
            "is not a number",
            "0.25",
        ),
        (
            "    api_version: banana\n",
            "salesforce.connection.api_version",
            "not a Salesforce API version",
            "59.0",
        ),
        ("    login_url: ftp://x\n", "salesforce.connection.login_url", "is not a URL", "https://"),
        ("    ca_bundle: [1]\n", "salesforce.connection.ca_bundle", "", ""),
    ],
)
def test_connection_errors(snippet: str, path: str, message: str, fix: str) -> None:
    issue = only(MINIMAL_SALESFORCE.replace("    auth:\n", snippet + "    auth:\n"))
    assert issue.path == path
    assert issue.line == 4
    assert message in issue.message
    assert fix in issue.fix


def test_unknown_key_inside_a_tagged_union_suggests_that_variants_keys() -> None:
    text = MINIMAL_SALESFORCE.replace("access_token: {env: SF_TOKEN}", "acces_token: {env: SF_TOKEN}")
    issues = issues_of(text)
    by_path = {i.path: i for i in issues}
    assert "did you mean 'access_token'" in by_path["salesforce.connection.auth.acces_token"].fix
    assert (
        "required key 'access_token' is missing" in by_path["salesforce.connection.auth.access_token"].message
    )
    assert by_path["salesforce.connection.auth.access_token"].line == 4  # the `auth:` line


def test_auth_method_missing_and_misspelt() -> None:
    issue = only(MINIMAL_SALESFORCE.replace("      method: access_token\n", ""))
    assert issue.path == "salesforce.connection.auth"
    assert "`method:` is missing" in issue.message
    assert "client_credentials" in issue.fix

    issue = only(MINIMAL_SALESFORCE.replace("method: access_token", "method: acess_token"))
    assert (issue.path, issue.line) == ("salesforce.connection.auth.method", 5)
    assert "did you mean 'access_token'" in issue.fix


def test_missing_required_key_points_at_the_parent() -> None:
    issue = only("salesforce:\n  objects: [Lead]\n")
    assert issue.path == "salesforce.connection"
    assert issue.line == 1
    assert "required key 'connection' is missing" in issue.message
    assert issue.fix == "add connection: under salesforce"


def test_instance_url_required_for_token_auth() -> None:
    issue = only(MINIMAL_SALESFORCE.replace("    instance_url: https://acme.my.salesforce.com\n", ""))
    assert "needs instance_url" in issue.message
    assert "instance_url:" in issue.fix


@pytest.mark.parametrize(
    ("feature", "path", "message"),
    [
        ("{name: Bad Name, field: X, type: text}", "salesforce.features[0].name", "not a valid name"),
        ("{name: a, field: 'Account..X', type: text}", "salesforce.features[0].field", "dotted path"),
        (
            "{name: a, field: {Account: Name}, type: text}",
            "salesforce.features[0].field.Account",
            "not a scored",
        ),
        ("{name: a, field: X, type: category, missing: zero}", "salesforce.features[0].missing", "zero only"),
        (
            "{name: a, field: X, type: number, missing: lots}",
            "salesforce.features[0].missing",
            "not a number",
        ),
        ("{name: a, field: X, type: text, transform: age_days}", "salesforce.features[0].type", "age_days"),
        (
            "{name: a, field: X, type: text, points: [{min: 1, points: 2}]}",
            "salesforce.features[0].points",
            "ranges",
        ),
        (
            "{name: a, field: X, type: number, points: [{min: 5, max: 1, points: 2}]}",
            "salesforce.features[0].points[0]",
            "not below",
        ),
        (
            "{name: a, field: X, type: boolean, points: {maybe: 2}}",
            "salesforce.features[0].points",
            "true/false",
        ),
        (
            "{name: a, field: X, type: text, values: {a: b}}",
            "salesforce.features[0]",
            "only apply to category",
        ),
        (
            "{name: a, field: X, type: text, explain: perhaps}",
            "salesforce.features[0].explain",
            "not true or false",
        ),
    ],
)
def test_feature_errors(feature: str, path: str, message: str) -> None:
    issue = only(MINIMAL_SALESFORCE + f"  features:\n    - {feature}\n")
    assert issue.path == path
    assert issue.line == 8
    assert message in issue.message
    assert issue.fix


def test_duplicate_feature_points_at_the_second_one() -> None:
    text = (
        MINIMAL_SALESFORCE
        + "  features:\n    - {name: a, field: X, type: text}\n    - {name: a, field: Y, type: text}\n"
    )
    issue = only(text)
    assert (issue.path, issue.line) == ("salesforce.features[1].name", 9)
    assert "appears twice" in issue.message


def test_writeback_errors() -> None:
    text = (
        MINIMAL_SALESFORCE
        + "  writeback:\n    tier: leadq_Score__c\n    reasons: {field: R__c, type: Number}\n"
    )
    issue = only(text)
    assert (issue.path, issue.line) == ("salesforce.writeback.reasons.type", 9)
    assert "reasons needs a text field, not Number" in issue.message

    issue = only(MINIMAL_SALESFORCE + "  writeback:\n    tier: leadq_Score__c\n")
    assert issue.path == "salesforce.writeback.tier"
    assert "tier and score both write to 'leadq_Score__c'" in issue.message


def test_hubspot_property_names_are_checked() -> None:
    text = "hubspot:\n  connection:\n    auth: {method: private_app, token: {env: T}}\n  writeback:\n    score: Leadq-Score\n"
    issue = only(text)
    assert issue.path == "hubspot.writeback.score"
    assert "not a HubSpot property name" in issue.message


def test_objects_must_include_something_to_score() -> None:
    issue = only(MINIMAL_SALESFORCE + "  objects: [Account]\n")
    assert issue.path == "salesforce.objects"
    assert "Lead or Contact" in issue.message


def test_reviewers_are_checked_per_crm() -> None:
    text = MINIMAL_SALESFORCE + "review:\n  reviewers:\n    salesforce: [ann@example.com, 'bob']\n"
    issue = only(text)
    assert (issue.path, issue.line) == ("review.reviewers.salesforce[1]", 9)
    assert "neither an email nor a Salesforce user id" in issue.message

    issue = only(MINIMAL_SALESFORCE + "review:\n  reviewers:\n    hubspot: ['123']\n")
    assert (issue.path, issue.line) == ("review.reviewers.hubspot", 9)
    assert "hubspot, which is not configured" in issue.message


def test_schedule_and_sections() -> None:
    issue = only(MINIMAL_SALESFORCE + "schedule: {interval_minutes: 5, cron: '*/5 * * * *'}\n")
    assert "both interval_minutes and cron" in issue.message
    issue = only(MINIMAL_SALESFORCE + "scoring: [1, 2]\n")
    assert issue.path == "scoring"
    assert "expected a mapping" in issue.message


def test_no_crm_configured() -> None:
    issue = only("review: {enabled: true}\n")
    assert "no CRM is configured" in issue.message
    assert "leadq init" in issue.fix


@pytest.mark.parametrize(
    ("text", "line", "needle", "fix"),
    [
        ("salesforce:\n  connection: a: b\n", 2, "mapping values are not allowed", "quote a value"),
        ("salesforce: {}\nsalesforce: {}\n", 2, "duplicate key", "remove one of the two"),
        ("salesforce:\n  connection: [1, 2\n", 3, "expected ',' or ']'", "close the [ ... ] list"),
        ("salesforce:\n\tconnection: {}\n", 2, "cannot start any token", "spaces"),
        ("salesforce: 'open\n", 2, "unexpected end of stream", "close the quote"),
    ],
)
def test_broken_yaml_gives_one_message_with_its_line(text: str, line: int, needle: str, fix: str) -> None:
    issue = only(text)
    assert issue.line == line
    assert "the YAML is broken" in issue.message
    assert needle in issue.message
    assert fix in issue.fix


def test_empty_and_non_mapping_documents() -> None:
    assert "empty" in only("# nothing\n").message
    assert "top level must be a mapping" in only("- a\n- b\n").message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "nope.yaml")
    assert "does not exist" in str(caught.value)
    assert "leadq init" in str(caught.value)


def test_errors_name_the_file_they_come_from(write_config: Callable[[str], Path]) -> None:
    path = write_config(MINIMAL_SALESFORCE + "schedule: {jitter_seconds: -1}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, resolve=False)
    assert str(caught.value).startswith(f"{path}:7:12 schedule.jitter_seconds:")


def test_numbers_are_accepted_where_ids_are_expected() -> None:
    text = (
        "hubspot:\n  connection:\n    auth: {method: oauth_refresh, client_id: 4711, client_secret: {env: S},"
        " refresh_token: {env: R}}\n"
        "  features:\n    - {name: size, field: numemployees, type: category, values: {1000: 1000+}}\n"
        "review:\n  reviewers:\n    hubspot: [12345, ann@example.com]\n"
    )
    config = parse_config(text, resolve=False)
    assert config.review.reviewers.hubspot == ("12345", "ann@example.com")
    assert config.hubspot is not None
    assert config.hubspot.features[0].values == {"1000": "1000+"}


def test_number_features_score_ranges_not_values() -> None:
    issue = only(
        MINIMAL_SALESFORCE + "  features:\n    - {name: a, field: X, type: number, points: {1: 5}}\n"
    )
    assert issue.path == "salesforce.features[0].points"
    assert "ranges" in issue.message


def test_the_drift_admin_is_an_owner_id_per_crm() -> None:
    text = MINIMAL_SALESFORCE + "scoring:\n  drift:\n    admin:\n      salesforce: ann@example.com\n"
    issue = only(text)
    assert (issue.path, issue.line) == ("scoring.drift.admin.salesforce", 10)
    assert "not a Salesforce user id (005...)" in issue.message and "an email cannot own" in issue.message
    assert "write the admin's Salesforce user id" in issue.fix

    issue = only(MINIMAL_SALESFORCE + "scoring:\n  drift: {admin: {hubspot: owner-7}}\n")
    assert (issue.path, issue.line) == ("scoring.drift.admin.hubspot", 8)
    assert "'owner-7' is not a HubSpot owner id" in issue.message

    issue = only(MINIMAL_SALESFORCE + "scoring:\n  drift:\n    admin: {salesforce: ''}\n")
    assert (issue.path, issue.line) == ("scoring.drift.admin.salesforce", 9)

    config = parse_config(
        MINIMAL_SALESFORCE + "scoring:\n  drift:\n    admin: {salesforce: 005000000000001AAA}\n",
        resolve=False,
    )
    admin = config.scoring.drift.admin
    assert (admin.for_crm("salesforce"), admin.for_crm("hubspot")) == ("005000000000001AAA", None)

    issue = only(MINIMAL_SALESFORCE + "scoring:\n  drift:\n    admin: {hubspot: 4711}\n")
    assert issue.path == "scoring.drift.admin.hubspot"
    assert "hubspot, which is not configured" in issue.message
    assert "remove scoring.drift.admin.hubspot" in issue.fix
    assert parse_config(MINIMAL_SALESFORCE, resolve=False).scoring.drift.admin.for_crm("salesforce") is None
