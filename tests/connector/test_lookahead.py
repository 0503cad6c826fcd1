"""`lookahead`: several keys' first items fetched at once, handed out one at a time and in order, errors
where their key's turn comes, never more than `ahead` started beyond the current key, everything closed."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.readahead import Prefetched, lookahead, prefetch
from tests.connector.readahead_support import WAIT_S, PageFailedError, Source, workers


class Unit:
    """One key's prefetched pages, and the bookkeeping the lookahead tests check."""

    def __init__(self, key: int, source: Source, big: bool) -> None:
        self.key = key
        self.source = source
        self.big = big
        self.items: Prefetched[int] = prefetch(lambda: source, name="la-unit")
        self.closes = 0

    def close(self) -> None:
        self.closes += 1
        self.items.close()


class Row:
    """Starts units for keys 0..n-1 and records, at each start, what was started and not yet handed out."""

    def __init__(self, pages: list[int], fail: dict[int, int], big: set[int]) -> None:
        self.pages = pages
        self.fail = fail
        self.big = big
        self.units: list[Unit] = []
        self.handed = 0  # units the caller has been given
        self.waiting_at_start: list[list[Unit]] = []  # per start: units started, not handed out yet

    def start(self, key: int) -> Unit:
        self.waiting_at_start.append(self.units[self.handed :])
        unit = Unit(key, Source(self.pages[key], self.fail.get(key)), key in self.big)
        self.units.append(unit)
        return unit


rows = st.lists(st.integers(0, 4), min_size=0, max_size=7)


@settings(max_examples=80, deadline=None)
@given(data=st.data(), pages=rows, ahead=st.integers(1, 4))
def test_lookahead_hands_units_out_in_order_with_errors_where_they_were_and_at_most_ahead_started(
    data: st.DataObject, pages: list[int], ahead: int
) -> None:
    keys = range(len(pages))
    fail = data.draw(st.dictionaries(st.sampled_from(keys), st.integers(0, 4), max_size=2)) if pages else {}
    fail = {k: at for k, at in fail.items() if at < pages[k]}
    big = set(data.draw(st.sets(st.sampled_from(keys)))) if pages else set()
    stop = data.draw(st.none() | st.tuples(st.integers(0, 7), st.integers(0, 4)))  # the caller stops there
    row = Row(pages, fail, big)
    got: list[tuple[int, int]] = []
    raised: BaseException | None = None
    try:
        for unit in lookahead(keys, row.start, ahead=ahead, hold=lambda u: u.big, close=Unit.close):
            row.handed += 1
            for page in unit.items:
                if (unit.key, page) == stop:
                    raise KeyboardInterrupt
                got.append((unit.key, page))
    except (PageFailedError, KeyboardInterrupt) as exc:
        raised = exc
    # What one object at a time would have done: every page before the first failure or stop, in order.
    expected: list[tuple[int, int]] = []
    first_error: BaseException | KeyboardInterrupt | None = None
    for key in keys:
        for page in range(pages[key]):
            if fail.get(key) == page:
                first_error = row.units[key].source.error
                break
            if (key, page) == stop:
                first_error = KeyboardInterrupt()
                break
            expected.append((key, page))
        if first_error is not None:
            break
    assert got == expected
    if first_error is None:
        assert raised is None and row.handed == len(pages)
    elif isinstance(first_error, KeyboardInterrupt):
        assert isinstance(raised, KeyboardInterrupt)
    else:
        assert raised is first_error, "the failed unit's own error, raised at its turn"
    for waiting in row.waiting_at_start:
        assert len(waiting) <= ahead, "never more than `ahead` started beyond the caller's"
        assert not any(u.big for u in waiting[1:]), "nothing further starts while a big one is ahead"
    for unit in row.units:
        assert unit.closes >= 1 and unit.source.closed, "every unit started was closed"
        assert unit.source.finished == unit.source.started or unit.source.error is not None
    assert not workers("la-unit"), "no worker thread outlives the caller"


@settings(max_examples=30, deadline=None)
@given(keys=st.integers(1, 7), ahead=st.integers(1, 4))
def test_lookahead_starts_the_next_keys_before_the_caller_gets_the_first(keys: int, ahead: int) -> None:
    row = Row([1] * keys, {}, set())
    units = lookahead(range(keys), row.start, ahead=ahead, hold=lambda u: u.big, close=Unit.close)
    first = next(units)
    assert first.key == 0 and len(row.units) == min(keys, ahead + 1)
    for unit in row.units[1:]:
        # Nobody asked for them yet: without the lookahead their page would only be fetched later.
        assert unit.source.fetched[0].wait(WAIT_S)
    units.close()
    assert [u.key for u in row.units] == list(range(min(keys, ahead + 1))), "nothing more after close"
    assert all(u.source.closed for u in row.units) and not workers("la-unit")


def test_a_big_unit_ahead_holds_the_ones_after_it_but_the_next_key_always_starts() -> None:
    row = Row([1] * 6, {}, {1, 4})
    order: list[tuple[int, int]] = []  # (key handed out, units started by then)
    for unit in lookahead(range(6), row.start, ahead=3, hold=lambda u: u.big, close=Unit.close):
        row.handed += 1
        order.append((unit.key, len(row.units)))
        list(unit.items)
    # 0 with 1 (big: holds); 1 with 2, 3, 4 (big: holds); 2 and 3 start nothing past 4; 4 with 5.
    assert order == [(0, 2), (1, 5), (2, 5), (3, 5), (4, 6), (5, 6)]
    assert not workers("la-unit")


def test_a_failing_close_does_not_keep_the_other_units_from_being_closed() -> None:
    closed: list[int] = []
    boom = RuntimeError("close failed")

    def close(key: int) -> None:
        closed.append(key)
        if key == 1:
            raise boom

    units = lookahead(range(5), lambda k: k, ahead=3, hold=lambda k: False, close=close)
    assert next(units) == 0
    with pytest.raises(RuntimeError) as raised:
        units.close()
    assert raised.value is boom and closed == [0, 1, 2, 3]


def test_lookahead_refuses_fewer_than_one_ahead() -> None:
    with pytest.raises(ValueError, match="at least one"):
        list(lookahead([1], lambda k: k, ahead=0, hold=lambda k: False, close=lambda k: None))
