"""The candidate index: which unlinked leads share a domain or name block with an account; it answers
what looking at every filed item would, and forgets what it is told to."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.candidates import CandidateIndex, Keys
from scoring.matching import account_match_keys, lead_match_keys
from tests.scoring.test_matching import account, lead


def test_candidate_index() -> None:
    index: CandidateIndex[str] = CandidateIndex()
    l1, l2 = (
        lead_match_keys(lead(email="j@acme.com", company="Acme Widgets")),
        lead_match_keys(lead(company="Globex")),
    )
    index.put("L1", l1)
    index.put("L2", l2)
    assert index.candidates(account_match_keys(account("001A", "Widgets Inc", "acme.com"))) == {"L1"}
    assert index.candidates(account_match_keys(account("001B", "Globex Corp"))) == {"L2"}
    index.put("L2", None, was=l2)
    assert index.candidates(account_match_keys(account("001B", "Globex Corp"))) == set()
    assert index.candidates(account_match_keys(account("001A", "Widgets Inc", "acme.com"))) == {"L1"}


_NAMES = st.sampled_from(("acme.com", "initech.com", "acme", "globex", "init"))
keys = st.tuples(
    st.lists(_NAMES, max_size=2, unique=True).map(tuple), st.lists(_NAMES, max_size=2, unique=True).map(tuple)
)
puts = st.lists(st.tuples(st.sampled_from("abcd"), st.none() | keys), max_size=30)


def _file(index: CandidateIndex[str], filed: dict[str, Keys], stream: list[tuple[str, Keys | None]]) -> None:
    """Put each item of `stream` into `index`, saying what it was filed under; `filed` follows along."""
    for item, new in stream:
        index.put(item, new, was=filed.pop(item, None))
        if new is not None:
            filed[item] = new


def _looked_at(filed: dict[str, Keys], query: Keys) -> set[str]:
    return {
        item
        for item, (domains, blocks) in filed.items()
        if set(domains) & set(query[0]) or set(blocks) & set(query[1])
    }


@settings(max_examples=300, deadline=None)
@given(puts, st.lists(keys, min_size=1, max_size=5))
def test_candidates_are_the_items_filed_under_a_shared_key(
    stream: list[tuple[str, Keys | None]], queries: list[Keys]
) -> None:
    index: CandidateIndex[str] = CandidateIndex()
    filed: dict[str, Keys] = {}
    for put in stream:
        _file(index, filed, [put])
        for query in queries:
            assert index.candidates(query) == _looked_at(filed, query)


@settings(max_examples=100, deadline=None)
@given(puts)
def test_items_taken_out_leave_nothing_behind(stream: list[tuple[str, Keys | None]]) -> None:
    index: CandidateIndex[str] = CandidateIndex()
    filed: dict[str, Keys] = {}
    _file(index, filed, stream)
    for item, was in list(filed.items()):
        index.put(item, None, was=was)
    assert index._by_domain == {} and index._by_block == {}
