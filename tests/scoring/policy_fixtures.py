"""Shared data for the policy tests: a small schema of features and a hand-made batch."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from mappings.config.features import FeatureSpec
from scoring.policy import Schema, policy_schema

NOW = datetime(2024, 7, 1, tzinfo=UTC)

FEATURES = [
    FeatureSpec(name="employees", field={"*": "NumberOfEmployees"}, type="number"),
    FeatureSpec(name="annual_revenue", field={"*": "AnnualRevenue"}, type="number"),
    FeatureSpec(name="source", field={"*": "LeadSource"}, type="category"),
    FeatureSpec(name="title", field={"*": "Title"}, type="text"),
    FeatureSpec(name="free_email", field={"*": "Email"}, type="boolean", transform="free_email"),
    FeatureSpec(name="created", field={"*": "CreatedDate"}, type="date"),
]


def schema() -> Schema:
    """The test features plus graph facts and built-ins."""
    return policy_schema(FEATURES)


def frame(**overrides: Any) -> pd.DataFrame:
    """Four leads covering present, missing and odd values of every type; columns can be overridden."""
    columns: dict[str, Any] = {
        "lead_id": ["L0", "L1", "L2", "L3"],
        "lead.employees": [2000.0, None, 50.0, 0.0],
        "lead.annual_revenue": [5e6, 2e5, None, 0.0],
        "lead.source": ["Web", "Partner  referral", None, "Other"],
        "lead.title": ["VP Sales", "cto", None, "Student"],
        "lead.free_email": [False, None, True, False],
        "lead.created": [
            datetime(2024, 1, 1, tzinfo=UTC),
            None,
            datetime(2024, 6, 20, tzinfo=UTC),
            "2023-01-01",
        ],
        "graph.account_is_customer": [True, None, False, False],
        "graph.account_open_opps": [1.0, 0.0, None, 2.0],
        "graph.account_won_opps": [0.0, 0.0, 0.0, 1.0],
        "graph.account_lost_opps": [0.0, 3.0, 0.0, 0.0],
        "graph.parent_or_sibling_is_customer": [False, False, True, False],
        "graph.colleagues_engaged_30d": [0.0, 2.0, 5.0, 0.0],
        "graph.colleagues_engaged_90d": [1.0, 2.0, 5.0, 0.0],
        "graph.account_days_since_engagement": [3.0, None, 40.0, 400.0],
        "graph.matched": [True, False, True, True],
        "graph.match_method": ["domain", None, "name", "explicit"],
        "score": [85.0, 50.0, 30.0, 62.0],
        "probability": [0.85, 0.5, 0.3, 0.62],
        "completeness": [0.9, 0.3, 0.6, 1.0],
        "days_inactive": [0.0, np.nan, 10.0, 3.0],
    }
    columns.update(overrides)
    return pd.DataFrame(columns)
