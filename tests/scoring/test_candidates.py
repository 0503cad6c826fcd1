"""The candidate index: which unlinked leads share a domain or name block with an account."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.candidates import CandidateIndex
from scoring.matching import account_match_keys, lead_match_keys
from tests.scoring.test_matching import account, lead


def test_candidate_index() -> None:
    index: CandidateIndex[str] = CandidateIndex()
    index.put("L1", lead_match_keys(lead(email="j@acme.com", company="Acme Widgets")))
    index.put("L2", lead_match_keys(lead(company="Globex")))
    assert index.candidates(account_match_keys(account("001A", "Widgets Inc", "acme.com"))) == {"L1"}
    assert index.candidates(account_match_keys(account("001B", "Globex Corp"))) == {"L2"}
    index.put("L2", None)
    assert index.candidates(account_match_keys(account("001B", "Globex Corp"))) == set() and len(index) == 1


_INDEX_KEYS = st.tuples(
    st.lists(st.sampled_from(["a.com", "b.com", "c.com"]), max_size=2, unique=True).map(tuple),
    st.lists(st.sampled_from(["acme", "glob", "init"]), max_size=2, unique=True).map(tuple),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["L1", "L2", "L3", "L4"]), st.none() | _INDEX_KEYS), max_size=30))
def test_candidate_index_answers_as_a_plain_reverse_index(
    puts: list[tuple[str, tuple[tuple[str, ...], tuple[str, ...]] | None]],
) -> None:
    # Singletons are stored without a set: the answers must be those of item -> keys, searched naively.
    index: CandidateIndex[str] = CandidateIndex()
    filed: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
    for item, keys in puts:
        index.put(item, keys)
        if keys is None:
            filed.pop(item, None)
        else:
            filed[item] = keys
        assert len(index) == len(filed)
        for domain in ("a.com", "b.com", "c.com"):
            for block in ("acme", "glob", "init"):
                query = ((domain,), (block,))
                expected = {i for i, (ds, bs) in filed.items() if domain in ds or block in bs}
                assert index.candidates(query) == expected
        assert index.candidates(((), ())) == set()
