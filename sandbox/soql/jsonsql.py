"""The SELECT expression that has SQLite render each matched row as the REST API's JSON record.

SQLite's `json_object` builds the record in C while the rows are read, so a page is a join of ready
strings: no Python object per field, no Python-level serialisation. Key order follows the SELECT list;
a parent's fields are nested under its relationship name where it is first mentioned, with its own
`attributes`, or null when the reference is empty. Booleans (stored 0/1) become JSON true/false.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sandbox.soql.resolve import Join, Resolved, sql_text


@dataclass
class _Node:
    key: str
    join: Join | None
    items: list[Resolved | _Node] = field(default_factory=list)


def _tree(root_key: str, selected: list[Resolved], joins: dict[tuple[str, ...], Join]) -> _Node:
    root = _Node(root_key, None)
    for col in selected:
        node = root
        for depth in range(1, len(col.rel_path) + 1):
            join = joins[tuple(p.lower() for p in col.rel_path[:depth])]
            child = next((n for n in node.items if isinstance(n, _Node) and n.join is join), None)
            if child is None:
                child = _Node(col.rel_path[depth - 1], join)
                node.items.append(child)
            node = child
        node.items.append(col)
    return root


def _value(col: Resolved) -> str:
    if col.field.type == "boolean":
        return f"json(CASE {col.sql} WHEN 1 THEN 'true' WHEN 0 THEN 'false' END)"
    return col.sql


def _object(node: _Node, root_type: str, base_url: str, params: list[str]) -> str:
    join = node.join
    if join is None:
        type_sql = sql_text(root_type)
        url_sql = f'? || {sql_text(root_type + "/")} || t."Id"'
    else:
        type_sql = sql_text(join.entity)
        if join.polymorphic:
            # the url names the record's real object, found by which target the join matched
            cases = " ".join(
                f'WHEN {alias}."Id" IS NOT NULL THEN {sql_text(obj.name + "/")}'
                for obj, alias in zip(join.targets, join.aliases, strict=True)
            )
            url_sql = f"? || (CASE {cases} END) || {join.id_sql}"
        else:
            url_sql = f"? || {sql_text(join.targets[0].name + '/')} || {join.id_sql}"
    params.append(base_url)
    parts = [f"'attributes', json_object('type', {type_sql}, 'url', {url_sql})"]
    for item in node.items:
        if isinstance(item, _Node):
            parts.append(f"{sql_text(item.key)}, {_object(item, root_type, base_url, params)}")
        else:
            parts.append(f"{sql_text(item.field.name)}, {_value(item)}")
    body = f"json_object({', '.join(parts)})"
    if join is None:
        return body
    return f"(CASE WHEN {join.id_sql} IS NULL THEN NULL ELSE {body} END)"


def record_json(
    root_type: str, selected: list[Resolved], joins: dict[tuple[str, ...], Join], version: str
) -> tuple[str, list[str]]:
    """The SQL expression rendering one record, and its parameters (the sobjects base URL, per use)."""
    params: list[str] = []
    base_url = f"/services/data/v{version}/sobjects/"
    return _object(_tree(root_type, selected, joins), root_type, base_url, params), params


def aggregate_json(names: list[str], exprs: list[str]) -> str:
    """The SQL expression rendering one AggregateResult record."""
    parts = ["'attributes', json_object('type', 'AggregateResult')"]
    parts += [f"{sql_text(n)}, {e}" for n, e in zip(names, exprs, strict=True)]
    return f"json_object({', '.join(parts)})"
