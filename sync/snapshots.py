"""The raw records a pull keeps: their content digests, and the spool that holds them until the commit.

A record's digest leaves out what changes on every write (stamps, leadq's own writeback fields), so a
record whose digest matches the stored snapshot's changed only by our own write: an echo, not news.
"""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from sync.fields import VOLATILE
from sync.state.bulk import SnapshotPut
from sync.state.columns import EncodedJSON, json_value

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

    def chunks(
        self, size: int = SNAPSHOT_CHUNK, *, encoded: bool = False
    ) -> Iterator[tuple[str, list[SnapshotPut]]]:
        """The records in the order they were added, as runs of one object of at most `size` records.

        `encoded`: each record's values come as the JSON text spooled (`EncodedJSON`, which the store
        writes as is) rather than decoded."""
        self._file.seek(0)
        obj: str | None = None
        puts: list[SnapshotPut] = []
        for line in self._file:
            name, put = _decode(line, encoded)
            if obj is not None and (name != obj or len(puts) >= size):
                yield obj, puts
                puts = []
            obj = name
            puts.append(put)
        if obj is not None and puts:
            yield obj, puts

    def close(self) -> None:
        """Drop the spooled records (the file, if any, has no name: closing it frees the disk)."""
        self._file.close()

    @property
    def closed(self) -> bool:
        return bool(self._file.closed)


def _encode(obj: str, put: SnapshotPut) -> bytes:
    stamp = None if put.modified_at is None else put.modified_at.isoformat()
    return _line(obj, put.record_id, put.content_hash, stamp, put.values)


def _line(obj: str, record_id: str, digest: str, stamp: str | None, values: Any) -> bytes:
    # One line: the header as a JSON array, a tab, the values as JSON. Neither encoder writes a raw tab or
    # line break (both are escaped inside strings), so the first tab ends the header.
    header = orjson.dumps([obj, record_id, digest, stamp])
    try:
        text = orjson.dumps(values)
    except TypeError:  # orjson stops at 64-bit integers; the store's JSON column takes any
        text = json.dumps(values, separators=(",", ":"), allow_nan=False).encode()
    return header + b"\t" + text + b"\n"


def _decode(line: bytes, encoded: bool) -> tuple[str, SnapshotPut]:
    header, _, values = line.rstrip(b"\n").partition(b"\t")
    obj, record_id, digest, stamp = orjson.loads(header)
    text = values.decode()
    return obj, SnapshotPut(
        record_id,
        EncodedJSON(text) if encoded else json_value(text),
        digest,
        None if stamp is None else datetime.fromisoformat(stamp),
    )


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


def _stamp(raw: Mapping[str, Any]) -> datetime | None:
    for name in ("SystemModstamp", "lastmodifieddate", "hs_lastmodifieddate"):
        value = raw.get(name)
        if isinstance(value, str) and value:
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00").replace("+0000", "+00:00"))
            except ValueError:
                return None
    return None


def _stamp_text(raw: Mapping[str, Any]) -> str | None:
    """`_stamp(raw)` as the spool writes it (ISO text), or None."""
    stamp = _stamp(raw)
    return None if stamp is None else stamp.isoformat()
