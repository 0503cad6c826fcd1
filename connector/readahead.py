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
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import TypeVar, cast

T = TypeVar("T")

_END = object()  # StopIteration cannot cross a Future: raised inside a generator it becomes RuntimeError


def _step(it: Iterator[T]) -> T | object:
    return next(it, _END)


def read_ahead(source: Iterable[T], *, name: str = "leadq-read-ahead") -> Generator[T, None, None]:
    """The items of `source` in order, each next one fetched on a worker thread while the caller has this one.

    `name` prefixes the worker thread's name (seen in thread dumps and profiles).
    """
    it = iter(source)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix=name) as pool:
        future: Future[T | object] = pool.submit(_step, it)
        try:
            while True:
                item = future.result()  # the source's own exception, raised where the item is asked for
                if item is _END:
                    return
                future = pool.submit(_step, it)
                yield cast(T, item)
        finally:
            # Stopped early or failed: let the fetch in flight finish (its outcome is nobody's now), then
            # close the source so it starts nothing more; leaving `with` joins the worker thread.
            wait([future])
            close = getattr(it, "close", None)
            if close is not None:
                close()
