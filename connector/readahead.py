"""Read one item ahead: the next page of a pull is fetched on a background thread while the caller works.

A pull's pages come one HTTP request at a time; without read-ahead the CRM and leadq take turns (leadq
waits for the answer, then the CRM waits while leadq parses and translates it). `read_ahead(source)`
advances `source` on one worker thread, one item ahead of the caller and never more: while the caller
holds item N, the worker computes item N+1 and then waits. So requests keep their order and there is
never more than one in flight from a pull, and memory holds at most two items.

Errors raised by `source` reach the caller, unchanged (same object, type and message), when it asks for
the item that failed. If the caller stops early (an exception, `close()`, the generator collected), the
item in flight is waited for, `source` is closed, no further item is started, and the worker thread is
joined before the caller goes on.

`source` must be safe to advance from another thread while the caller does not touch it; whatever the
caller does between items must not make requests of its own on the same pull, or they would overlap.

`prefetch(make)` is the same idea one level up: the first item of a source the caller will only need
later (the next object of a pull, while this one is used) is fetched on a worker thread from now on, and
the rest are read when the caller gets to them. Same guarantees: errors where the item is asked for,
and once the caller stops, the fetch in flight is waited for, the source closed and the worker joined.

`lookahead(keys, start, ...)` runs a row of such starts: the units of several keys (a pull's objects)
are started before the caller gets to them, a bounded number ahead, so their first requests overlap,
while the caller still takes them one at a time, in order.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Generic, TypeVar, cast

T = TypeVar("T")
K = TypeVar("K")
S = TypeVar("S")

_END = object()  # StopIteration cannot cross a Future: raised inside a generator it becomes RuntimeError


def _step(it: Iterator[T]) -> T | object:
    return next(it, _END)


def read_ahead(
    source: Iterable[T], *, name: str = "leadq-read-ahead", depth: int = 1
) -> Generator[T, None, None]:
    """The items of `source` in order, the next `depth` fetched on a worker thread while the caller has this one.

    `depth` > 1 suits a source whose items come in bursts (several pages released by one slow request):
    with one item ahead the worker would idle through the burst and the caller would then wait for the
    whole next one. Requests stay in order, one at a time (one worker). `name` prefixes the worker
    thread's name (seen in thread dumps and profiles).
    """
    if depth < 1:
        raise ValueError(f"read_ahead depth must be at least 1, not {depth}")
    it = iter(source)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix=name) as pool:
        # One worker runs the steps in the order submitted, so the futures come back in the source's order.
        ahead: deque[Future[T | object]] = deque(pool.submit(_step, it) for _ in range(depth))
        try:
            while True:
                item = ahead.popleft().result()  # the source's own exception, raised where it is asked for
                if item is _END:
                    return
                ahead.append(pool.submit(_step, it))
                yield cast(T, item)
        finally:
            # Stopped early or failed: let the fetches in flight finish (their outcomes are nobody's now),
            # then close the source so it starts nothing more; leaving `with` joins the worker thread.
            wait(ahead)
            close = getattr(it, "close", None)
            if close is not None:
                close()


class Prefetched(Generic[T]):
    """An iterable whose first item is being fetched on a worker thread since it was made: `prefetch`.

    The worker builds the iterable (`make()`) and takes its first item, then stops; iterating yields that
    item, then the rest, read on the caller's thread as any iterator would be (a connector's pull reads
    its own pages ahead). Errors raised by `make()` or by the source reach the caller, unchanged, where
    it asks for the item that failed. Iterate it once, or `close()` it: either way the fetch in flight
    is waited for, the source is closed and the worker thread joined, as with `read_ahead`.
    """

    def __init__(self, make: Callable[[], Iterable[T]], *, name: str) -> None:
        self._source: Iterator[T] | None = None
        self._taken = False
        self._closed = False
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._future: Future[T | object] = self._pool.submit(self._first, make)

    def _first(self, make: Callable[[], Iterable[T]]) -> T | object:
        # On the worker thread; the caller reads `_source` only after this future is done.
        self._source = iter(make())
        return _step(self._source)

    def peek(self) -> T | None:
        """The first item if it has been fetched; None while it is being fetched, if fetching it failed
        (the error waits for the iteration) or if there is none. Never waits."""
        if not self._future.done() or self._future.exception() is not None:
            return None
        first = self._future.result()
        return None if first is _END else cast(T, first)

    def __iter__(self) -> Iterator[T]:
        if self._taken:
            raise RuntimeError("a prefetched iterable can be iterated only once")
        self._taken = True
        return self._items()

    def _items(self) -> Generator[T, None, None]:
        try:
            first = self._future.result()  # the source's own exception, raised where the item is asked for
            self._pool.shutdown(wait=True)  # the worker's part is done: its thread need not idle meanwhile
            if first is _END:
                return
            yield cast(T, first)
            assert self._source is not None
            yield from self._source  # closing this generator closes the source too
        finally:
            self.close()

    def close(self) -> None:
        """Wait for the first item if it is still being fetched, close the source, join the worker.

        Safe to call more than once, and after the items ran out."""
        if self._closed:
            return
        self._closed = True
        try:
            wait([self._future])  # its outcome is nobody's now, unless the items were asked for
            close = getattr(self._source, "close", None)
            if close is not None:
                close()
        finally:
            self._pool.shutdown(wait=True)


def prefetch(make: Callable[[], Iterable[T]], *, name: str = "leadq-prefetch") -> Prefetched[T]:
    """Start fetching the first item of `make()` on a worker thread now; iterate the result later.

    For a source whose first item is slow (a query job the server runs before answering) while the
    caller has other work first: the two overlap. `make` runs on the worker thread, so errors in building
    the source wait for the caller too. `name` prefixes the worker thread's name.
    """
    return Prefetched(make, name=name)


def lookahead(
    keys: Iterable[K],
    start: Callable[[K], S],
    *,
    ahead: int,
    hold: Callable[[S], bool],
    close: Callable[[S], None],
) -> Generator[S, None, None]:
    """`start(key)` of each key, in order, with up to `ahead` of the following keys started before the
    caller is handed this one: their work (a `prefetch`) overlaps the caller's wait and work on this one.

    `start` runs on the caller's thread, in the keys' order (it may read what only that thread may read)
    and should only begin the work, not wait for it. The next key is always started as soon as the
    caller has this one, as a single `prefetch` ahead would be; keys further ahead are started only
    while no unit already ahead says `hold(unit)` (it is, or turned out to be, big: what it holds should
    not be multiplied), so `ahead` bounds the units under way beside the caller's, and a held unit
    bounds them to the ones before it. `hold` is asked on the caller's thread and must not wait.

    Each unit handed out is the caller's to use; once the caller asks for the next one, or stops (an
    exception, `close()`, the generator collected), `close(unit)` is called on it, and when the caller
    stops every unit started ahead is closed too, in order, before the caller goes on: `close` waits
    for the unit's work in flight and joins its threads, so nothing outlives the caller. A `close`
    that raises does not keep the others from being closed; the first such error is raised after them.
    """
    if ahead < 1:
        raise ValueError(f"lookahead needs at least one key ahead, not {ahead}")
    pending = iter(keys)
    started: deque[S] = deque()
    current: list[S] = []  # the unit the caller holds (a list: empty between units)
    more = True
    try:
        while True:
            while more and len(started) <= ahead:
                # the unit handed out next and at least one after it; further ones while none ahead holds
                if len(started) >= 2 and any(hold(unit) for unit in list(started)[1:]):
                    break
                key = next(pending, _END)
                if key is _END:
                    more = False
                    break
                started.append(start(cast(K, key)))
            if not started:
                return
            current.append(started.popleft())
            yield current[0]
            close(current.pop())
    finally:
        _close_all([*current, *started], close)


def _close_all(units: list[S], close: Callable[[S], None]) -> None:
    failed: BaseException | None = None
    for unit in units:
        try:
            close(unit)
        except BaseException as exc:  # the others must be closed all the same
            failed = failed or exc
    if failed is not None:
        raise failed
