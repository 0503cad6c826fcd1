"""The raw records a pull keeps: their content digests, and the spool that holds them until the commit.

A record's digest leaves out what changes on every write (stamps, leadq's own writeback fields), so a
record whose digest matches the stored snapshot's changed only by our own write: an echo, not news.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from sync.fields import VOLATILE
from sync.state.bulk import SnapshotBatch, SnapshotPut
from sync.state.columns import EncodedJSON, UTCText, json_value

SPOOL_IN_MEMORY = 8 * 1024 * 1024  # bytes of raw records a pull keeps in memory before spooling to disk
SNAPSHOT_CHUNK = 5000  # raw records read back from the spool (and written to the store) at a time


class SnapshotSpool:
    """The raw records of one pull, one JSON line each, kept out of memory until the commit stores them.

    Held as dicts until the commit, they cost the process gigabytes at 100k leads (784k records); spooled,
    a pull's memory is one page. Small pulls stay in memory; larger ones roll over to an unnamed file in
    `folder` (next to the state store: the store keeps the same records, so the disk has room).
    """

    def __init__(self, folder: Path | None = None, *, in_memory: int = SPOOL_IN_MEMORY) -> None:
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
        self._file = tempfile.SpooledTemporaryFile(  # noqa: SIM115 - closed by `close`, with the `Pulled`
            max_size=in_memory,
            mode="w+b",
            dir=None if folder is None else str(folder),
            prefix="leadq-pull-",
        )
        self.count = 0

    def add(self, obj: str, puts: Iterable[SnapshotPut]) -> None:
        """Append records of `obj`, after those added before."""
        lines = [_encode(obj, put) for put in puts]
        self._file.seek(0, io.SEEK_END)
        self._file.write(b"".join(lines))
        self.count += len(lines)

    def add_pulled(
        self, obj: str, records: Sequence[Mapping[str, Any]], ids: Sequence[str], digests: Sequence[str]
    ) -> None:
        """Append pulled records of `obj` with their ids and digests: the lines `add` writes for
        `SnapshotPut(id, record, digest, _stamp(record))`, without building the `SnapshotPut`s."""
        lines = [
            _line(obj, record_id, digest, _stamp_text(record), record)
            for record, record_id, digest in zip(records, ids, digests, strict=True)
        ]
        self._file.seek(0, io.SEEK_END)
        self._file.write(b"".join(lines))
        self.count += len(lines)

    def chunks(self, size: int = SNAPSHOT_CHUNK) -> Iterator[tuple[str, list[SnapshotPut]]]:
        """The records in the order they were added, as runs of one object of at most `size` records."""
        for obj, batch in self.batches(size):
            puts = [
                SnapshotPut(record_id, json_value(values), digest, _time(stamp))
                for record_id, values, digest, stamp in zip(
                    batch.record_ids, batch.values, batch.digests, batch.stamps, strict=True
                )
            ]
            yield obj, puts

    def batches(self, size: int = SNAPSHOT_CHUNK) -> Iterator[tuple[str, SnapshotBatch]]:
        """`chunks` column by column, each record's values the JSON text spooled (`EncodedJSON`, which the
        store writes as is) and its stamp the text spooled (`UTCText`): what the commit stores, read back
        without decoding a record or parsing a stamp (~800k of each at 100k leads)."""
        self._file.seek(0)
        obj: str | None = None
        batch = _empty_batch()
        ids, values, digests, stamps = batch.record_ids, batch.values, batch.digests, batch.stamps
        loads = orjson.loads
        for line in self._file:
            header, _, text = line[:-1].partition(b"\t")  # every line ends with its line break
            name, record_id, digest, stamp = loads(header)
            if name != obj or len(ids) >= size:
                if obj is not None:
                    yield obj, batch
                batch = _empty_batch()
                ids, values, digests, stamps = batch.record_ids, batch.values, batch.digests, batch.stamps
                obj = name
            ids.append(record_id)
            values.append(EncodedJSON(text.decode()))
            digests.append(digest)
            stamps.append(None if stamp is None else UTCText(stamp))
        if obj is not None and ids:
            yield obj, batch

    def close(self) -> None:
        """Drop the spooled records (the file, if any, has no name: closing it frees the disk)."""
        self._file.close()

    @property
    def closed(self) -> bool:
        return bool(self._file.closed)


def _time(stamp: datetime | UTCText | None) -> datetime | None:
    return stamp.to_datetime() if isinstance(stamp, UTCText) else stamp


def _empty_batch() -> SnapshotBatch:
    return SnapshotBatch([], [], [], [])


def _encode(obj: str, put: SnapshotPut) -> bytes:
    return _line(obj, put.record_id, put.content_hash, _spooled(put.modified_at), put.values)


def _line(obj: str, record_id: str, digest: str, stamp: str | None, values: Any) -> bytes:
    # One line: the header as a JSON array, a tab, the values as JSON. Neither encoder writes a raw tab or
    # line break (both are escaped inside strings), so the first tab ends the header.
    header = orjson.dumps([obj, record_id, digest, stamp])
    try:
        text = orjson.dumps(values)
    except TypeError:  # orjson stops at 64-bit integers; the store's JSON column takes any
        text = json.dumps(values, separators=(",", ":"), allow_nan=False).encode()
    return header + b"\t" + text + b"\n"


def content_digest(raw: Mapping[str, Any], ignored: frozenset[str]) -> str:
    """Hash of a raw record without the values that change on every write (stamps, our own fields)."""
    kept = {k: v for k, v in raw.items() if k not in ignored and k not in VOLATILE}
    return hashlib.sha256(_sorted_json(kept)).hexdigest()


def _sorted_json(kept: Mapping[str, Any]) -> bytes:
    try:
        return orjson.dumps(kept, option=orjson.OPT_SORT_KEYS, default=str)
    except TypeError:  # orjson stops at 64-bit integers; a CRM's number field can hold more digits
        return json.dumps(kept, sort_keys=True, separators=(",", ":"), default=str).encode()


def content_digests(records: Iterable[Mapping[str, Any]], ignored: frozenset[str]) -> list[str]:
    """`content_digest` of each record, the same digests, at a page's pace.

    The records of a page have the same keys, so the keys to leave out are found once per set of keys, and
    each record is copied (one C call) and loses those few keys instead of being filtered key by key.
    The JSON is written with sorted keys, so the copy's key order does not matter.
    """
    out: list[str] = []
    keys: Any = None  # the keys of the record `drop` was worked out for
    drop: list[Any] = []
    sha256, dumps, option = hashlib.sha256, orjson.dumps, orjson.OPT_SORT_KEYS
    for raw in records:
        if type(raw) is not dict:
            out.append(content_digest(raw, ignored))
            continue
        if keys is None or raw.keys() != keys:  # as sets: the same keys in any order
            keys = raw.keys()
            drop = [k for k in keys if k in ignored or k in VOLATILE]
        kept = raw
        if drop:
            kept = raw.copy()
            for key in drop:
                del kept[key]
        try:
            text = dumps(kept, option=option, default=str)
        except TypeError:
            text = _sorted_json(kept)
        out.append(sha256(text).hexdigest())
    return out


_STAMP_NAMES = ("SystemModstamp", "lastmodifieddate", "hs_lastmodifieddate")
# A stamp as both CRMs write it: UTC to the millisecond, `+0000` (Salesforce REST), `Z` (HubSpot, Bulk
# CSV) or `+00:00`.
_UTC_STAMP = re.compile(
    r"[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}(?:\+0000|Z|\+00:00)"
)


def _stamp_value(raw: Mapping[str, Any]) -> str | None:
    """The record's stamp text: the first of `_STAMP_NAMES` holding a non-empty string."""
    for name in _STAMP_NAMES:
        value = raw.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def _stamp(raw: Mapping[str, Any]) -> datetime | None:
    value = _stamp_value(raw)
    return None if value is None else _parsed(value)


def _parsed(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00").replace("+0000", "+00:00"))
    except ValueError:
        return None


def _stamp_text(raw: Mapping[str, Any]) -> UTCText | None:
    """`_stamp(raw)` as the spool writes it (`UTCText`), or None.

    A stamp in the form both CRMs write (one regular-expression match) is validated by parsing and then
    rewritten as text: formatting ~900k datetimes (as `UTCText.of` does) cost a full cycle ~3 s. Anything
    else takes the general path."""
    value = _stamp_value(raw)
    if value is None:
        return None
    if _UTC_STAMP.fullmatch(value):
        try:
            datetime.fromisoformat(value[:23])  # an impossible date or time is unknown, as below
        except ValueError:
            return None
        return UTCText(f"{value[:10]} {value[11:23]}000")
    return _spooled(_parsed(value))


def _spooled(stamp: datetime | None) -> UTCText | None:
    """A record's stamp as the spool writes it; a stamp without a zone is UTC (what the CRMs write)."""
    if stamp is None:
        return None
    try:
        return UTCText.of(stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC))
    except (ValueError, OverflowError):  # a stamp at the edge of time (year 1 with an offset): unknown
        return None
