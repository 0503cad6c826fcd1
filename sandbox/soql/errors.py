"""SOQL errors in the real API's shape: HTTP 400 and a message that quotes the query with a caret.

The real message is `"\\n<query line>\\n<spaces>^\\nERROR at Row:r:Column:c\\n<text>"`, with the column
1-based and the caret under the offending token. Very long lines are cut to a window around the error, as
the real API does (its exact window is not documented; this one keeps whole tokens within ~50 characters
before the error and ~40 after).
"""

from __future__ import annotations

import re

from sandbox.errors import SfApiError

_WHOLE_LINE_LIMIT = 100
_BEFORE = 50
_AFTER = 40
_BOUNDARY = re.compile(r"[\s,()]")

CUSTOM_FIELD_HINT = (
    "If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. "
    "Please reference your WSDL or the describe call for the appropriate names."
)
CUSTOM_OBJECT_HINT = (
    "If you are attempting to use a custom object, be sure to append the '__c' after the entity name. "
    "Please reference your WSDL or the describe call for the appropriate names."
)
CUSTOM_RELATIONSHIP_HINT = (
    "If you are attempting to use a custom relationship, be sure to append the '__r' after the custom "
    "relationship name. Please reference your WSDL or the describe call for the appropriate names."
)


def row_and_column(query: str, pos: int) -> tuple[int, int, str]:
    """1-based row, 0-based offset within that row, and the row's text, for an offset into `query`."""
    pos = max(0, min(pos, len(query)))
    line_start = query.rfind("\n", 0, pos) + 1
    line_end = query.find("\n", pos)
    if line_end < 0:
        line_end = len(query)
    return query.count("\n", 0, pos) + 1, pos - line_start, query[line_start:line_end]


def _window(line: str, col: int) -> tuple[str, int]:
    """The part of `line` shown in the message, and the caret's offset within it."""
    if len(line) <= _WHOLE_LINE_LIMIT:
        return line, col
    start = max(0, col - _BEFORE)
    if start > 0:
        # start on a token boundary so the snippet never opens with half a name
        m = _BOUNDARY.search(line, start, col)
        start = m.end() if m else col
        while start < col and line[start].isspace():
            start += 1
    end = min(len(line), col + _AFTER)
    if end < len(line):
        cut = max((m.start() for m in _BOUNDARY.finditer(line, col, end)), default=-1)
        end = cut if cut > col else end
    return line[start:end].rstrip(), col - start


def positioned(query: str, pos: int, text: str, *, column: int | None = None) -> str:
    """The real message format: the query line, a caret under `pos`, the row and column, then `text`.

    `column` overrides the reported column (lexer errors print the lexer's own, see `parser`).
    """
    row, col, line = row_and_column(query, pos)
    snippet, caret = _window(line, col)
    shown = col + 1 if column is None else column
    return f"\n{snippet}\n{' ' * caret}^\nERROR at Row:{row}:Column:{shown}\n{text}"


def malformed(query: str, pos: int, text: str, *, column: int | None = None) -> SfApiError:
    return SfApiError(400, "MALFORMED_QUERY", positioned(query, pos, text, column=column))


def invalid_field(query: str, pos: int, text: str) -> SfApiError:
    return SfApiError(400, "INVALID_FIELD", positioned(query, pos, text))


def no_such_column(query: str, pos: int, field: str, entity: str) -> SfApiError:
    return invalid_field(query, pos, f"No such column '{field}' on entity '{entity}'. {CUSTOM_FIELD_HINT}")


def bad_relationship(query: str, pos: int, name: str) -> SfApiError:
    return invalid_field(
        query, pos, f"Didn't understand relationship '{name}' in field path. {CUSTOM_RELATIONSHIP_HINT}"
    )


def invalid_type(query: str, pos: int, name: str) -> SfApiError:
    return SfApiError(
        400,
        "INVALID_TYPE",
        positioned(query, pos, f"sObject type '{name}' is not supported. {CUSTOM_OBJECT_HINT}"),
    )


def invalid_operator(query: str, pos: int, text: str) -> SfApiError:
    return SfApiError(400, "INVALID_QUERY_FILTER_OPERATOR", positioned(query, pos, text))
