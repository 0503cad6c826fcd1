"""Dense codes for (crm, id) keys: each key one code, the codes 0..n-1 in the order keys first came."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mappings import Crm
from scoring.key_codes import KeyCodes

keys = st.lists(
    st.tuples(st.sampled_from(["salesforce", "hubspot"]), st.sampled_from("abcdefg")), max_size=40
)


@given(keys)
def test_codes_are_dense_stable_and_read_back(added: list[tuple[Crm, str]]) -> None:
    codes = KeyCodes()
    given_codes = [codes.get_or_add(crm, key_id) for crm, key_id in added]
    first = list(dict.fromkeys(added))
    assert len(codes) == len(first)
    assert given_codes == [first.index(key) for key in added]
    assert [codes.key(code) for code in range(len(codes))] == first
    for crm in ("salesforce", "hubspot"):
        ids = list("abcdefgh")
        expected = [first.index((crm, i)) if (crm, i) in first else -1 for i in ids]
        assert codes.lookup(crm, ids).tolist() == expected
        assert [codes.get(crm, i, -2) for i in ids] == [-2 if e == -1 else e for e in expected]
