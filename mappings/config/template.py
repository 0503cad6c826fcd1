"""A commented leadq.yaml that validates as written: what `leadq init` puts on disk."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from mappings.config.base import CRMS
from mappings.config.connections import DEFAULT_API_VERSION, DEFAULT_HUBSPOT_BASE_URL
from mappings.defaults import default_mapping_text

SANDBOX_TOKEN_ENV = "LEADQ_SANDBOX_TOKEN"  # noqa: S105 (a variable name, not its value)

_HEADER = """\
# leadq configuration. `leadq check` proves it against the live CRM before anything is written.
# Secrets never go in this file: write {env: VARIABLE} or {file: /path/to/secret} instead.
# Relative paths are relative to this file. Keys left out take the defaults shown here.
version: 1
"""

_REST = """\
review:
  enabled: true
  reviewers:                    # user/owner ids or emails; empty: each record's owner reviews
{reviewers}
  max_open_per_reviewer: 25
  sla_hours: 24
  borderline: [45, 60]          # scores in this band are sent for review
  escalation: reassign          # reassign | manager, when the SLA passes
  on_reject: nurture            # nurture | disqualify
  override_expiry_days: 90      # a reviewer's override score sticks this long

scoring:
  tiers: {{A: 80, B: 60, C: 40}}  # lowest score of each tier; below C is D
  min_labels_per_class: 200     # rules-only scoring (the features' points) until there are this many
  segments: []
  # Rules applied after the model, e.g.:
  #   - name: partner_referrals_reviewed
  #     when: "lead.lead_source == 'Partner Referral'"
  #     action: review            # route | review | nurture | disqualify
  #     reason: Partner referrals are checked by the partner team
  #     priority: 10
  policies: []
  retrain:
    every_n_labels: 100
    schedule: "0 3 * * 0"       # cron: Sundays 03:00
  drift: {{psi_warn: 0.1, psi_alert: 0.25, min_auc: 0.6, admin: {{}}}}  # per-CRM admin ids get drift tasks

schedule:
  interval_minutes: 15          # or cron: "*/15 * * * *"
  jitter_seconds: 30

state:
  url: "sqlite:///leadq.db"     # next to this file; a postgresql:// URL works the same
"""


def _quoted(value: str | os.PathLike[str]) -> str:
    # A JSON string is a valid double-quoted YAML scalar, escapes included.
    return json.dumps(str(value))


def _salesforce_connection(sandbox_url: str | None, ca_bundle: str | None, token_env: str) -> list[str]:
    lines = ["salesforce:", "  connection:"]
    if sandbox_url:
        lines += [
            f"    instance_url: {_quoted(sandbox_url)}   # the leadq sandbox",
            f'    api_version: "{DEFAULT_API_VERSION}"',
            "    auth:",
            "      method: access_token     # client_credentials | jwt_bearer | refresh_token | password | access_token",
            f"      access_token: {{env: {token_env}}}",
        ]
    else:
        lines += [
            '    instance_url: "https://YOUR-DOMAIN.my.salesforce.com"   # your org\'s My Domain URL',
            f'    api_version: "{DEFAULT_API_VERSION}"',
            "    auth:",
            "      method: client_credentials   # client_credentials | jwt_bearer | refresh_token | password | access_token",
            '      client_id: "YOUR-CONNECTED-APP-CONSUMER-KEY"',
            "      client_secret: {env: SALESFORCE_CLIENT_SECRET}",
        ]
    if ca_bundle:
        lines.append(f"    ca_bundle: {_quoted(ca_bundle)}   # trust this CA for the API's TLS")
    lines += [
        "    daily_quota_share: 0.25    # use at most this share of the org's daily API requests",
        "    bulk_threshold: 2000       # write through Bulk API 2.0 above this many records",
    ]
    return lines


def _hubspot_connection(sandbox_url: str | None, ca_bundle: str | None, token_env: str) -> list[str]:
    base_url = sandbox_url or DEFAULT_HUBSPOT_BASE_URL
    lines = ["hubspot:", "  connection:", f"    base_url: {_quoted(base_url)}", "    auth:"]
    lines.append("      method: private_app      # private_app | oauth_refresh")
    env = token_env if sandbox_url else "HUBSPOT_PRIVATE_APP_TOKEN"
    lines.append(f"      token: {{env: {env}}}")
    if ca_bundle:
        lines.append(f"    ca_bundle: {_quoted(ca_bundle)}   # trust this CA for the API's TLS")
    return lines


def _indented(text: str) -> list[str]:
    return [f"  {line}" if line.strip() else "" for line in text.rstrip().splitlines()]


def render_default_config(
    *,
    crms: Iterable[str] = CRMS,
    sandbox_url: str | None = None,
    ca_bundle: str | os.PathLike[str] | None = None,
    token_env: str = SANDBOX_TOKEN_ENV,
) -> str:
    """The text of a starting leadq.yaml for `crms`, wired to a sandbox when `sandbox_url` is given."""
    chosen = [crm for crm in CRMS if crm in set(crms)]
    unknown = set(crms) - set(CRMS)
    if unknown or not chosen:
        raise ValueError(f"crms must name salesforce and/or hubspot, got {sorted(set(crms))}")
    bundle = str(ca_bundle) if ca_bundle else None
    parts = [_HEADER]
    for crm in chosen:
        connection = _salesforce_connection if crm == "salesforce" else _hubspot_connection
        block = connection(sandbox_url.rstrip("/") if sandbox_url else None, bundle, token_env)
        block += ["", "  # --- mapping (shipped defaults; edit to fit your org) ---"]
        block += _indented(default_mapping_text(crm))
        parts.append("\n".join(block) + "\n")
    reviewers = "\n".join(f"    {crm}: []" for crm in chosen)
    parts.append(_REST.format(reviewers=reviewers))
    return "\n".join(parts)


def write_default_config(
    path: str | os.PathLike[str],
    *,
    crms: Iterable[str] = CRMS,
    sandbox_url: str | None = None,
    ca_bundle: str | os.PathLike[str] | None = None,
    token_env: str = SANDBOX_TOKEN_ENV,
    overwrite: bool = False,
) -> Path:
    """Write a starting leadq.yaml that validates with no edits; refuses to replace a file unless `overwrite`."""
    target = Path(path)
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} already exists")
    text = render_default_config(crms=crms, sandbox_url=sandbox_url, ca_bundle=ca_bundle, token_env=token_env)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target
