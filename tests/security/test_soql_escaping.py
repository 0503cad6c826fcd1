"""SOQL is built only with escaping: hostile values select exactly what they name, against the sandbox.

Where leadq puts a value into SOQL (grep connector/ for `format_soql`):

- review task lookups, `leadq_Key__c IN (...)` (`connector.salesforce.tasks.Tasks._existing`), reached
  through `create_tasks`/`create_notes`: a key already in the CRM is reported with its task's id and not
  created again; a key that matches nothing is created. So "the lookup found exactly the right task" is
  `created=False` with that task's id, and "it found nothing" is `created=True`.
- completed review tasks, `leadq_Key__c != null AND IsClosed = true` plus the pull window.
- the pull window, `SystemModstamp >= start AND SystemModstamp < end` (datetimes from cursors).

Object and field names are identifiers checked against describe, never values (`connector.salesforce.
describe`); a structural test below holds the code to that: SOQL text may only interpolate constants.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence
from datetime import timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.protocol import NoteSpec, TaskSpec, WriteOutcome
from connector.salesforce import SalesforceConnector
from sandbox import SandboxServer
from tests.connector.test_salesforce_support import KEY, T0, close_connectors, connector_for, freeze, leads

CONNECTOR = Path(__file__).resolve().parents[2] / "connector"
HOSTILE = [
    "it's",
    "back\\slash",
    "end\\",
    "\\'",
    'quote"d',
    "x' OR Id != null OR Name = 'y",
    "' OR leadq_Key__c != null OR leadq_Key__c = '",
    "k') OR (Id != null",
    "100%",
    "%",
    "a_c",
    "_",
    "line\nbreak",
    "carriage\rreturn",
    "tab\there",
    "semi; DELETE FROM Task",
    "ünïcödé ✓ 🚀",
]


@pytest.fixture()
def conn(sandbox: SandboxServer) -> Iterator[SalesforceConnector]:
    freeze(sandbox, T0)
    connector = connector_for(sandbox)
    connector.create_fields([KEY])
    yield connector
    close_connectors()


@pytest.fixture()
def who(sandbox: SandboxServer) -> str:
    ids: list[str] = sandbox.store.sf_insert_many("Lead", leads(1))
    return ids[0]


def tasks(who: str, keys: Sequence[str]) -> list[TaskSpec]:
    return [
        TaskSpec(k, "Lead", who, None, f"Review {n}", "why", T0 + timedelta(days=1))
        for n, k in enumerate(keys)
    ]


def by_key(outcomes: Sequence[WriteOutcome]) -> dict[str, WriteOutcome]:
    return {o.key: o for o in outcomes}


def stored_key(sandbox: SandboxServer, task_id: object) -> str:
    """A task's key as the sandbox's store holds it (read directly, not through SOQL)."""
    row = sandbox.store.sf_get("Task", str(task_id))
    assert row is not None, task_id
    return str(row["leadq_Key__c"])


def test_hostile_keys_are_created_once_and_found_exactly(
    sandbox: SandboxServer, conn: SalesforceConnector, who: str
) -> None:
    plain = conn.create_tasks(tasks(who, ["abc", "plain"]))
    assert all(o.ok and o.created for o in plain)
    first = by_key(conn.create_tasks(tasks(who, HOSTILE)))
    assert all(first[k].ok and first[k].created for k in HOSTILE), "no hostile key matched another task"
    assert [stored_key(sandbox, first[k].crm_id) for k in HOSTILE] == HOSTILE, "stored byte for byte"

    again = by_key(conn.create_tasks(tasks(who, [*HOSTILE, "abc"])))
    assert all(not o.created for o in again.values())
    assert {k: again[k].crm_id for k in HOSTILE} == {k: first[k].crm_id for k in HOSTILE}
    assert again["abc"].crm_id == plain[0].crm_id
    assert sandbox.store.sf_count("Task") == len(HOSTILE) + 2


@pytest.mark.parametrize(
    "probe",
    [
        "x' OR Id != null OR Name = 'y",  # would select every task if the quote were not escaped
        "abc' OR leadq_Key__c LIKE '%",
        "\\' OR Id != null OR Name = \\'",  # an escaped quote followed by an injection
        "a%",  # LIKE wildcards mean nothing to = and IN
        "a_c",
        "ABC",  # a different string
    ],
)
def test_a_probe_key_finds_nothing_and_is_a_new_task(
    sandbox: SandboxServer, conn: SalesforceConnector, who: str, probe: str
) -> None:
    existing = conn.create_tasks(tasks(who, ["abc", "y", "plain"]))
    (outcome,) = conn.create_tasks(tasks(who, [probe]))
    assert outcome.ok and outcome.created, f"{probe!r} matched {outcome.crm_id}"
    assert outcome.crm_id not in {o.crm_id for o in existing}
    assert stored_key(sandbox, outcome.crm_id) == probe


def test_notes_with_hostile_keys_are_idempotent(
    sandbox: SandboxServer, conn: SalesforceConnector, who: str
) -> None:
    notes = [NoteSpec(k, "Lead", who, f"Scored 50\n{k}", T0) for k in HOSTILE[:8]]
    first = conn.create_notes(notes)
    assert all(o.ok and o.created for o in first)
    second = conn.create_notes(notes)
    assert [o.crm_id for o in second] == [o.crm_id for o in first] and not any(o.created for o in second)


def test_completed_tasks_with_hostile_keys_come_back_exactly(
    sandbox: SandboxServer, conn: SalesforceConnector, who: str
) -> None:
    created = by_key(conn.create_tasks(tasks(who, HOSTILE)))
    conn.create_notes([NoteSpec("' OR IsClosed = true OR Id = '", "Lead", who, "note", T0)])
    closed = HOSTILE[::2]
    freeze(sandbox, T0 + timedelta(minutes=5))
    for key in closed:
        sandbox.store.sf_update("Task", str(created[key].crm_id), {"Status": "Completed"})
    pages = conn.completed_tasks(["Status"], None, run_started=T0 + timedelta(hours=1))
    found = {str(r["leadq_Key__c"]) for page in pages for r in page.records}
    assert found == set(closed)


def test_the_pull_window_selects_by_time_whatever_the_timezone(sandbox: SandboxServer) -> None:
    conn = connector_for(sandbox, lookback_seconds=60)
    stamps = [T0 + timedelta(minutes=m) for m in (0, 10, 20, 30)]
    for n, at in enumerate(stamps):
        freeze(sandbox, at)
        sandbox.store.sf_insert_many("Lead", leads(1, LastName=f"O'Brien {n}\\"))
    # A cursor in another timezone, with microseconds: the window is [10:00 UTC - lookback, run start).
    plus_two = timezone(timedelta(hours=2))
    cursor = {"value": (stamps[1] + timedelta(microseconds=500)).astimezone(plus_two).isoformat()}
    pages = conn.pull_changes("Lead", ["LastName"], cursor, run_started=stamps[3])
    names = sorted(str(r["LastName"]) for page in pages for r in page.records)
    close_connectors()
    assert names == ["O'Brien 1\\", "O'Brien 2\\"]


_seen: set[str] = set()
METACHARS = st.sampled_from(["'", "\\", '"', "%", "_", "\n", "\r", "\t", " OR ", "!=", "(", ")", ",", "null"])
KEYS = st.lists(st.one_of(METACHARS, st.text(min_size=1, max_size=4)), min_size=1, max_size=8).map("".join)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(KEYS.filter(lambda k: 0 < len(k) <= 90 and "\x00" not in k), min_size=1, max_size=5, unique=True)
)
def test_any_key_is_looked_up_exactly(
    sandbox: SandboxServer, conn: SalesforceConnector, who: str, keys: list[str]
) -> None:
    fresh = [k for k in keys if k not in _seen]
    first = by_key(conn.create_tasks(tasks(who, keys)))
    assert all(first[k].ok for k in keys), [o.message for o in first.values() if not o.ok]
    assert all(first[k].created for k in fresh), "a new key never matched an existing task"
    _seen.update(keys)
    again = by_key(conn.create_tasks(tasks(who, keys)))
    assert {k: o.crm_id for k, o in again.items()} == {k: o.crm_id for k, o in first.items()}
    assert [stored_key(sandbox, first[k].crm_id) for k in keys] == keys


# ------------------------------------------------------------------------------------ structure
SOQL_WORDS = ("SELECT ", " WHERE ", " LIKE ", " IN (", " IN {", " != ", " = {", "ORDER BY ")


def _soql_like(text: str) -> bool:
    # SOQL keywords are written in capitals throughout the connector; prose ("must be in (0, 1]") is not.
    return any(word in text for word in SOQL_WORDS)


def _violations(path: Path, root: Path = CONNECTOR.parent) -> Iterator[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        where = f"{path.relative_to(root)}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.JoinedStr):
            literal = "".join(
                v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)
            )
            if not _soql_like(literal):
                continue
            for part in node.values:
                if isinstance(part, ast.FormattedValue) and not (
                    isinstance(part.value, ast.Name) and part.value.id.isupper()
                ):
                    yield f"{where}: an f-string builds SOQL from {ast.unparse(part.value)}"
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
            if (
                isinstance(node.left, ast.Constant)
                and isinstance(node.left.value, str)
                and _soql_like(node.left.value)
            ):
                yield f"{where}: %-formatting builds SOQL"
        elif (
            isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format"
        ):
            target = node.func.value
            if (
                isinstance(target, ast.Constant)
                and isinstance(target.value, str)
                and _soql_like(target.value)
            ):
                yield f"{where}: str.format builds SOQL (use format_soql)"


def test_connector_builds_soql_only_with_format_soql() -> None:
    files = sorted((CONNECTOR / "salesforce").rglob("*.py"))
    assert len(files) > 10
    problems = [v for path in files for v in _violations(path)]
    assert problems == []
    users = [p.name for p in files if "format_soql(" in p.read_text(encoding="utf-8")]
    assert set(users) >= {"pull.py", "tasks.py"}


def test_the_structural_check_catches_an_unescaped_query(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "def q(sf, key):\n"
        "    sf.query(f\"SELECT Id FROM Task WHERE leadq_Key__c = '{key}'\")\n"
        "    sf.query(\"SELECT Id FROM Task WHERE Name = '%s'\" % key)\n"
        "    sf.query(\"SELECT Id FROM Task WHERE Name = '{}'\".format(key))\n",
        encoding="utf-8",
    )
    assert len(list(_violations(bad, tmp_path))) == 3
