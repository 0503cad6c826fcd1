"""HTTP outcomes classified by a data table: (CRM, status, error code) -> what to do.

The first matching row wins; `None` matches anything. Connectors never decide retry/refresh/stop in code
paths of their own: they look the outcome up here, so the policy is reviewable in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Action(StrEnum):
    """What the connector (and its caller) does about an outcome."""

    RETRY = "retry"  # backoff with jitter, then try again
    REFRESH = "refresh"  # re-authenticate, then try again once
    RATE_LIMIT = "rate_limit"  # wait as the CRM says, then try again
    QUOTA = "quota"  # stop the cycle early; resume next cycle
    REJECT = "reject"  # this record is refused; others go on
    CONFIG = "config"  # stop: config or CRM setup must be fixed


@dataclass(frozen=True)
class Rule:
    """One row of the table, with the advice a person reads when it is a config problem."""

    crm: str | None
    status: int | None
    code: str | None
    action: Action
    hint: str = ""


RULES: tuple[Rule, ...] = (
    # --- Salesforce
    Rule("salesforce", 401, "INVALID_SESSION_ID", Action.REFRESH),
    Rule("salesforce", 401, None, Action.REFRESH),  # INVALID_AUTH_HEADER and the like: sign in again, once
    Rule("salesforce", 400, "invalid_client", Action.CONFIG, "the connected app's client id or secret is wrong"),
    Rule("salesforce", 400, "invalid_client_id", Action.CONFIG, "the connected app's client id is wrong"),
    Rule("salesforce", 400, "invalid_grant", Action.CONFIG, "the user, password, refresh token or JWT was refused"),
    Rule("salesforce", 400, "unsupported_grant_type", Action.CONFIG, "this org does not allow that OAuth flow"),
    Rule("salesforce", 403, "REQUEST_LIMIT_EXCEEDED", Action.QUOTA, "the org's daily API quota is spent"),
    Rule("salesforce", None, "UNABLE_TO_LOCK_ROW", Action.RETRY),
    Rule("salesforce", None, "SERVER_UNAVAILABLE", Action.RETRY),
    Rule("salesforce", None, "UNKNOWN_EXCEPTION", Action.RETRY),
    Rule("salesforce", None, "QUERY_TIMEOUT", Action.RETRY),
    Rule("salesforce", 400, "INVALID_FIELD", Action.CONFIG, "a mapped field does not exist or is not visible; run `leadq check`"),
    Rule("salesforce", 400, "INVALID_FIELD_FOR_INSERT_UPDATE", Action.CONFIG,
         "the integration user cannot edit this field (field-level security); run `leadq check`"),
    Rule("salesforce", 400, "INVALID_TYPE", Action.CONFIG, "an object in the config does not exist or is not visible"),
    Rule("salesforce", 400, "MALFORMED_QUERY", Action.CONFIG, "a generated query was refused; report it with the query"),
    Rule("salesforce", 403, "INSUFFICIENT_ACCESS", Action.CONFIG, "the integration user lacks a permission; see the permission set"),
    Rule("salesforce", 403, "API_DISABLED_FOR_ORG", Action.CONFIG, "the API is not enabled for this org or user"),
    Rule("salesforce", None, "INSUFFICIENT_ACCESS_OR_READONLY", Action.REJECT),
    Rule("salesforce", None, "ENTITY_IS_DELETED", Action.REJECT),
    Rule("salesforce", 404, None, Action.REJECT),
    Rule("salesforce", 400, None, Action.REJECT),  # per-record validation: STRING_TOO_LONG, REQUIRED_FIELD_MISSING, ...
    # --- HubSpot
    Rule("hubspot", 401, None, Action.REFRESH),
    Rule("hubspot", 403, "MISSING_SCOPES", Action.CONFIG, "the private app or OAuth app lacks a scope; see the README"),
    Rule("hubspot", 403, None, Action.CONFIG, "the token is not allowed to do this; check the app's scopes"),
    Rule("hubspot", 429, "DAILY", Action.QUOTA, "the portal's daily API limit is spent"),
    Rule("hubspot", 429, None, Action.RATE_LIMIT),
    Rule("hubspot", 400, "PROPERTY_DOESNT_EXIST", Action.CONFIG, "a mapped property does not exist; run `leadq check`"),
    Rule("hubspot", 404, None, Action.REJECT),
    Rule("hubspot", 409, None, Action.REJECT),
    Rule("hubspot", 400, None, Action.REJECT),
    # --- either CRM
    Rule(None, 408, None, Action.RETRY),
    Rule(None, 429, None, Action.RATE_LIMIT),
    Rule(None, 500, None, Action.RETRY),
    Rule(None, 502, None, Action.RETRY),
    Rule(None, 503, None, Action.RETRY),
    Rule(None, 504, None, Action.RETRY),
    Rule(None, None, None, Action.REJECT),
)  # fmt: skip


def classify(crm: str, status: int | None, code: str | None = None) -> Rule:
    """The first rule matching this CRM, HTTP status (None: no response at all) and error code."""
    if status is None:
        return Rule(
            crm, None, code, Action.RETRY
        )  # connection reset, timeout: nothing reached the CRM's answer
    for rule in RULES:
        if rule.crm not in (None, crm):
            continue
        if rule.status not in (None, status):
            continue
        if rule.code is not None and rule.code != code:
            continue
        return rule
    raise AssertionError("the table ends with a catch-all row")
