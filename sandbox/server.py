"""Running the sandbox: over HTTPS on loopback, in a background thread or in the foreground.

`running_sandbox()` is the Python context manager (and the pytest fixture's engine): it binds a free port,
serves both APIs over TLS signed by the sandbox CA, and yields a `SandboxServer` with `url` and `ca_path`.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from sandbox.app import create_app
from sandbox.faults import FaultConfig
from sandbox.limits import LimitConfig
from sandbox.state import DEFAULT_TOKEN, SandboxState
from sandbox.store import Store
from sandbox.tls import TlsFiles, ensure_tls

DEFAULT_STATE_DIR = Path(".leadq") / "sandbox"


@dataclass
class SandboxOptions:
    """How to start a sandbox; every field has the default `leadq sandbox serve` uses."""

    host: str = "127.0.0.1"
    port: int = 0
    db: str | None = None
    state_dir: Path = DEFAULT_STATE_DIR
    token: str = DEFAULT_TOKEN
    seed_leads: int = 0
    seed: int = 7
    faults: FaultConfig = field(default_factory=FaultConfig)
    limits: LimitConfig = field(default_factory=LimitConfig)


class SandboxServer:
    """A sandbox bound to a socket; `start()` serves it from a daemon thread, `serve_forever()` in this one."""

    def __init__(self, options: SandboxOptions | None = None) -> None:
        self.options = options or SandboxOptions()
        opts = self.options
        self.tls: TlsFiles = ensure_tls(Path(opts.state_dir), _hosts(opts.host))
        self.store = Store(opts.db)
        self.state = SandboxState(self.store, token=opts.token, limits=opts.limits)
        self.state.configure_faults(opts.faults)
        if opts.seed_leads:
            from sandbox.seed import seed_org

            seed_org(self.store, leads=opts.seed_leads, seed=opts.seed)
        family = socket.AF_INET6 if ":" in opts.host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted sockets inherit this. asyncio only sets it itself when proto is IPPROTO_TCP (here 0), and
        # without it every response waits ~40 ms on Nagle + the client's delayed ACK.
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock.bind((opts.host, opts.port))
        self._sock.listen(512)
        self.port: int = self._sock.getsockname()[1]
        host = f"[{opts.host}]" if ":" in opts.host else opts.host
        self.url = f"https://{host}:{self.port}"
        self.state.base_url = self.url
        config = uvicorn.Config(
            create_app(self.state),
            ssl_certfile=str(self.tls.server_cert),
            ssl_keyfile=str(self.tls.server_key),
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_keep_alive=30,
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def ca_path(self) -> Path:
        """The CA bundle clients must trust."""
        return self.tls.ca_cert

    @property
    def token(self) -> str:
        return self.options.token

    def start(self) -> SandboxServer:
        """Serve from a daemon thread; returns once the sandbox answers."""
        self._thread = threading.Thread(target=self._run, name="leadq-sandbox", daemon=True)
        self._thread.start()
        ctx = ssl.create_default_context(cafile=str(self.ca_path))
        for _ in range(200):
            if self._server.started:
                break
            if not self._thread.is_alive():
                raise RuntimeError("the sandbox server thread stopped during start-up; see the log above")
            threading.Event().wait(0.02)
        httpx.get(f"{self.url}/__sandbox/health", verify=ctx, timeout=10).raise_for_status()
        return self

    def _run(self) -> None:
        asyncio.run(self._server.serve(sockets=[self._sock]))

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted."""
        self._run()

    def stop(self) -> None:
        self._server.should_exit = True
        # clients' idle keep-alive TLS connections would otherwise hold the shutdown for the join timeout
        self._server.force_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._sock.close()
        self.store.close()

    def client_kwargs(self) -> dict[str, Any]:
        """Handy for tests: the base URL, token and CA path."""
        return {"url": self.url, "token": self.token, "ca_path": str(self.ca_path)}


def _hosts(host: str) -> tuple[str, ...]:
    base = ("localhost", "127.0.0.1", "::1")
    return base if host in base or host in ("0.0.0.0", "::") else (*base, host)


@contextmanager
def running_sandbox(options: SandboxOptions | None = None, **kwargs: Any) -> Iterator[SandboxServer]:
    """Start a sandbox on a free loopback port for the duration of the block.

    >>> with running_sandbox(seed_leads=100) as sb:  # doctest: +SKIP
    ...     print(sb.url, sb.ca_path)
    """
    opts = options or SandboxOptions(**kwargs)
    server = SandboxServer(opts).start()
    try:
        yield server
    finally:
        server.stop()
