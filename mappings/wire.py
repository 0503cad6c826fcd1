"""Reading CRM wire values: Salesforce JSON types, HubSpot all-strings, both with hostile input in mind.

Each `read_*` function reads one value or raises `BadValue`; `mappings.field_reader.FieldReader` applies them
to a raw record, turning each `BadValue` into a `FieldProblem`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

MAX_LINE = 1000
# C0/C1 controls except tab and newline, and lone surrogates (not encodable as UTF-8).
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_EMAIL = re.compile(r"[^@\s]+@([^@\s]+\.[^@\s.]+)")
_HOST = re.compile(r"[^\s/:@?#\[\]]+\.[^\s/:@?#\[\]]+")
# A website that is only a host name (`www.acme.com`, `https://acme.com/`): its host is what `urlsplit`
# says, lower-cased, without `urlsplit`'s cost (a few microseconds, most of reading such a value).
_PLAIN_SITE = re.compile(r"(?:https?://)?([A-Za-z0-9.-]+)/?")
_ID = re.compile(r"[A-Za-z0-9_\-.:]{1,255}")
ABSENT = object()  # what `FieldReader.lookup` returns for a field the record does not carry
FREE_MAIL = frozenset(
    {
        "gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.uk", "yahoo.fr", "ymail.com", "hotmail.com",
        "hotmail.co.uk", "hotmail.fr", "outlook.com", "live.com", "msn.com", "aol.com", "icloud.com", "me.com",
        "mac.com", "proton.me", "protonmail.com", "gmx.com", "gmx.de", "gmx.net", "web.de", "mail.com",
        "yandex.ru", "yandex.com", "zoho.com", "qq.com", "163.com", "126.com", "orange.fr", "free.fr",
        "laposte.net", "t-online.de", "mail.ru", "rediffmail.com", "fastmail.com", "hey.com", "tutanota.com",
    }
)  # fmt: skip


# dict first: the common case answers without the Mapping ABC's slower check.
MAPPING_TYPES = (dict, Mapping)
# Values repeat heavily across a pull (stamps of the same second, a company's website on each of its
# people), so pure readings of text values are remembered; each cache is emptied when it reaches this size.
CACHE_LIMIT = 50_000
STAMPS: dict[str, datetime] = {}  # `bare_stamp`'s readings (`FieldReader.timestamp` looks here first)
K = TypeVar("K")
V = TypeVar("V")


def remember(cache: dict[K, V], key: K, value: V, *, limit: int = CACHE_LIMIT) -> V:
    """Keep `value` under `key` in `cache` (emptied first when it holds `limit` entries); returns `value`."""
    if len(cache) >= limit:
        cache.clear()
    cache[key] = value
    return value


class BadValue(ValueError):
    """A wire value that does not read as the type asked for."""


def clean_text(value: str, *, single_line: bool = False) -> str:
    """Drop control characters and lone surrogates (they break JSON, SQL and CSV downstream)."""
    if value.isprintable():
        # No controls, surrogates, line breaks or whitespace but the plain space: nothing to drop, and
        # nothing to re-space unless a space leads, trails or is doubled.
        if not single_line:
            return value.strip(" ")
        if value and value[0] != " " and value[-1] != " " and "  " not in value:
            return value
        return " ".join(value.split())
    text = _UNSAFE.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))
    return " ".join(text.split()) if single_line else text.strip()


def read_text(value: Any, *, single_line: bool = False) -> str | None:
    """Text, or None when empty; numbers read as their digits."""
    if type(value) is str:  # the common case, answered before the type checks below
        return clean_text(value, single_line=single_line) or None
    if isinstance(value, bool | dict | list | tuple | set):
        raise BadValue(f"expected text, got {type(value).__name__}")
    if isinstance(value, int | float):
        value = format(value, "g") if isinstance(value, float) else str(value)
    if not isinstance(value, str):
        raise BadValue(f"expected text, got {type(value).__name__}")
    return clean_text(value, single_line=single_line) or None


def read_number(value: Any) -> float | None:
    """A finite number from a JSON number or numeric text ("" reads as None)."""
    if isinstance(value, bool):
        raise BadValue("expected a number, got a boolean")
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if not _NUMBER.fullmatch(text):
            raise BadValue("not a number")
        value = float(text)
    if not isinstance(value, int | float):
        raise BadValue(f"expected a number, got {type(value).__name__}")
    try:
        number = float(value)
    except OverflowError:
        raise BadValue("number out of range") from None
    if not math.isfinite(number):
        raise BadValue("number out of range")
    return number


def read_bool(value: Any) -> bool | None:
    """A boolean from JSON true/false or the text "true"/"false" (HubSpot), "" reading as None."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().casefold()
        if not text:
            return None
        if text in ("true", "yes", "1"):
            return True
        if text in ("false", "no", "0"):
            return False
    raise BadValue("expected true or false")


def read_datetime(value: Any) -> datetime | None:
    """A UTC datetime from ISO text (`2024-01-01`, `...T10:00:00.000+0000`, `...Z`) or epoch milliseconds."""
    if type(value) is str:
        moment = bare_stamp(value)
        if moment is not None:
            return moment
    try:
        if isinstance(value, datetime):
            parsed = value
        elif isinstance(value, date):
            parsed = datetime(value.year, value.month, value.day)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            parsed = datetime.fromtimestamp(value / 1000, tz=UTC)
        elif isinstance(value, str):
            text = value.strip()
            if not text:
                return None
            if text.isdigit():
                parsed = datetime.fromtimestamp(int(text) / 1000, tz=UTC)
            else:
                parsed = datetime.fromisoformat(text)
        else:
            raise BadValue(f"expected a date, got {type(value).__name__}")
        aware = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        return aware.astimezone(UTC)
    except BadValue:
        raise
    except (ValueError, OverflowError, OSError):
        raise BadValue("not a valid date or date-time") from None


def bare_stamp(text: str) -> datetime | None:
    """Bare ISO text as a UTC datetime (remembered), or None to leave it to `read_datetime`'s general path."""
    known = STAMPS.get(text)
    # Bare means without surrounding space (the general path strips it) and not epoch digits.
    if known is not None or not text or text[0].isspace() or text[-1].isspace() or text.isdigit():
        return known
    try:
        moment = datetime.fromisoformat(text)
        # Salesforce's `+0000` parses as UTC already, and `astimezone` to a datetime's own zone returns
        # the datetime itself; skipping the call saves most of the cost of a new stamp.
        if moment.tzinfo is not UTC:
            moment = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):
        return None  # out of range or malformed: the general reader reports it
    return remember(STAMPS, text, moment)


def _remembering(reader: Callable[[Any], str | None]) -> Callable[[Any], str | None]:
    """`reader`, remembering what it makes of each text value (its answer, or its `BadValue` message)."""
    known: dict[str, tuple[str | None, str | None]] = {}

    def read(value: Any) -> str | None:
        if type(value) is not str:
            return reader(value)
        hit = known.get(value)
        if hit is None:
            try:
                hit = (reader(value), None)
            except BadValue as exc:
                hit = (None, str(exc))
            remember(known, value, hit)
        if hit[1] is not None:
            raise BadValue(hit[1])
        return hit[0]

    return read


def _sharing() -> Callable[[str], str]:
    """A function answering a text with an equal one it met before (remembered), else with the text itself."""
    known: dict[str, str] = {}

    def share(text: str) -> str:
        hit = known.get(text)
        return hit if hit is not None else remember(known, text, text)

    return share


# Values many records repeat, which the world would otherwise hold once for each record (each wire value is
# a string of its own): a company's domain on each of its people (by website, by address, and as the
# `email_domain` feature), an owner's id on each record they own, an account's on each of its contacts.
# Shared, such a value costs a person 8 bytes instead of ~70.
share_domain = _sharing()
share_id = _sharing()


def read_date(value: Any) -> date | None:
    """A calendar date; date-times read as their UTC date."""
    if isinstance(value, str) and re.fullmatch(r"\s*\d{4}-\d{2}-\d{2}\s*", value):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise BadValue("not a valid date") from None
    moment = read_datetime(value)
    return moment.date() if moment else None


def plain_id(text: str) -> bool:
    """Whether `text` is a record id as it stands (nothing to strip, nothing to reject)."""
    return (text.isalnum() and text.isascii() and len(text) <= 255) or _ID.fullmatch(text) is not None


def read_id(value: Any) -> str | None:
    """A record id (Salesforce 15/18 characters, HubSpot digits)."""
    if type(value) is str and plain_id(value):
        return value  # the common case
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise BadValue(f"expected an id, got {type(value).__name__}")
    text = value.strip()
    if not text:
        return None
    if not _ID.fullmatch(text):
        raise BadValue("not a valid record id")
    return text


def read_email(value: Any) -> str | None:
    """An email address with its domain lower-cased."""
    text = read_text(value, single_line=True)
    if text is None:
        return None
    match = _EMAIL.fullmatch(text)
    if not match:
        raise BadValue("not an email address")
    local, _, domain = text.rpartition("@")
    return f"{local}@{domain.lower()}"


def email_domain(email: str | None) -> str | None:
    """The lower-cased domain of an email address (`share_domain`'s copy of it)."""
    return share_domain(email.rpartition("@")[2].lower()) if email and "@" in email else None


def is_free_mail(domain: str | None) -> bool:
    """Whether a domain is a consumer mailbox provider (so it says nothing about a company)."""
    return domain in FREE_MAIL


def read_domain(value: Any) -> str | None:
    """The host of a website URL (`https://www.Acme.com/x` -> `acme.com`)."""
    text = read_text(value, single_line=True)
    if text is None:
        return None
    plain = _PLAIN_SITE.fullmatch(text)
    if plain:
        host: str | None = plain.group(1).lower()
    else:
        try:
            host = urlsplit(text if "://" in text else f"//{text}").hostname
        except ValueError:
            raise BadValue("not a website address") from None
    host = (host or "").removeprefix("www.").rstrip(".")
    if not _HOST.fullmatch(host):
        raise BadValue("not a website address")
    return share_domain(host)


# A person's address is read by several features, a company's website for each of its people.
read_email_remembered = _remembering(read_email)
read_domain_remembered = _remembering(read_domain)
