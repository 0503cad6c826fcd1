"""Field paths (`Name`, `Account.Name`, `Owner.Email`) resolved against the store's metadata into SQL.

Each relationship traversed becomes a LEFT JOIN, shared by every path through it. A polymorphic
relationship (a reference to several objects, or an owner that may be a queue in a real org) joins each
possible target and reads through the `Name` entity, as the real API does: only the fields `Name` has may
be selected, and the nested record's `attributes.type` is `"Name"`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sandbox.sf_schema import SfField, SfObject
from sandbox.soql.errors import bad_relationship, no_such_column
from sandbox.soql.nodes import Path
from sandbox.store import Store, live

# Owners that may be a queue in a real org, so the API answers them through the Name entity.
QUEUE_OWNED = frozenset({("Lead", "OwnerId"), ("Task", "OwnerId"), ("Event", "OwnerId"), ("Case", "OwnerId")})
# What the Name entity offers (those of its fields the sandbox's objects can have).
NAME_ENTITY_FIELDS = (
    "Id",
    "Name",
    "FirstName",
    "LastName",
    "Email",
    "Phone",
    "Title",
    "Username",
    "IsActive",
)
NAME_TYPE_FIELD = SfField("Type", "picklist", "Type", length=40, filterable=True)

STRING_TYPES = frozenset(
    {"string", "textarea", "email", "phone", "url", "picklist", "multipicklist", "combobox"}
)


def quote(name: str) -> str:
    """An SQL identifier (a table or column named by the metadata)."""
    return '"' + name.replace('"', '""') + '"'


def sql_text(text: str) -> str:
    """An SQL string literal for a name from the metadata (never for a value from the query)."""
    return "'" + text.replace("'", "''") + "'"


@dataclass
class Join:
    """One traversed relationship: the path of relationship names to it, and its SQL alias per target."""

    path: tuple[str, ...]
    targets: tuple[SfObject, ...]
    aliases: tuple[str, ...]
    polymorphic: bool
    id_sql: str

    @property
    def entity(self) -> str:
        return "Name" if self.polymorphic else self.targets[0].name


@dataclass(frozen=True)
class Resolved:
    """A field path made concrete: its SQL expression, its metadata, and the relationships it goes through."""

    sql: str
    field: SfField
    rel_path: tuple[str, ...]
    header: str

    @property
    def category(self) -> str:
        t = self.field.type
        if t in STRING_TYPES:
            return "string"
        if t in ("id", "reference"):
            return "id"
        if t in ("int", "double", "currency", "percent"):
            return "number"
        return t  # boolean, date, datetime


@dataclass
class Resolver:
    """Resolves paths from one root object, accumulating the joins they need."""

    store: Store
    soql: str
    root: SfObject
    root_alias: str | None
    joins: dict[tuple[str, ...], Join] = field(default_factory=dict)
    _join_sql: dict[tuple[str, ...], list[str]] = field(default_factory=dict)

    def resolve(self, path: Path) -> Resolved:
        """A path's SQL and metadata; INVALID_FIELD (as the real API words it) if it names nothing."""
        parts = list(path.parts)
        if self.root_alias and len(parts) > 1 and parts[0].lower() == self.root_alias.lower():
            parts = parts[1:]
        objects: tuple[SfObject, ...] = (self.root,)
        aliases: tuple[str, ...] = ("t",)
        join: Join | None = None
        rel_path: tuple[str, ...] = ()
        for part in parts[:-1]:
            if join is not None and join.polymorphic:
                raise bad_relationship(self.soql, path.pos, part)
            ref = _reference(objects[0], part)
            if ref is None or not any(self.store.sf_object(name) for name in ref.reference_to):
                raise bad_relationship(self.soql, path.pos, part)
            assert ref.relationship_name is not None
            rel_path = (*rel_path, ref.relationship_name)
            join = self._join(rel_path, objects[0], aliases[0], ref)
            objects, aliases = join.targets, join.aliases
        name = parts[-1]
        header = ".".join((*rel_path, ""))
        if join is None:
            f = self.store.sf_field(self.root.name, name)
            if f is None:
                raise no_such_column(self.soql, path.pos, name, self.root.name)
            return Resolved(f"t.{quote(f.name)}", f, rel_path, header + f.name)
        if not join.polymorphic:
            f = self.store.sf_field(join.targets[0].name, name)
            if f is None:
                raise no_such_column(self.soql, path.pos, name, join.entity)
            return Resolved(f"{join.aliases[0]}.{quote(f.name)}", f, rel_path, header + f.name)
        return self._name_entity_field(join, name, path, rel_path, header)

    def _name_entity_field(
        self, join: Join, name: str, path: Path, rel_path: tuple[str, ...], header: str
    ) -> Resolved:
        if name.lower() == "type":
            cases = " ".join(
                f'WHEN {a}."Id" IS NOT NULL THEN {sql_text(o.name)}'
                for o, a in zip(join.targets, join.aliases, strict=True)
            )
            return Resolved(f"(CASE {cases} END)", NAME_TYPE_FIELD, rel_path, header + "Type")
        allowed = {n.lower(): n for n in NAME_ENTITY_FIELDS}
        found: list[tuple[str, SfField]] = []
        if name.lower() in allowed:
            for obj, alias in zip(join.targets, join.aliases, strict=True):
                f = self.store.sf_field(obj.name, name)
                if f is not None:
                    found.append((alias, f))
        if not found:
            raise no_such_column(self.soql, path.pos, name, "Name")
        exprs = [f"{alias}.{quote(f.name)}" for alias, f in found]
        sql = exprs[0] if len(exprs) == 1 else f"COALESCE({', '.join(exprs)})"
        f = found[0][1]
        return Resolved(sql, f, rel_path, header + f.name)

    def _join(self, rel_path: tuple[str, ...], parent: SfObject, parent_alias: str, ref: SfField) -> Join:
        key = tuple(p.lower() for p in rel_path)
        existing = self.joins.get(key)
        if existing is not None:
            return existing
        targets = tuple(o for o in (self.store.sf_object(name) for name in ref.reference_to) if o is not None)
        polymorphic = len(ref.reference_to) > 1 or (parent.name, ref.name) in QUEUE_OWNED
        base = len(self.joins) * 4 + 1
        aliases = tuple(f"j{base + i}" for i in range(len(targets)))
        ids = [f'{a}."Id"' for a in aliases]
        id_sql = ids[0] if len(ids) == 1 else f"COALESCE({', '.join(ids)})"
        join = Join(rel_path, targets, aliases, polymorphic, id_sql)
        join_sql = [
            f'LEFT JOIN {quote("sf_" + obj.name)} AS {alias} ON {alias}."Id" = {parent_alias}.{quote(ref.name)} '
            f"AND {live(alias)}"
            for obj, alias in zip(targets, aliases, strict=True)
        ]
        self._join_sql[key] = join_sql
        self.joins[key] = join
        return join

    def from_sql(self, needed: set[tuple[str, ...]] | None = None) -> str:
        """`FROM sf_X AS t LEFT JOIN ...` with every join so far (or those `needed` and their parents)."""
        parts = [f"FROM {quote('sf_' + self.root.name)} AS t"]
        for key, sqls in self._join_sql.items():
            if needed is None or any(n[: len(key)] == key for n in needed):
                parts.extend(sqls)
        return " ".join(parts)

    def joins_sql(self) -> str:
        """Every join so far (`LEFT JOIN ...`), without the root table."""
        return " ".join(sql for sqls in self._join_sql.values() for sql in sqls)


def _reference(obj: SfObject, relationship: str) -> SfField | None:
    low = relationship.lower()
    for f in obj.fields:
        if f.type == "reference" and f.relationship_name and f.relationship_name.lower() == low:
            return f
    return None
