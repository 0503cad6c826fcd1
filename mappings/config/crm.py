"""One CRM's block of leadq.yaml: objects to sync, features, label, writeback, activity kinds, connection."""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, Tag, field_validator, model_validator

from mappings.config.base import StrictModel, invalid, shorthand, tag, unique, variant_discriminator
from mappings.config.connections import HubSpotConnection, SalesforceConnection
from mappings.config.features import FeatureSpec, normalise_category
from mappings.config.writeback import HubSpotWriteback, SalesforceWriteback
from mappings.defaults import default_mapping_data

SalesforceObject = Literal["Lead", "Contact", "Account", "Opportunity", "Task", "Event", "CampaignMember"]
SALESFORCE_OBJECTS: tuple[SalesforceObject, ...] = (
    "Lead", "Contact", "Account", "Opportunity", "Task", "Event", "CampaignMember",
)  # fmt: skip
HubSpotObject = Literal["contacts", "companies", "deals", "tasks", "notes", "calls", "meetings", "emails"]
HUBSPOT_OBJECTS: tuple[HubSpotObject, ...] = (
    "contacts", "companies", "deals", "tasks", "notes", "calls", "meetings", "emails",
)  # fmt: skip
ActivityKind = Literal["email", "call", "meeting", "web_visit", "form_fill", "campaign", "note", "other"]
SCORED_OBJECTS = {"salesforce": ("Lead", "Contact"), "hubspot": ("contacts",)}


class _LabelBase(StrictModel):
    negative_after_days: int = Field(default=120, ge=1)
    """A lead with no positive outcome this long after creation counts as a negative example."""


class ConvertedLabel(_LabelBase):
    """Success = the lead was converted (Lead.IsConverted)."""

    kind: Literal["converted"]


class ConvertedOpportunityWonLabel(_LabelBase):
    """Success = the lead was converted and the opportunity it became was won."""

    kind: Literal["converted_opportunity_won"]


class LifecycleStageLabel(_LabelBase):
    """Success = the contact reached one of `stages` (HubSpot lifecycle stage internal values)."""

    kind: Literal["lifecycle_stage"]
    stages: tuple[str, ...] = Field(default=("salesqualifiedlead", "opportunity", "customer"), min_length=1)


class WonDealLabel(_LabelBase):
    """Success = a deal associated with the contact was closed won."""

    kind: Literal["won_deal"]


SalesforceLabel = Annotated[
    Annotated[ConvertedLabel, Tag(tag("kind", "converted"))]
    | Annotated[ConvertedOpportunityWonLabel, Tag(tag("kind", "converted_opportunity_won"))],
    variant_discriminator("kind", ("converted", "converted_opportunity_won")),
    shorthand("kind"),
]
HubSpotLabel = Annotated[
    Annotated[LifecycleStageLabel, Tag(tag("kind", "lifecycle_stage"))]
    | Annotated[WonDealLabel, Tag(tag("kind", "won_deal"))],
    variant_discriminator("kind", ("lifecycle_stage", "won_deal")),
    shorthand("kind"),
]


class _MappingChecks(StrictModel):
    crm: ClassVar[str]

    features: tuple[FeatureSpec, ...]
    activity_types: dict[str, ActivityKind] = Field(default_factory=dict)
    """Activity Type / task type values (case-insensitive) -> activity kind."""
    subject_prefixes: dict[str, ActivityKind] = Field(default_factory=dict)
    """Subject prefixes (case-insensitive) -> activity kind, for activities whose type says nothing."""

    @model_validator(mode="after")
    def _coherent(self) -> _MappingChecks:
        objects: tuple[str, ...] = getattr(self, "objects", ())
        scored = SCORED_OBJECTS[self.crm]
        if not set(objects) & set(scored):
            raise invalid(
                f"objects must include {' or '.join(scored)}: those are the records leadq scores",
                f"add {scored[0]} to objects",
                at=("objects",),
            )
        for index, feature in enumerate(self.features):
            for object_name in feature.field:
                if object_name != "*" and object_name not in scored:
                    raise invalid(
                        f"{object_name!r} is not a scored object here; features apply to {', '.join(scored)}",
                        f"key the field by {' or '.join(scored)}",
                        at=("features", index, "field", object_name),
                    )
        writeback = getattr(self, "writeback", None)
        for target in getattr(writeback, "objects", ()):
            if target not in objects:
                raise invalid(
                    f"writeback targets {target}, which is not in objects", f"add {target} to objects",
                    at=("writeback", "objects"),
                )  # fmt: skip
        return self

    @field_validator("features")
    @classmethod
    def _distinct_features(cls, features: tuple[FeatureSpec, ...]) -> tuple[FeatureSpec, ...]:
        unique([feature.name for feature in features], "feature", key="name")
        return features

    @field_validator("activity_types", "subject_prefixes")
    @classmethod
    def _normalised_keys(cls, kinds: dict[str, ActivityKind]) -> dict[str, ActivityKind]:
        return {normalise_category(key): kind for key, kind in kinds.items()}

    def feature(self, name: str) -> FeatureSpec:
        """The feature called `name`."""
        for feature in self.features:
            if feature.name == name:
                return feature
        raise KeyError(name)


class SalesforceMapping(_MappingChecks):
    """How leadq reads and writes Salesforce records (the shipped default is `defaults/salesforce.yaml`)."""

    crm: ClassVar[str] = "salesforce"

    objects: tuple[SalesforceObject, ...] = SALESFORCE_OBJECTS
    label: SalesforceLabel
    writeback: SalesforceWriteback


class HubSpotMapping(_MappingChecks):
    """How leadq reads and writes HubSpot records (the shipped default is `defaults/hubspot.yaml`)."""

    crm: ClassVar[str] = "hubspot"

    objects: tuple[HubSpotObject, ...] = ("contacts", "companies", "deals", "tasks", "notes")
    label: HubSpotLabel
    writeback: HubSpotWriteback


CrmMapping = SalesforceMapping | HubSpotMapping


def _with_defaults(crm: str, data: Any) -> Any:
    # Top-level keys the admin leaves out come from the shipped mapping; a key given replaces it whole.
    if isinstance(data, dict):
        defaults = default_mapping_data(crm)
        return {**defaults, **data}
    return data


class SalesforceConfig(SalesforceMapping):
    """The `salesforce:` block: a connection plus the mapping (defaults fill what is left out)."""

    connection: SalesforceConnection

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any) -> Any:
        return _with_defaults("salesforce", data)


class HubSpotConfig(HubSpotMapping):
    """The `hubspot:` block: a connection plus the mapping (defaults fill what is left out)."""

    connection: HubSpotConnection

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any) -> Any:
        return _with_defaults("hubspot", data)


@cache
def default_mapping(crm: str) -> CrmMapping:
    """The shipped default mapping of `crm`, validated."""
    model: type[CrmMapping] = SalesforceMapping if crm == "salesforce" else HubSpotMapping
    return model.model_validate(default_mapping_data(crm))
