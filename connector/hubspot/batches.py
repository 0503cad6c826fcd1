"""Batch writes, 100 inputs a call, that never let one bad input sink the others.

HubSpot fails a whole batch with 400 when a single input is invalid. A failed batch is split in halves and
each half sent again, down to the bad input(s), which are rejected with HubSpot's own message; every good
input is written. Transient failures that outlasted the transport's retries mark their inputs RETRYABLE;
once the daily quota is spent, nothing more is sent and the rest are RETRYABLE too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from connector.classify import Action
from connector.errors import QuotaExhaustedError, RateLimitedError, RetryableError
from connector.hubspot.client import API_ERRORS, api_error
from connector.hubspot.wire import ErrorInfo, error_from_dict
from connector.protocol import WriteOutcome, WriteStatus

log = logging.getLogger("connector.hubspot")

Send = Callable[[list[int]], Any]
Judge = Callable[[list[int], Any], dict[int, WriteOutcome]]


def input_error(err: Any) -> ErrorInfo:
    """A per-input error of a 207 (`{status, category, message, context: {ids: [...]}}`) as `ErrorInfo`."""
    return error_from_dict(400, err if isinstance(err, dict) else {"message": str(err)})


class Batcher:
    """Sends inputs (by index) in chunks, bisecting whole-batch rejections; one outcome per index."""

    def __init__(self, keys: Sequence[str], send: Send, judge: Judge, size: int) -> None:
        self.keys = keys
        self.send = send
        self.judge = judge
        self.size = size
        self.outcomes: dict[int, WriteOutcome] = {}
        self._quota: QuotaExhaustedError | None = None

    def run(self, chunks: Sequence[list[int]]) -> dict[int, WriteOutcome]:
        for chunk in chunks:
            for start in range(0, len(chunk), self.size):
                self._write(chunk[start : start + self.size])
        return self.outcomes

    def _write(self, indices: list[int]) -> None:
        if self._quota is not None:
            self._retryable(indices, self._quota)
            return
        try:
            answer = self.send(indices)
        except QuotaExhaustedError as exc:
            self._quota = exc
            self._retryable(indices, exc)
            return
        except (RetryableError, RateLimitedError) as exc:
            self._retryable(indices, exc)
            return
        except API_ERRORS as exc:
            info = api_error(exc)
            rule, code = info.lookup()
            if rule.action is Action.REJECT and len(indices) > 1:
                half = len(indices) // 2
                log.info("hubspot: batch of %d refused whole (%s); bisecting", len(indices), code)
                self._write(indices[:half])
                self._write(indices[half:])
                return
            for i in indices:
                self.outcomes[i] = self.rejected(i, info, code)
            return
        self.outcomes.update(self.judge(indices, answer))

    def rejected(self, index: int, info: ErrorInfo, code: str | None) -> WriteOutcome:
        return WriteOutcome(
            key=self.keys[index],
            status=WriteStatus.REJECTED,
            code=code,
            message=info.message,
            fields=info.fields,
        )

    def _retryable(self, indices: list[int], exc: Exception) -> None:
        code = getattr(exc, "code", None) or type(exc).__name__
        for i in indices:
            self.outcomes[i] = WriteOutcome(
                key=self.keys[i], status=WriteStatus.RETRYABLE, code=code, message=str(exc)
            )
