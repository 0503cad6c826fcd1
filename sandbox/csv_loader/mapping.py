"""The mapping file of a CSV load: which columns go to which fields, how values are mapped, what to join.

Errors name the YAML line (`mapping.yaml:12: ...`), since admins edit these files by hand.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

TYPES = ("boolean", "number", "integer", "text", "textarea", "date", "datetime")


class CsvLoadError(Exception):
    """The mapping or the file cannot be used at all (as opposed to a bad value in one row)."""


@dataclass
class Target:
    """Where one column's values go: an existing field, or a custom one (`custom=True`, name set on load)."""

    column: str
    where: str  # "mapping.yaml:12" for messages
    field: str | None = None
    custom: bool = False
    type: str | None = None
    values: dict[str, str] = dataclasses.field(default_factory=dict)
    other: str | None = None  # the value for anything `values` does not list (None: leave it empty)
    has_other: bool = False
    leaky: bool = False


@dataclass
class JoinSpec:
    file: str
    on: str
    label_field: str | None
    targets: list[Target]
    where: str


@dataclass
class CsvMapping:
    """A parsed mapping file."""

    path: str
    object_name: str | None = None
    delimiter: str = ","
    encoding: str = "utf-8-sig"
    missing: frozenset[str] = frozenset({""})
    unmapped: str = "custom"  # or "skip"
    on_error: str = "reject"  # or "blank": drop the bad value, keep the row
    group: str = "leadq_import"
    defaults: dict[str, str] = dataclasses.field(default_factory=dict)
    columns: dict[str, list[Target]] = dataclasses.field(default_factory=dict)
    skip: set[str] = dataclasses.field(default_factory=set)
    join: JoinSpec | None = None

    @property
    def leaky_columns(self) -> list[str]:
        return [c for c, ts in self.columns.items() if any(t.leaky for t in ts)]


def _at(path: str, node: Any, key: Any = None) -> str:
    try:
        line = node.lc.key(key)[0] if key is not None and isinstance(node, CommentedMap) else node.lc.line
        return f"{path}:{line + 1}"
    except (AttributeError, KeyError, TypeError):
        return path


def read_mapping(path: str | Path) -> CsvMapping:
    """Parse and check a mapping file; errors name the offending line."""
    p = str(path)
    try:
        doc = YAML(typ="rt").load(Path(path).read_text(encoding="utf-8"))
    except (OSError, YAMLError) as exc:
        raise CsvLoadError(f"{p}: cannot read the mapping: {exc}") from exc
    if not isinstance(doc, CommentedMap):
        raise CsvLoadError(f"{p}: the mapping must be a YAML mapping at the top level")
    known = {"object", "delimiter", "encoding", "missing", "unmapped", "on_error", "group", "defaults", "columns",
             "join", "description", "source"}  # fmt: skip
    for key in doc:
        if key not in known:
            raise CsvLoadError(
                f"{_at(p, doc, key)}: unknown key {key!r} (expected one of {', '.join(sorted(known))})"
            )
    m = CsvMapping(path=p)
    m.object_name = _str(doc, "object", p) if "object" in doc else None
    m.delimiter = _str(doc, "delimiter", p) if "delimiter" in doc else ","
    m.encoding = _str(doc, "encoding", p) if "encoding" in doc else "utf-8-sig"
    m.group = _str(doc, "group", p) if "group" in doc else "leadq_import"
    for key, allowed in (("unmapped", ("custom", "skip")), ("on_error", ("reject", "blank"))):
        if key in doc:
            value = _str(doc, key, p)
            if value not in allowed:
                raise CsvLoadError(
                    f"{_at(p, doc, key)}: {key} must be one of {', '.join(allowed)}, not {value!r}"
                )
            setattr(m, key, value)
    if "missing" in doc:
        if not isinstance(doc["missing"], CommentedSeq):
            raise CsvLoadError(f"{_at(p, doc, 'missing')}: missing must be a list of strings")
        m.missing = frozenset(str(v) for v in doc["missing"])
    if "defaults" in doc:
        if not isinstance(doc["defaults"], CommentedMap):
            raise CsvLoadError(f"{_at(p, doc, 'defaults')}: defaults must map field names to values")
        m.defaults = {str(k): str(v) for k, v in doc["defaults"].items()}
    columns = doc.get("columns") or CommentedMap()
    if not isinstance(columns, CommentedMap):
        raise CsvLoadError(f"{_at(p, doc, 'columns')}: columns must map CSV column names to specs")
    for column, spec in columns.items():
        where = _at(p, columns, column)
        if spec == "skip" or (isinstance(spec, CommentedMap) and spec.get("skip") is True):
            m.skip.add(str(column))
            continue
        items = list(spec) if isinstance(spec, CommentedSeq) else [spec]
        m.columns[str(column)] = [t for item in items for t in _targets(p, str(column), item, where)]
    if "join" in doc:
        m.join = _join(p, doc["join"], _at(p, doc, "join"))
    return m


def _str(node: CommentedMap, key: str, path: str) -> str:
    value = node[key]
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise CsvLoadError(f"{_at(path, node, key)}: {key} must be a string")
    return str(value)


def _targets(path: str, column: str, spec: Any, where: str) -> list[Target]:
    """One column spec: a field name, or a mapping (field, type, values, other, keep, custom, leaky)."""
    if isinstance(spec, str):  # shorthand: `Column: FieldName`
        return [Target(column, where, field=spec)]
    if spec is None:
        return [Target(column, where, custom=True)]
    if not isinstance(spec, CommentedMap):
        raise CsvLoadError(
            f"{where}: the spec of column {column!r} must be a field name, 'skip' or a mapping"
        )
    known = {"field", "type", "values", "other", "keep", "custom", "leaky", "note"}
    for key in spec:
        if key not in known:
            raise CsvLoadError(f"{_at(path, spec, key)}: unknown key {key!r} in column {column!r}")
    t = Target(column, where, leaky=bool(spec.get("leaky", False)))
    custom = spec.get("custom")
    if isinstance(custom, str):
        t.field, t.custom = custom, True  # an explicit custom field name
    elif "field" in spec:
        t.field = str(spec["field"])
    else:
        t.custom = True
    if "type" in spec:
        if spec["type"] not in TYPES:
            raise CsvLoadError(f"{_at(path, spec, 'type')}: type must be one of {', '.join(TYPES)}")
        t.type = str(spec["type"])
    if "values" in spec:
        if not isinstance(spec["values"], CommentedMap):
            raise CsvLoadError(f"{_at(path, spec, 'values')}: values must map CSV values to field values")
        t.values = {str(k): str(v) for k, v in spec["values"].items()}
    if "other" in spec:
        t.other, t.has_other = (None if spec["other"] is None else str(spec["other"])), True
    if spec.get("keep") and not t.custom:  # the original value too, in a custom field of its own
        return [t, Target(column, where, custom=True, leaky=t.leaky)]
    return [t]


def _join(path: str, spec: Any, where: str) -> JoinSpec:
    if not isinstance(spec, CommentedMap) or "file" not in spec or "on" not in spec:
        raise CsvLoadError(f"{where}: join needs at least `file` and `on`")
    targets: list[Target] = []
    cols = spec.get("columns") or CommentedMap()
    if not isinstance(cols, CommentedMap):
        raise CsvLoadError(f"{_at(path, spec, 'columns')}: join columns must map column names to specs")
    for column, item in cols.items():
        targets += _targets(path, str(column), item, _at(path, cols, column))
    label = spec.get("label_when_present")
    return JoinSpec(str(spec["file"]), str(spec["on"]), str(label) if label else None, targets, where)
