"""Structured JSON logs without secrets.

`configure_logging` installs one handler on the root logger (JSON lines through python-json-logger, or plain
text) with a `RedactingFilter`: every known secret value, and anything shaped like a credential (a bearer
token, `access_token=...`, an `Authorization:` header, a Salesforce session id, a HubSpot private app token),
is replaced by `**********` in the message, its arguments, string extras and the formatted traceback. The
filter sits on the handler, so it sees records of every logger, third-party ones included.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable
from typing import IO, Any

from pythonjsonlogger.json import JsonFormatter

MASK = "**********"
# Keys whose value is a credential wherever it appears: `key=value`, `key: value`, `"key": "value"`.
_SECRET_KEYS = r"access_token|refresh_token|id_token|client_secret|password|api_key|apikey|token|secret"  # noqa: S105
_PATTERNS = [
    # Authorization header values, whatever the scheme: keep the header name, mask the rest of the value.
    re.compile(r"(?i)(\bauthorization[\"']?\s*[:=]\s*[\"']?)[^\"'\r\n,}]+"),
    re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9\-._~+/!=]+"),
    re.compile(rf"(?i)(\b(?:{_SECRET_KEYS})[\"']?\s*[:=]\s*[\"']?)[^\s\"'&,;}}]+"),
    # A Salesforce session id (org id prefix 00D, '!', then the token) and a HubSpot private app token.
    re.compile(r"()\b00D[A-Za-z0-9]{12,15}![A-Za-z0-9._]+"),
    re.compile(r"()\bpat-[a-z0-9]{2,4}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"),
]
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}
_HANDLER_NAME = "leadq"


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every secret value and credential-shaped substring masked."""
    # Longest first: a secret that contains another must be masked whole.
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + MASK, text)
    return text


class RedactingFilter(logging.Filter):
    """Masks secrets in each record before any formatter sees it; never drops a record."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets: set[str] = {s for s in secrets if s}

    def add(self, secrets: Iterable[str]) -> None:
        """Learn more secret values (e.g. once the config is loaded)."""
        self.secrets.update(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not hide the record; keep what we have
            message = f"{record.msg} {record.args}"
        record.msg = redact(message, self.secrets)
        record.args = None
        if record.exc_info is not None and record.exc_info[0] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info), self.secrets)
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self.secrets)
        for key, value in list(vars(record).items()):
            if key not in _STANDARD and isinstance(value, str):
                setattr(record, key, redact(value, self.secrets))
        return True


def configure_logging(
    level: int | str = "INFO",
    json: bool = True,
    secrets: Iterable[str] = (),
    *,
    stream: IO[str] | None = None,
) -> RedactingFilter:
    """Log to `stream` (stderr) as JSON lines (or text), secrets masked; returns the filter so more secrets
    can be added later. Calling it again replaces the handler it installed before."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
        old.close()
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.set_name(_HANDLER_NAME)
    formatter: logging.Formatter
    if json:
        formatter = JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            datefmt="%Y-%m-%dT%H:%M:%S%z",
        )
    else:
        formatter = logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    handler.setFormatter(formatter)
    redacting = RedactingFilter(secrets)
    handler.addFilter(redacting)
    root.addHandler(handler)
    numeric = parse_level(level)
    root.setLevel(numeric)
    # APScheduler announces every job run at INFO; its warnings (a run skipped or missed) are what matter.
    logging.getLogger("apscheduler").setLevel(max(numeric, logging.WARNING))
    return redacting


def parse_level(level: int | str) -> int:
    """A logging level from its name (`info`, `DEBUG`) or number; ValueError names the valid ones."""
    if isinstance(level, int):
        return level
    value: Any = logging.getLevelName(level.upper())
    if not isinstance(value, int):
        raise ValueError(f"unknown log level {level!r}: use DEBUG, INFO, WARNING or ERROR")
    return value
