"""Building blocks shared by every config model: strict frozen models, admin-facing errors, tagged unions."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Discriminator, ValidationInfo
from pydantic_core import PydanticCustomError

Crm = Literal["salesforce", "hubspot"]
CRMS: tuple[Crm, ...] = ("salesforce", "hubspot")

INVALID = "leadq_invalid"
UNKNOWN_VARIANT = "leadq_unknown_variant"


class StrictModel(BaseModel):
    """A frozen model that rejects unknown keys; the loader turns rejections into did-you-mean hints."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def invalid(message: str, fix: str, *, at: tuple[str | int, ...] = ()) -> PydanticCustomError:
    """A validation error whose message and fix reach the admin verbatim (see `config.explain`).

    `at` points below the validated value (e.g. the index of a duplicate list item) so the reported
    line is the offending item's, not the list's.
    """
    return PydanticCustomError(INVALID, "{message}", {"message": message, "fix": fix, "at": at})


def variant_discriminator(key: str, choices: Iterable[str]) -> Discriminator:
    """Pick a union member by `key` (e.g. `method: jwt_bearer`); members are tagged `key=value`.

    Tags carry the key so that an error location can never be mistaken for a YAML key of the same name.
    """
    allowed = tuple(choices)

    def pick(value: Any) -> str | None:
        # Validation sees the YAML mapping; serialisation sees the model instance.
        chosen = value.get(key) if isinstance(value, dict) else getattr(value, key, None)
        return f"{key}={chosen}" if isinstance(chosen, str) and chosen in allowed else None

    return Discriminator(
        pick,
        custom_error_type=UNKNOWN_VARIANT,
        custom_error_message=f"{key} must be one of {', '.join(allowed)}",
        custom_error_context={"key": key, "choices": ", ".join(allowed)},
    )


def tag(key: str, value: str) -> str:
    """The union tag `variant_discriminator` returns for `key: value`."""
    return f"{key}={value}"


def shorthand(key: str) -> BeforeValidator:
    """Let a bare scalar stand for `{key: scalar}` (e.g. `label: converted`)."""

    def expand(value: Any) -> Any:
        return {key: value} if isinstance(value, str) else value

    return BeforeValidator(expand)


def _matching(pattern: str, what: str, fix: str) -> Callable[[str], str]:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise invalid(f"{value!r} is not a valid {what}", fix)
        return value

    return check


def _non_empty(value: str) -> str:
    value = value.strip()
    if not value:
        raise invalid("this must not be empty", "write a value or remove the key to use the default")
    return value


def _number_as_text(value: Any) -> Any:
    # YAML reads `client_id: 12345` or an owner id `- 4711` as a number; they are identifiers, not amounts.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


ScalarText = Annotated[str, BeforeValidator(_number_as_text)]
"""Text that YAML may have read as a number (ids, picklist values like `1000`)."""
NonEmptyStr = Annotated[str, BeforeValidator(_number_as_text), AfterValidator(_non_empty)]
Name = Annotated[
    str,
    AfterValidator(
        _matching(
            r"[a-z][a-z0-9_]{0,62}",
            "name",
            "use lower-case letters, digits and underscores, starting with a letter (e.g. lead_source)",
        )
    ),
]
EnvName = Annotated[
    str,
    AfterValidator(
        _matching(r"[A-Za-z_][A-Za-z0-9_]*", "environment variable name", "use letters, digits and _")
    ),
]


def _url(value: str) -> str:
    from urllib.parse import urlsplit

    value = value.strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise invalid(f"{value!r} is not a URL", "write the full URL, e.g. https://example.my.salesforce.com")
    return value


Url = Annotated[str, AfterValidator(_url)]


def resolve_path(value: Path, info: ValidationInfo) -> Path:
    """Relative paths in leadq.yaml are relative to the file itself, not to wherever leadq was started."""
    value = value.expanduser()
    base = (info.context or {}).get("base_dir")
    if not value.is_absolute() and isinstance(base, Path):
        value = base / value
    return value


def _existing_file(value: Path, info: ValidationInfo) -> Path:
    value = resolve_path(value, info)
    if (info.context or {}).get("resolve") and not value.is_file():
        raise invalid(
            f"file {str(value)!r} does not exist", "fix the path (relative paths start at leadq.yaml)"
        )
    return value


ConfigFile = Annotated[Path, AfterValidator(_existing_file)]
"""A file path resolved against the config's folder, checked to exist when the loader resolves references."""


def unique(names: Iterable[str], what: str, *, key: str | None = None) -> None:
    """Reject duplicates in a list, pointing at the second occurrence (and at its `key` when given)."""
    seen: set[str] = set()
    for index, name in enumerate(names):
        if name in seen:
            at: tuple[str | int, ...] = (index, key) if key else (index,)
            raise invalid(f"{what} {name!r} appears twice", f"give every {what} a distinct name", at=at)
        seen.add(name)
