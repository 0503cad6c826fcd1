"""Start-up validation: what loading leadq.yaml cannot prove on its own, proved before any cycle runs.

Loading the config checks its shape, types and secrets. The policy expressions (`scoring.policies[].when`,
`scoring.segments[].when`, `review.high_value`) are only meaningful against each CRM's features, so they are
compiled here against every configured CRM, and the daemon (`leadq run`), `leadq sync --once` and
`leadq check` refuse to start with one `ConfigError` listing every problem with its line in leadq.yaml.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mappings import ConfigError, ConfigIssue, LeadqConfig
from mappings.config.yamlsrc import YamlDocument, parse_yaml
from scoring.policy import PolicyError, PolicyIssue

__all__ = ["validate_startup"]


@dataclass(frozen=True)
class _Home:
    """Where one expression lives in leadq.yaml: its key path and the position of its text."""

    path: str
    line: int | None  # 1-based line of the expression's first character
    column: int | None
    block: bool = False  # a `|` / `>` block: every line of the expression starts at `column`


def validate_startup(config: LeadqConfig, *, path: str | Path | None = None) -> None:
    """Raise `ConfigError` listing every problem that would stop a cycle; return quietly otherwise.

    Each policy expression is compiled against the feature schema of every configured CRM, as the cycle
    does. `path` (the config file) lets each problem name its line and column in the file; without it the
    problems name the key path only.
    """
    source = str(path) if path is not None else "leadq.yaml"
    # Imported here: the scoring stack is heavy, and every `leadq` command imports this module.
    from scoring.pipeline import Pipeline

    found: dict[PolicyIssue, list[str]] = {}  # the same mistake usually fails for every CRM: reported once
    issues: list[ConfigIssue] = []
    for crm in config.crms:
        mapping = config.crm(crm)
        assert mapping is not None
        try:
            Pipeline.build(
                config.scoring, config.review, mapping.features, crm=crm,
                max_chars=mapping.writeback.field_for("reasons").max_length,
            )  # fmt: skip
        except PolicyError as exc:
            for issue in exc.issues:
                found.setdefault(issue, []).append(crm)
        except ValueError as exc:  # the scorer refusing the scoring section
            issues.append(ConfigIssue(source, "scoring", f"{crm}: {exc}", "fix the scoring section"))
    homes = _homes(config, path) if found else {}
    for issue, crms in found.items():
        only = "" if len(crms) == len(config.crms) else f" (with the {', '.join(crms)} features)"
        issues.append(_config_issue(source, issue, homes, only))
    if issues:
        raise ConfigError(issues)


def _config_issue(source: str, issue: PolicyIssue, homes: dict[str, _Home], only: str) -> ConfigIssue:
    home = homes.get(issue.where, _Home(_key_path(issue.where), None, None))
    text_line = issue.expression.splitlines()[issue.line - 1] if issue.expression.strip() else ""
    snippet = text_line.strip()
    shown = snippet if len(snippet) <= 80 else snippet[:77] + "..."
    message = f"{issue.where}: {issue.message}{only} in `{shown}` (column {issue.column} of the expression)"
    if home.line is None or home.column is None:
        return ConfigIssue(source, home.path, message, issue.fix)
    line = home.line + issue.line - 1
    column = (home.column if issue.line == 1 or home.block else 1) + issue.column - 1
    return ConfigIssue(source, home.path, message, issue.fix, line, column)


def _key_path(where: str) -> str:
    kind, _, name = where.partition(" ")
    if kind == "policy":
        return f"scoring.policies[{name}].when"
    if kind == "segment":
        return f"scoring.segments[{name}].when"
    return where


def _homes(config: LeadqConfig, path: str | Path | None) -> dict[str, _Home]:
    """Each expression's key path and position, found in the file when it can be read."""
    doc: YamlDocument | None = None
    text = ""
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
            doc = parse_yaml(text, str(path))
        except (OSError, UnicodeDecodeError, ConfigError):
            doc = None
    lines = text.splitlines()
    homes: dict[str, _Home] = {}

    def add(where: str, key: tuple[object, ...], shown: str) -> None:
        position = doc.value_positions.get(key) if doc is not None else None
        if position is None:
            homes[where] = _Home(shown, None, None)
            return
        line, column = position
        raw = lines[line][column:] if line < len(lines) else ""
        if raw[:1] in ("|", ">"):  # a block scalar: the expression starts on the next line, indented
            following = lines[line + 1] if line + 1 < len(lines) else ""
            homes[where] = _Home(shown, line + 2, len(following) - len(following.lstrip()) + 1, block=True)
        else:
            quoted = raw[:1] in ("'", '"')
            homes[where] = _Home(shown, line + 1, column + 1 + int(quoted))

    for index, policy in enumerate(config.scoring.policies):
        add(
            f"policy {policy.name}", ("scoring", "policies", index, "when"), f"scoring.policies[{index}].when"
        )
    for index, segment in enumerate(config.scoring.segments):
        add(
            f"segment {segment.name}",
            ("scoring", "segments", index, "when"),
            f"scoring.segments[{index}].when",
        )
    add("review.high_value", ("review", "high_value"), "review.high_value")
    return homes
