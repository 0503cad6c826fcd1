"""`json_texts` (a column's JSON, repeats encoded once) writes exactly what `json_text` writes value by value."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync.state.columns import EncodedJSON, _converted, json_text, json_texts

# Values that are equal across types (1 == 1.0 == True, 0 == False) or look alike as text ("null", "1"):
# sharing one encoding between any two of them would store the wrong text.
LOOKALIKES = st.sampled_from([0, 1, 1.0, 0.0, True, False, None, "null", "1", "true", "", 2**70, -(2**63)])
SCALARS = st.one_of(
    LOOKALIKES,
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    st.text(max_size=8).map(EncodedJSON).filter(lambda t: t == "" or t.isdigit()),
)
VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=3), children)
    ),
    max_leaves=6,
)
# What json_text refuses: not JSON (NaN, infinities) or not a JSON type, and a lone surrogate.
REFUSED = st.sampled_from([math.nan, math.inf, {1, 2}, b"x", "\ud800", ["\udfff"], object()])


def _outcome(encode: Any, values: list[Any]) -> Any:
    try:
        return encode(values)
    except (TypeError, ValueError) as exc:
        return type(exc)


@settings(max_examples=400, deadline=None)
@given(values=st.lists(st.one_of(VALUES, LOOKALIKES), max_size=30).flatmap(lambda v: st.permutations(v + v)))
def test_json_texts_writes_what_json_text_writes_value_by_value(values: list[Any]) -> None:
    assert json_texts(values) == [json_text(value) for value in values]


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.one_of(SCALARS, REFUSED), max_size=12))
def test_json_texts_refuses_what_json_text_refuses(values: list[Any]) -> None:
    assert _outcome(json_texts, values) == _outcome(lambda vs: [json_text(v) for v in vs], values)


def test_repeated_lookalikes_keep_their_own_text() -> None:
    assert json_texts([1, True, 1.0, None, "null", 1, True, None, "null", 1.0]) == [
        "1", "true", "1.0", "null", '"null"', "1", "true", "null", '"null"', "1.0",
    ]  # fmt: skip


def test_a_column_value_that_cannot_be_stored_is_named_by_row_and_record() -> None:
    # Rows 1:4 of a statement's columns, as `positional_params` hands a chunk over.
    columns: dict[str, Any] = {
        "record_id": ["00Q0", "00Q1", "00Q2", "00Q3"],
        "new_value": [0, "A", 1, math.nan],
    }
    with pytest.raises(ValueError, match=r"ledger\.new_value of row 3 \(record_id '00Q3'\) cannot be stored"):
        _converted(columns["new_value"][1:], json_text, "ledger", "new_value", columns, 1)
