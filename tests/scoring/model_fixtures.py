"""Small synthetic lead data for the model, explanation, registry, drift and report tests.

A known logistic ground truth over a lead source, company size, pricing visits, a free-mail flag, an
email domain (not explainable, shares the `Email` source with the free-mail flag) and a graph fact.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from mappings import FeatureSpec, ScoringConfig
from scoring.features import ColumnInfo, FeatureFrame
from scoring.training import TrainedModel, train

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SOURCES = ("Web", "Partner Referral", "Phone Inquiry", "Purchased List", "Other")
CONFIG = ScoringConfig(min_labels_per_class=50)
COLUMNS = {
    "lead_source": ColumnInfo("lead_source", "Lead source", "LeadSource", "field", "category"),
    "employees": ColumnInfo("employees", "Employees", "NumberOfEmployees", "field", "number"),
    "pricing_visits_30d": ColumnInfo(
        "pricing_visits_30d", "Pricing page visits (30 days)", "activity:pricing_visits", "activity", "number"
    ),
    "free_email": ColumnInfo("free_email", "Uses a free email address", "Email", "field", "boolean"),
    "email_domain": ColumnInfo(
        "email_domain", "Email domain", "Email", "field", "category", explainable=False
    ),
    "colleagues_engaged_30d": ColumnInfo(
        "colleagues_engaged_30d",
        "Colleagues engaged (30 days)",
        "graph:colleagues_engaged",
        "graph",
        "number",
    ),
}
SPECS = (
    FeatureSpec.model_validate(
        {"name": "lead_source", "field": "LeadSource", "type": "category", "label": "Lead source",
         "points": {"Partner Referral": 15, "Phone Inquiry": 10, "Web": 5, "Purchased List": -5}}
    ),
    FeatureSpec.model_validate(
        {"name": "employees", "field": "NumberOfEmployees", "type": "number", "label": "Employees",
         "points": [{"min": 1000, "points": 15}, {"min": 200, "max": 1000, "points": 10}]}
    ),
    FeatureSpec.model_validate(
        {"name": "free_email", "field": "Email", "type": "boolean", "transform": "free_email",
         "label": "Uses a free email address", "points": {True: -5}}
    ),
)  # fmt: skip


@contextmanager
def one_thread() -> Iterator[None]:
    """OpenMP on one thread (the tests' timing does not depend on other work on the machine)."""
    with threadpool_limits(limits=1, user_api="openmp"):
        yield


def lead_data(n: int = 1500, seed: int = 0) -> tuple[FeatureFrame, pd.Series]:
    """A feature frame of `n` leads and their outcomes (about 40 % positive)."""
    rng = np.random.default_rng(seed)
    index = pd.Index([f"00Q{i:012d}" for i in range(n)], dtype=object)
    source = rng.choice(SOURCES, size=n, p=[0.4, 0.15, 0.15, 0.2, 0.1])
    employees = np.round(np.exp(rng.normal(4, 1.5, size=n)))
    employees[rng.random(n) < 0.1] = np.nan
    visits = rng.poisson(2, size=n).astype(float)
    free = (rng.random(n) < 0.3).astype(float)
    domain = rng.choice(["acme.com", "globex.com", "initech.com"], size=n)
    colleagues = rng.poisson(0.5, size=n).astype(float)
    logit = (
        -1.0 + 1.5 * (source == "Partner Referral") + 0.8 * (source == "Phone Inquiry")
        - 1.0 * (source == "Purchased List") + 0.3 * np.nan_to_num(np.log1p(employees) - 4)
        + 0.35 * visits - 0.8 * free + 0.6 * colleagues
    )  # fmt: skip
    outcome = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    data = pd.DataFrame(
        {
            "lead_source": pd.Categorical(source, categories=list(SOURCES)),
            "employees": employees,
            "pricing_visits_30d": visits,
            "free_email": free,
            "email_domain": pd.Categorical(domain),
            "colleagues_engaged_30d": colleagues,
        },
        index=index,
    )
    context = pd.DataFrame({"account_name": ["Acme Corp"] * n}, index=index)
    frame = FeatureFrame(data, dict(COLUMNS), context, pd.Series(1.0, index=index), NOW)
    return frame, pd.Series(outcome, index=index)


def head(frame: FeatureFrame, n: int) -> FeatureFrame:
    """The first `n` leads of `frame` (copies, safe to edit)."""
    return FeatureFrame(
        frame.data.iloc[:n].copy(),
        frame.columns,
        frame.context.iloc[:n],
        frame.completeness.iloc[:n],
        frame.now,
    )


@cache
def trained_model(calibration: str = "auto") -> TrainedModel:
    """A model trained once per test session on `lead_data()` (read-only: do not refit it)."""
    frame, outcome = lead_data()
    with one_thread():
        return train(frame, outcome, CONFIG, params={"calibration": calibration})
