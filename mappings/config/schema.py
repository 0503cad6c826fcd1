"""`LeadqConfig`: the whole of leadq.yaml as one typed, validated object."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import model_validator

from mappings.config.base import CRMS, Crm, StrictModel, invalid
from mappings.config.crm import HubSpotConfig, SalesforceConfig
from mappings.config.policy import ScheduleConfig, ScoringConfig, StateConfig
from mappings.config.review import ReviewConfig


class LeadqConfig(StrictModel):
    """Everything an admin configures: one block per CRM, then review, scoring, schedule and state.

    Build it with `mappings.load_config` (line numbers in errors, secrets resolved), not directly.
    """

    version: Literal[1] = 1
    salesforce: SalesforceConfig | None = None
    hubspot: HubSpotConfig | None = None
    review: ReviewConfig = ReviewConfig()
    scoring: ScoringConfig = ScoringConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    state: StateConfig = StateConfig()

    @model_validator(mode="before")
    @classmethod
    def _validate_defaults(cls, data: Any) -> Any:
        # Sections left out are validated as empty mappings so that defaults see the loader's context
        # (the state database goes next to the config file).
        if isinstance(data, dict):
            sections = ("review", "scoring", "schedule", "state")
            return {**data, **{key: {} for key in sections if data.get(key) is None}}
        return data

    @model_validator(mode="after")
    def _some_crm(self) -> LeadqConfig:
        if self.salesforce is None and self.hubspot is None:
            raise invalid(
                "no CRM is configured",
                "add a salesforce: or hubspot: block (`leadq init` writes a working one)",
            )
        for crm in CRMS:
            if self.review.reviewers.for_crm(crm) and self.crm(crm) is None:
                raise invalid(
                    f"reviewers are listed for {crm}, which is not configured",
                    f"remove review.reviewers.{crm} or add a {crm}: block",
                    at=("review", "reviewers", crm),
                )
            if getattr(self.scoring.drift.admin, crm) and self.crm(crm) is None:
                raise invalid(
                    f"a drift admin is named for {crm}, which is not configured",
                    f"remove scoring.drift.admin.{crm} or add a {crm}: block",
                    at=("scoring", "drift", "admin", crm),
                )
        return self

    @property
    def crms(self) -> tuple[Crm, ...]:
        """The CRMs configured, Salesforce first."""
        return tuple(crm for crm in CRMS if self.crm(crm) is not None)

    def crm(self, crm: str) -> SalesforceConfig | HubSpotConfig | None:
        """The block of `crm`, or None when it is not configured."""
        if crm not in CRMS:
            raise KeyError(f"unknown CRM {crm!r}; expected one of {', '.join(CRMS)}")
        block: SalesforceConfig | HubSpotConfig | None = getattr(self, crm)
        return block
