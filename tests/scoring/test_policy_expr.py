"""The expression language: what it reports at start-up, and what every operator and function computes."""

from __future__ import annotations

import re

import numpy as np
import pytest

from mappings.config.policy import ScoringConfig
from scoring.policy import Kind, PolicyError, PolicyIssue, PolicySet, check_condition, compile_condition
from tests.scoring.policy_fixtures import NOW, frame, schema


def problems(text: str, where: str = "policy p") -> list[PolicyIssue]:
    condition, issues = check_condition(where, text, schema())
    assert condition is None, f"{text!r} compiled"
    return issues


def only(text: str) -> PolicyIssue:
    issues = problems(text)
    assert len(issues) == 1, [str(i) for i in issues]
    return issues[0]


def holds(text: str, **overrides: object) -> list[bool]:
    result = compile_condition("policy p", text, schema()).evaluate(frame(**overrides), now=NOW)
    assert result.dtype == np.bool_
    return [bool(x) for x in result]


@pytest.mark.parametrize(
    ("text", "message", "column", "fix"),
    [
        ("score >= ", "invalid syntax", 9, "check the operators"),
        ("score >= 80 and (lead.employees > 3", "never closed", 17, "close the bracket"),
        ("lead.source == 'Web", "unterminated string", 16, "close the quote"),
        ("lead.title contains 'VP'", "invalid syntax", 12, "contains(lead.title, 'VP')"),
        ("score > 1 && probability > 0.5", "invalid syntax", 12, "and / or"),
        ("score = 80", "invalid syntax", 7, "=="),
        ("score > 80 AND tier == 'A'", "invalid syntax", 12, "lower case"),
        ("score > 80 # hot", "comments are not allowed", 12, "reason"),
        ("   ", "empty", 3, "score >= 80"),
    ],
)
def test_syntax_errors_name_the_rule_and_point_at_the_spot(
    text: str, message: str, column: int, fix: str
) -> None:
    issue = only(text)
    assert issue.where == "policy p"
    assert message in issue.message
    assert (issue.line, issue.column) == (1, column)
    assert fix in issue.fix


def test_the_rendered_issue_shows_the_line_and_a_caret_under_the_problem() -> None:
    issue = only("score >= 80 and lead.employes >= 1000")
    assert str(issue).splitlines() == [
        "policy p, line 1, column 17: unknown variable lead.employes",
        "    score >= 80 and lead.employes >= 1000",
        "                    ^^^^^^^^^^^^^",
        "  fix: did you mean lead.employees?",
    ]


def test_positions_in_multi_line_expressions_count_lines_and_characters() -> None:
    issue = only("score >= 80 and\n  lead.title == 'Zürich' and\n  lead.employes > 3")
    assert (issue.line, issue.column, issue.end_column) == (3, 3, 16)
    assert str(issue).splitlines()[1:3] == ["      lead.employes > 3", "      ^^^^^^^^^^^^^"]
    first = problems("lead.titel == 'Zürich' and\n  lead.emplyees > 3")
    assert [(i.line, i.column) for i in first] == [(1, 1), (2, 3)]


@pytest.mark.parametrize(
    ("text", "fix"),
    [
        ("lead.employes > 3", "did you mean lead.employees?"),
        ("employees > 3", "did you mean lead.employees?"),
        ("lead.score > 3", "did you mean score?"),
        ("graph.is_customer", "did you mean graph.account_is_customer?"),
        ("scor > 3", "did you mean score?"),
        ("lead.zzzzzz > 3", "use one of: lead.annual_revenue"),
    ],
)
def test_unknown_variables_suggest_the_closest_name(text: str, fix: str) -> None:
    issue = only(text)
    assert issue.message.startswith("unknown variable")
    assert fix in issue.fix


@pytest.mark.parametrize(
    ("text", "message", "fix"),
    [
        (
            "lead.employees > 'big'",
            "cannot compare lead.employees (a number) with 'big' (text)",
            "lead.employees >= 1000",
        ),
        ("lead.employees > '1000'", "cannot compare", "remove the quotes"),
        ("lead.source >= 5", "cannot compare lead.source (text) with 5 (a number)", "lead.source == 'Web'"),
        ("lead.source >= 'A'", "text can only be compared with ==, != and in", "tier in ['A', 'B']"),
        ("graph.matched < true", "true/false can only be compared with == and !=", "alone"),
        ("lead.created > '2024-01-01'", "cannot compare lead.created (a date)", "date('2024-01-31')"),
        ("score", "must be true or false, but it is a number", "score >= 10"),
        ("not lead.source", "not needs a true/false condition", "lead.source == 'Web'"),
        ("-lead.source == 'x'", "only numbers have a sign", "remove the sign"),
        ("lead.source + 1 > 2", "cannot add lead.source (text) and 1 (a number)", "numbers"),
        (
            "lead.source in [1, 2]",
            "1 (a number) cannot be in a list compared with lead.source (text)",
            "list text",
        ),
        ("lead.employees in [1, lead.employees]", "must be written out", "['Web', 'Partner']"),
        ("lead.employees in score", "in needs a list [...] or text on its right", "'VP' in lead.title"),
        ("lead.source in lead.title", "the text searched for must be quoted", "'VP' in lead.title"),
        (
            "contains(lead.employees, 'x')",
            "contains needs text as its first argument",
            "contains(lead.title, 'VP')",
        ),
        (
            "contains(lead.title, lead.source)",
            "needs quoted text as its second argument",
            "contains(lead.title",
        ),
        ("days_since(score) > 3", "days_since needs a date", "days_since(lead.created)"),
        ("date(lead.source) > lead.created", "date needs a quoted date", "date('2024-01-31')"),
        ("lead.created > date('yesterday')", "'yesterday' is not a date", "date('2024-01-31')"),
        ("matches(lead.title, '(')", "is not a valid pattern", "matches("),
        ("min(score, lead.source) > 3", "min needs arguments of one type", "min(lead.employees, 10)"),
        ("is_null(score, 3)", "is_null takes 1 argument, got 2", "is_null(lead.employees)"),
        ("max(score) > 3", "max takes at least 2 arguments, got 1", "max(lead.employees, 10)"),
        ("contains(lead.title, needle='x')", "arguments cannot be named", "contains(lead.title, 'VP')"),
        ("score / 0 > 1", "division by zero", "other than 0"),
        ("score is None", "is / is not cannot compare values", "is_null(score)"),
        ("score is not None", "is / is not cannot compare values", "not is_null(score)"),
        ("lead.employees == null", "null is not a value", "is_null(x)"),
        ("lead > 3", "lead is a namespace, not a value", "lead.annual_revenue"),
        ("contains > 3", "contains is a function", "contains(lead.title, 'VP')"),
    ],
)
def test_type_errors_say_what_is_wrong_and_how_to_fix_it(text: str, message: str, fix: str) -> None:
    issue = problems(text)[0]
    assert message in issue.message, str(issue)
    assert fix in issue.fix, str(issue)


def test_score_and_three_reports_both_operands() -> None:
    issues = problems("score and 3")
    assert [(i.column, i.end_column) for i in issues] == [(1, 6), (11, 12)]
    assert all("and combines true/false conditions" in i.message for i in issues)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("(lambda: True)()", "methods and computed calls are not allowed"),
        ("lambda: True", "lambda functions are not allowed"),
        ("[x for x in lead.title]", "comprehensions are not allowed"),
        ("any(x > 1 for x in [1])", "comprehensions are not allowed"),
        ("lead.title[0] == 'V'", "indexing with [...] is not allowed"),
        ("lead.title.upper() == 'V'", "methods and computed calls are not allowed"),
        ("lead.title.__class__ == 'x'", "only lead.<field> and graph.<fact> can be read with a dot"),
        ("score.real > 1", "only lead.<field> and graph.<fact> can be read with a dot"),
        ("__import__('os').system('true')", "methods and computed calls are not allowed"),
        ("open('/etc/passwd')", "unknown function open"),
        ("eval('1') == 1", "unknown function eval"),
        ("f'{score}' == '1'", "f-strings are not allowed"),
        ("(x := 3) > 1", "assignments (:=) are not allowed"),
        ("score if probability else 3", "conditional expressions"),
        ("{'a': 1} == 1", "dictionaries are not allowed"),
        ("score ** 2 > 3", "operator ** is not supported"),
        ("score % 2 == 0", "operator % is not supported"),
        ("(score > 1) & (score < 3)", "operator & is not supported"),
        ("~score > 1", "~ is not allowed"),
        ("[1, 2] == 3", "a list can only follow in or not in"),
        ("b'x' == 'x'", "is not a number, quoted text, true or false"),
        ("lead.employees > 1e999", "is not a number, quoted text, true or false"),
    ],
)
def test_disallowed_constructs_are_reported_and_never_run(text: str, message: str) -> None:
    issue = problems(text)[0]
    assert message in issue.message, str(issue)
    assert issue.fix


def test_unknown_functions_suggest_a_close_name() -> None:
    assert only("contain(lead.title, 'x')").fix == "did you mean contains?"


def test_overlong_and_deeply_nested_expressions_are_refused() -> None:
    assert "over the limit" in only("score > 1 and " * 200 + "score > 1").message
    assert "nests more than 64 levels" in only("not " * 100 + "graph.matched").message
    assert "too many nested parentheses" in only("(" * 300 + "score > 1" + ")" * 300).message


def test_all_problems_of_all_rules_come_in_one_error() -> None:
    config = ScoringConfig.model_validate(
        {
            "segments": [{"name": "big", "when": "score > 80"}],
            "policies": [
                {"name": "a", "when": "lead.employes > 3", "action": "nurture", "reason": "r"},
                {"name": "b", "when": "score >= ", "action": "nurture", "reason": "r"},
                {"name": "c", "when": "lead.source > 3 and lead.x", "action": "nurture", "reason": "r"},
                {"name": "d", "when": "score > 3", "action": "nurture", "reason": "r"},
            ],
        }
    )
    with pytest.raises(PolicyError) as caught:
        PolicySet.compile(config, schema())
    where = [issue.where for issue in caught.value.issues]
    assert where == ["segment big", "policy a", "policy b", "policy c", "policy c"]
    assert "score cannot be used here" in caught.value.issues[0].message
    assert "segments are chosen before scoring" in caught.value.issues[0].fix
    text = str(caught.value)
    assert text.startswith("5 problems in policy expressions:")
    assert "policy c, line 1, column 21: unknown variable lead.x" in text


OPERATORS = [
    ("score >= 80 and lead.employees >= 1000", [True, False, False, False]),
    ("score > 80 or lead.employees < 100", [True, False, True, True]),
    ("not graph.account_is_customer", [False, True, True, True]),
    ("score == 50", [False, True, False, False]),
    ("score != 50", [True, False, True, True]),
    ("score < 50", [False, False, True, False]),
    ("score <= 50", [False, True, True, False]),
    ("40 <= score < 70", [False, True, False, True]),
    ("lead.employees + 1 > 50", [True, False, True, False]),
    ("lead.employees - 50 == 0", [False, False, True, False]),
    ("lead.employees * 2 >= 100", [True, False, True, False]),
    ("lead.annual_revenue / lead.employees > 1000", [True, False, False, False]),
    ("-score < -60", [True, False, False, True]),
    ("+score > 60", [True, False, False, True]),
    ("lead.source == 'web'", [True, False, False, False]),
    ("lead.source == 'PARTNER REFERRAL'", [False, True, False, False]),
    ("'Web' == lead.source", [True, False, False, False]),
    ("lead.source != 'Web'", [False, True, False, True]),
    ("lead.source in ['Partner Referral', 'Web']", [True, True, False, False]),
    ("lead.source not in ['Partner Referral', 'Web']", [False, False, False, True]),
    ("lead.source in ()", [False, False, False, False]),
    ("score in [85, 30]", [True, False, True, False]),
    ("lead.employees not in [0, 50]", [True, False, False, False]),
    ("graph.matched in [false]", [False, True, False, False]),
    ("'vp' in lead.title", [True, False, False, False]),
    ("'t' not in lead.title", [True, False, False, False]),
    ("lead.free_email == false", [True, False, False, True]),
    ("lead.free_email != true", [True, False, False, True]),
    ("lead.free_email == graph.matched", [False, False, True, False]),
    ("lead.source == graph.match_method", [False, False, False, False]),
    ("tier == 'A'", [True, False, False, False]),
    ("tier in ['B', 'C']", [False, True, False, True]),
    ("segment == 'x'", [False, False, False, False]),
    ("lead.created < date('2024-02-01')", [True, False, False, True]),
    ("lead.created >= date('2024-06-20T00:00:00+00:00')", [False, False, True, False]),
    ("lead.created - date('2024-01-01') > 100", [False, False, True, False]),
    ("lead.created + 200 > date('2024-06-01')", [True, False, True, False]),
    ("True and true", [True, True, True, True]),
    ("False or false", [False, False, False, False]),
]

FUNCTIONS = [
    ("is_null(lead.employees)", [False, True, False, False]),
    ("is_null(lead.source)", [False, False, True, False]),
    ("is_null(lead.free_email)", [False, True, False, False]),
    ("is_null(lead.created)", [False, True, False, False]),
    ("is_null('x')", [False, False, False, False]),
    ("contains(lead.title, 'VP')", [True, False, False, False]),
    ("contains(lead.title, 'S')", [True, False, False, True]),
    ("starts_with(lead.title, 'st')", [False, False, False, True]),
    ("ends_with(lead.title, 'TO')", [False, True, False, False]),
    (r"matches(lead.title, '^(vp|cto)\b')", [True, True, False, False]),
    ("days_since(lead.created) > 100", [True, False, False, True]),
    ("days_since(lead.created) == 11", [False, False, True, False]),
    ("abs(score - 60) < 11", [False, True, False, True]),
    ("min(lead.employees, 100) == 100", [True, True, False, False]),
    ("max(lead.employees, 100, score) == 100", [False, True, True, True]),
    ("min(lead.created, date('2024-03-01')) == date('2024-01-01')", [True, False, False, False]),
    ("coalesce(lead.employees, 7) == 7", [False, True, False, False]),
    ("coalesce(lead.source, 'none') == 'none'", [False, False, True, False]),
    ("coalesce(lead.free_email, true)", [False, True, True, False]),
    ("coalesce(lead.employees, lead.annual_revenue, 1) == 200000", [False, True, False, False]),
]


@pytest.mark.parametrize(("text", "expected"), OPERATORS + FUNCTIONS)
def test_every_operator_and_function(text: str, expected: list[bool]) -> None:
    assert holds(text, tier=["A", "C", "D", "B"], segment=[None, None, None, None]) == expected


NULLS = [
    # Missing (row 1 employees; row 2 source, title; row 1 free_email, created) never satisfies a comparison.
    ("lead.employees > 0", [True, False, True, False]),
    ("lead.employees <= 0", [False, False, False, True]),
    ("lead.employees != 1", [True, False, True, True]),
    ("not (lead.employees > 0)", [False, True, False, True]),
    ("lead.source != 'Web'", [False, True, False, True]),
    ("lead.source not in ['Web']", [False, True, False, True]),
    ("'x' not in lead.title", [True, True, False, True]),
    ("lead.free_email", [False, False, True, False]),
    ("not lead.free_email", [True, True, False, True]),
    ("lead.free_email != false", [False, False, True, False]),
    ("lead.annual_revenue / lead.employees >= 0", [True, False, False, False]),
    ("lead.employees + 1 > 0 or is_null(lead.employees)", [True, True, True, True]),
    ("days_since(lead.created) >= 0", [True, False, True, True]),
]


@pytest.mark.parametrize(("text", "expected"), NULLS)
def test_null_semantics(text: str, expected: list[bool]) -> None:
    assert holds(text) == expected


def test_dividing_by_a_zero_column_gives_a_missing_value() -> None:
    assert holds("is_null(lead.annual_revenue / lead.employees)") == [False, True, True, True]


def test_condition_records_variables_and_a_canonical_form() -> None:
    condition = compile_condition("policy p", "score>=80  and\n lead.source in ['Web',\"x\"]", schema())
    assert condition.variables == {"score", "lead.source"}
    assert condition.canonical == "score >= 80 and lead.source in ['Web', 'x']"


def test_mapping_of_arrays_works_as_a_batch() -> None:
    condition = compile_condition("policy p", "lead.employees > 10 and lead.source == 'Web'", schema())
    batch = {
        "lead.employees": np.array([20.0, np.nan, 30.0]),
        "lead.source": np.array(["Web", "Web", None], dtype=object),
    }
    assert condition.evaluate(batch, now=NOW).tolist() == [True, False, False]


def test_missing_column_is_named() -> None:
    condition = compile_condition("policy p", "graph.account_won_opps > 0", schema())
    with pytest.raises(KeyError, match=re.escape("graph.account_won_opps")):
        condition.evaluate({"score": np.array([1.0])}, now=NOW)


def test_extra_variables_join_the_schema() -> None:
    from scoring.policy import policy_schema
    from tests.scoring.policy_fixtures import FEATURES

    extended = policy_schema(FEATURES, extra={"lead.owner_id": Kind.STRING})
    condition = compile_condition("policy p", "is_null(lead.owner_id)", extended)
    assert condition.evaluate({"lead.owner_id": np.array(["a", None], dtype=object)}).tolist() == [
        False,
        True,
    ]


def test_pandas_nullable_and_categorical_columns_read_like_plain_ones() -> None:
    import pandas as pd

    condition = compile_condition(
        "policy p",
        "lead.employees > 10 and lead.source in ['web'] and not lead.free_email and lead.title != 'x'",
        schema(),
    )
    batch = pd.DataFrame(
        {
            "lead.employees": pd.array([20, None, 30, 40], dtype="Int64"),
            "lead.source": pd.Categorical(["Web", "Web", None, "WEB "]),
            "lead.free_email": pd.array([False, None, False, True], dtype="boolean"),
            "lead.title": pd.array(["a", "b", None, "c"], dtype="string"),
        }
    )
    assert condition.evaluate(batch, now=NOW).tolist() == [True, False, False, False]


def test_regex_patterns_keep_their_backslashes() -> None:
    assert holds(r"matches(lead.title, '\bcto\b')") == [False, True, False, False]
    assert holds(r"matches(lead.title, r'^vp\s')") == [True, False, False, False]
    assert holds(r"matches(lead.title, 'sal' 'es')") == [True, False, False, False]
