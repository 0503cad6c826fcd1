"""Reading CRM wire values: Salesforce JSON types, HubSpot all-strings, both with hostile input in mind.

`FieldReader` reads one raw record; every value it cannot read becomes a `FieldProblem` and reads as None,
so one bad field never costs the record and one bad record never costs the batch.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlsplit

from mappings.problems import FieldProblem

MAX_LINE = 1000
# C0/C1 controls except tab and newline, and lone surrogates (not encodable as UTF-8).
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_EMAIL = re.compile(r"[^@\s]+@([^@\s]+\.[^@\s.]+)")
_HOST = re.compile(r"[^\s/:@?#\[\]]+\.[^\s/:@?#\[\]]+")
_ID = re.compile(r"[A-Za-z0-9_\-.:]{1,255}")
ABSENT = object()  # what `FieldReader.lookup` returns for a field the record does not carry
_ABSENT = ABSENT
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
_NO_PROPERTIES: dict[str, Any] = {}  # shared, never written: a record without HubSpot `properties`
# Values repeat heavily across a pull (stamps of the same second, a company's website on each of its
# people), so pure readings of text values are remembered; each cache is emptied when it reaches this size.
CACHE_LIMIT = 50_000
_STAMPS: dict[str, datetime] = {}
_LINES: dict[str, str | None] = {}  # plain printable text of at most MAX_LINE -> its single-line reading
_DOMAINS: dict[str, tuple[str | None, str | None]] = {}  # text -> (host, problem message)
_EMAILS: dict[str, tuple[str | None, str | None]] = {}  # text -> (address, problem message)


class BadValue(ValueError):
    """A wire value that does not read as the type asked for."""


def clean_text(value: str, *, single_line: bool = False) -> str:
    """Drop control characters and lone surrogates (they break JSON, SQL and CSV downstream)."""
    if value.isprintable():
        # No controls, surrogates, line breaks or whitespace but the plain space: nothing to drop.
        return " ".join(value.split()) if single_line else value.strip(" ")
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
        moment = _STAMPS.get(value) or _bare_stamp(value)
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


def _bare_iso(text: str) -> bool:
    # The common case: ISO text without surrounding space (the general path strips it, then parses).
    return bool(text) and not text[0].isspace() and not text[-1].isspace() and not text.isdigit()


def _bare_stamp(text: str) -> datetime | None:
    """Bare ISO text as a UTC datetime (remembered), or None to leave it to `read_datetime`'s general path."""
    if not _bare_iso(text):
        return None
    try:
        parsed = datetime.fromisoformat(text)
        moment = (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):
        return None  # out of range or malformed: the general reader reports it
    if len(_STAMPS) >= CACHE_LIMIT:
        _STAMPS.clear()
    _STAMPS[text] = moment
    return moment


def _remembered(
    cache: dict[str, tuple[str | None, str | None]], reader: Callable[[Any], str | None], text: str
) -> tuple[str | None, str | None]:
    """`reader(text)` as (value, None), or (None, problem message) when it raises `BadValue`; remembered."""
    hit = cache.get(text)
    if hit is None:
        try:
            hit = (reader(text), None)
        except BadValue as exc:
            hit = (None, str(exc))
        if len(cache) >= CACHE_LIMIT:
            cache.clear()
        cache[text] = hit
    return hit


def read_date(value: Any) -> date | None:
    """A calendar date; date-times read as their UTC date."""
    if isinstance(value, str) and re.fullmatch(r"\s*\d{4}-\d{2}-\d{2}\s*", value):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise BadValue("not a valid date") from None
    moment = read_datetime(value)
    return moment.date() if moment else None


def read_id(value: Any) -> str | None:
    """A record id (Salesforce 15/18 characters, HubSpot digits)."""
    if type(value) is str and (
        (value.isalnum() and value.isascii() and len(value) <= 255) or _ID.fullmatch(value)
    ):
        return value  # the common case: nothing to strip, nothing to reject
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


def read_email_remembered(value: Any) -> str | None:
    """`read_email`, remembering text values (a person's address is read by several features)."""
    if type(value) is not str:
        return read_email(value)
    address, message = _remembered(_EMAILS, read_email, value)
    if message is not None:
        raise BadValue(message)
    return address


def email_domain(email: str | None) -> str | None:
    """The lower-cased domain of an email address."""
    return email.rpartition("@")[2].lower() if email and "@" in email else None


def is_free_mail(domain: str | None) -> bool:
    """Whether a domain is a consumer mailbox provider (so it says nothing about a company)."""
    return domain in FREE_MAIL


def read_domain(value: Any) -> str | None:
    """The host of a website URL (`https://www.Acme.com/x` -> `acme.com`)."""
    text = read_text(value, single_line=True)
    if text is None:
        return None
    try:
        host = urlsplit(text if "://" in text else f"//{text}").hostname
    except ValueError:
        raise BadValue("not a website address") from None
    host = (host or "").removeprefix("www.").rstrip(".")
    if not _HOST.fullmatch(host):
        raise BadValue("not a website address")
    return host


class FieldReader:
    """Reads the fields of one raw record, collecting problems instead of raising."""

    __slots__ = (
        "_flat",
        "_properties",
        "_raw_is_mapping",
        "crm",
        "object_name",
        "problems",
        "raw",
        "record_id",
    )

    def __init__(self, crm: str, raw: Mapping[str, Any], record_id: str, object_name: str) -> None:
        self.crm = crm
        self.raw = raw
        self.record_id = record_id
        self.object_name = object_name
        self.problems: list[FieldProblem] = []
        # A plain dict without `properties` (every Salesforce record, flattened HubSpot ones) reads a plain
        # field with one `dict.get`, which is what `get` answers for it.
        self._flat: dict[str, Any] | None
        self._properties: Mapping[str, Any]
        if type(raw) is dict and (crm != "hubspot" or "properties" not in raw):
            self._flat, self._properties, self._raw_is_mapping = raw, _NO_PROPERTIES, True
            return
        props = raw.get("properties") if crm == "hubspot" else None
        self._properties = props if isinstance(props, MAPPING_TYPES) else _NO_PROPERTIES
        self._raw_is_mapping = isinstance(raw, MAPPING_TYPES)
        self._flat = raw if type(raw) is dict and self._properties is _NO_PROPERTIES else None

    def problem(self, path: str, value: object, message: str) -> None:
        """Record that `path` holds `value`, which is unusable for `message`."""
        self.problems.append(FieldProblem(self.record_id, path, value, message, self.object_name))

    def get(self, path: str) -> Any:
        """The raw value at a field path (`Industry`, `Account.Industry`); None when absent."""
        flat = self._flat
        if flat is not None and "." not in path:
            return flat.get(path)
        if "." not in path:  # the common case, read without walking (same answer as `lookup`)
            if path in self._properties:
                return self._properties[path]
            raw = self.raw
            return raw[path] if self._raw_is_mapping and path in raw else None
        value = self.lookup(path)
        return None if value is _ABSENT else value

    def has(self, path: str) -> bool:
        """Whether the record carries the field at all (a null counts as carried)."""
        return self.lookup(path) is not _ABSENT

    def lookup(self, path: str) -> Any:
        """Like `get`, but a field the record does not carry reads as the `_ABSENT` sentinel."""
        flat = self._flat
        if flat is not None and "." not in path:
            return flat.get(path, _ABSENT)
        if "." not in path:  # the common case, read without walking (same answer as the walk below)
            if path in self._properties:
                return self._properties[path]
            raw = self.raw
            return raw[path] if self._raw_is_mapping and path in raw else _ABSENT
        if self._raw_is_mapping and path in self.raw:
            # The Salesforce connector flattens relationship fields into one key (`Account.Name`).
            return self.raw[path]
        node: Any = self.raw
        for depth, part in enumerate(path.split(".")):
            if not isinstance(node, Mapping):
                return _ABSENT
            # HubSpot keeps fields under `properties`, also in related records nested by the connector.
            props = self._properties if depth == 0 else node.get("properties")
            if isinstance(props, Mapping) and part in props:
                node = props[part]
            elif part in node:
                node = node[part]
            else:
                return _ABSENT
        return node

    def _read(self, path: str, reader: Callable[[Any], Any]) -> Any:
        value = self.get(path)
        if value is None:
            return None
        try:
            return reader(value)
        except BadValue as exc:
            self.problem(path, value, str(exc))
            return None

    # The readers below answer the common wire shapes inline (plain text, well-formed ids and ISO stamps,
    # JSON booleans) and hand everything else to the general readers, which own the problems.
    def text(self, path: str, *, single_line: bool = True) -> str | None:
        """Text; a single-line value longer than `MAX_LINE` is cut (and reported)."""
        flat = self._flat  # `get`, inlined
        raw = flat.get(path) if flat is not None and "." not in path else self.get(path)
        if raw is None:
            return None
        if type(raw) is str:
            if single_line:
                line = _LINES.get(raw, _ABSENT)
                if line is not _ABSENT:
                    return line  # type: ignore[return-value]
            if len(raw) <= MAX_LINE and raw.isprintable():
                if not single_line:
                    return raw.strip(" ") or None
                line = " ".join(raw.split()) or None
                if len(_LINES) >= CACHE_LIMIT:
                    _LINES.clear()
                _LINES[raw] = line
                return line
        try:
            value = read_text(raw, single_line=single_line)
        except BadValue as exc:
            self.problem(path, raw, str(exc))
            return None
        if single_line and value is not None and len(value) > MAX_LINE:
            self.problem(path, value, f"longer than {MAX_LINE} characters; cut")
            value = value[: MAX_LINE - 1] + "…"
        return value

    def number(self, path: str) -> float | None:
        """A finite number."""
        return self._read(path, read_number)  # type: ignore[no-any-return]

    def boolean(self, path: str, default: bool = False) -> bool:
        """A boolean; absent or empty reads as `default`."""
        flat = self._flat  # `get`, inlined
        raw = flat.get(path) if flat is not None and "." not in path else self.get(path)
        if raw is True or raw is False:
            return raw
        value = None if raw is None else self._read(path, read_bool)
        return default if value is None else bool(value)

    def timestamp(self, path: str) -> datetime | None:
        """A UTC datetime."""
        flat = self._flat  # `get`, inlined
        raw = flat.get(path) if flat is not None and "." not in path else self.get(path)
        if raw is None:
            return None
        if type(raw) is str:
            moment = _STAMPS.get(raw) or _bare_stamp(raw)
            if moment is not None:
                return moment
        return self._read(path, read_datetime)  # type: ignore[no-any-return]

    def calendar_date(self, path: str) -> date | None:
        """A calendar date."""
        return self._read(path, read_date)  # type: ignore[no-any-return]

    def id(self, path: str) -> str | None:
        """A record id."""
        flat = self._flat  # `get`, inlined
        raw = flat.get(path) if flat is not None and "." not in path else self.get(path)
        if type(raw) is str and ((raw.isalnum() and raw.isascii() and len(raw) <= 255) or _ID.fullmatch(raw)):
            return raw
        return None if raw is None else self._read(path, read_id)

    def email(self, path: str) -> str | None:
        """An email address."""
        return self._remembered(path, _EMAILS, read_email)

    def domain(self, path: str) -> str | None:
        """A website's host."""
        return self._remembered(path, _DOMAINS, read_domain)

    def _remembered(
        self, path: str, cache: dict[str, tuple[str | None, str | None]], reader: Callable[[Any], str | None]
    ) -> str | None:
        # `_read` for a reader whose answer on text depends on the text alone.
        flat = self._flat  # `get`, inlined
        raw = flat.get(path) if flat is not None and "." not in path else self.get(path)
        if type(raw) is not str:
            return None if raw is None else self._read(path, reader)
        value, message = _remembered(cache, reader, raw)
        if message is not None:
            self.problem(path, raw, message)
        return value

    def first_timestamp(self, *paths: str) -> datetime | None:
        """The first of several date fields that holds a date."""
        for path in paths:
            value = self.timestamp(path)
            if value is not None:
                return value
        return None
