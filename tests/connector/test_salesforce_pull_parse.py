"""The Bulk CSV parse with its converter memo, and the regular-expression datetime shortcut, read exactly as the
definitions they replaced (copied here as oracles): the same records, value types and errors."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from connector.protocol import RawRecord
from connector.salesforce.pull import _MEMO_SIZE, _parse_chunk
from connector.salesforce.values import csv_converter, parse_stamp, rest_datetime


def _oracle_csv_datetime(text: str) -> str | None:
    """`_csv_datetime` before the regular expression: its shortcut guarded character by character."""
    if (
        len(text) == 24
        and text[23] == "Z"
        and text[19] == "."
        and text[10] == "T"
        and text[4] == "-"
        and text[7] == "-"
        and text[13] == ":"
        and text[16] == ":"
        and "1000" <= text[:4] <= "9999"
        and text[20:23].isdecimal()
        and text.isascii()
    ):
        try:
            datetime.fromisoformat(text)
        except ValueError:
            pass
        else:
            return text[:23] + "+0000"
    stamp = parse_stamp(text)
    return rest_datetime(stamp) if stamp else None


def _oracle_parse_chunk(
    chunk: str,
    select: list[str],
    canonical: Mapping[str, str],
    converters: Mapping[str, Callable[[str], Any] | None],
) -> Iterator[RawRecord]:
    """`_parse_chunk` before the memo: every typed cell converted where it stands."""
    reader = csv.reader(io.StringIO(chunk, newline=""))
    header = next(reader, None)
    if header is None:
        return
    last = {name: i for i, name in enumerate(header)}
    columns = [(i, key, converters[key]) for name, i in last.items() if (key := canonical.get(name.lower()))]
    width = len(header)
    blank = dict.fromkeys(select)
    for cells in reader:
        if not cells:
            continue
        if len(cells) < width:
            cells += [""] * (width - len(cells))
        record = blank.copy()
        for index, key, convert in columns:
            cell = cells[index]
            record[key] = None if not cell else cell if convert is None else convert(cell)
        yield record


def _outcome(fn: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "ok", fn()
    except Exception as exc:  # the same failure, raised the same way, is part of "the same reading"
        return type(exc).__name__, str(exc)


def _typed(records: list[RawRecord]) -> list[list[tuple[str, type, str]]]:
    """Records as (key, type, repr) in key order: 1 == 1.0 == True would hide a changed type or order, and
    NaN is not equal to itself."""
    return [[(k, type(v), repr(v)) for k, v in r.items()] for r in records]


moments = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC))
bulk_stamps = moments.map(lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z")
odd_stamps = st.sampled_from(
    ["0999-01-01T00:00:00.000Z", "2024-02-30T00:00:00.000Z", "2024-01-01T24:00:00.000Z", "2024-01-01T10:15:00Z",
     "2024-01-01T10:15:00,000Z", "2024-01-01T10:15:00.00aZ", "2024-0\uff11-01T10:15:00.000Z", "1a00-01-01T00:00:00.000Z",
     "\uff12\uff10\uff12\uff14-01-01T10:15:00.000Z", "2024-01-01 10:15:00.000Z", "2024-01-01T10:15:00.000+0100",
     "2024-01-01T10:15:00.000z", "2024-01-01T10:15:00.0000Z", "+024-01-01T10:15:00.000Z", "x", ""]
)  # fmt: skip


@settings(max_examples=500)
@given(text=st.one_of(bulk_stamps, odd_stamps, st.text(max_size=30)))
def test_the_datetime_shortcut_reads_as_the_character_checks_did(text: str) -> None:
    convert = csv_converter("datetime")
    assert convert is not None
    assert _outcome(lambda: convert(text)) == _outcome(lambda: _oracle_csv_datetime(text))


SELECT = ["Id", "SystemModstamp", "CreatedDate", "IsClosed", "NumberOfEmployees", "AnnualRevenue", "Title"]
TYPES = {"Id": "id", "SystemModstamp": "datetime", "CreatedDate": "datetime", "IsClosed": "boolean",
         "NumberOfEmployees": "int", "AnnualRevenue": "currency", "Title": "string"}  # fmt: skip
# Few distinct values, so that cells repeat within and across rows and columns (what the memo serves), and
# some that fail to convert, so that which error comes first is compared too.
few_stamps = st.sampled_from(
    ["2024-03-01T10:15:00.000Z", "2024-03-01T10:16:00.000Z", "1999-12-31T23:59:59.999Z"]
)
cells = {
    "Id": st.sampled_from(["00Q5g00000004miEAA", "00Q5g00000004mjEAA", ""]),
    "SystemModstamp": st.one_of(few_stamps, bulk_stamps, odd_stamps),
    "CreatedDate": st.one_of(few_stamps, odd_stamps),
    "IsClosed": st.sampled_from(["true", "false", "TRUE", "", "x"]),
    "NumberOfEmployees": st.sampled_from(["12", "12.0", "", "-3", "1e3", "twelve"]),
    "AnnualRevenue": st.sampled_from(["1.5", "12", "", "NaN", "inf", "1,5"]),
    "Title": st.text(max_size=6),
}


@st.composite
def chunks(draw: st.DrawFn) -> str:
    header = draw(st.lists(st.sampled_from([*SELECT, "Other", "title", "CREATEDDATE", "isclosed"]), min_size=1,
                           max_size=10))  # fmt: skip
    out = io.StringIO(newline="")
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(header)
    for _ in range(draw(st.integers(0, 12))):
        row = [draw(cells.get(next((s for s in SELECT if s.lower() == c.lower()), ""), st.text(max_size=4)))
               for c in header]  # fmt: skip
        kind = draw(st.sampled_from(["full", "full", "short", "long", "blank"]))
        if kind == "blank":
            out.write("\n")
            continue
        writer.writerow(
            row[: max(1, len(row) - 2)] if kind == "short" else row + (["x"] if kind == "long" else [])
        )
    return out.getvalue()


def _both(chunk: str, select: list[str], types: Mapping[str, str | None]) -> tuple[Any, Any]:
    converters = {path: csv_converter(types.get(path)) for path in select}
    canonical = {path.lower(): path for path in select}
    new = _outcome(lambda: _typed(list(_parse_chunk(chunk, select, canonical, converters))))
    old = _outcome(lambda: _typed(list(_oracle_parse_chunk(chunk, select, canonical, converters))))
    return new, old


@settings(max_examples=400)
@given(chunk=chunks())
def test_a_results_page_parses_as_without_the_memo(chunk: str) -> None:
    new, old = _both(chunk, SELECT, TYPES)
    assert new == old


def test_a_page_with_more_distinct_stamps_than_the_memo_holds_parses_the_same() -> None:
    # Two columns of one instant per row, rows cycling over more instants than the memo keeps: the memo is
    # emptied and refilled many times, hits and misses interleaved.
    instants = [f"2024-03-01T{h:02d}:{m:02d}:00.000Z" for h in range(24) for m in range(60)]
    assert len(instants) > 2 * _MEMO_SIZE
    out = io.StringIO(newline="")
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(["Id", "SystemModstamp", "CreatedDate", "IsClosed"])
    for i in range(3 * len(instants)):
        stamp = instants[(i * 7) % len(instants)]
        writer.writerow(
            [f"00T{i:05d}", stamp, stamp if i % 3 else instants[i % 11], "true" if i % 2 else "false"]
        )
    new, old = _both(out.getvalue(), SELECT, TYPES)
    assert new[0] == "ok"
    assert new == old
    records = new[1]
    assert records[1][1] == ("SystemModstamp", str, repr("2024-03-01T00:07:00.000+0000"))
    assert records[1][3] == ("IsClosed", bool, "True")
