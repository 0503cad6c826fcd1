"""One feature: which CRM field feeds it, how its values read, and how it may be used and explained."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator, model_validator

from mappings.config.base import Name, NonEmptyStr, ScalarText, StrictModel, invalid

FeatureType = Literal["number", "category", "boolean", "date", "text"]
FEATURE_TYPES: tuple[FeatureType, ...] = ("number", "category", "boolean", "date", "text")
Transform = Literal["age_days", "email_domain", "free_email"]
FeatureValue = float | bool | str | datetime | None
"""A feature's canonical value: number -> float, boolean -> bool, category/text -> str, date -> UTC datetime."""

ANY_OBJECT = "*"
_TRANSFORM_TYPES: dict[str, tuple[FeatureType, ...]] = {
    "age_days": ("number",),
    "email_domain": ("category", "text"),
    "free_email": ("boolean",),
}
_PATH = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*")


def normalise_category(value: str) -> str:
    """Picklist values compare without regard to case or runs of whitespace."""
    return " ".join(value.split()).casefold()


def _field_paths(value: Any) -> Any:
    # `field: Industry` applies to every scored object; a mapping names the path per object.
    if isinstance(value, str):
        value = {ANY_OBJECT: value}
    if isinstance(value, dict):
        for key, path in value.items():
            if isinstance(path, str) and not _PATH.fullmatch(path.strip()):
                raise invalid(
                    f"{path!r} is not a field API name or dotted path",
                    "write a field name like Industry, or a parent path like Account.Industry",
                    at=() if key == ANY_OBJECT else (key,),
                )
        return {key: path.strip() if isinstance(path, str) else path for key, path in value.items()}
    return value


def _points(value: Any) -> Any:
    # `{Web: 5}` scores values, `[{min: 50, points: 5}]` scores ranges of a number.
    if isinstance(value, dict):
        return {"by_value": {_value_key(key): points for key, points in value.items()}}
    if isinstance(value, list):
        return {"ranges": value}
    return value


def _value_key(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    return normalise_category(str(key))


class PointsRange(StrictModel):
    """Points for a number in [min, max); an open end is unbounded."""

    min: float | None = None
    max: float | None = None
    points: float

    @model_validator(mode="after")
    def _bounds(self) -> PointsRange:
        if self.min is None and self.max is None:
            raise invalid("a points range needs min, max or both", "add min: or max:")
        if self.min is not None and self.max is not None and self.min >= self.max:
            raise invalid(f"min {self.min:g} is not below max {self.max:g}", "swap or fix the bounds")
        return self

    def contains(self, value: float) -> bool:
        """Whether `value` falls in this range."""
        return (self.min is None or value >= self.min) and (self.max is None or value < self.max)


class Points(StrictModel):
    """Rule-based points for cold start, before there are enough labels to train a model."""

    by_value: dict[str, float] = Field(default_factory=dict)
    ranges: tuple[PointsRange, ...] = ()

    def for_value(self, value: FeatureValue) -> float:
        """Points earned by a canonical feature value (0 when nothing matches)."""
        if value is None:
            return 0.0
        if isinstance(value, bool):
            return self.by_value.get("true" if value else "false", 0.0)
        if isinstance(value, float | int) and self.ranges:
            return next((r.points for r in self.ranges if r.contains(float(value))), 0.0)
        if isinstance(value, str):
            return self.by_value.get(normalise_category(value), 0.0)
        return 0.0


def _missing(value: Any) -> Any:
    if value is None or value == "null":
        return {"kind": "null"}
    if value == "zero":
        return {"kind": "zero"}
    if isinstance(value, dict):
        return {"kind": "default", **value}
    return {"kind": "default", "default": value}


class MissingPolicy(StrictModel):
    """How a missing (or unreadable) value reads: `null`, `zero`, or a default value."""

    kind: Literal["null", "zero", "default"] = "null"
    default: str | float | bool | datetime | date | None = None


def humanise(path: str) -> str:
    """`NumberOfEmployees` -> `Number of employees`, `Account.Industry` -> `Account industry`."""
    words: list[str] = []
    for part in path.removesuffix("__c").replace("__r", "").split("."):
        part = re.sub(r"^hs_", "", part)
        spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|_", " ", part)
        words.extend(spaced.split())
    text = " ".join(words).lower()
    return text[:1].upper() + text[1:]


class FeatureSpec(StrictModel):
    """One model input taken from a CRM field."""

    name: Name
    field: Annotated[dict[str, NonEmptyStr], BeforeValidator(_field_paths)]
    type: FeatureType
    missing: Annotated[MissingPolicy, BeforeValidator(_missing)] = MissingPolicy()
    explain: bool = True
    label: NonEmptyStr | None = None
    leaky: bool = False
    points: Annotated[Points, BeforeValidator(_points)] | None = None
    values: dict[ScalarText, NonEmptyStr] = Field(default_factory=dict)
    categories: tuple[NonEmptyStr, ...] = ()
    transform: Transform | None = None

    @model_validator(mode="before")
    @classmethod
    def _default_label(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("label") is None:
            paths = data.get("field")
            first = next(iter(paths.values()), None) if isinstance(paths, dict) else paths
            name = data.get("name")
            source = first if isinstance(first, str) else name if isinstance(name, str) else None
            if source:
                return {**data, "label": humanise(source)}
        return data

    @field_validator("missing")
    @classmethod
    def _typed_default(cls, policy: MissingPolicy, info: ValidationInfo) -> MissingPolicy:
        kind = info.data.get("type")
        if kind is None:
            return policy
        if policy.kind == "zero" and kind not in ("number", "boolean"):
            raise invalid(
                f"missing: zero only applies to number and boolean features, not {kind}",
                "use missing: null, or a default value",
            )
        if policy.kind == "default":
            return MissingPolicy(kind="default", default=_default_value(kind, policy))
        return policy

    @field_validator("values")
    @classmethod
    def _normalised_values(cls, values: dict[str, str]) -> dict[str, str]:
        return {normalise_category(raw): value for raw, value in values.items()}

    @model_validator(mode="after")
    def _consistent(self) -> FeatureSpec:
        if self.transform and self.type not in _TRANSFORM_TYPES[self.transform]:
            allowed = " or ".join(_TRANSFORM_TYPES[self.transform])
            raise invalid(
                f"transform {self.transform} produces a {allowed}, but type is {self.type}",
                f"set type: {_TRANSFORM_TYPES[self.transform][0]} or drop the transform",
                at=("type",),
            )
        if (self.values or self.categories) and self.type != "category":
            raise invalid(
                "values and categories only apply to category features", "remove them or set type: category"
            )
        if self.points and self.points.ranges and self.type != "number":
            raise invalid(
                "points ranges only apply to number features",
                "score values with a mapping, e.g. {Web: 5}",
                at=("points",),
            )
        if self.points and self.points.by_value and self.type == "number":
            raise invalid(
                "points of a number feature are ranges",
                "write a list, e.g. [{min: 50, points: 5}, {min: 200, points: 10}]",
                at=("points",),
            )
        if self.points and self.type == "boolean" and set(self.points.by_value) - {"true", "false"}:
            raise invalid(
                "points of a boolean feature are keyed true/false", "write e.g. {true: 10}", at=("points",)
            )
        return self

    def field_for(self, object_name: str) -> str | None:
        """The field path feeding this feature on `object_name`, or None where it does not apply."""
        return self.field.get(object_name, self.field.get(ANY_OBJECT))

    @property
    def display_label(self) -> str:
        """The label explanations show (defaults to the field's name in words)."""
        return self.label or humanise(self.name)

    @property
    def missing_value(self) -> FeatureValue:
        """What a missing value reads as."""
        if self.missing.kind == "zero":
            return False if self.type == "boolean" else 0.0
        value = self.missing.default
        # Validation turns a date default into a UTC datetime; a bare date cannot remain.
        return None if isinstance(value, date) and not isinstance(value, datetime) else value

    @property
    def in_model(self) -> bool:
        """Whether the feature may enter a model (leaky ones never do)."""
        return not self.leaky


def _default_value(kind: FeatureType, policy: MissingPolicy) -> str | float | bool | datetime | None:
    value = policy.default
    fix = f"write a {kind} value as the default, or use missing: null"
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise invalid(f"default {value!r} is not a number", fix)
        return float(value)
    if kind == "boolean":
        if not isinstance(value, bool):
            raise invalid(f"default {value!r} is not true or false", fix)
        return value
    if kind == "date":
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        if isinstance(value, date):
            return datetime(value.year, value.month, value.day, tzinfo=UTC)
        if isinstance(value, str):
            try:
                moment = datetime.fromisoformat(value.strip())
            except ValueError:
                pass
            else:
                return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        raise invalid(f"default {value!r} is not a date", "write a date like 2024-01-01")
    if isinstance(value, bool | date) or value is None:
        raise invalid(f"default {value!r} is not text", "quote the default value")
    return str(value)
