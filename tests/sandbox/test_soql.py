"""The SOQL engine on its own: parsing, compiling to SQLite and the answers' shapes (SELECT, WHERE, ORDER BY,
LIMIT), against a small org. Its error messages are tests/sandbox/test_soql_errors.py."""

from __future__ import annotations

import pytest

from sandbox.sf_schema import SfField
from sandbox.soql import execute
from sandbox.store import Store
from tests.sandbox.soql_support import error, last_names, records, run, soql_org


@pytest.fixture()
def org() -> Store:
    """A fresh small org per test (`soql_support.soql_org`)."""
    return soql_org()


# --------------------------------------------------------------------------------------------- SELECT
def test_fields_come_in_select_order_with_metadata_casing(org: Store) -> None:
    rec = records(org, "select company, ID, lastname from LEAD where lastname = 'zed'")[0]
    assert list(rec) == ["attributes", "Company", "Id", "LastName"]
    assert rec["attributes"] == {"type": "Lead", "url": f"/services/data/v59.0/sobjects/Lead/{rec['Id']}"}
    assert rec["Company"] == "Initech"


def test_values_are_typed_per_metadata(org: Store) -> None:
    rec = records(
        org,
        "SELECT IsConverted, HasOptedOutOfEmail, NumberOfEmployees, AnnualRevenue, ConvertedDate, CreatedDate, "
        "Email, Title FROM Lead WHERE LastName = 'O\\'Brien'",
    )[0]
    assert rec["IsConverted"] is True and rec["HasOptedOutOfEmail"] is False
    assert rec["NumberOfEmployees"] == 5 and isinstance(rec["NumberOfEmployees"], int)
    assert rec["AnnualRevenue"] == 1000.0 and isinstance(rec["AnnualRevenue"], float)
    assert rec["ConvertedDate"] == "2024-03-12"
    assert rec["CreatedDate"] == "2024-03-13T00:30:00.000+0000"
    assert rec["Title"] is None


def test_parent_fields_nest_under_the_relationship_where_first_named(org: Store) -> None:
    got = records(org, "SELECT Account.Name, LastName, Account.Industry FROM Contact ORDER BY LastName")
    loner, smith = got
    assert loner["Account"] is None
    assert list(smith) == ["attributes", "Account", "LastName"]
    account = smith["Account"]
    assert list(account) == ["attributes", "Name", "Industry"]
    assert account["attributes"]["type"] == "Account"
    assert account["attributes"]["url"].startswith("/services/data/v59.0/sobjects/Account/001")
    assert (account["Name"], account["Industry"]) == ("Acme", "Banking")


def test_self_and_converted_relationships(org: Store) -> None:
    child = records(org, "SELECT Name, Parent.Name FROM Account WHERE Parent.Name != null")
    assert [(r["Name"], r["Parent"]["Name"]) for r in child] == [("Acme Europe", "Acme")]
    converted = records(org, "SELECT ConvertedAccount.Name FROM Lead WHERE IsConverted = true")
    assert converted[0]["ConvertedAccount"]["Name"] == "Acme"


def test_lead_owner_reads_through_the_name_entity(org: Store) -> None:
    rec = records(org, "SELECT Owner.Name, Owner.Email, OwnerId FROM Lead LIMIT 1")[0]
    owner = rec["Owner"]
    assert owner["attributes"] == {
        "type": "Name",
        "url": f"/services/data/v59.0/sobjects/User/{rec['OwnerId']}",
    }
    assert (owner["Name"], owner["Email"]) == ("Integration User", "integration@leadq.sandbox")
    account_owner = records(org, "SELECT Owner.Name FROM Account LIMIT 1")[0]["Owner"]
    assert account_owner["attributes"]["type"] == "User"


def test_polymorphic_who_and_what(org: Store) -> None:
    call, email = records(org, "SELECT Subject, Who.Name, Who.Type, What.Name FROM Task ORDER BY Subject")
    assert call["Who"]["attributes"]["type"] == "Name"
    assert "/sobjects/Contact/" in call["Who"]["attributes"]["url"]
    assert (call["Who"]["Name"], call["Who"]["Type"], call["What"]["Name"]) == (
        "Ann Smith",
        "Contact",
        "Acme",
    )
    assert (email["Who"]["Type"], email["What"]) == ("Lead", None)
    assert "/sobjects/Lead/" in email["Who"]["attributes"]["url"]


def test_two_levels_up(org: Store) -> None:
    rec = records(org, "SELECT Account.Owner.Name FROM Contact WHERE Account.Name = 'acme'")[0]
    assert rec["Account"]["Owner"]["Name"] == "Integration User"


def test_columns_and_rows_for_bulk(org: Store) -> None:
    result = run(org, "SELECT Id, Account.Name, HasOptedOutOfEmail FROM Contact ORDER BY LastName")
    assert result.columns == ["Id", "Account.Name", "HasOptedOutOfEmail"]
    assert [r[1:] for r in result.rows] == [(None, False), ("Acme", False)]
    assert result.kind == "records" and result.total_size == 2
    assert result.records_json(0, 1).startswith('[{"attributes":{"type":"Contact"')


def test_count_and_count_field(org: Store) -> None:
    count = run(org, "SELECT COUNT() FROM Lead WHERE Company = 'acme'")
    assert (count.kind, count.total_size, count.records(), count.rows) == ("count", 2, [], [])
    assert run(org, "SELECT COUNT() FROM Lead LIMIT 3").total_size == 3
    agg = run(org, "SELECT COUNT(Id), COUNT(Industry) n FROM Lead")
    assert agg.records() == [{"attributes": {"type": "AggregateResult"}, "expr0": 4, "n": 3}]
    assert (agg.columns, agg.rows) == (["expr0", "n"], [(4, 3)])


def test_fields_function_object_alias_and_custom_fields(org: Store) -> None:
    standard = records(org, "SELECT FIELDS(STANDARD) FROM Account LIMIT 1")[0]
    assert {"Id", "Name", "BillingCity", "IsDeleted"} <= set(standard)
    org.sf_add_field("Lead", SfField("Score__c", "double", "Score", custom=True))
    org.sf_update(
        "Lead", str(run(org, "SELECT Id FROM Lead WHERE LastName = 'Zed'").rows[0][0]), {"Score__c": 81}
    )
    assert (
        records(org, "SELECT l.LastName, l.score__C FROM Lead l WHERE l.Score__c > 80")[0]["Score__c"] == 81.0
    )
    assert "Score__c" in records(org, "SELECT FIELDS(CUSTOM) FROM Lead LIMIT 200")[0]


# --------------------------------------------------------------------------------------------- WHERE
@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("Company = 'ACME'", ["O'Brien", "under_score"]),
        ("Company != 'acme'", ["100%", "Zed"]),
        ("Company <> 'acme'", ["100%", "Zed"]),
        ("Industry != 'Banking'", ["100%", "under_score", "Zed"]),  # null passes !=
        ("Industry IN ('RETAIL', 'banking')", ["100%", "O'Brien", "Zed"]),
        ("Industry NOT IN ('Retail')", ["O'Brien", "under_score"]),
        ("Industry IN (null, 'Banking')", ["O'Brien", "under_score"]),
        ("Industry = null", ["under_score"]),
        ("Industry != null", ["100%", "O'Brien", "Zed"]),
        ("NumberOfEmployees < 7", ["O'Brien"]),
        ("NumberOfEmployees <= 7", ["O'Brien", "Zed"]),
        ("NumberOfEmployees > 6.5", ["100%", "Zed"]),
        ("NumberOfEmployees >= 50", ["100%"]),
        ("NumberOfEmployees IN (5, 50)", ["100%", "O'Brien"]),
        ("AnnualRevenue = 1000", ["O'Brien"]),
        ("IsConverted = true", ["O'Brien"]),
        ("IsConverted != TRUE", ["100%", "under_score", "Zed"]),
        ("Company > 'b' AND Company < 'H'", ["100%"]),
        ("LastName LIKE 'o%'", ["O'Brien"]),
        ("LastName LIKE '_ed'", ["Zed"]),
        ("LastName LIKE '%\\_%'", ["under_score"]),
        ("LastName LIKE '%\\%'", ["100%"]),
        ("LastName = 'o\\'brien'", ["O'Brien"]),
        ("Email LIKE '%@ACME.example'", ["O'Brien"]),
        ("NOT Company = 'acme'", ["100%", "Zed"]),
        ("NOT (Industry = 'Retail' OR Industry = 'Banking')", ["under_score"]),
        ("(Company = 'acme' OR Company = 'Globex') AND NOT NumberOfEmployees > 10", ["O'Brien", "under_score"]),
        ("Company = 'acme' AND (Industry = null OR (NumberOfEmployees = 5 AND IsConverted = true))",
         ["O'Brien", "under_score"]),
        ("ConvertedAccount.Name = 'Acme'", ["O'Brien"]),
        ("Owner.Name LIKE 'integration%' AND Owner.IsActive = true", ["100%", "O'Brien", "under_score", "Zed"]),
    ],
)  # fmt: skip
def test_where_operators(org: Store, where: str, expected: list[str]) -> None:
    assert last_names(org, where) == sorted(expected, key=str.lower)


def test_string_escapes(org: Store) -> None:
    org.sf_insert("Lead", {"LastName": "a\\b\n\t\"c'", "Company": "Esc"})
    assert last_names(org, "LastName = 'a\\\\b\\n\\t\\\"c\\''") == ["a\\b\n\t\"c'"]
    assert last_names(org, "LastName LIKE 'a\\\\%'") == ["a\\b\n\t\"c'"]
    for escaped in ("\\r", "\\b", "\\f"):
        assert last_names(org, f"LastName = 'x{escaped}'") == []


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("CreatedDate = TODAY", ["O'Brien"]),
        ("CreatedDate = YESTERDAY", ["under_score"]),
        ("CreatedDate < TODAY", ["100%", "under_score", "Zed"]),
        ("CreatedDate <= TODAY", ["100%", "O'Brien", "under_score", "Zed"]),
        ("CreatedDate > YESTERDAY", ["O'Brien"]),
        ("CreatedDate >= YESTERDAY", ["O'Brien", "under_score"]),
        ("CreatedDate != TODAY", ["100%", "under_score", "Zed"]),
        ("CreatedDate = TOMORROW", []),
        ("CreatedDate = LAST_N_DAYS:1", ["O'Brien", "under_score"]),
        ("CreatedDate = LAST_N_DAYS:40", ["100%", "O'Brien", "under_score"]),
        ("CreatedDate = NEXT_N_DAYS:5", []),
        ("CreatedDate = THIS_MONTH", ["O'Brien", "under_score"]),
        ("CreatedDate = LAST_MONTH", ["100%"]),
        ("CreatedDate = THIS_YEAR", ["100%", "O'Brien", "under_score"]),
        ("CreatedDate = LAST_YEAR", ["Zed"]),
        ("CreatedDate = THIS_WEEK", ["O'Brien", "under_score"]),
        ("CreatedDate = THIS_QUARTER", ["100%", "O'Brien", "under_score"]),
        ("CreatedDate = LAST_N_MONTHS:3", ["100%", "Zed"]),
        ("CreatedDate = N_DAYS_AGO:1", ["under_score"]),
        ("CreatedDate IN (TODAY, LAST_YEAR)", ["O'Brien", "Zed"]),
        ("CreatedDate >= 2024-03-13T00:30:00Z", ["O'Brien"]),
        ("CreatedDate >= 2024-03-13T00:30:00.001Z", []),
        ("CreatedDate >= 2024-03-13T01:30:00+01:00", ["O'Brien"]),
        ("CreatedDate < 2024-03-12T18:00:00-05:00", ["100%", "Zed"]),
        ("CreatedDate = 2023-12-31T23:59:59.999+0000", ["Zed"]),
        ("ConvertedDate = YESTERDAY", ["O'Brien"]),
        ("ConvertedDate = 2024-02-29", ["100%"]),
        ("ConvertedDate < 2024-03-01", ["100%"]),
        ("ConvertedDate = LAST_MONTH", ["100%"]),
        ("ConvertedDate = null", ["under_score", "Zed"]),
    ],
)
def test_dates_relative_to_the_store_clock(org: Store, where: str, expected: list[str]) -> None:
    assert last_names(org, where) == sorted(expected, key=str.lower)


def test_ids_match_in_any_of_their_forms(org: Store) -> None:
    lead_id = str(run(org, "SELECT Id FROM Lead WHERE LastName = 'Zed'").rows[0][0])
    for form in (lead_id, lead_id[:15], lead_id.lower(), lead_id.upper()):
        assert last_names(org, f"Id = '{form}'") == ["Zed"], form
    assert last_names(org, f"Id IN ('{lead_id[:15]}') AND Id >= '{lead_id.lower()}'") == ["Zed"]
    assert error(org, "SELECT Id FROM Lead WHERE Id > '00Q'").code == "INVALID_QUERY_FILTER_OPERATOR"


# --------------------------------------------------------------------------------------------- ORDER, LIMIT
def test_order_by_several_fields_and_nulls(org: Store) -> None:
    def order(clause: str) -> list[str]:
        return [str(r[0]) for r in run(org, f"SELECT LastName FROM Lead ORDER BY {clause}").rows]

    assert order("Industry, LastName DESC") == ["under_score", "O'Brien", "Zed", "100%"]
    assert order("Industry NULLS LAST, LastName") == ["O'Brien", "100%", "Zed", "under_score"]
    assert order("Industry DESC NULLS FIRST, LastName ASC") == ["under_score", "100%", "Zed", "O'Brien"]
    assert order("NumberOfEmployees DESC") == ["100%", "Zed", "O'Brien", "under_score"]
    assert order("Company, CreatedDate DESC") == ["O'Brien", "under_score", "100%", "Zed"]
    contacts = run(org, "SELECT LastName FROM Contact ORDER BY Account.Name DESC NULLS LAST").rows
    assert [r[0] for r in contacts] == ["Smith", "Loner"]


def test_limit_and_offset(org: Store) -> None:
    rows = run(org, "SELECT LastName FROM Lead ORDER BY LastName LIMIT 2 OFFSET 1").rows
    assert [r[0] for r in rows] == ["O'Brien", "under_score"]
    assert len(run(org, "SELECT Id FROM Lead OFFSET 3").rows) == 1
    assert run(org, "SELECT Id FROM Lead LIMIT 0").total_size == 0
    assert run(org, "SELECT Id FROM Lead OFFSET 2000").total_size == 0


def test_deleted_rows_only_with_include_deleted(org: Store) -> None:
    zed = str(run(org, "SELECT Id FROM Lead WHERE LastName = 'Zed'").rows[0][0])
    org.sf_delete("Lead", zed)
    assert "Zed" not in last_names(org, "Id != null")
    assert last_names(org, "IsDeleted = true") == []
    assert last_names(org, "IsDeleted = true", deleted=True) == ["Zed"]
    assert (
        records(org, "SELECT IsDeleted FROM Lead WHERE LastName = 'Zed'", deleted=True)[0]["IsDeleted"]
        is True
    )


def test_a_result_is_a_snapshot(org: Store) -> None:
    result = run(org, "SELECT LastName FROM Lead ORDER BY LastName")
    org.sf_insert("Lead", {"LastName": "Late", "Company": "Later"})
    org.sf_update(
        "Lead", str(run(org, "SELECT Id FROM Lead WHERE LastName = 'Zed'").rows[0][0]), {"LastName": "Z2"}
    )
    assert [r[0] for r in result.rows] == ["100%", "O'Brien", "under_score", "Zed"]


def test_version_names_the_record_urls(org: Store) -> None:
    rec = execute(org, "SELECT Account.Name FROM Contact WHERE Account.Name != null", include_deleted=False,
                  version="62.0").records()[0]  # fmt: skip
    assert rec["attributes"]["url"].startswith("/services/data/v62.0/sobjects/Contact/")
    assert rec["Account"]["attributes"]["url"].startswith("/services/data/v62.0/sobjects/Account/")
