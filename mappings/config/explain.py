"""Turn pydantic's validation errors into `ConfigIssue`s: file position, key path, message and fix."""

from __future__ import annotations

import difflib
import re
import types
from collections.abc import Iterator
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from mappings.config.base import INVALID, UNKNOWN_VARIANT
from mappings.config.errors import ConfigIssue
from mappings.config.secrets import SECRET_IN_CLEAR
from mappings.config.yamlsrc import DataPath, YamlDocument

GENERIC_FIX = "compare with the comments in a config written by `leadq init`"


def issues_from(exc: ValidationError, doc: YamlDocument, model: type[BaseModel]) -> list[ConfigIssue]:
    """One issue per pydantic error, placed at the YAML node it is about."""
    return [_issue(error, doc, model) for error in exc.errors(include_url=False)]


def _issue(error: ErrorDetails, doc: YamlDocument, model: type[BaseModel]) -> ConfigIssue:
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    loc = (*error["loc"], *ctx.get("at", ()))
    if error["type"] == UNKNOWN_VARIANT and isinstance(error["input"], dict) and ctx["key"] in error["input"]:
        loc = (*loc, ctx["key"])
    found, missing_key = _walk(doc.data, loc, error["type"] == "missing")
    shown = (*found, missing_key) if missing_key is not None else found
    line, column = _position(doc, found)
    message, fix = _describe(error, ctx, shown, loc, model)
    return ConfigIssue(doc.source, display_path(shown), message, fix, line, column)


def _walk(data: Any, loc: tuple[Any, ...], missing: bool) -> tuple[DataPath, Any]:
    """The part of `loc` that exists in the file, and the key that is absent for a `missing` error.

    Locations also hold union tags and normalised shapes that are not in the file; those are skipped.
    """
    node, found = data, []
    for index, element in enumerate(loc):
        in_dict = isinstance(node, dict) and element in node
        in_list = isinstance(node, list) and isinstance(element, int) and 0 <= element < len(node)
        if in_dict or in_list:
            node = node[element]
            found.append(element)
        elif missing and index == len(loc) - 1 and isinstance(node, dict):
            return tuple(found), element
    return tuple(found), None


def _position(doc: YamlDocument, path: DataPath) -> tuple[int | None, int | None]:
    if not path or path not in doc.key_positions:
        return None, None
    line, column = doc.key_positions[path]
    return line + 1, column + 1


def display_path(path: DataPath) -> str:
    """`("salesforce", "features", 3, "type")` -> `salesforce.features[3].type`."""
    out = ""
    for element in path:
        if isinstance(element, int) and not isinstance(element, bool):
            out += f"[{element}]"
        elif isinstance(element, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", element):
            out += f".{element}" if out else element
        else:
            out += f"[{str(element)!r}]"
    return out


def _show(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return f"the boolean {value}"
    if isinstance(value, int | float):
        return f"the number {value}"
    return f"{_show(value)}"


def _close(word: Any, options: list[str]) -> str | None:
    found = difflib.get_close_matches(str(word), options, n=1, cutoff=0.6)
    return found[0] if found else None


def _one_of(value: Any, options: list[str]) -> tuple[str, str]:
    message = f"{_show(value)} is not one of {', '.join(options)}"
    guess = _close(value, options)
    return message, f"fix the spelling: did you mean '{guess}'?" if guess else "use one of the values listed"


_BOUNDS = {
    "greater_than": (">", "gt"),
    "greater_than_equal": (">=", "ge"),
    "less_than": ("<", "lt"),
    "less_than_equal": ("<=", "le"),
}


def _describe(
    error: ErrorDetails, ctx: dict[str, Any], shown: DataPath, loc: tuple[Any, ...], model: type[BaseModel]
) -> tuple[str, str]:
    kind, value = error["type"], error["input"]
    if kind == INVALID:
        return str(ctx["message"]), str(ctx["fix"])
    if kind == SECRET_IN_CLEAR:
        return _secret_in_clear(shown)
    if kind == UNKNOWN_VARIANT:
        key, choices = ctx["key"], str(ctx["choices"]).split(", ")
        if not isinstance(value, dict):
            return (
                f"expected a mapping with `{key}:`, got {_kind(value)}",
                f"write {key}: one of {', '.join(choices)}",
            )
        if key not in value:
            return f"`{key}:` is missing", f"add {key}: with one of {', '.join(choices)}"
        return _one_of(value[key], choices)
    if kind == "missing":
        parent = display_path(shown[:-1]) or "the top level"
        return f"required key '{shown[-1]}' is missing", f"add {shown[-1]}: under {parent}"
    if kind == "extra_forbidden":
        allowed = allowed_keys(model, loc[:-1])
        guess = _close(loc[-1], allowed)
        if guess:
            return f"unknown key '{loc[-1]}'", f"did you mean '{guess}'?"
        listing = ", ".join(allowed) if allowed else "none"
        return f"unknown key '{loc[-1]}'", f"remove it (keys allowed here: {listing})"
    if kind in ("literal_error", "enum"):
        return _one_of(value, re.findall(r"'([^']*)'", str(ctx.get("expected", ""))))
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"{_kind(value)} is not a whole number", "write a whole number, e.g. 25"
    if kind in ("float_parsing", "float_type", "finite_number"):
        return f"{_kind(value)} is not a number", "write a number, e.g. 0.25"
    if kind in ("bool_parsing", "bool_type"):
        return f"{_kind(value)} is not true or false", "write true or false"
    if kind in ("string_type", "string_sub_type"):
        return (
            f"expected text, got {_kind(value)}",
            "write text (quote it if YAML reads it as something else)",
        )
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return (
            f"expected a mapping (key: value lines), got {_kind(value)}",
            "indent `key: value` lines under it",
        )
    if kind in ("list_type", "tuple_type", "set_type"):
        return f"expected a list, got {_kind(value)}", "write items on lines starting with '- ', or as [a, b]"
    if kind in _BOUNDS:
        op, name = _BOUNDS[kind]
        return (
            f"{_kind(value)} is out of range: it must be {op} {ctx.get(name)}",
            f"write a value {op} {ctx.get(name)}",
        )
    if kind in ("too_short", "too_long"):
        bound = ctx.get("min_length") if kind == "too_short" else ctx.get("max_length")
        word = "at least" if kind == "too_short" else "at most"
        items = "item" if bound == 1 else "items"
        return (
            f"has {ctx.get('actual_length')} items, {word} {bound} expected",
            f"write {word} {bound} {items}",
        )
    if kind.startswith(("date", "datetime")):
        return f"{_kind(value)} is not a date", "write a date like 2024-01-01"
    return str(error["msg"]), GENERIC_FIX


def _secret_in_clear(shown: DataPath) -> tuple[str, str]:
    words = [str(shown[0]), str(shown[-1])] if len(shown) > 1 else ["LEADQ", "SECRET"]
    env = re.sub(r"[^A-Z0-9_]", "_", "_".join(words).upper())
    return (
        "a secret is written in clear in the config",
        f"move it to an environment variable or a file and write {{env: {env}}} or {{file: /path/to/secret}}",
    )


def allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys the model accepts at `loc` (a pydantic error location, union tags included)."""
    current: list[Any] = [model]
    for element in loc:
        following = [nxt for tp in current for nxt in _step(tp, element)]
        current = following or current
    keys: list[str] = []
    for base, _tags in (pair for tp in current for pair in _flatten(tp)):
        if isinstance(base, type) and issubclass(base, BaseModel):
            keys += [_key(name, info) for name, info in base.model_fields.items() if not info.exclude]
    return list(dict.fromkeys(keys))


def _key(name: str, info: FieldInfo) -> str:
    return info.alias or name


def _flatten(tp: Any) -> Iterator[tuple[Any, frozenset[str]]]:
    """Union members and Annotated inner types, each with the union tags attached to it."""
    origin = get_origin(tp)
    if origin is Annotated:
        inner, *metadata = get_args(tp)
        tags = frozenset(str(getattr(m, "tag", "")) for m in metadata if hasattr(m, "tag"))
        for base, more in _flatten(inner):
            yield base, tags | more
    elif origin is Union or origin is types.UnionType:
        for member in get_args(tp):
            yield from _flatten(member)
    else:
        yield tp, frozenset()


def _step(tp: Any, element: Any) -> list[Any]:
    out: list[Any] = []
    for base, tags in _flatten(tp):
        origin, args = get_origin(base), get_args(base)
        if isinstance(element, str) and element in tags:
            out.append(base)
        elif isinstance(base, type) and issubclass(base, BaseModel) and isinstance(element, str):
            out += [
                info.annotation for name, info in base.model_fields.items() if element in (name, info.alias)
            ]
        elif origin in (list, tuple) and isinstance(element, int) and args:
            out.append(args[0])
        elif origin is dict and len(args) == 2:
            out.append(args[1])
    return out
