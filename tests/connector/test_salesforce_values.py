"""Bulk API 2.0 CSV and REST record shapes: the per-column shortcuts read exactly as the general readers."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.salesforce.pull import _parse_chunk
from connector.salesforce.values import csv_converter, flattener, from_csv

TYPES = [None, "string", "boolean", "int", "long", "double", "currency", "percent", "datetime", "date", "id"]
moments = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC))
bulk_stamps = moments.map(lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z")
cells = st.one_of(
    bulk_stamps,
    bulk_stamps.map(lambda s: s.replace("T", " ")),
    bulk_stamps.map(lambda s: s[:-1] + "+0000"),
    st.sampled_from(["0999-01-01T00:00:00.000Z", "2024-02-30T00:00:00.000Z", "2024-01-01T24:00:00.000Z",
                     "2024-W10-1T10:15:00.000Z", "2024-01-01T10:15:00,000Z", "2024-01-01T10:15:00.00aZ",
                     "\uff12\uff10\uff12\uff14-01-01T10:15:00.000Z", "true", "FALSE", "12", "12.5", "1e3", "-0", "x"]),
    st.text(min_size=1, max_size=30),
)  # fmt: skip


def _outcome(fn: Any, *args: Any) -> tuple[str, Any]:
    try:
        return "ok", fn(*args)
    except Exception as exc:  # the same failure, raised the same way, is part of "the same reading"
        return type(exc).__name__, str(exc)


@settings(max_examples=500)
@given(cell=cells, field_type=st.sampled_from(TYPES))
def test_column_converters_read_as_from_csv(cell: str, field_type: str | None) -> None:
    convert = csv_converter(field_type)
    got = _outcome(lambda c: c if convert is None else convert(c), cell)
    assert got == _outcome(from_csv, cell, field_type)


def test_bulk_datetime_shortcut_gives_the_rest_form() -> None:
    convert = csv_converter("datetime")
    assert convert is not None
    assert convert("2024-03-01T10:15:00.123Z") == "2024-03-01T10:15:00.123+0000"
    with pytest.raises(ValueError):
        convert("2024-02-30T10:15:00.000Z")


def _reference_rows(chunk: str, select: list[str], types: Mapping[str, str | None]) -> list[dict[str, Any]]:
    """The parse as it was: csv.DictReader and `from_csv` per cell."""
    canonical = {path.lower(): path for path in select}
    rows = []
    for row in csv.DictReader(io.StringIO(chunk, newline="")):
        record: dict[str, Any] = {path: None for path in select}
        for column, cell in row.items():
            key = canonical.get(str(column).lower())
            if key is not None:
                record[key] = from_csv(cell or "", types.get(key))
        rows.append(record)
    return rows


SELECT = ["Id", "SystemModstamp", "IsClosed", "NumberOfEmployees", "AnnualRevenue", "Title", "Account.Name"]
SELECT_TYPES = {"Id": "id", "SystemModstamp": "datetime", "IsClosed": "boolean", "NumberOfEmployees": "int",
                "AnnualRevenue": "currency", "Title": "string", "Account.Name": None}  # fmt: skip
row_cells = {
    "Id": st.sampled_from(["00Q5g00000004miEAA", ""]),
    "SystemModstamp": st.one_of(bulk_stamps, st.just("")),
    "IsClosed": st.sampled_from(["true", "false", "TRUE", ""]),
    "NumberOfEmployees": st.sampled_from(["12", "12.0", "", "-3"]),
    "AnnualRevenue": st.sampled_from(["1.5", "12", ""]),
    "Title": st.text(max_size=12),
    "Account.Name": st.text(max_size=12),
}


@st.composite
def chunks(draw: st.DrawFn) -> str:
    header = draw(
        st.lists(st.sampled_from([*SELECT, "Other", "title", "ACCOUNT.NAME"]), min_size=1, max_size=9)
    )
    out = io.StringIO(newline="")
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(header)
    for _ in range(draw(st.integers(0, 6))):
        row = [draw(row_cells.get(next((s for s in SELECT if s.lower() == c.lower()), ""), st.text(max_size=4)))
               for c in header]  # fmt: skip
        kind = draw(st.sampled_from(["full", "short", "long", "blank"]))
        if kind == "blank":
            out.write("\n")
            continue
        writer.writerow(
            row[: max(1, len(row) - 2)] if kind == "short" else row + (["x"] if kind == "long" else [])
        )
    return out.getvalue()


@settings(max_examples=300)
@given(chunk=chunks())
def test_a_results_page_parses_as_with_dict_reader(chunk: str) -> None:
    converters = {path: csv_converter(SELECT_TYPES[path]) for path in SELECT}
    canonical = {path.lower(): path for path in SELECT}
    got = _outcome(lambda c: list(_parse_chunk(c, SELECT, canonical, converters)), chunk)
    assert got == _outcome(_reference_rows, chunk, SELECT, SELECT_TYPES)


def _reference_flatten(record: Mapping[str, Any], select: list[str]) -> dict[str, Any]:
    def get_ci(node: Mapping[str, Any], key: str) -> Any:
        if key in node:
            return node[key]
        return next((v for k, v in node.items() if k.lower() == key.lower()), None)

    out: dict[str, Any] = {}
    for path in select:
        value: Any = record
        for part in path.split("."):
            value = get_ci(value, part) if isinstance(value, Mapping) else None
        out[path] = value if isinstance(value, str | int | float | bool | type(None)) else (
            None if isinstance(value, Mapping) else value)  # fmt: skip
    return out


leaves = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=2)
)
nodes = st.recursive(leaves, lambda inner: st.dictionaries(st.sampled_from(["Name", "name", "Account", "x"]), inner,
                                                            max_size=3), max_leaves=6)  # fmt: skip


@given(
    record=st.dictionaries(st.sampled_from(["Id", "id", "Title", "Account", "account", "attributes"]), nodes),
    select=st.lists(st.sampled_from(["Id", "Title", "TITLE", "Account.Name", "account.name", "Account.x.Name"]),
                    max_size=6),
)  # fmt: skip
def test_flattened_rest_records_match_the_path_walk(record: dict[str, Any], select: list[str]) -> None:
    got = flattener(select)(record)
    assert got == _reference_flatten(record, select)
    assert list(got) == list(dict.fromkeys(select))
