"""The value readers' session-6 shortcuts answer exactly what their general definitions answer.

Each oracle below is the definition as it stood before its shortcut (website hosts through `urlsplit` only,
single-line text through split and join only, stamps converted with `astimezone` always, a timestamp among
several read one `timestamp` call at a time). Values are drawn to sit on both sides of every shortcut.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

from hypothesis import given, settings
from hypothesis import strategies as st

from mappings import wire
from mappings.field_reader import FieldReader
from mappings.wire import BadValue, bare_stamp, clean_text, read_domain, read_text


def _old_clean_text(value: str, *, single_line: bool = False) -> str:
    if value.isprintable():
        return " ".join(value.split()) if single_line else value.strip(" ")
    text = wire._UNSAFE.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))
    return " ".join(text.split()) if single_line else text.strip()


def _old_read_domain(value: Any) -> str | None:
    text = read_text(value, single_line=True)
    if text is None:
        return None
    try:
        host = urlsplit(text if "://" in text else f"//{text}").hostname
    except ValueError:
        raise BadValue("not a website address") from None
    host = (host or "").removeprefix("www.").rstrip(".")
    if not wire._HOST.fullmatch(host):
        raise BadValue("not a website address")
    return host


def _old_bare_stamp(text: str) -> datetime | None:
    if not text or text[0].isspace() or text[-1].isspace() or text.isdigit():
        return None
    try:
        parsed = datetime.fromisoformat(text)
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _outcome(read: Any, value: Any) -> tuple[str, Any]:
    try:
        return "value", read(value)
    except BadValue as exc:
        return "problem", str(exc)


site_parts = st.sampled_from(
    ["www.", "Acme", "acme", ".com", ".", "-", "https://", "http://", "HTTP://", "ftp://", "/", "/x?y=http://z",
     ":8080", "@", "user@", "[::1]", " ", "  ", "\t", "é", "xn--", "..", "#", "?", "%", "0", "_"]
)  # fmt: skip
sites = st.one_of(
    st.lists(site_parts, max_size=7).map("".join),
    st.text(st.sampled_from("aZ09.-/:@?#[]% \t_é"), max_size=24),
    st.sampled_from(["www.falconpath.com", "https://www.acme.com/", "http://a.b", "a", "...", "WWW.X.IO."]),
)
texts = st.one_of(
    st.text(max_size=30),
    st.text(st.sampled_from("ab  \t\n\r\x0b\x1c\x85\xa0\u2028\x00"), max_size=12),
)


@settings(max_examples=500)
@given(value=st.one_of(sites, st.none(), st.integers(), st.booleans()))
def test_website_hosts_read_as_urlsplit_reads_them(value: Any) -> None:
    assert _outcome(read_domain, value) == _outcome(_old_read_domain, value)


@settings(max_examples=500)
@given(value=texts, single_line=st.booleans())
def test_text_is_cleaned_as_split_and_join_clean_it(value: str, single_line: bool) -> None:
    assert clean_text(value, single_line=single_line) == _old_clean_text(value, single_line=single_line)


moments = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30))
zones = st.sampled_from(
    [
        None,
        UTC,
        timezone(timedelta(hours=5, minutes=30)),
        timezone(timedelta(hours=-8)),
        timezone(timedelta(0), "GMT"),
    ]
)
stamp_texts = st.one_of(
    st.builds(lambda t, z: t.replace(tzinfo=z).isoformat(), moments, zones),
    moments.map(lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}+0000"),
    moments.map(lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.000Z")),
    moments.map(lambda t: t.date().isoformat()),
    st.sampled_from(
        ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", " 2024-01-01", "20240101", ""]
    ),
    st.text(st.sampled_from("0123456789-T:.+Z "), max_size=30),
)


@settings(max_examples=500)
@given(text=stamp_texts)
def test_bare_stamps_read_as_astimezone_reads_them(text: str) -> None:
    want = _old_bare_stamp(text)
    for _ in range(2):  # a new stamp, then a remembered one
        got = bare_stamp(text)
        assert got == want and (got is None or (got.tzinfo is UTC and got.utcoffset() == timedelta(0)))


@given(
    values=st.lists(st.one_of(st.none(), stamp_texts, st.integers(), st.booleans()), min_size=3, max_size=3)
)
def test_the_first_timestamp_is_the_first_field_read_one_at_a_time(values: list[Any]) -> None:
    paths = ("A", "B", "C")
    raw = dict(zip(paths, values, strict=True))
    fast, slow = FieldReader("salesforce", raw, "r1", "Task"), FieldReader("salesforce", raw, "r1", "Task")
    want = next((t for t in (slow.timestamp(p) for p in paths) if t is not None), None)
    # `next` stops at the first stamp found, so `slow` reported only the fields read up to it.
    assert fast.first_timestamp(*paths) == want
    assert fast.problems == slow.problems
