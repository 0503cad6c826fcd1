"""Read leadq.yaml into a `LeadqConfig`, reporting every problem at once with its line and a fix."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from mappings.config.errors import ConfigError, ConfigIssue
from mappings.config.explain import issues_from
from mappings.config.schema import LeadqConfig
from mappings.config.yamlsrc import parse_yaml

M = TypeVar("M", bound=BaseModel)
INIT_HINT = "run `leadq init` to write a config that works as it is"


def load_config(path: str | os.PathLike[str], *, resolve: bool = True) -> LeadqConfig:
    """Load and validate a config file.

    With `resolve`, secret references are read from the environment or their files and `ca_bundle` files
    must exist; without it only the file's own content is checked (e.g. on a machine without the secrets).
    Raises `ConfigError` listing every problem.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([ConfigIssue(str(file), "", "the config file does not exist", INIT_HINT)]) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "it is not UTF-8 text"
        issue = ConfigIssue(str(file), "", f"the config file cannot be read ({reason})", "fix the file")
        raise ConfigError([issue]) from None
    return parse_config(text, source=str(file), base_dir=file.resolve().parent, resolve=resolve)


def parse_config(
    text: str, *, source: str = "leadq.yaml", base_dir: Path | None = None, resolve: bool = True
) -> LeadqConfig:
    """Validate config text; `base_dir` anchors relative paths (default: the current folder)."""
    return parse_model(LeadqConfig, text, source=source, base_dir=base_dir, resolve=resolve)


def parse_model(
    model: type[M], text: str, *, source: str, base_dir: Path | None = None, resolve: bool = True
) -> M:
    """Validate YAML `text` as `model` with the loader's error reporting (used for config fragments too)."""
    doc = parse_yaml(text, source)
    if doc.data is None:
        raise ConfigError([ConfigIssue(source, "", "the config is empty", INIT_HINT)])
    if not isinstance(doc.data, dict):
        issue = ConfigIssue(
            source, "", "the top level must be a mapping of sections (salesforce:, hubspot:, review: ...)",
            INIT_HINT, 1, 1,
        )  # fmt: skip
        raise ConfigError([issue])
    context = {"base_dir": base_dir or Path.cwd(), "resolve": resolve}
    try:
        return model.model_validate(doc.data, context=context)
    except ValidationError as exc:
        # `from None`: pydantic's own rendering echoes input values, which may include secrets.
        raise ConfigError(issues_from(exc, doc, model)) from None
