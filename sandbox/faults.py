"""Fault injection, deterministic under a seed, and the request log tests and benchmarks read.

Every request draws from one seeded random stream in arrival order, so the same sequence of requests
meets the same faults. Per-record faults (UNABLE_TO_LOCK_ROW, whole-batch HubSpot failures) are drawn by
the handlers through `FaultInjector.draw`.
"""

from __future__ import annotations

import random
import threading
from collections import Counter, deque
from dataclasses import asdict, dataclass, field, fields
from typing import Any

FAULT_KINDS = ("error_5xx", "rate_limit", "quota", "slow", "timeout", "lock_row", "batch_fail")


@dataclass
class FaultConfig:
    """Probabilities (0..1) per fault kind, and the knobs of the deterministic ones."""

    seed: int = 0
    error_5xx: float = 0.0
    rate_limit: float = 0.0
    quota: float = 0.0
    slow: float = 0.0
    slow_seconds: float = 0.3
    timeout: float = 0.0
    timeout_seconds: float = 30.0
    lock_row: float = 0.0
    batch_fail: float = 0.0
    session_expiry_calls: int | None = None
    paths: list[str] = field(default_factory=list)  # only inject on paths starting with one of these, if set

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown fault settings {unknown}; known: {sorted(known)}")
        cfg = cls(**data)
        for kind in FAULT_KINDS:
            p = getattr(cfg, kind)
            if not 0.0 <= float(p) <= 1.0:
                raise ValueError(f"fault probability {kind}={p} is not between 0 and 1")
        return cfg


class FaultInjector:
    """Draws faults from a seeded stream; counts what it injected."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self._lock = threading.Lock()
        self.configure(config or FaultConfig())

    def configure(self, config: FaultConfig) -> None:
        with self._lock:
            self.config = config
            self._rng = random.Random(config.seed)
            self.injected: Counter[str] = Counter()
            self._calls_since_session = 0

    def applies_to(self, path: str) -> bool:
        return not self.config.paths or any(path.startswith(p) for p in self.config.paths)

    def draw(self, kind: str) -> bool:
        """True when a fault of `kind` fires now (and it is counted)."""
        p = float(getattr(self.config, kind))
        if p <= 0.0:
            return False
        with self._lock:
            hit = self._rng.random() < p
            if hit:
                self.injected[kind] += 1
            return hit

    def choice(self, options: list[Any]) -> Any:
        with self._lock:
            return self._rng.choice(options)

    def session_expired(self) -> bool:
        """True once every `session_expiry_calls` calls: the caller must re-authenticate."""
        n = self.config.session_expiry_calls
        if not n:
            return False
        with self._lock:
            self._calls_since_session += 1
            if self._calls_since_session > n:
                self._calls_since_session = 0
                self.injected["session_expiry"] += 1
                return True
            return False

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"config": asdict(self.config), "injected": dict(self.injected)}


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the sandbox saw it."""

    seq: int
    api: str
    method: str
    path: str
    endpoint: str
    status: int
    duration_ms: float
    fault: str | None


class RequestLog:
    """A bounded log of recent requests plus unbounded per-endpoint counters."""

    def __init__(self, keep: int = 20_000) -> None:
        self._lock = threading.Lock()
        self._keep = keep
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.entries: deque[LoggedRequest] = deque(maxlen=self._keep)
            self.counters: Counter[str] = Counter()
            self._seq = 0

    def add(
        self,
        api: str,
        method: str,
        path: str,
        endpoint: str,
        status: int,
        duration_ms: float,
        fault: str | None,
    ) -> None:
        with self._lock:
            self._seq += 1
            self.entries.append(
                LoggedRequest(self._seq, api, method, path, endpoint, status, duration_ms, fault)
            )
            self.counters[f"{method} {endpoint}"] += 1

    def snapshot(self, since: int = 0) -> dict[str, Any]:
        with self._lock:
            return {
                "total": self._seq,
                "counters": dict(self.counters),
                "requests": [asdict(e) for e in self.entries if e.seq > since],
            }
