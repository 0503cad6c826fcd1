"""The SOQL engine's errors: Salesforce's documented messages and codes exactly, the offending token's
position, and the size and complexity limits, against a small org."""

from __future__ import annotations

import pytest

from sandbox.store import Store
from tests.sandbox.soql_support import error, last_names, soql_org


@pytest.fixture()
def org() -> Store:
    """A fresh small org per test (`soql_support.soql_org`)."""
    return soql_org()


# --------------------------------------------------------------------------------------------- errors
FIELD_HINT = (
    "If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. "
    "Please reference your WSDL or the describe call for the appropriate names."
)


def test_the_documented_error_messages_exactly(org: Store) -> None:
    e = error(org, "SELECT Id FRM Lead")
    assert e.code == "MALFORMED_QUERY"
    assert e.message == "\nSELECT Id FRM Lead\n          ^\nERROR at Row:1:Column:11\nunexpected token: Lead"
    e = error(org, "SELECT Foo FROM Lead")
    assert e.code == "INVALID_FIELD"
    assert e.message == (
        "\nSELECT Foo FROM Lead\n       ^\nERROR at Row:1:Column:8\nNo such column 'Foo' on entity 'Lead'. "
        + FIELD_HINT
    )
    e = error(org, "SELECT Id FROM Foo")
    assert e.code == "INVALID_TYPE"
    assert e.message == (
        "\nSELECT Id FROM Foo\n               ^\nERROR at Row:1:Column:16\nsObject type 'Foo' is not supported. "
        "If you are attempting to use a custom object, be sure to append the '__c' after the entity name. "
        "Please reference your WSDL or the describe call for the appropriate names."
    )


@pytest.mark.parametrize(
    ("soql", "code", "column", "text"),
    [
        ("SELECT Id FROM", "MALFORMED_QUERY", 15, "unexpected token: <EOF>"),
        ("SELECT FROM Lead", "MALFORMED_QUERY", 8, "unexpected token: FROM"),
        ("SELECT Id, FROM Lead", "MALFORMED_QUERY", 12, "unexpected token: FROM"),
        ("SELECT Id FROM Lead WHER LastName = 'x'", "MALFORMED_QUERY", 21, "unexpected token: LastName"),
        ("SELECT Id FROM Lead WHERE Company = 'a' AND Company = 'b' OR Company = 'c'", "MALFORMED_QUERY", 59,
         "unexpected token: OR"),
        ("SELECT Id FROM Lead WHERE Company = 'abc", "MALFORMED_QUERY", 40,
         "line 1:40 mismatched character '<EOF>' expecting '''"),
        ("SELECT # FROM Lead", "MALFORMED_QUERY", 7, "line 1:7 no viable alternative at character '#'"),
        ("SELECT Id FROM Lead WHERE Company = \"x\"", "MALFORMED_QUERY", 36,
         "line 1:36 no viable alternative at character '\"'"),
        ("SELECT Id FROM Lead WHERE Company = 'a\\zb'", "MALFORMED_QUERY", 37,
         "Invalid string literal 'a\\zb'. Illegal character sequence '\\z' in string literal."),
        ("SELECT Id FROM Lead WHERE CreatedDate > 2024-02-30T00:00:00Z", "MALFORMED_QUERY", 41,
         "unexpected token: 2024-02-30T00:00:00Z"),
        ("SELECT Id FROM Lead LIMIT -1", "MALFORMED_QUERY", 27, "unexpected token: -1"),
        ("SELECT Id x FROM Lead", "MALFORMED_QUERY", 8, "Only aggregate expressions use field aliasing"),
        ("SELECT Id, id FROM Lead", "MALFORMED_QUERY", 12, "duplicate field selected: id"),
        ("SELECT Id, COUNT() FROM Lead", "MALFORMED_QUERY", 12, "COUNT() must be the only element in the SELECT list"),
        ("SELECT Id, COUNT(Id) FROM Lead", "MALFORMED_QUERY", 8, "Field must be grouped or aggregated: Id"),
        ("SELECT FIELDS(ALL) FROM Lead", "MALFORMED_QUERY", 8,
         "The SOQL FIELDS function must have a LIMIT of at most 200"),
        ("SELECT Industry FROM Lead GROUP BY Industry", "MALFORMED_QUERY", 27,
         "unexpected token: GROUP (GROUP BY is not supported by the leadq sandbox)"),
        ("SELECT Id FROM Lead WHERE Foo__c = 1", "INVALID_FIELD", 27,
         "No such column 'Foo__c' on entity 'Lead'. " + FIELD_HINT),
        ("SELECT Id FROM Lead ORDER BY Nope", "INVALID_FIELD", 30, "No such column 'Nope' on entity 'Lead'. " + FIELD_HINT),
        ("SELECT Owner.Department FROM Lead", "INVALID_FIELD", 8,
         "No such column 'Department' on entity 'Name'. " + FIELD_HINT),
        ("SELECT Account.Nme FROM Contact", "INVALID_FIELD", 8,
         "No such column 'Nme' on entity 'Account'. " + FIELD_HINT),
        ("SELECT Acount.Name FROM Contact", "INVALID_FIELD", 8,
         "Didn't understand relationship 'Acount' in field path. If you are attempting to use a custom "
         "relationship, be sure to append the '__r' after the custom relationship name. Please reference your "
         "WSDL or the describe call for the appropriate names."),
        ("SELECT Id FROM Lead WHERE NumberOfEmployees = '5'", "INVALID_FIELD", 47,
         "value of filter criterion for field 'NumberOfEmployees' must be of type integer and should not be "
         "enclosed in quotes"),
        ("SELECT Id FROM Lead WHERE AnnualRevenue > true", "INVALID_FIELD", 43,
         "value of filter criterion for field 'AnnualRevenue' must be of type double and should not be enclosed "
         "in quotes"),
        ("SELECT Id FROM Lead WHERE Company = 5", "INVALID_FIELD", 37,
         "value of filter criterion for field 'Company' must be of type string and should be enclosed in quotes"),
        ("SELECT Id FROM Lead WHERE IsConverted = 'true'", "INVALID_FIELD", 41,
         "value of filter criterion for field 'IsConverted' must be of type boolean and should not be enclosed "
         "in quotes"),
        ("SELECT Id FROM Lead WHERE CreatedDate > 2024-01-01", "INVALID_FIELD", 41,
         "value of filter criterion for field 'CreatedDate' must be of type dateTime and should not be enclosed "
         "in quotes"),
        ("SELECT Id FROM Lead WHERE ConvertedDate > 2024-01-01T00:00:00Z", "INVALID_FIELD", 43,
         "value of filter criterion for field 'ConvertedDate' must be of type date and should not be enclosed "
         "in quotes"),
        ("SELECT Id FROM Lead WHERE Id = 'abc'", "INVALID_QUERY_FILTER_OPERATOR", 32, "invalid ID field: abc"),
        ("SELECT Id FROM Lead WHERE NumberOfEmployees LIKE '5%'", "INVALID_QUERY_FILTER_OPERATOR", 45,
         "invalid operator on number field: NumberOfEmployees"),
        ("SELECT Id FROM Lead WHERE IsConverted > false", "INVALID_QUERY_FILTER_OPERATOR", 41,
         "invalid operator on boolean field: IsConverted"),
    ],
)  # fmt: skip
def test_errors_point_at_the_offending_token(
    org: Store, soql: str, code: str, column: int, text: str
) -> None:
    e = error(org, soql)
    assert e.code == code
    head, caret, where, message = e.message.split("\n", 4)[1:]
    assert head == soql
    assert where == f"ERROR at Row:1:Column:{column}"
    assert message == text
    assert len(caret) == column and caret.strip() == "^", "the caret sits under the column"


def test_offset_beyond_2000(org: Store) -> None:
    e = error(org, "SELECT Id FROM Lead LIMIT 10 OFFSET 2001")
    assert (e.code, e.message) == ("NUMBER_OUTSIDE_VALID_RANGE", "Maximum SOQL offset allowed is 2000")


def test_positions_in_multi_line_and_long_queries(org: Store) -> None:
    e = error(org, "SELECT Id,\n  Bogus\nFROM Lead")
    assert e.message.startswith("\n  Bogus\n  ^\nERROR at Row:2:Column:3\nNo such column 'Bogus'")
    fields = ", ".join(["Id", "FirstName", "LastName", "Company", "Title", "Email", "Phone", "Website"])
    long = f"SELECT {fields}, Nope, Industry, Rating, City, State, Country, PostalCode FROM Lead"
    e = error(org, long)
    snippet, caret = e.message.split("\n")[1:3]
    assert len(snippet) < len(long) and snippet[len(caret) - 1 :].startswith("Nope")
    assert f"Column:{long.index('Nope') + 1}" in e.message


def test_size_and_complexity_limits(org: Store) -> None:
    many = " OR ".join(f"NumberOfEmployees = {i}" for i in range(3000))
    assert last_names(org, many) == ["100%", "O'Brien", "Zed"]
    assert last_names(org, "NOT NOT NOT Company = 'acme'") == ["100%", "Zed"]
    deep = (
        "".join(f"(Company = 'x' {'AND' if i % 2 else 'OR'} " for i in range(300))
        + "Company = 'y'"
        + ")" * 300
    )
    assert error(org, f"SELECT Id FROM Lead WHERE {deep}").code == "QUERY_TOO_COMPLICATED"
    e = error(org, "SELECT Id FROM Lead WHERE Company IN (" + ", ".join(["'x'"] * 20000) + ")")
    assert (e.code, e.message) == (
        "MALFORMED_QUERY",
        "SOQL statements cannot be longer than 100,000 characters.",
    )
    assert error(org, "SELECT COUNT() FROM Lead ORDER BY Nope").code == "INVALID_FIELD"
