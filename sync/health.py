"""`/healthz` and `/metrics` over HTTP: stdlib `ThreadingHTTPServer` on a daemon thread.

`/healthz` answers 200 with `{"status": "ok", "last_cycle": ..., "last_status": ...}` while the daemon is
healthy, and 503 (`"status": "failing"` or `"stale"`) when the last cycle failed or no cycle succeeded in
time. "In time" is decided by a `stale_after(reference)` callable: the daemon passes "three scheduled runs
after the last success (or the start)", which is three intervals for an interval schedule and follows the
calendar for a cron one. `/metrics` serves the metrics registry in the Prometheus text format.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST

from sync.metrics import Metrics

log = logging.getLogger(__name__)

StaleAfter = Callable[[datetime], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Health:
    """One `/healthz` answer."""

    ok: bool
    body: dict[str, Any]


class HealthState:
    """What the daemon reports after each cycle, read by `/healthz` (thread-safe)."""

    def __init__(self, stale_after: StaleAfter, *, clock: Callable[[], datetime] = _now) -> None:
        self._stale_after = stale_after
        self._clock = clock
        self._lock = threading.Lock()
        self.started_at = clock()
        self.last_cycle: datetime | None = None
        self.last_status: str | None = None
        self.last_success: datetime | None = None

    def record(self, status: str, finished_at: datetime | None = None) -> None:
        """A cycle ended with `status` (succeeded, partial or failed)."""
        when = finished_at or self._clock()
        with self._lock:
            self.last_cycle = when
            self.last_status = status
            if status != "failed":
                self.last_success = when

    def check(self) -> Health:
        """Healthy unless the last cycle failed or nothing succeeded within the allowed time."""
        with self._lock:
            last, status, success = self.last_cycle, self.last_status, self.last_success
        now = self._clock()
        deadline = self._stale_after(success or self.started_at)
        body: dict[str, Any] = {
            "status": "ok",
            "last_cycle": None if last is None else last.isoformat(),
            "last_status": status,
            "last_success": None if success is None else success.isoformat(),
        }
        if status == "failed":
            body["status"] = "failing"
        elif now > deadline:
            body["status"] = "stale"
            body["detail"] = f"no cycle succeeded since {(success or self.started_at).isoformat()}"
        return Health(body["status"] == "ok", body)


class HealthServer:
    """`/healthz` and `/metrics` on `host:port` (port 0: any free port, read `port` after `start()`)."""

    def __init__(
        self, state: HealthState, metrics: Metrics, *, host: str = "0.0.0.0", port: int = 9464
    ) -> None:
        self.state = state
        self.metrics = metrics
        self._server = ThreadingHTTPServer((host, port), _handler(state, metrics))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> HealthServer:
        """Serve on a daemon thread; returns self."""
        self._thread = threading.Thread(target=self._server.serve_forever, name="leadq-http", daemon=True)
        self._thread.start()
        log.info("serving /healthz and /metrics on %s:%d", self.host, self.port)
        return self

    def close(self) -> None:
        """Stop serving and release the socket (safe to call twice, or without `start()`)."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> HealthServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def _handler(state: HealthState, metrics: Metrics) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "leadq"
        sys_version = ""

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/healthz":
                health = state.check()
                code = HTTPStatus.OK if health.ok else HTTPStatus.SERVICE_UNAVAILABLE
                self._send(code, "application/json", json.dumps(health.body).encode())
            elif path == "/metrics":
                self._send(HTTPStatus.OK, CONTENT_TYPE_LATEST, metrics.exposition())
            else:
                self._send(HTTPStatus.NOT_FOUND, "text/plain; charset=utf-8", b"try /healthz or /metrics\n")

        def _send(self, code: HTTPStatus, content_type: str, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            # Probes hit /healthz every few seconds; access lines belong at debug level.
            log.debug("%s %s", self.address_string(), format % args)

    return Handler
