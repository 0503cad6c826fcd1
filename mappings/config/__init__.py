"""leadq.yaml: schema, loading with line-numbered errors, and secret references."""

from __future__ import annotations

from mappings.config.base import CRMS, Crm
from mappings.config.connections import HubSpotConnection, SalesforceConnection
from mappings.config.crm import (
    ActivityKind,
    CrmMapping,
    HubSpotConfig,
    HubSpotMapping,
    SalesforceConfig,
    SalesforceMapping,
    default_mapping,
)
from mappings.config.errors import ConfigError, ConfigIssue
from mappings.config.features import FeatureSpec, FeatureType, FeatureValue, Points
from mappings.config.loader import load_config, parse_config
from mappings.config.policy import Policy, ScheduleConfig, ScoringConfig, StateConfig, Tiers
from mappings.config.review import ReviewConfig
from mappings.config.schema import LeadqConfig
from mappings.config.secrets import SecretRef, SecretUnavailableError
from mappings.config.writeback import HubSpotWritebackField, SalesforceWritebackField, WritebackField

__all__ = [
    "CRMS",
    "ActivityKind",
    "ConfigError",
    "ConfigIssue",
    "Crm",
    "CrmMapping",
    "FeatureSpec",
    "FeatureType",
    "FeatureValue",
    "HubSpotConfig",
    "HubSpotConnection",
    "HubSpotMapping",
    "HubSpotWritebackField",
    "LeadqConfig",
    "Points",
    "Policy",
    "ReviewConfig",
    "SalesforceConfig",
    "SalesforceConnection",
    "SalesforceMapping",
    "SalesforceWritebackField",
    "ScheduleConfig",
    "ScoringConfig",
    "SecretRef",
    "SecretUnavailableError",
    "StateConfig",
    "Tiers",
    "WritebackField",
    "default_mapping",
    "load_config",
    "parse_config",
]
