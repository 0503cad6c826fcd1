"""Structured JSON logs: valid JSON lines, secrets and credential-shaped values masked."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync.logs import MASK, RedactingFilter, configure_logging, parse_level, redact

SECRET = "sk-live-0123456789abcdef"


@pytest.fixture()
def stream() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    out = io.StringIO()
    yield out
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
    root.setLevel(level)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_secret_in_message_and_args_comes_out_masked_as_valid_json(stream: io.StringIO) -> None:
    configure_logging("INFO", secrets=[SECRET], stream=stream)
    log = logging.getLogger("leadq.test")
    log.info("connecting with %s", SECRET)
    log.warning(f"the CRM answered: invalid key {SECRET}")
    out = lines(stream)
    assert [line["message"] for line in out] == [
        f"connecting with {MASK}",
        f"the CRM answered: invalid key {MASK}",
    ]
    assert [line["level"] for line in out] == ["INFO", "WARNING"]
    assert out[0]["logger"] == "leadq.test"
    assert "time" in out[0]
    assert SECRET not in stream.getvalue()


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("GET /x Authorization: Bearer eyJhbGciOi.J9abc.def", "Authorization: "),
        ("headers {'Authorization': 'Bearer abc123def456'}", "'Authorization': '"),
        ("token refreshed: bearer 00Dxx0000001gPL!AQ4AQF", "bearer "),
        ("POST /token body grant_type=refresh_token&access_token=abc.def-ghi&x=1", "access_token="),
        ('{"refresh_token": "5Aep861TSESvWeug_x"}', '"refresh_token": "'),
        ("session 00D5g000001ABCDEFG!AQcAQH0dMHZfz972Szmpk expired", "session "),
        ("private app pat-na1-11111111-2222-3333-4444-555555555555 revoked", "private app "),
        ("client_secret=hunter2hunter2 password: swordfish", "client_secret="),
    ],
)
def test_credential_shaped_values_are_masked(text: str, kept: str) -> None:
    masked = redact(text)
    assert MASK in masked
    assert kept in masked
    for credential in ("eyJhbGciOi", "abc123def456", "AQ4AQF", "abc.def-ghi", "5Aep861", "AQcAQH0", "555555555555",
                       "hunter2hunter2", "swordfish"):  # fmt: skip
        assert credential not in masked


def test_ordinary_text_is_left_alone() -> None:
    text = "scored 120 leads; tokens per call 200; the password policy field is mapped"
    assert redact(text) == text


def test_exception_tracebacks_and_extras_are_masked(stream: io.StringIO) -> None:
    configure_logging("DEBUG", secrets=[SECRET], stream=stream)
    log = logging.getLogger("leadq.test")
    try:
        raise RuntimeError(f"login failed for key {SECRET}")
    except RuntimeError:
        log.exception("cycle failed", extra={"url": f"https://crm.example/?access_token={SECRET}"})
    (line,) = lines(stream)
    assert "RuntimeError: login failed for key " + MASK in line["exc_info"]
    assert line["url"] == f"https://crm.example/?access_token={MASK}"
    assert SECRET not in stream.getvalue()


def test_secrets_learnt_later_are_masked_and_text_mode_works(stream: io.StringIO) -> None:
    redacting = configure_logging(logging.INFO, json=False, stream=stream)
    redacting.add([SECRET])
    logging.getLogger("leadq.test").error("bad %s", SECRET)
    text = stream.getvalue()
    assert text.rstrip().endswith(f"leadq.test: bad {MASK}")
    assert SECRET not in text


def test_configuring_twice_keeps_one_handler(stream: io.StringIO) -> None:
    configure_logging("INFO", stream=stream)
    configure_logging("INFO", stream=stream)
    logging.getLogger("leadq.test").info("once")
    assert [line["message"] for line in lines(stream)] == ["once"]


def test_levels_are_parsed_and_unknown_ones_named() -> None:
    assert parse_level("debug") == logging.DEBUG
    assert parse_level(logging.ERROR) == logging.ERROR
    with pytest.raises(ValueError, match="chatty"):
        parse_level("chatty")


secret_text = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.", min_size=8, max_size=40
)


@given(secret=secret_text, before=st.text(max_size=30), after=st.text(max_size=30))
def test_a_known_secret_never_survives(secret: str, before: str, after: str) -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%s%s%s", (before, secret, after), None)
    RedactingFilter([secret]).filter(record)
    assert secret not in record.getMessage()
    assert record.args is None
