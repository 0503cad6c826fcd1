"""YAML text -> plain Python data, remembering the line and column of every key and value."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.scanner import ScannerError

from mappings.config.errors import ConfigError, ConfigIssue

DataPath = tuple[Any, ...]
Position = tuple[int, int]


@dataclass(frozen=True)
class YamlDocument:
    """A parsed YAML file: plain data plus 0-based positions keyed by the path of each node."""

    source: str
    data: Any
    key_positions: dict[DataPath, Position] = field(default_factory=dict)
    value_positions: dict[DataPath, Position] = field(default_factory=dict)


def parse_yaml(text: str, source: str) -> YamlDocument:
    """Parse `text`; broken YAML raises `ConfigError` with one issue at the line where parsing stopped."""
    yaml = YAML(typ="rt", pure=True)
    try:
        node = yaml.load(text)
    except YAMLError as exc:
        raise ConfigError([_yaml_issue(exc, source)]) from None
    doc = YamlDocument(source, None)
    data = _plain(node, (), doc)
    return YamlDocument(source, data, doc.key_positions, doc.value_positions)


def _plain(node: Any, path: DataPath, doc: YamlDocument) -> Any:
    if isinstance(node, CommentedMap):
        out: dict[Any, Any] = {}
        for key in node:
            plain_key = _scalar(key)
            doc.key_positions[(*path, plain_key)] = tuple(node.lc.key(key))
            doc.value_positions[(*path, plain_key)] = tuple(node.lc.value(key))
            out[plain_key] = _plain(node[key], (*path, plain_key), doc)
        return out
    if isinstance(node, CommentedSeq):
        items: list[Any] = []
        for index, item in enumerate(node):
            position = tuple(node.lc.item(index))
            doc.key_positions[(*path, index)] = position
            doc.value_positions[(*path, index)] = position
            items.append(_plain(item, (*path, index), doc))
        return items
    return _scalar(node)


def _scalar(value: Any) -> Any:
    # ruamel's round-trip scalars subclass the builtins; hand pydantic the builtins themselves.
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, dt.datetime):
        return dt.datetime.fromisoformat(value.isoformat())
    if isinstance(value, dt.date):
        return dt.date(value.year, value.month, value.day)
    return value


_HINTS = (
    ("duplicate key", "remove one of the two keys (later sections do not merge into earlier ones)"),
    (
        "mapping values are not allowed",
        "quote a value that contains ': ', or fix the indentation of this line",
    ),
    (
        "cannot start any token",
        "YAML indents with spaces; replace tabs and quote values starting with @ or `",
    ),
    ("quoted scalar", "close the quote that starts here"),
    ("flow sequence", "close the [ ... ] list (or quote a value that starts with [)"),
    ("flow mapping", "close the { ... } mapping (or quote a value that starts with {)"),
    ("block end", "indent this line like its siblings (same number of spaces)"),
    ("undefined alias", "quote a value that starts with * or &"),
)


def _yaml_issue(exc: YAMLError, source: str) -> ConfigIssue:
    problem = str(getattr(exc, "problem", None) or exc).splitlines()[0]
    mark = getattr(exc, "problem_mark", None) if isinstance(exc, MarkedYAMLError) else None
    if isinstance(exc, DuplicateKeyError):
        problem = problem.split(" with value")[0]
    text = f"{problem} {getattr(exc, 'context', '') or ''}".lower()
    fix = next((hint for needle, hint in _HINTS if needle in text), "check the indentation and quoting here")
    if isinstance(exc, ScannerError) and "tab" in problem.lower():
        fix = _HINTS[2][1]
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (None, None)
    return ConfigIssue(source, "", f"the YAML is broken: {problem}", fix, line, column)
