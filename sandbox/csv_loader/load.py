"""Reading the CSV (and the joined one), inferring column types, coercing rows, inserting in chunks."""

from __future__ import annotations

import csv
import dataclasses
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox.csv_loader.fields import FieldPlan, Fields, number
from sandbox.csv_loader.mapping import CsvLoadError, CsvMapping, Target
from sandbox.hs_schema import HS_OBJECT_TYPES
from sandbox.store import Store

ProgressFn = Callable[[str, int, int], None]
_BOOL_WORDS = frozenset({"yes", "y", "true", "t", "no", "n", "false", "f"})
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")
CHUNK = 1000


@dataclass
class RowError:
    row: int  # 1-based data row
    line: int  # line in the file where the row ends
    column: str
    field: str
    value: str
    message: str

    def __str__(self) -> str:
        return f"row {self.row} (line {self.line}), column {self.column!r} -> {self.field}: {self.value!r}: {self.message}"


@dataclass
class LoadReport:
    """What a load did: rows loaded and rejected, fields created, every bad value."""

    file: str
    object_name: str
    rows: int = 0
    loaded: int = 0
    rejected: list[int] = dataclasses.field(default_factory=list)
    errors: list[RowError] = dataclasses.field(default_factory=list)
    created_fields: list[str] = dataclasses.field(default_factory=list)
    reused_fields: list[str] = dataclasses.field(default_factory=list)
    skipped_columns: list[str] = dataclasses.field(default_factory=list)
    leaky_columns: list[str] = dataclasses.field(default_factory=list)

    def summary(self, max_errors: int = 20) -> str:
        """A human-readable account of the load."""
        lines = [
            f"{self.file}: loaded {self.loaded:,} of {self.rows:,} rows into {self.object_name}; "
            f"{len(self.rejected):,} rejected",
            f"custom fields created: {len(self.created_fields)}"
            + (f" ({', '.join(self.created_fields)})" if self.created_fields else ""),
        ]
        if self.reused_fields:
            lines.append(f"custom fields reused: {', '.join(self.reused_fields)}")
        if self.skipped_columns:
            lines.append(f"columns skipped: {', '.join(self.skipped_columns)}")
        if self.leaky_columns:
            lines.append(f"leaky columns (exclude from models): {', '.join(self.leaky_columns)}")
        for err in self.errors[:max_errors]:
            lines.append(f"  {err}")
        if len(self.errors) > max_errors:
            lines.append(f"  ... and {len(self.errors) - max_errors:,} more bad values")
        return "\n".join(lines)


class _Infer:
    """The narrowest type all of a column's values fit, from one pass over them."""

    def __init__(self) -> None:
        self.seen = 0
        self.flags = {"boolean": True, "number": True, "date": True, "datetime": True}
        self.longest = 0

    def add(self, v: str) -> None:
        self.seen += 1
        self.longest = max(self.longest, len(v))
        f = self.flags
        if f["boolean"] and v.lower() not in _BOOL_WORDS:
            f["boolean"] = False
        if f["number"] and number(v) is None:
            f["number"] = False
        if f["date"] and not _DATE.match(v):
            f["date"] = False
        if f["datetime"] and not _DATETIME.match(v):
            f["datetime"] = False

    def type(self) -> str:
        if self.seen:
            for kind in ("boolean", "number", "date", "datetime"):
                if self.flags[kind]:
                    return kind
        return "textarea" if self.longest > 255 else "text"


def _rows(path: Path, m: CsvMapping) -> Iterator[tuple[int, list[str]]]:
    """(line where the row ends, cells) for every data row; the header comes first with line 1."""
    try:
        with path.open(newline="", encoding=m.encoding) as f:
            reader = csv.reader(f, delimiter=m.delimiter)
            for cells in reader:
                yield reader.line_num, cells
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CsvLoadError(f"{path}: {exc}") from exc


def _read_join(base: Path, m: CsvMapping) -> tuple[dict[str, dict[str, str]], list[str]]:
    assert m.join is not None
    path = (base.parent / m.join.file) if not Path(m.join.file).is_absolute() else Path(m.join.file)
    rows = _rows(path, m)
    header = next(rows, (0, []))[1]
    if m.join.on not in header:
        raise CsvLoadError(f"{m.join.where}: join key {m.join.on!r} is not a column of {path.name}")
    for t in m.join.targets:
        if t.column not in header:
            raise CsvLoadError(f"{t.where}: column {t.column!r} is not in {path.name}")
    key = header.index(m.join.on)
    return {
        cells[key]: dict(zip(header, cells, strict=False)) for _, cells in rows if len(cells) > key
    }, header


def _scan(
    rows: Iterator[tuple[int, list[str]]], header: list[str], joined: dict[str, dict[str, str]],
    join_header: list[str], mapping: CsvMapping,
) -> tuple[int, dict[str, _Infer]]:  # fmt: skip
    """Pass 1: count the rows and infer every column's type (joined columns are keyed `join:<name>`)."""
    infer = {c: _Infer() for c in header} | {f"join:{c}": _Infer() for c in join_header}
    total = 0
    for _, cells in rows:
        total += 1
        for c, v in zip(header, cells, strict=False):
            if v.strip() not in mapping.missing:
                infer[c].add(v.strip())
    for other in joined.values():
        for c, v in other.items():
            if v.strip() not in mapping.missing:
                infer[f"join:{c}"].add(v.strip())
    return total, infer


def load_csv(
    store: Store,
    file: str | Path,
    *,
    object_name: str,
    mapping: CsvMapping,
    progress: ProgressFn | None = None,
) -> LoadReport:
    """Load every row of `file` into `object_name` (a Salesforce sObject or a HubSpot object type)."""
    path = Path(file)
    sf_obj = store.sf_object(object_name)
    if sf_obj is None and object_name not in HS_OBJECT_TYPES:
        raise CsvLoadError(
            f"unknown object {object_name!r}: a Salesforce sObject (Lead) or HubSpot type (contacts)"
        )
    obj = sf_obj.name if sf_obj is not None else object_name
    if mapping.object_name and mapping.object_name.lower() != obj.lower():
        raise CsvLoadError(f"{mapping.path}: the mapping is for {mapping.object_name}, not {obj}")
    report = LoadReport(file=path.name, object_name=obj, leaky_columns=mapping.leaky_columns)
    rows = _rows(path, mapping)
    header = next(rows, (0, []))[1]
    if not header:
        raise CsvLoadError(f"{path}: empty file")
    dupes = sorted({c for c in header if header.count(c) > 1})
    if dupes:
        raise CsvLoadError(f"{path}: duplicate column names {dupes}")
    for column, targets in mapping.columns.items():
        if column not in header:
            raise CsvLoadError(f"{targets[0].where}: column {column!r} is not in the header of {path.name}")
    joined, join_header = _read_join(path, mapping) if mapping.join else ({}, [])
    total, infer = _scan(rows, header, joined, join_header, mapping)
    schema = Fields(store, obj, sf=sf_obj is not None, mapping=mapping)
    plans: list[tuple[int, list[FieldPlan]]] = []
    for i, column in enumerate(header):
        if column in mapping.skip or (column not in mapping.columns and mapping.unmapped == "skip"):
            report.skipped_columns.append(column)
            continue
        targets = mapping.columns.get(column) or [Target(column, mapping.path, custom=True)]
        plans.append((i, [schema.plan(t, infer[column].type()) for t in targets]))
    join = mapping.join
    join_plans = [schema.plan(t, infer[f"join:{t.column}"].type()) for t in (join.targets if join else [])]
    label = None
    if join and join.label_field:
        label = schema.plan(Target(join.on, join.where, field=join.label_field), "boolean")
    defaults = {
        name: schema.plan(Target(name, mapping.path, field=name), "text") for name in mapping.defaults
    }
    on_key = header.index(join.on) if join and join.on in header else None
    if join and on_key is None:
        raise CsvLoadError(f"{join.where}: join key {join.on!r} is not a column of {path.name}")
    # pass 2: coerce, default, insert in chunks
    batch: list[dict[str, Any]] = []
    for n, (line, cells) in enumerate(_rows(path, mapping)):
        if n == 0:
            continue
        rec: dict[str, Any] = {}
        bad: list[RowError] = []
        raw = dict(zip(header, cells, strict=False))
        for i, ps in plans:
            for plan in ps:
                _put(rec, bad, plan, cells[i] if i < len(cells) else "", n, line, schema, mapping)
        if mapping.join and on_key is not None:
            match = joined.get(cells[on_key] if on_key < len(cells) else "")
            for plan in join_plans:
                _put(rec, bad, plan, (match or {}).get(plan.target.column, ""), n, line, schema, mapping)
            if label is not None:
                _put(rec, bad, label, "true" if match is not None else "false", n, line, schema, mapping)
        for name, plan in defaults.items():
            if rec.get(plan.name) in (None, ""):
                _put(rec, bad, plan, _fill(mapping.defaults[name], raw), n, line, schema, mapping)
        bad += [RowError(n, line, "", f, "", "required field has no value (add it to `defaults` in the mapping)")
                for f in schema.required if rec.get(f) in (None, "")]  # fmt: skip
        report.rows += 1
        report.errors += bad
        if bad and mapping.on_error == "reject":
            report.rejected.append(n)
            continue
        batch.append(rec)
        if len(batch) >= CHUNK:
            report.loaded += schema.insert(batch)
            batch = []
            if progress:
                progress(f"Loading {path.name}", report.rows, total)
    report.loaded += schema.insert(batch)
    if progress:
        progress(f"Loading {path.name}", report.rows, total)
    report.created_fields, report.reused_fields = schema.created, schema.reused
    return report


def _fill(template: str, row: dict[str, str]) -> str:
    """A default value: `{Column}` replaced by that column's value in the row."""
    return re.sub(r"\{([^{}]+)\}", lambda mt: row.get(mt.group(1), "").strip(), template)


def _put(
    rec: dict[str, Any], bad: list[RowError], plan: FieldPlan, cell: str, row: int, line: int, schema: Fields,
    mapping: CsvMapping,
) -> None:  # fmt: skip
    """Coerce one cell for one target into `rec`, or record why it cannot be."""
    v = cell.strip()
    t = plan.target
    if v in mapping.missing:
        return
    if t.values and not t.custom:
        if v in t.values:
            v = t.values[v]
        elif t.has_other:
            if t.other is None:
                return
            v = t.other
    try:
        rec[plan.name] = schema.coerce(plan, v)
    except ValueError as exc:
        bad.append(RowError(row, line, t.column, plan.name, cell, str(exc)))
