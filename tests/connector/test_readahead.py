"""`read_ahead` and `prefetch`: items in order, fetched ahead on a worker thread and never further, errors
where the item was asked for, and nothing left running once the caller stops."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.readahead import prefetch, read_ahead
from tests.connector.readahead_support import WAIT_S, PageFailedError, Source, workers


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
    assert not workers("ra-order"), "the worker is joined when the items run out"


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
    assert not workers("ra-error")


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
    assert not workers("ra-close"), "no worker thread outlives the pull"


def test_an_exception_in_the_caller_stops_the_read_ahead() -> None:
    source = Source(10)

    def consume() -> None:
        for item in read_ahead(source, name="ra-raise"):
            if item == 2:
                raise KeyError("the caller failed on item 2")

    with pytest.raises(KeyError, match="item 2"):
        consume()
    assert source.started <= 4 and source.finished == source.started and source.closed
    assert not workers("ra-raise")


def test_an_empty_source_yields_nothing_and_joins_the_worker() -> None:
    assert list(read_ahead(iter(()), name="ra-empty")) == []
    assert not workers("ra-empty")


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
    assert not workers("pf-first")


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
    assert not workers("pf-error")


def test_an_error_building_the_source_surfaces_when_the_items_are_asked_for() -> None:
    error = PageFailedError("cannot start the pull: HTTP 400")

    def make() -> Iterator[int]:
        raise error

    ahead = prefetch(make, name="pf-make")
    with pytest.raises(PageFailedError) as raised:
        list(ahead)
    assert raised.value is error
    assert not workers("pf-make")


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
    assert not workers("pf-close")
    ahead.close()  # a second close is harmless


def test_stopping_part_way_through_a_prefetch_closes_the_source() -> None:
    source = Source(6)
    items = iter(prefetch(lambda: source, name="pf-stop"))
    assert [next(items), next(items)] == [0, 1]
    items.close()  # type: ignore[attr-defined]
    assert source.started == 2 and source.closed
    assert not workers("pf-stop")


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
    assert not workers("pf-peek")
