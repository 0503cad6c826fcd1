"""SQLite storage for both CRMs, with the system fields the real CRMs maintain on every write.

Salesforce objects live in one table each (`sf_Lead`, ...) with one column per field, so SOQL compiles to
SQL. HubSpot objects live in one table (`hs_object`) with their properties as a JSON text, since HubSpot
properties are strings and portals have hundreds of them. All access is serialised by one re-entrant lock:
the sandbox favours faithfulness over concurrency.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import orjson

from sandbox.clock import Clock, epoch_ms, hs_datetime, sf_datetime
from sandbox.hs_schema import DEFAULT_GROUPS, DEFAULT_PROPERTIES, HS_OBJECT_TYPES, modified_property
from sandbox.ids import Sequence as IdSequence
from sandbox.ids import sf_id
from sandbox.sf_schema import SfField, SfObject, standard_objects

INTEGRATION_USER_NUMBER = 1
SfValue = str | int | float | bool | None


def integration_user_id() -> str:
    """The id of the user every API write is attributed to (`LastModifiedById`)."""
    return sf_id("005", INTEGRATION_USER_NUMBER)


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


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class Store:
    """Both CRMs' data in one SQLite database (a file, or memory when `path` is None)."""

    def __init__(self, path: str | None = None, clock: Clock | None = None) -> None:
        self.clock = clock or Clock()
        self.lock = threading.RLock()
        self.path = path
        self.conn = sqlite3.connect(path or ":memory:", check_same_thread=False, isolation_level=None)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL" if path else "PRAGMA journal_mode=MEMORY")
        self.conn.execute("PRAGMA synchronous=OFF")
        self._sf_objects: dict[str, SfObject] = {}
        self._sf_lower: dict[str, str] = {}
        self._sf_seq = IdSequence()
        self._hs_seq = IdSequence()
        self._init_schema()

    # ------------------------------------------------------------------ plumbing
    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Hold the lock and run the block in one SQLite transaction."""
        with self.lock:
            if self.conn.in_transaction:
                yield self.conn
                return
            self.conn.execute("BEGIN")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def sql(self, statement: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[sqlite3.Row]:
        """Run one read statement under the lock."""
        with self.lock:
            return self.conn.execute(statement, params).fetchall()

    def _init_schema(self) -> None:
        with self.transaction() as c:
            c.execute(
                "CREATE TABLE IF NOT EXISTS sf_custom_field (object TEXT, name TEXT, spec TEXT, "
                "PRIMARY KEY (object, name))"
            )
            c.execute(
                "CREATE TABLE IF NOT EXISTS hs_object (type TEXT, id INTEGER, props TEXT, created_ms INTEGER, "
                "updated_ms INTEGER, archived INTEGER DEFAULT 0, archived_ms INTEGER, PRIMARY KEY (type, id))"
            )
            c.execute(
                "CREATE INDEX IF NOT EXISTS hs_object_mod ON hs_object (type, archived, updated_ms, id)"
            )
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
            c.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            objects = standard_objects()
            for row in c.execute("SELECT object, spec FROM sf_custom_field ORDER BY rowid"):
                obj = objects[row["object"]]
                objects[obj.name] = replace(obj, fields=(*obj.fields, SfField(**orjson.loads(row["spec"]))))
            for obj in objects.values():
                cols = ", ".join(
                    f"{_q(f.name)} {f.storage}{' PRIMARY KEY' if f.name == 'Id' else ''}" for f in obj.fields
                )
                c.execute(f"CREATE TABLE IF NOT EXISTS {_q('sf_' + obj.name)} ({cols})")
                c.execute(
                    f"CREATE INDEX IF NOT EXISTS {_q('sf_' + obj.name + '_mod')} "
                    f"ON {_q('sf_' + obj.name)} (SystemModstamp, Id)"
                )
                self._register(obj)
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
            top = 0
            for obj in objects.values():
                for row in c.execute(f"SELECT Id FROM {_q('sf_' + obj.name)}"):
                    top = max(top, _sf_number(row[0]))
            self._sf_seq.reset(max(top + 1, INTEGRATION_USER_NUMBER + 1))
            hs_top = c.execute("SELECT COALESCE(MAX(id), 0) FROM hs_object").fetchone()[0]
            self._hs_seq.reset(max(int(hs_top) + 1, 100_000_001))
        if self.sf_get("User", integration_user_id(), include_deleted=True) is None:
            self.sf_insert(
                "User",
                {
                    "Id": integration_user_id(),
                    "Username": "integration@leadq.sandbox",
                    "FirstName": "Integration",
                    "LastName": "User",
                    "Email": "integration@leadq.sandbox",
                    "Title": "API integration user",
                },
            )

    def _register(self, obj: SfObject) -> None:
        self._sf_objects[obj.name] = obj
        self._sf_lower[obj.name.lower()] = obj.name

    # ------------------------------------------------------------------ Salesforce metadata
    def sf_objects(self) -> dict[str, SfObject]:
        """Every sObject, with custom fields, keyed by API name."""
        return dict(self._sf_objects)

    def sf_object(self, name: str) -> SfObject | None:
        """Look an sObject up by name, case-insensitively (as Salesforce does)."""
        api = self._sf_lower.get(name.lower())
        return self._sf_objects[api] if api else None

    def sf_field(self, obj: str, name: str) -> SfField | None:
        """Look a field up by name, case-insensitively."""
        o = self.sf_object(obj)
        if o is None:
            return None
        low = name.lower()
        return next((f for f in o.fields if f.name.lower() == low), None)

    def sf_add_field(self, obj: str, field: SfField) -> None:
        """Add a custom field: a new column, then visible in describe and SOQL."""
        with self.transaction() as c:
            o = self._sf_objects[obj]
            # Existing rows take the field's default (a new checkbox reads false, not null), as in a real org.
            default = "" if field.default is None else f" DEFAULT {_sql_literal(field.default)}"
            c.execute(f"ALTER TABLE {_q('sf_' + obj)} ADD COLUMN {_q(field.name)} {field.storage}{default}")
            if field.external_id or field.unique:  # upserts and duplicate checks look these up
                collate = " COLLATE NOCASE" if field.storage == "TEXT" else ""
                c.execute(
                    f"CREATE INDEX IF NOT EXISTS {_q('sf_' + obj + '_' + field.name)} "
                    f"ON {_q('sf_' + obj)} ({_q(field.name)}{collate})"
                )
            spec = {k: (list(v) if isinstance(v, tuple) else v) for k, v in field.__dict__.items()}
            c.execute("INSERT INTO sf_custom_field VALUES (?, ?, ?)", (obj, field.name, orjson.dumps(spec)))
            self._register(replace(o, fields=(*o.fields, field)))

    # ------------------------------------------------------------------ Salesforce records
    def new_sf_id(self, obj: str) -> str:
        return sf_id(self._sf_objects[obj].key_prefix, self._sf_seq.next())

    def sf_insert(
        self,
        obj: str,
        values: Mapping[str, SfValue],
        *,
        user_id: str | None = None,
        when: datetime | None = None,
    ) -> str:
        """Insert one record (values already typed), stamping the system fields. Returns the new id."""
        return self.sf_insert_many(obj, [values], user_id=user_id, when=when)[0]

    def sf_insert_many(
        self,
        obj: str,
        rows: Iterable[Mapping[str, SfValue]],
        *,
        user_id: str | None = None,
        when: datetime | None = None,
    ) -> list[str]:
        """Insert many records in one transaction; `when` backdates CreatedDate (for seeding history)."""
        o = self._sf_objects[obj]
        names = [f.name for f in o.fields]
        defaults = {f.name: f.default for f in o.fields if f.default is not None}
        ids: list[str] = []
        user = user_id or integration_user_id()
        with self.transaction() as c:
            stamp = sf_datetime(when or self.clock.now())
            batch = []
            for values in rows:
                rec: dict[str, SfValue] = {**defaults, **values}
                rec.setdefault("Id", self.new_sf_id(obj))
                rec["IsDeleted"] = False
                for k in ("CreatedDate", "LastModifiedDate", "SystemModstamp"):
                    rec.setdefault(k, stamp)
                rec.setdefault("CreatedById", user)
                rec.setdefault("LastModifiedById", user)
                if "OwnerId" in names:
                    rec.setdefault("OwnerId", user)
                _derive_sf(obj, rec)
                ids.append(str(rec["Id"]))
                batch.append([rec.get(n) for n in names])
            cols = ", ".join(_q(n) for n in names)
            marks = ", ".join("?" for _ in names)
            c.executemany(f"INSERT INTO {_q('sf_' + obj)} ({cols}) VALUES ({marks})", batch)
        return ids

    def sf_update(
        self, obj: str, record_id: str, values: Mapping[str, SfValue], *, user_id: str | None = None
    ) -> bool:
        """Update one live record, bumping LastModifiedDate and SystemModstamp. False if not found."""
        with self.transaction() as c:
            current = self.sf_get(obj, record_id)
            if current is None:
                return False
            rec = {**current, **values}
            stamp = sf_datetime(self.clock.now())
            rec["LastModifiedDate"] = stamp
            rec["SystemModstamp"] = stamp
            rec["LastModifiedById"] = user_id or integration_user_id()
            _derive_sf(obj, rec)
            changed = [k for k in rec if k != "Id"]
            sets = ", ".join(f"{_q(k)} = ?" for k in changed)
            c.execute(
                f"UPDATE {_q('sf_' + obj)} SET {sets} WHERE Id = ?", [*(rec[k] for k in changed), record_id]
            )
            return True

    def sf_update_many(
        self,
        obj: str,
        updates: Sequence[tuple[str, Mapping[str, SfValue]]],
        *,
        user_id: str | None = None,
    ) -> list[bool]:
        """Update live records in one transaction, writing only the given columns plus the system stamps.

        The fast path for batch writes (sObject Collections, Bulk API): no read per record unless a derived
        field (a person's Name) needs the other half. Returns, in order, whether each record was found.
        """
        with self.transaction() as c:
            stamp = sf_datetime(self.clock.now())
            user = user_id or integration_user_id()
            table = _q("sf_" + obj)
            ids = list(dict.fromkeys(record_id for record_id, _ in updates))
            live: set[str] = set()
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ", ".join("?" for _ in chunk)
                live.update(
                    r[0]
                    for r in c.execute(
                        f"SELECT Id FROM {table} WHERE IsDeleted = 0 AND Id IN ({marks})", chunk
                    )
                )
            # Consecutive updates of the same columns go in one executemany; a change of columns flushes,
            # so repeated ids in one batch still apply in order.
            columns: tuple[str, ...] = ()
            pending: list[list[SfValue]] = []

            def flush() -> None:
                if pending:
                    sets = ", ".join(f"{_q(k)} = ?" for k in columns)
                    c.executemany(f"UPDATE {table} SET {sets} WHERE Id = ?", pending)
                    pending.clear()

            found: list[bool] = []
            for record_id, values in updates:
                found.append(record_id in live)
                if record_id not in live:
                    continue
                rec: dict[str, SfValue] = {k: v for k, v in values.items() if k != "Id"}
                if obj in ("Lead", "Contact", "User") and ("FirstName" in rec or "LastName" in rec):
                    flush()
                    current = self.sf_get(obj, record_id) or {}
                    names = {"FirstName": current.get("FirstName"), "LastName": current.get("LastName")}
                    names.update({k: rec[k] for k in names if k in rec})
                    _derive_sf(obj, names)
                    rec["Name"] = names["Name"]
                else:
                    _derive_sf(obj, rec)
                rec["LastModifiedDate"] = stamp
                rec["SystemModstamp"] = stamp
                rec["LastModifiedById"] = user
                if tuple(rec) != columns:
                    flush()
                    columns = tuple(rec)
                pending.append([*rec.values(), record_id])
            flush()
        return found

    def sf_delete(self, obj: str, record_id: str, *, user_id: str | None = None) -> bool:
        """Soft-delete (to the recycle bin): the row stays, visible to queryAll with IsDeleted = true."""
        with self.transaction() as c:
            if self.sf_get(obj, record_id) is None:
                return False
            stamp = sf_datetime(self.clock.now())
            c.execute(
                f"UPDATE {_q('sf_' + obj)} SET IsDeleted = 1, SystemModstamp = ?, LastModifiedDate = ?, "
                "LastModifiedById = ? WHERE Id = ?",
                (stamp, stamp, user_id or integration_user_id(), record_id),
            )
            return True

    def sf_get(self, obj: str, record_id: str, *, include_deleted: bool = False) -> dict[str, SfValue] | None:
        """One record's stored values (booleans as 0/1), or None."""
        with self.lock:
            row = self.conn.execute(
                f"SELECT * FROM {_q('sf_' + obj)} WHERE Id = ?"
                + ("" if include_deleted else " AND IsDeleted = 0"),
                (record_id,),
            ).fetchone()
        return dict(row) if row is not None else None

    def sf_find(self, obj: str, field: str, value: SfValue) -> list[str]:
        """Ids of live records whose `field` equals `value` (for upsert by external id)."""
        rows = self.sql(f"SELECT Id FROM {_q('sf_' + obj)} WHERE {_q(field)} = ? AND IsDeleted = 0", (value,))
        return [r[0] for r in rows]

    def sf_count(self, obj: str, *, include_deleted: bool = False) -> int:
        where = "" if include_deleted else " WHERE IsDeleted = 0"
        return int(self.sql(f"SELECT COUNT(*) FROM {_q('sf_' + obj)}{where}")[0][0])

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

    # ------------------------------------------------------------------ misc
    def meta_get(self, key: str) -> str | None:
        rows = self.sql("SELECT value FROM meta WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    def meta_set(self, key: str, value: str) -> None:
        with self.transaction() as c:
            c.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def close(self) -> None:
        with self.lock:
            self.conn.close()


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


def _sql_literal(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + value.replace("'", "''") + "'"


def _sf_number(record_id: str) -> int:
    body = record_id[5:15]
    n = 0
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    for ch in body:
        n = n * 62 + alphabet.index(ch)
    return n


def _derive_sf(obj: str, rec: dict[str, SfValue]) -> None:
    """Formula-like fields the platform maintains: Name from first and last name, IsClosed and IsWon."""
    if obj in ("Lead", "Contact", "User") and ("FirstName" in rec or "LastName" in rec):
        rec["Name"] = " ".join(str(p) for p in (rec.get("FirstName"), rec.get("LastName")) if p)
    if obj == "Opportunity" and "StageName" in rec:
        stage = str(rec.get("StageName") or "")
        rec["IsClosed"] = stage.startswith("Closed")
        rec["IsWon"] = stage == "Closed Won"
    if obj == "Task" and "Status" in rec:
        rec["IsClosed"] = rec.get("Status") == "Completed"
    if obj == "CampaignMember" and "Status" in rec:
        rec["HasResponded"] = rec.get("Status") == "Responded"
