"""The review section of leadq.yaml: who reviews, how many each takes on, and what happens when they do not;
and the id formats owner fields accept."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from mappings.config.base import NonEmptyStr, StrictModel, invalid, unique

EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
SF_USER_ID = re.compile(r"005[A-Za-z0-9]{12}([A-Za-z0-9]{3})?")


def _reviewers(values: tuple[str, ...], id_pattern: re.Pattern[str], what: str) -> tuple[str, ...]:
    for index, value in enumerate(values):
        if not (EMAIL.fullmatch(value) or id_pattern.fullmatch(value)):
            raise invalid(
                f"{value!r} is neither an email nor a {what}",
                f"write the reviewer's email or {what}",
                at=(index,),
            )
    unique(values, "reviewer")
    return values


class Reviewers(StrictModel):
    """Who reviews, per CRM; an empty list sends each review to the record's owner."""

    salesforce: tuple[NonEmptyStr, ...] = ()
    hubspot: tuple[NonEmptyStr, ...] = ()

    @field_validator("salesforce")
    @classmethod
    def _salesforce(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return _reviewers(values, SF_USER_ID, "Salesforce user id (005...)")

    @field_validator("hubspot")
    @classmethod
    def _hubspot(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return _reviewers(values, re.compile(r"\d{1,20}"), "HubSpot owner id")

    def for_crm(self, crm: str) -> tuple[str, ...]:
        """The reviewers of `crm`."""
        return self.salesforce if crm == "salesforce" else self.hubspot


class ReviewConfig(StrictModel):
    """When people review a score, how many each takes on, and what happens when they do not.

    Besides `borderline` scores, review is asked for leads matching the `high_value` expression (same
    language as policies), leads whose data completeness is below `min_completeness`, and leads where a
    policy contradicts the model.
    """

    enabled: bool = True
    reviewers: Reviewers = Reviewers()
    max_open_per_reviewer: int = Field(default=25, ge=1)
    sla_hours: float = Field(default=24, gt=0)
    borderline: tuple[int, int] = (45, 60)
    escalation: Literal["reassign", "manager"] = "reassign"
    on_reject: Literal["nurture", "disqualify"] = "nurture"
    override_expiry_days: int = Field(default=90, ge=1)
    high_value: NonEmptyStr | None = None
    min_completeness: float = Field(default=0.5, ge=0, le=1)

    @field_validator("borderline")
    @classmethod
    def _band(cls, band: tuple[int, int]) -> tuple[int, int]:
        low, high = band
        if not 0 <= low < high <= 100:
            raise invalid(
                f"borderline band [{low}, {high}] is not a range within 0-100", "write e.g. [45, 60]"
            )
        return band
