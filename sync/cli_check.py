"""`leadq check`: prove leadq.yaml against the live CRM schema before anything is written.

For each configured CRM: connect, describe the objects the config reads and writes (`sync.check`), then
pull a sample of records through the connector and compare fill rates between converted and unconverted
ones (`sync.leakage`). A CRM that cannot be reached or refuses the credentials is one error naming the CRM
and what to check; secret values never reach the output (`sync.connectors.redact`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from connector.errors import AuthError, ConnectorConfigError, ConnectorError, QuotaExhaustedError
from connector.hubspot import HubSpotConnector
from mappings import ConfigError, LeadqConfig, load_config
from sync.check import check_schema, feature_paths, resolve_path
from sync.check_types import Finding, Report, Status
from sync.connectors import (
    CRM_NAMES,
    CachedDescriber,
    ConnectionSetupError,
    Connector,
    build_connector,
    endpoint,
    redact,
    secret_sources,
)
from sync.leakage import SAMPLE_SIZE, balanced, label_split, leakage_findings, pull_sample
from sync.validate import validate_startup

ConnectorFactory = Callable[..., Connector]
# An interactive check should fail fast on a dead endpoint, and sample with REST paging: a Bulk API job
# would read the whole table to keep 2,000 records.
CHECK_TUNING: dict[str, dict[str, Any]] = {
    "salesforce": {"max_retries": 1, "connect_timeout": 5.0, "bulk_threshold": 10**9},
    "hubspot": {"max_retries": 1, "connect_timeout": 5.0},
}
STYLE = {Status.OK: "green", Status.WARN: "yellow", Status.ERROR: "bold red"}


def _detail(exc: Exception) -> str:
    # ConnectorError's str() starts with the CRM's name, which the message already gives.
    text = str(exc.args[0]) if isinstance(exc, ConnectorError) and exc.args else str(exc)
    return text.removeprefix("Salesforce: ").removeprefix("HubSpot: ")


def connection_error(config: LeadqConfig, crm: str, exc: Exception) -> Finding:
    """One `connect` error naming the CRM, where it was reached and what to check (never a secret)."""
    name = CRM_NAMES[crm]
    where = endpoint(config, crm)
    who = "the integration user is active" if crm == "salesforce" else "the private app is still installed"
    if isinstance(exc, AuthError):
        # The connector's own text may talk of renewing sessions; the admin needs to know what to check.
        code = exc.code or (f"HTTP {exc.status}" if exc.status else type(exc).__name__)
        message = (
            f"{name} at {where} refused the credentials ({code}): check the secrets "
            f"({secret_sources(config, crm)}), that they belong to this {name} account, and that {who}"
        )
    elif isinstance(exc, QuotaExhaustedError):
        message = f"{name}'s API quota is spent ({_detail(exc)}): run the check again when it resets"
    elif isinstance(exc, ConnectorConfigError | ConnectionSetupError):
        message = f"{name} at {where} cannot be used: {_detail(exc)}"
    else:
        fix = "check the URL in leadq.yaml, the network or proxy, and ca_bundle"
        message = f"cannot reach {name} at {where} ({_detail(exc)}): {fix}"
    return Finding(crm, "", "", "connect", Status.ERROR, redact(message, config))


def check_crm(
    config: LeadqConfig, crm: str, *, factory: ConnectorFactory = build_connector, sample: int = SAMPLE_SIZE
) -> list[Finding]:
    """Every finding for one CRM; a CRM that cannot be used at all is a single `connect` error."""
    block = config.crm(crm)
    assert block is not None
    try:
        connector = factory(config, crm, **CHECK_TUNING[crm])
    except (ConnectionSetupError, ConnectorError) as exc:
        return [connection_error(config, crm, exc)]
    try:
        describe = CachedDescriber(connector)
        # HubSpot says which scopes the token was granted; Salesforce's permissions are checked per field.
        scopes = connector.granted_scopes() if isinstance(connector, HubSpotConnector) else None
        findings = check_schema(crm, block, describe, scopes=scopes)
        findings.insert(
            0, Finding(crm, "", "", "connect", Status.OK, f"connected to {endpoint(config, crm)}")
        )
        findings += _leakage(config, crm, connector, describe, sample)
    except ConnectorError as exc:
        return [connection_error(config, crm, exc)]
    finally:
        connector.close()
    return [Finding(f.crm, f.object, f.field, f.check, f.status, redact(f.message, config)) for f in findings]


def _leakage(
    config: LeadqConfig, crm: str, connector: Connector, describe: CachedDescriber, sample: int
) -> list[Finding]:
    block = config.crm(crm)
    assert block is not None
    split = label_split(crm, block)
    if split is None:
        why = f"label {block.label.kind} does not split records by a field of {', '.join(block.objects)}"
        return [Finding(crm, "", "", "leakage", Status.OK, f"not checked: {why}")]
    obj = split.object
    # Only fields describe found: one missing field would fail the whole query, and is reported already.
    paths = [p for p in feature_paths(crm, block, obj) if resolve_path(describe, obj, p)[1] is not None]
    if crm == "hubspot":
        paths = [p for p in paths if "." not in p]
    try:
        fields = [*dict.fromkeys([*paths, *split.fields])]
        records = pull_sample(connector, obj, fields, limit=sample, enough=balanced(block, split))
    except ConnectorConfigError as exc:
        return [Finding(crm, obj, "", "read", Status.ERROR,
                        f"reading {obj} with the mapped fields failed: {exc}; grant the integration user "
                        "read access to them")]  # fmt: skip
    read = Finding(
        crm, obj, "", "read", Status.OK, f"read {len(records)} {split.noun} with every mapped field"
    )
    return [read, *leakage_findings(crm, block, split, paths, records)]


def run_check(
    config: LeadqConfig, *, factory: ConnectorFactory = build_connector, sample: int = SAMPLE_SIZE
) -> Report:
    """Check every configured CRM."""
    report = Report()
    for crm in config.crms:
        report.add(check_crm(config, crm, factory=factory, sample=sample))
    return report


def render(report: Report, console: Console) -> None:
    """The report as a table, then a one-line summary."""
    table = Table(title="leadq check", title_justify="left", header_style="bold", show_lines=False)
    for column in ("CRM", "object", "field", "check", "status", "message"):
        table.add_column(column, overflow="fold", no_wrap=column in ("status",))
    for f in report.findings:
        status = Text(f.status.value, style=STYLE[f.status])
        # Text cells: messages quote CRM codes like [INVALID_FIELD], which rich would read as markup.
        table.add_row(CRM_NAMES.get(f.crm, f.crm), f.object, f.field, f.check, status, Text(f.message))
    console.print(table)
    counts = ", ".join(f"{report.count(s)} {s.value}" for s in Status)
    verdict = "[green]the config works[/]" if report.ok else "[bold red]fix the errors above[/]"
    console.print(f"{counts}: {verdict}")


def check(
    config: Annotated[
        Path, typer.Option("--config", "-c", help="The config to check.", dir_okay=False)
    ] = Path("leadq.yaml"),
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object instead of a table.")
    ] = False,
) -> None:
    """Prove leadq.yaml against each CRM: fields exist with the right types and access, and nothing leaks."""
    try:
        loaded = load_config(config)
        validate_startup(loaded, path=config)
    except ConfigError as exc:
        if as_json:
            issues = [{"message": str(i)} for i in exc.issues]
            typer.echo(json.dumps({"ok": False, "config_errors": issues}))
        else:
            Console(stderr=True).print(Text("error: ", style="red") + Text(str(exc)))
        raise typer.Exit(2) from None
    report = run_check(loaded)
    if as_json:
        typer.echo(json.dumps(report.as_dict()))
    else:
        render(report, Console(width=max(Console().width, 160)))
    if not report.ok:
        raise typer.Exit(1)
