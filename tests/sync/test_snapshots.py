"""A page's digests and spool lines, computed at a page's pace, are the ones computed record by record: the
digests are stored (a changed one re-scores everyone once), and the spooled lines are what the commit stores."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sync.fields import VOLATILE
from sync.snapshots import SnapshotSpool, _spooled, _stamp, _stamp_text, content_digest, content_digests
from sync.state.bulk import SnapshotPut


class Frozen(Mapping[str, Any]):
    """A raw record that is a Mapping but not a dict."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


OURS = frozenset({"Leadq_Score__c", "Leadq_Tier__c"})
KEYS = [
    "Id",
    "Name",
    "Title",
    "name",
    "Leadq_Score__c",
    "Leadq_Tier__c",
    *sorted(VOLATILE),
    "\u00e9",
    "Z",
    "a",
]
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats()
    | st.text(max_size=6)
    | st.datetimes(timezones=st.just(UTC))
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=2) | st.dictionaries(st.sampled_from(["b", "a", "B"]), inner, max_size=2)
    ),
    max_leaves=4,
)
# Runs of records with one key set (in varying orders), as a page has, and records with other key sets.
records = st.dictionaries(st.sampled_from(KEYS), values, max_size=len(KEYS))


@st.composite
def pages(draw: st.DrawFn) -> list[Any]:
    out: list[Any] = []
    for template in draw(st.lists(records, max_size=4)):
        for _ in range(draw(st.integers(1, 4))):
            keys = draw(st.permutations(list(template)))
            record = {k: draw(values) for k in keys}
            out.append(Frozen(record) if draw(st.integers(0, 9)) == 0 else record)
    return out


def _outcome(fn: Any) -> tuple[str, Any]:
    try:
        return "ok", fn()
    except Exception as exc:
        return type(exc).__name__, str(exc)


@settings(max_examples=300, deadline=None)
@given(page=pages(), ours=st.sampled_from([OURS, frozenset(), frozenset({"Name", "a"})]))
def test_page_digests_are_the_record_digests(page: list[Any], ours: frozenset[str]) -> None:
    got = _outcome(lambda: content_digests(page, ours))
    assert got == _outcome(lambda: [content_digest(r, ours) for r in page])
    if got[0] == "ok":
        assert all(r == dict(r) for r in page)  # the records themselves are left as they were


def test_digests_leave_out_the_volatile_and_our_fields_whatever_the_key_order() -> None:
    base = {
        "Id": "00Q1",
        "Name": "Ada",
        "SystemModstamp": "2024-01-01T00:00:00.000+0000",
        "Leadq_Score__c": 3,
    }
    moved = {
        "Leadq_Score__c": 90,
        "SystemModstamp": "2025-01-01T00:00:00.000+0000",
        "Name": "Ada",
        "Id": "00Q1",
    }
    renamed = {**base, "Name": "Bea"}
    first, second, third = content_digests([base, moved, renamed], OURS)
    assert first == second != third
    assert first == content_digest({"Name": "Ada", "Id": "00Q1"}, frozenset())


stamps = st.sampled_from(
    ["2024-03-01T10:15:00.000+0000", "2024-03-01T10:15:00.123Z", "2024-03-01", "garbage", "", None, 17]
)
spool_records = st.fixed_dictionaries(
    {"Id": st.text(min_size=1, max_size=5)},
    optional={
        "SystemModstamp": stamps,
        "lastmodifieddate": stamps,
        "hs_lastmodifieddate": stamps,
        "n": values,
    },
)


@settings(max_examples=100, deadline=None)
@given(batches=st.lists(st.tuples(st.sampled_from(["Lead", "Task"]), st.lists(spool_records, max_size=5)),
                        max_size=4))  # fmt: skip
def test_pulled_pages_spool_the_lines_their_snapshot_puts_spool(
    batches: list[tuple[str, list[dict[str, Any]]]],
) -> None:
    batches = [(obj, [r for r in page if "n" not in r or _json_safe(r["n"])]) for obj, page in batches]
    by_puts, by_page = SnapshotSpool(in_memory=128), SnapshotSpool(in_memory=128)
    try:
        for obj, page in batches:
            ids = [str(r["Id"]) for r in page]
            digests = [f"{obj}-{n}" for n in range(len(page))]  # integers past 64 bits have no digest
            by_puts.add(
                obj, [SnapshotPut(i, r, d, _stamp(r)) for r, i, d in zip(page, ids, digests, strict=True)]
            )
            by_page.add_pulled(obj, page, ids, digests)
        assert by_page.count == by_puts.count
        assert list(by_page.chunks(3)) == list(by_puts.chunks(3))
        assert _bytes(by_page) == _bytes(by_puts)
    finally:
        by_puts.close()
        by_page.close()


def _json_safe(value: Any) -> bool:
    """Values the spool can hold at all (it refuses NaN and datetimes, either way it is given them)."""
    if isinstance(value, float):
        return value == value and value not in (float("inf"), float("-inf"))
    if isinstance(value, datetime):
        return False
    if isinstance(value, list):
        return all(_json_safe(v) for v in value)
    if isinstance(value, dict):
        return all(_json_safe(v) for v in value.values())
    return True


def _bytes(spool: SnapshotSpool) -> bytes:
    spool._file.seek(0)
    return bytes(spool._file.read())


def test_integers_beyond_64_bits_have_a_digest_and_a_spool_line() -> None:
    big = {"Id": "00Q1", "Name": "Ada", "AnnualRevenue": 2**70}
    other = {**big, "AnnualRevenue": 2**70 + 1}
    digest = content_digest(big, OURS)
    assert content_digests([big, other], OURS) == [digest, content_digest(other, OURS)]
    assert digest != content_digest(other, OURS)
    assert content_digest({**big, "SystemModstamp": "2026-01-01T00:00:00Z"}, OURS) == digest
    spool = SnapshotSpool(in_memory=64)
    spool.add_pulled("Lead", [big], ["00Q1"], [digest])
    [(obj, [put])] = list(spool.chunks())
    assert (obj, put.record_id, put.values, put.content_hash) == ("Lead", "00Q1", big, digest)


_SUFFIXES = ("+0000", "Z", "+00:00", "+0100", "-05:00", "")


@settings(max_examples=300, deadline=None)
@given(
    at=st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)),
    suffix=st.sampled_from(_SUFFIXES),
    name=st.sampled_from(("SystemModstamp", "lastmodifieddate", "hs_lastmodifieddate")),
    mangle=st.sampled_from(("", "month 13", "day 31", "hour 24", "no fraction", "text")),
)
def test_the_spooled_stamp_is_the_general_paths_whatever_the_text(
    at: datetime, suffix: str, name: str, mangle: str
) -> None:
    """The text fast path for the CRMs' own form gives what parsing and formatting give, impossible
    dates and other forms included."""
    text = at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}"
    if len(text) < 23:  # years before 1000 print short on some platforms
        text = f"{at.year:04d}" + text[text.index("-") :]
    if mangle == "month 13":
        text = text[:5] + "13" + text[7:]
    elif mangle == "day 31":
        text = text[:8] + "31" + text[10:]
    elif mangle == "hour 24":
        text = text[:11] + "24" + text[13:]
    elif mangle == "no fraction":
        text = text[:19]
    elif mangle == "text":
        text = "yesterday"
    raw = {"Id": "x", name: text + suffix}
    assert _stamp_text(raw) == _spooled(_stamp(raw))


def test_the_first_stamp_field_with_text_decides() -> None:
    raw = {"SystemModstamp": "", "lastmodifieddate": "2026-11-29T03:40:00.123Z", "hs_lastmodifieddate": "x"}
    assert _stamp_text(raw) == "2026-11-29 03:40:00.123000"
    assert _stamp_text({"SystemModstamp": "2026-02-30T00:00:00.000+0000"}) is None
    assert _stamp_text({"SystemModstamp": 5, "Id": "x"}) is None
