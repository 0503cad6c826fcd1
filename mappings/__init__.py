"""mappings: the admin's config (leadq.yaml) and translation between CRM records and canonical records.

Config: `load_config` reads leadq.yaml into one `LeadqConfig`, or raises `ConfigError` listing every
problem with its line, key path and fix; `write_default_config` writes a commented file that validates
as written; `default_mapping` gives the shipped per-CRM mapping.

Translation: `to_canonical` / `translate_batch` turn raw CRM records into `Lead`, `Contact`, `Account`,
`Opportunity`, `Activity` and `Task` records, reporting unreadable values as `FieldProblem`s instead of
failing (a person's feature values are a `Row`, a compact mapping; `values_of` reads them in bulk);
`to_crm_payload` turns canonical writeback values into a CRM update payload.

Imports nothing else of leadq.
"""

from __future__ import annotations

from mappings.config import (
    CRMS,
    ActivityKind,
    ConfigError,
    ConfigIssue,
    Crm,
    CrmMapping,
    FeatureSpec,
    FeatureType,
    FeatureValue,
    HubSpotConfig,
    HubSpotConnection,
    HubSpotMapping,
    HubSpotWritebackField,
    LeadqConfig,
    Points,
    Policy,
    ReviewConfig,
    SalesforceConfig,
    SalesforceConnection,
    SalesforceMapping,
    SalesforceWritebackField,
    ScheduleConfig,
    ScoringConfig,
    SecretRef,
    SecretUnavailableError,
    StateConfig,
    Tiers,
    WritebackField,
    default_mapping,
    load_config,
    parse_config,
)
from mappings.config.template import SANDBOX_TOKEN_ENV, render_default_config, write_default_config
from mappings.config.writeback import RECORD_SLOTS, TASK_SLOTS
from mappings.problems import BatchResult, FieldProblem, TranslationResult
from mappings.records import (
    Account,
    Activity,
    CanonicalRecord,
    Contact,
    Lead,
    LeadKind,
    Opportunity,
    Record,
    ReviewDecision,
    Task,
)
from mappings.rows import Row, values_of
from mappings.translate_in import engagement_activities, supported_objects, to_canonical, translate_batch
from mappings.translate_out import encode_value, to_crm_payload

__all__ = [
    "CRMS",
    "RECORD_SLOTS",
    "SANDBOX_TOKEN_ENV",
    "TASK_SLOTS",
    "Account",
    "Activity",
    "ActivityKind",
    "BatchResult",
    "CanonicalRecord",
    "ConfigError",
    "ConfigIssue",
    "Contact",
    "Crm",
    "CrmMapping",
    "FeatureSpec",
    "FeatureType",
    "FeatureValue",
    "FieldProblem",
    "HubSpotConfig",
    "HubSpotConnection",
    "HubSpotMapping",
    "HubSpotWritebackField",
    "Lead",
    "LeadKind",
    "LeadqConfig",
    "Opportunity",
    "Points",
    "Policy",
    "Record",
    "ReviewConfig",
    "ReviewDecision",
    "Row",
    "SalesforceConfig",
    "SalesforceConnection",
    "SalesforceMapping",
    "SalesforceWritebackField",
    "ScheduleConfig",
    "ScoringConfig",
    "SecretRef",
    "SecretUnavailableError",
    "StateConfig",
    "Task",
    "Tiers",
    "TranslationResult",
    "WritebackField",
    "default_mapping",
    "encode_value",
    "engagement_activities",
    "load_config",
    "parse_config",
    "render_default_config",
    "supported_objects",
    "to_canonical",
    "to_crm_payload",
    "translate_batch",
    "values_of",
    "write_default_config",
]
