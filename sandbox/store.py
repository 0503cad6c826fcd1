"""SQLite storage for both CRMs, with the system fields the real CRMs maintain on every write.

Salesforce objects live in one table each (`sf_Lead`, ...) with one column per field, so SOQL compiles to
SQL; their records and metadata are handled here. HubSpot objects are `sandbox.store_hubspot`'s, and the
connection, lock and transactions `sandbox.store_base`'s; `Store` is all three.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime

import orjson

from sandbox.clock import Clock, sf_datetime
from sandbox.ids import Sequence as IdSequence
from sandbox.ids import sf_id
from sandbox.sf_schema import SfField, SfObject
from sandbox.sf_standard import standard_objects
from sandbox.store_hubspot import HubSpotTables

INTEGRATION_USER_NUMBER = 1


def live(alias: str | None = None) -> str:
    """The live-rows filter for SQL on a Salesforce table (`alias."IsDeleted"` when the table has one).

    `likely` tells SQLite that it keeps nearly every row: the recycle-bin index (IsDeleted, SystemModstamp,
    Id) must not win over a selective index (the primary key under `Id IN (...)`, an External ID), which
    made every batch update scan all live rows.
    """
    column = f'{alias}."IsDeleted"' if alias else '"IsDeleted"'
    return f"likely({column} = 0)"


LIVE = live()
SfValue = str | int | float | bool | None


def integration_user_id() -> str:
    """The id of the user every API write is attributed to (`LastModifiedById`)."""
    return sf_id("005", INTEGRATION_USER_NUMBER)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class Store(HubSpotTables):
    """Both CRMs' data in one SQLite database (a file, or memory when `path` is None)."""

    def __init__(self, path: str | None = None, clock: Clock | None = None) -> None:
        super().__init__(path, clock)
        self._sf_objects: dict[str, SfObject] = {}
        self._sf_lower: dict[str, str] = {}
        self._sf_seq = IdSequence()
        self._init_schema()

    def _init_schema(self) -> None:
        with self.transaction() as c:
            c.execute(
                "CREATE TABLE IF NOT EXISTS sf_custom_field (object TEXT, name TEXT, spec TEXT, "
                "PRIMARY KEY (object, name))"
            )
            self._init_hubspot(c)
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
                # The recycle bin read (`queryAll ... WHERE IsDeleted = true` over a modstamp window) goes
                # straight to the deleted rows, as on Salesforce. Through the modstamp index alone it looked
                # up every live row of the window: on a first pull of a 1M-lead org, minutes per object.
                c.execute(
                    f"CREATE INDEX IF NOT EXISTS {_q('sf_' + obj.name + '_deleted')} "
                    f"ON {_q('sf_' + obj.name)} (IsDeleted, SystemModstamp, Id)"
                )
                self._register(obj)
            top = 0
            for obj in objects.values():
                for row in c.execute(f"SELECT Id FROM {_q('sf_' + obj.name)}"):
                    top = max(top, _sf_number(row[0]))
            self._sf_seq.reset(max(top + 1, INTEGRATION_USER_NUMBER + 1))
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
                    r[0] for r in c.execute(f"SELECT Id FROM {table} WHERE {LIVE} AND Id IN ({marks})", chunk)
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
                f"SELECT * FROM {_q('sf_' + obj)} WHERE Id = ?" + ("" if include_deleted else f" AND {LIVE}"),
                (record_id,),
            ).fetchone()
        return dict(row) if row is not None else None

    def sf_find(self, obj: str, field: str, value: SfValue) -> list[str]:
        """Ids of live records whose `field` equals `value` (for upsert by external id)."""
        rows = self.sql(f"SELECT Id FROM {_q('sf_' + obj)} WHERE {_q(field)} = ? AND {LIVE}", (value,))
        return [r[0] for r in rows]

    def sf_count(self, obj: str, *, include_deleted: bool = False) -> int:
        where = "" if include_deleted else " WHERE IsDeleted = 0"
        return int(self.sql(f"SELECT COUNT(*) FROM {_q('sf_' + obj)}{where}")[0][0])

    # ------------------------------------------------------------------ misc
    def meta_get(self, key: str) -> str | None:
        rows = self.sql("SELECT value FROM meta WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    def meta_set(self, key: str, value: str) -> None:
        with self.transaction() as c:
            c.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))


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
