"""A search page's stamps read through the window's memory of them exactly as `parse_stamp` reads them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from connector.hubspot.client import HubSpotApis
from connector.hubspot.pull import WindowSearch
from connector.hubspot.settings import HubSpotSettings
from connector.hubspot.wire import parse_stamp, to_ms

_APIS = cast(
    HubSpotApis, SimpleNamespace(settings=HubSpotSettings(base_url="https://x.invalid", token=SecretStr("t")))
)
_moments = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
).map(lambda m: m.replace(microsecond=m.microsecond // 1000 * 1000))
_texts = st.one_of(
    _moments.map(lambda m: m.isoformat(timespec="milliseconds").replace("+00:00", "Z")),
    _moments.map(lambda m: m.astimezone(UTC).isoformat()),
    _moments.map(
        lambda m: (m.astimezone(UTC) + timedelta(hours=2)).replace(tzinfo=None).isoformat() + "+02:00"
    ),
    _moments.map(lambda m: str(to_ms(m))),
    st.sampled_from(["", None]),
)


def _reference(text: Any, updated: Any) -> tuple[datetime | None, int]:
    stamp = parse_stamp(text) or parse_stamp(updated)
    return stamp, to_ms(stamp) if stamp is not None else 0


@given(st.lists(st.tuples(_texts, _texts), max_size=30))
def test_stamps_and_milliseconds_are_parse_stamps_whether_seen_before_or_not(
    rows: list[tuple[Any, Any]],
) -> None:
    search = WindowSearch(_APIS, "deals", ["dealname"], 0, 1)
    for text, updated in [*rows, *rows]:  # the second time round from memory
        record = {"id": "1", "hs_lastmodifieddate": text}
        assert search._stamp_of(record, {"updatedAt": updated}) == _reference(text, updated)


def test_a_malformed_stamp_still_fails_every_time() -> None:
    search = WindowSearch(_APIS, "contacts", ["email"], 0, 1)
    for _ in range(2):
        with pytest.raises(ValueError):
            search._stamp_of({"id": "1", "lastmodifieddate": "yesterday"}, {})
