"""HubSpot objects, properties, associations and owners in the sandbox's SQLite store.

HubSpot objects of every type live in one table (`hs_object`) with their properties as a JSON text, since
HubSpot properties are strings and portals have hundreds of them. The creation and modification stamps and
the archived flag are columns, so the incremental-sync search (by type, live, modified since, by id) walks
the `hs_object_mod` index. An association is one row, as created, read from either side (`hs_assoc_rev`
serves the reverse direction).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import orjson

from sandbox.clock import Clock, epoch_ms, hs_datetime
from sandbox.hs_schema import HS_OBJECT_TYPES, modified_property
from sandbox.hs_standard import DEFAULT_GROUPS, DEFAULT_PROPERTIES
from sandbox.hs_values import register as register_functions
from sandbox.ids import Sequence as IdSequence
from sandbox.store_base import StoreBase


@dataclass(frozen=True)
class HsRecord:
    """A HubSpot object as stored: id, string properties, timestamps in epoch milliseconds."""

    type: str
    id: int
    props: dict[str, str | None]
    created_ms: int
    updated_ms: int
    archived: bool
    archived_ms: int | None


class HubSpotTables(StoreBase):
    """The HubSpot half of `sandbox.store.Store`: tables, default definitions and record access."""

    def __init__(self, path: str | None = None, clock: Clock | None = None) -> None:
        super().__init__(path, clock)
        self._hs_seq = IdSequence()

    def _init_hubspot(self, c: sqlite3.Connection) -> None:
        """Create the HubSpot tables and indexes, add the default properties and groups, resume ids.

        Runs inside `Store`'s schema transaction; safe on an existing database (nothing is replaced).
        """
        register_functions(c)  # before any write: an index on a folded property value calls them
        c.execute(
            "CREATE TABLE IF NOT EXISTS hs_object (type TEXT, id INTEGER, props TEXT, created_ms INTEGER, "
            "updated_ms INTEGER, archived INTEGER DEFAULT 0, archived_ms INTEGER, PRIMARY KEY (type, id))"
        )
        c.execute("CREATE INDEX IF NOT EXISTS hs_object_mod ON hs_object (type, archived, updated_ms, id)")
        # which ids are live, without reading each row's properties
        c.execute("CREATE INDEX IF NOT EXISTS hs_object_live ON hs_object (type, archived, id)")
        c.execute(
            "CREATE TABLE IF NOT EXISTS hs_property (type TEXT, name TEXT, spec TEXT, PRIMARY KEY (type, name))"
        )
        c.execute(
            "CREATE TABLE IF NOT EXISTS hs_group (type TEXT, name TEXT, spec TEXT, PRIMARY KEY (type, name))"
        )
        c.execute(
            "CREATE TABLE IF NOT EXISTS hs_assoc (from_type TEXT, from_id INTEGER, to_type TEXT, "
            "to_id INTEGER, category TEXT, type_id INTEGER, "
            "PRIMARY KEY (from_type, from_id, to_type, to_id, category, type_id))"
        )
        # Reading associations from the side they were not created on: without the from type in the
        # index, SQLite preferred the primary key on `from_type` alone and scanned a whole type per id.
        c.execute("DROP INDEX IF EXISTS hs_assoc_to")
        c.execute(
            "CREATE INDEX IF NOT EXISTS hs_assoc_rev ON hs_assoc "
            "(to_type, to_id, from_type, category, type_id, from_id)"
        )
        c.execute("CREATE TABLE IF NOT EXISTS hs_owner (id INTEGER PRIMARY KEY, spec TEXT)")
        for type_ in HS_OBJECT_TYPES:
            for prop in DEFAULT_PROPERTIES[type_]:
                c.execute(
                    "INSERT OR IGNORE INTO hs_property VALUES (?, ?, ?)",
                    (type_, prop["name"], orjson.dumps(prop)),
                )
            for group in DEFAULT_GROUPS[type_]:
                c.execute(
                    "INSERT OR IGNORE INTO hs_group VALUES (?, ?, ?)",
                    (type_, group["name"], orjson.dumps(group)),
                )
        hs_top = c.execute("SELECT COALESCE(MAX(id), 0) FROM hs_object").fetchone()[0]
        self._hs_seq.reset(max(int(hs_top) + 1, 100_000_001))

    # ------------------------------------------------------------------ HubSpot properties
    def hs_properties(self, type_: str, *, archived: bool = False) -> dict[str, dict[str, Any]]:
        """Property definitions of one object type, keyed by name: live ones, or only archived ones."""
        rows = self.sql("SELECT name, spec FROM hs_property WHERE type = ? ORDER BY rowid", (type_,))
        specs = ((r["name"], orjson.loads(r["spec"])) for r in rows)
        return {name: spec for name, spec in specs if bool(spec.get("archived", False)) == archived}

    def hs_put_property(self, type_: str, spec: Mapping[str, Any]) -> None:
        with self.transaction() as c:
            c.execute(
                "INSERT OR REPLACE INTO hs_property VALUES (?, ?, ?)",
                (type_, spec["name"], orjson.dumps(spec)),
            )

    def hs_groups(self, type_: str) -> dict[str, dict[str, Any]]:
        rows = self.sql("SELECT name, spec FROM hs_group WHERE type = ? ORDER BY rowid", (type_,))
        return {r["name"]: orjson.loads(r["spec"]) for r in rows}

    def hs_put_group(self, type_: str, spec: Mapping[str, Any]) -> None:
        with self.transaction() as c:
            c.execute(
                "INSERT OR REPLACE INTO hs_group VALUES (?, ?, ?)", (type_, spec["name"], orjson.dumps(spec))
            )

    # ------------------------------------------------------------------ HubSpot records
    def hs_insert(
        self, type_: str, props: Mapping[str, str | None], *, when: datetime | None = None
    ) -> HsRecord:
        return self.hs_insert_many(type_, [props], when=when)[0]

    def hs_insert_many(
        self, type_: str, rows: Iterable[Mapping[str, str | None]], *, when: datetime | None = None
    ) -> list[HsRecord]:
        """Create records, maintaining createdate / lastmodifieddate / hs_lastmodifieddate / hs_object_id."""
        out: list[HsRecord] = []
        with self.transaction() as c:
            t = when or self.clock.now()
            ms, iso = epoch_ms(t), hs_datetime(t)
            batch = []
            for values in rows:
                rid = self._hs_seq.next()
                props: dict[str, str | None] = {k: v for k, v in values.items() if v is not None}
                created_key = "hs_createdate" if type_ in ("tasks", "notes") else "createdate"
                props[created_key] = iso
                props[modified_property(type_)] = iso
                props["hs_lastmodifieddate"] = iso
                props["hs_object_id"] = str(rid)
                out.append(HsRecord(type_, rid, props, ms, ms, False, None))
                batch.append((type_, rid, orjson.dumps(props), ms, ms))
            c.executemany(
                "INSERT INTO hs_object (type, id, props, created_ms, updated_ms, archived) VALUES (?, ?, ?, ?, ?, 0)",
                batch,
            )
        return out

    def hs_get(self, type_: str, record_id: int, *, archived: bool = False) -> HsRecord | None:
        rows = self.sql(
            "SELECT * FROM hs_object WHERE type = ? AND id = ? AND archived = ?",
            (type_, record_id, int(archived)),
        )
        return _hs_record(rows[0]) if rows else None

    def hs_get_many(self, type_: str, ids: Sequence[int], *, archived: bool = False) -> dict[int, HsRecord]:
        out: dict[int, HsRecord] = {}
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            marks = ", ".join("?" for _ in chunk)
            for row in self.sql(
                f"SELECT * FROM hs_object WHERE type = ? AND archived = ? AND id IN ({marks})",
                (type_, int(archived), *chunk),
            ):
                rec = _hs_record(row)
                out[rec.id] = rec
        return out

    def hs_live_ids(self, type_: str, ids: Sequence[int]) -> set[int]:
        """Which of `ids` are live records of the type (an index-only lookup: no properties are read)."""
        out: set[int] = set()
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            marks = ", ".join("?" for _ in chunk)
            out.update(
                int(row[0])
                for row in self.sql(
                    f"SELECT id FROM hs_object WHERE type = ? AND archived = 0 AND id IN ({marks})",
                    (type_, *chunk),
                )
            )
        return out

    def hs_update(
        self, type_: str, record_id: int, props: Mapping[str, str | None], *, when: datetime | None = None
    ) -> HsRecord | None:
        """Set properties (an empty string or None clears one) and bump the modified stamps (to `when`)."""
        with self.transaction():
            rec = self.hs_get(type_, record_id)
            if rec is None:
                return None
            return self.hs_update_records(type_, [(rec, props)], when=when)[0]

    def hs_update_records(
        self,
        type_: str,
        changes: Sequence[tuple[HsRecord, Mapping[str, str | None]]],
        *,
        when: datetime | None = None,
    ) -> list[HsRecord]:
        """`hs_update` of live records the caller has just read (in its transaction), one statement for all.

        Each record's new properties are its given ones changed; a record given twice would lose the first
        change, so callers pass distinct records.
        """
        out: list[HsRecord] = []
        with self.transaction() as c:
            t = when or self.clock.now()
            ms, iso = epoch_ms(t), hs_datetime(t)
            modified = modified_property(type_)
            rows = []
            for rec, props in changes:
                new = dict(rec.props)
                for k, v in props.items():
                    if v is None or v == "":
                        new.pop(k, None)
                    else:
                        new[k] = v
                new[modified] = iso
                new["hs_lastmodifieddate"] = iso
                rows.append((orjson.dumps(new), ms, type_, rec.id))
                out.append(replace(rec, props=new, updated_ms=ms))
            c.executemany("UPDATE hs_object SET props = ?, updated_ms = ? WHERE type = ? AND id = ?", rows)
        return out

    def hs_archive(self, type_: str, record_id: int) -> bool:
        with self.transaction() as c:
            ms = epoch_ms(self.clock.now())
            cur = c.execute(
                "UPDATE hs_object SET archived = 1, archived_ms = ?, updated_ms = ? "
                "WHERE type = ? AND id = ? AND archived = 0",
                (ms, ms, type_, record_id),
            )
            return cur.rowcount > 0

    def hs_count(self, type_: str, *, archived: bool = False) -> int:
        return int(
            self.sql(
                "SELECT COUNT(*) FROM hs_object WHERE type = ? AND archived = ?", (type_, int(archived))
            )[0][0]
        )

    # ------------------------------------------------------------------ HubSpot associations and owners
    def hs_associate(
        self,
        from_type: str,
        from_id: int,
        to_type: str,
        to_id: int,
        type_id: int,
        category: str = "HUBSPOT_DEFINED",
    ) -> None:
        """Create an association (stored in both directions, as HubSpot reports it from either side)."""
        with self.transaction() as c:
            c.execute(
                "INSERT OR IGNORE INTO hs_assoc VALUES (?, ?, ?, ?, ?, ?)",
                (from_type, from_id, to_type, to_id, category, type_id),
            )

    def hs_associations(self, from_type: str, from_id: int, to_type: str) -> list[tuple[int, str, int]]:
        """(to_id, category, type_id) for every association from one record to a type, both directions."""
        rows = self.sql(
            "SELECT to_id, category, type_id FROM hs_assoc WHERE from_type = ? AND from_id = ? AND to_type = ? "
            "UNION SELECT from_id, category, type_id FROM hs_assoc WHERE to_type = ? AND to_id = ? AND from_type = ?",
            (from_type, from_id, to_type, from_type, from_id, to_type),
        )
        return [(int(r[0]), str(r[1]), int(r[2])) for r in rows]

    def hs_put_owner(self, owner: Mapping[str, Any]) -> None:
        with self.transaction() as c:
            c.execute(
                "INSERT OR REPLACE INTO hs_owner VALUES (?, ?)", (int(owner["id"]), orjson.dumps(owner))
            )

    def hs_owners(self) -> list[dict[str, Any]]:
        return [orjson.loads(r[0]) for r in self.sql("SELECT spec FROM hs_owner ORDER BY id")]


def _hs_record(row: sqlite3.Row) -> HsRecord:
    return HsRecord(
        type=row["type"],
        id=int(row["id"]),
        props=orjson.loads(row["props"]),
        created_ms=int(row["created_ms"]),
        updated_ms=int(row["updated_ms"]),
        archived=bool(row["archived"]),
        archived_ms=row["archived_ms"],
    )
