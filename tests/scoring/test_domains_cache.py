"""`registrable_domain` remembers answers by exact input text: a remembered answer is the computed one."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from scoring.domains import _registrable_text, registrable_domain

hosts = st.one_of(
    st.sampled_from(
        ["https://www.Acme.co.uk/about", "jane@mail.acme.com", " ACME.com ", "localhost", "10.0.0.1",
         "http://[::1]/", "bücher.de", "", "   ", "shop.myshopify.com", "a" * 3000 + ".com", "x@", "@y.org"]
    ),
    st.text(st.sampled_from("abc.-@/: ÄX1"), max_size=30),
)  # fmt: skip


@given(values=st.lists(hosts, max_size=8))
def test_remembered_answers_equal_computed_ones_in_any_order(values: list[str]) -> None:
    for value in values + values[::-1]:
        assert registrable_domain(value) == _registrable_text(value)


def test_known_answers_and_non_text() -> None:
    assert registrable_domain("https://www.Acme.co.uk/about") == "acme.co.uk"
    assert registrable_domain(" ACME.com ") == registrable_domain("acme.com") == "acme.com"
    assert registrable_domain("localhost") is None
    assert registrable_domain(None) is None
    assert registrable_domain(42) is None  # type: ignore[arg-type]
