"""Secrets in leadq.yaml are references (`{env: NAME}` or `{file: PATH}`), never values."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, model_validator
from pydantic_core import PydanticCustomError

from mappings.config.base import EnvName, invalid, resolve_path

SECRET_IN_CLEAR = "leadq_secret_in_clear"  # noqa: S105 (an error type name)


class SecretUnavailableError(RuntimeError):
    """A secret was asked for before the config's references were resolved (load with `resolve=True`)."""


class SecretRef(BaseModel):
    """Where a secret lives: an environment variable or a file; the value itself is kept as `SecretStr`.

    The loader resolves the reference when asked to (`resolve=True`) so that a missing variable or file is
    reported with the other config errors, at the line that names it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    env: EnvName | None = None
    file: Path | None = None
    value: SecretStr | None = Field(default=None, exclude=True, repr=False)

    @model_validator(mode="before")
    @classmethod
    def _reference_only(cls, data: Any) -> Any:
        # The input is never echoed: whatever is here may be the secret itself.
        if not isinstance(data, dict) or "value" in data:
            raise PydanticCustomError(SECRET_IN_CLEAR, "a secret is written in clear in the config", {})
        sources = [key for key in ("env", "file") if data.get(key) is not None]
        if not sources and not set(data) - {"env", "file"}:
            raise invalid(
                "a secret reference needs `env:` or `file:`",
                "write {env: VARIABLE_NAME} or {file: /path/to/secret}",
            )
        if len(sources) == 2:
            raise invalid("a secret reference names both `env:` and `file:`", "keep only one of the two")
        return data

    @model_validator(mode="after")
    def _resolve(self, info: ValidationInfo) -> SecretRef:
        if not (info.context or {}).get("resolve"):
            return self
        if self.env is not None:
            value = os.environ.get(self.env)
            if not value:
                raise invalid(
                    f"environment variable {self.env} is not set (or is empty)",
                    f"export {self.env}=... before starting leadq",
                    at=("env",),
                )
            return self.model_copy(update={"value": SecretStr(value)})
        assert self.file is not None
        path = resolve_path(self.file, info)
        try:
            text = path.read_text(encoding="utf-8").rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
            raise invalid(
                f"cannot read secret file {str(path)!r} ({reason})",
                "fix the path (relative paths start at leadq.yaml) or the file's permissions",
                at=("file",),
            ) from None
        if not text:
            raise invalid(f"secret file {str(path)!r} is empty", "write the secret into it", at=("file",))
        return self.model_copy(update={"file": path, "value": SecretStr(text)})

    @property
    def source(self) -> str:
        """Where the secret comes from, safe to log: `env LEADQ_SANDBOX_TOKEN` or `file /etc/leadq/key`."""
        return f"env {self.env}" if self.env is not None else f"file {self.file}"

    @property
    def resolved(self) -> bool:
        """Whether `reveal()` will return the value."""
        return self.value is not None

    def reveal(self) -> str:
        """The secret itself, for handing to a client library; never log it."""
        if self.value is None:
            raise SecretUnavailableError(
                f"the secret from {self.source} was not resolved; load with resolve=True"
            )
        return self.value.get_secret_value()
