"""`read_ahead` and `prefetch`: items in order, fetched ahead on a worker thread and never further, errors
where the item was asked for, and nothing left running once the caller stops."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.readahead import Prefetched, lookahead, prefetch, read_ahead

WAIT_S = 30.0  # a liveness bound for a background fetch that must happen, not a speed threshold


class PageFailedError(Exception):
    pass


class Source:
    """A fake paged source: records which pages were started and finished, on which thread, and whether
    it was closed; fails at page `fail_at` if given."""

    def __init__(self, pages: int, fail_at: int | None = None) -> None:
        self.pages = pages
        self.fail_at = fail_at
        self.started = 0
        self.finished = 0
        self.threads: list[str] = []
        self.closed = False
        self.fetched = [threading.Event() for _ in range(pages + 1)]
        self.error: PageFailedError | None = None

    def __iter__(self) -> Iterator[int]:
        try:
            for n in range(self.pages):
                self.started += 1
                self.threads.append(threading.current_thread().name)
                if n == self.fail_at:
                    self.error = PageFailedError(f"page {n} failed: HTTP 503")
                    raise self.error
                self.finished += 1
                self.fetched[n].set()
                yield n
        finally:
            self.closed = True


def _workers(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(name)]


@settings(max_examples=60, deadline=None)
@given(pages=st.integers(0, 12))
def test_items_come_in_order_and_at_most_one_is_fetched_ahead(pages: int) -> None:
    source = Source(pages)
    got: list[int] = []
    for item in read_ahead(source, name="ra-order"):
        got.append(item)
        assert source.started <= len(got) + 1, "never more than one fetch ahead of the caller"
    assert got == list(range(pages))
    assert source.started == pages and source.closed
    assert all(name.startswith("ra-order") for name in source.threads), "fetched on the worker thread"
    assert not _workers("ra-order"), "the worker is joined when the items run out"


def test_the_next_item_is_fetched_while_the_caller_holds_this_one() -> None:
    source = Source(3)
    items = read_ahead(source, name="ra-ahead")
    assert next(items) == 0
    # Without read-ahead page 1 would only be fetched at the next `next()`: this would time out.
    assert source.fetched[1].wait(WAIT_S)
    assert source.started == 2, "and no further than that one"
    assert list(items) == [1, 2]


@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_an_error_surfaces_unchanged_where_its_item_is_asked_for(data: st.DataObject) -> None:
    pages = data.draw(st.integers(1, 10))
    fail_at = data.draw(st.integers(0, pages - 1))
    source = Source(pages, fail_at)
    got: list[int] = []
    with pytest.raises(PageFailedError) as raised:
        for item in read_ahead(source, name="ra-error"):
            got.append(item)
    assert got == list(range(fail_at)), "every item before the failed one is handed out first"
    assert raised.value is source.error and str(raised.value) == f"page {fail_at} failed: HTTP 503"
    assert source.started == fail_at + 1, "nothing is fetched after the failure"
    assert not _workers("ra-error")


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_closing_early_waits_for_the_fetch_in_flight_and_starts_no_more(data: st.DataObject) -> None:
    pages = data.draw(st.integers(1, 10))
    taken = data.draw(st.integers(1, pages))
    source = Source(pages)
    items = read_ahead(source, name="ra-close")
    got = [next(items) for _ in range(taken)]
    items.close()
    assert got == list(range(taken))
    assert source.started <= taken + 1
    assert source.finished == source.started, "the fetch in flight finished before close() returned"
    assert source.closed, "the source is closed, so it starts nothing more"
    assert not _workers("ra-close"), "no worker thread outlives the pull"


def test_an_exception_in_the_caller_stops_the_read_ahead() -> None:
    source = Source(10)

    def consume() -> None:
        for item in read_ahead(source, name="ra-raise"):
            if item == 2:
                raise KeyError("the caller failed on item 2")

    with pytest.raises(KeyError, match="item 2"):
        consume()
    assert source.started <= 4 and source.finished == source.started and source.closed
    assert not _workers("ra-raise")


def test_an_empty_source_yields_nothing_and_joins_the_worker() -> None:
    assert list(read_ahead(iter(()), name="ra-empty")) == []
    assert not _workers("ra-empty")


# ---- prefetch: the first item now, the rest when the caller gets to them ---------------------------------


@settings(max_examples=40, deadline=None)
@given(pages=st.integers(0, 8))
def test_prefetch_fetches_the_first_item_on_a_worker_before_it_is_asked_for(pages: int) -> None:
    source = Source(pages)
    ahead = prefetch(lambda: source, name="pf-first")
    if pages:
        # Nobody iterates yet: without the prefetch page 0 would only be fetched at the first `next()`.
        assert source.fetched[0].wait(WAIT_S)
    assert list(ahead) == list(range(pages))
    assert source.started == pages and source.closed
    assert all(t.startswith("pf-first") for t in source.threads[:1]), "the first on the worker thread"
    assert all(not t.startswith("pf-first") for t in source.threads[1:]), "the rest on the caller's thread"
    assert not _workers("pf-first")


def test_prefetch_fetches_only_the_first_item_ahead() -> None:
    source = Source(5)
    ahead = prefetch(lambda: source, name="pf-one")
    assert source.fetched[0].wait(WAIT_S)
    assert source.started == 1, "one item and no more until the caller asks"
    items = iter(ahead)
    assert next(items) == 0 and source.started == 1
    assert next(items) == 1 and source.started == 2
    with pytest.raises(RuntimeError, match="only once"):
        iter(ahead)
    assert list(items) == [2, 3, 4]


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_prefetch_errors_surface_unchanged_where_their_item_is_asked_for(data: st.DataObject) -> None:
    pages = data.draw(st.integers(1, 8))
    fail_at = data.draw(st.integers(0, pages - 1))
    source = Source(pages, fail_at)
    ahead = prefetch(lambda: source, name="pf-error")
    got: list[int] = []
    with pytest.raises(PageFailedError) as raised:
        for item in ahead:
            got.append(item)
    assert got == list(range(fail_at))
    assert raised.value is source.error and str(raised.value) == f"page {fail_at} failed: HTTP 503"
    assert source.started == fail_at + 1 and source.closed
    assert not _workers("pf-error")


def test_an_error_building_the_source_surfaces_when_the_items_are_asked_for() -> None:
    error = PageFailedError("cannot start the pull: HTTP 400")

    def make() -> Iterator[int]:
        raise error

    ahead = prefetch(make, name="pf-make")
    with pytest.raises(PageFailedError) as raised:
        list(ahead)
    assert raised.value is error
    assert not _workers("pf-make")


def test_closing_a_prefetch_never_iterated_waits_for_its_fetch_closes_the_source_and_joins() -> None:
    release = threading.Event()
    source = Source(4)

    def slow() -> Iterator[int]:
        for item in source:
            assert release.wait(WAIT_S)
            yield item

    ahead = prefetch(slow, name="pf-close")
    assert source.fetched[0].wait(WAIT_S)  # the first fetch is in flight, held on `release`
    closer = threading.Thread(target=ahead.close, name="closer")
    closer.start()
    closer.join(0.05)
    assert closer.is_alive(), "close() waits for the fetch in flight"
    release.set()
    closer.join(WAIT_S)
    assert not closer.is_alive()
    assert source.started == 1 and source.closed, "the source was closed and started nothing more"
    assert not _workers("pf-close")
    ahead.close()  # a second close is harmless


def test_stopping_part_way_through_a_prefetch_closes_the_source() -> None:
    source = Source(6)
    items = iter(prefetch(lambda: source, name="pf-stop"))
    assert [next(items), next(items)] == [0, 1]
    items.close()  # type: ignore[attr-defined]
    assert source.started == 2 and source.closed
    assert not _workers("pf-stop")


@settings(max_examples=25, deadline=None)
@given(pages=st.integers(0, 12), depth=st.integers(1, 6), fail_at=st.one_of(st.none(), st.integers(0, 12)))
def test_a_deeper_read_ahead_keeps_order_errors_and_at_most_depth_ahead(
    pages: int, depth: int, fail_at: int | None
) -> None:
    started: list[int] = []
    taken: list[int] = []
    boom = RuntimeError("page failed")

    def source() -> Iterator[int]:
        for n in range(pages):
            started.append(n)
            if n == fail_at:
                raise boom
            yield n

    try:
        for item in read_ahead(source(), depth=depth):
            taken.append(item)
            time.sleep(0.002)  # the worker runs ahead meanwhile, but never more than `depth`
            assert len(started) <= len(taken) + depth
    except RuntimeError as exc:
        assert exc is boom and fail_at is not None and fail_at < pages
        assert taken == list(range(fail_at))
    else:
        assert taken == list(range(pages)) and (fail_at is None or fail_at >= pages)
    assert not [t for t in threading.enumerate() if t.name.startswith("leadq-read-ahead")]


def test_a_read_ahead_depth_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        list(read_ahead([1, 2], depth=0))


def test_peek_never_waits_and_gives_the_first_item_once_fetched() -> None:
    release = threading.Event()
    source = Source(3)

    def slow() -> Iterator[int]:
        for item in source:
            assert release.wait(WAIT_S)
            yield item

    ahead = prefetch(slow, name="pf-peek")
    assert source.fetched[0].wait(WAIT_S)
    assert ahead.peek() is None, "still being fetched: peek does not wait for it"
    release.set()
    ahead.close()
    assert ahead.peek() == 0
    failing = prefetch(lambda: Source(2, fail_at=0), name="pf-peek")
    with pytest.raises(PageFailedError):
        next(iter(failing))
    assert failing.peek() is None, "a failed fetch peeks as nothing; its error is the iteration's"
    done = prefetch(lambda: Source(2), name="pf-peek")
    assert list(done) == [0, 1] and done.peek() == 0
    empty = prefetch(lambda: Source(0), name="pf-peek")
    assert list(empty) == [] and empty.peek() is None
    assert not _workers("pf-peek")


# ---- lookahead: several keys' first items fetched at once, handed out one at a time, in order -------------


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
    assert not _workers("la-unit"), "no worker thread outlives the caller"


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
    assert all(u.source.closed for u in row.units) and not _workers("la-unit")


def test_a_big_unit_ahead_holds_the_ones_after_it_but_the_next_key_always_starts() -> None:
    row = Row([1] * 6, {}, {1, 4})
    order: list[tuple[int, int]] = []  # (key handed out, units started by then)
    for unit in lookahead(range(6), row.start, ahead=3, hold=lambda u: u.big, close=Unit.close):
        row.handed += 1
        order.append((unit.key, len(row.units)))
        list(unit.items)
    # 0 with 1 (big: holds); 1 with 2, 3, 4 (big: holds); 2 and 3 start nothing past 4; 4 with 5.
    assert order == [(0, 2), (1, 5), (2, 5), (3, 5), (4, 6), (5, 6)]
    assert not _workers("la-unit")


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
