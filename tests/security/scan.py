"""Where secrets could leak, gathered as named byte strings, and a scan that counts every occurrence.

`Capture` is a logging handler that renders each record at emit time (message, arguments, extras and the
formatted traceback), before any other handler's filter could change it: what it holds is what leadq and
every library it uses handed to `logging`, not what a redacting handler later printed.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


class Capture(logging.Handler):
    """Every log record of every logger, rendered in full when it is emitted."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self.formatted = io.StringIO()  # what a formatting handler printed, when the test installs one
        self._format = logging.Formatter("%(levelname)s %(name)s %(message)s")

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self._format.format(record)
        except Exception:  # a bad format string still leaves its parts to scan
            text = f"{record.msg!r} {record.args!r}"
        extras = {k: repr(v) for k, v in vars(record).items() if k not in _STANDARD}
        self.lines.append(text + (" " + json.dumps(extras) if extras else ""))


@dataclass
class Places:
    """Named texts and files to scan; `bytes` is the total scanned."""

    items: dict[str, bytes] = field(default_factory=dict)

    def text(self, name: str, value: str) -> None:
        self.items[name] = value.encode("utf-8", errors="surrogateescape")

    def lines(self, name: str, lines: Iterable[str]) -> None:
        for number, line in enumerate(lines, 1):
            self.text(f"{name}:{number}", line)

    def files(self, root: Path, prefix: str) -> int:
        """Every file under `root` (SQLite databases and their journals included), as raw bytes."""
        count = 0
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            self.items[f"{prefix}/{path.relative_to(root)}"] = path.read_bytes()
            count += 1
        return count

    @property
    def bytes(self) -> int:
        return sum(len(v) for v in self.items.values())

    def __len__(self) -> int:
        return len(self.items)


def needles(secret: str) -> Iterator[bytes]:
    """The secret, and its random part alone (a truncated or re-encoded leak still shows that)."""
    yield secret.encode()
    tail = secret.rsplit("-", 1)[-1]
    if len(tail) >= 12 and tail != secret:
        yield tail.encode()


def occurrences(places: Places, secrets: Iterable[str]) -> dict[str, int]:
    """Place name -> how many times any form of any secret occurs in it (only places with hits)."""
    forms = [form for secret in secrets for form in needles(secret)]
    found: dict[str, int] = {}
    for name, data in places.items.items():
        hits = sum(data.count(form) for form in forms)
        if hits:
            found[name] = hits
    return found
