"""A config that cannot work stops leadq at start-up with one clear message per problem (line and fix):
broken YAML, unknown keys, wrong types, missing secrets, policy expressions with syntax or type errors.
The daemon (`leadq run`), `leadq sync --once` and `leadq check` exit 2 and start nothing: no state
database, no cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import typer

from mappings import SANDBOX_TOKEN_ENV, ConfigError, load_config, render_default_config
from sync.cli_ops_sync import run_once
from sync.cli_run import STATE_DIR_ENV, StartupError, serve
from sync.validate import validate_startup
from tests.sync.conftest import Invoke

SYNC = Path(__file__).resolve().parents[2] / "sync"
WIRED = {
    name: "validate_startup" in (SYNC / file).read_text(encoding="utf-8")
    for name, file in (("run", "cli_run.py"), ("sync", "bootstrap.py"), ("check", "cli_check.py"))
}
VALID_POLICY = """  policies:
    - name: us_engaged
      when: "lead.country == 'United States' and graph.colleagues_engaged_90d >= 1"
      action: review
      reason: US leads with engaged colleagues are checked"""


@pytest.fixture()
def write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """Write the shipped config (with `replace` substitutions) next to a CA file; the token is set."""
    ca = tmp_path / "ca.pem"
    ca.write_text("not used: nothing connects\n", encoding="utf-8")
    monkeypatch.setenv(SANDBOX_TOKEN_ENV, "a-token-for-the-tests")
    monkeypatch.delenv(STATE_DIR_ENV, raising=False)

    def make(
        replace: dict[str, str] | None = None, crms: tuple[str, ...] = ("salesforce", "hubspot")
    ) -> Path:
        text = render_default_config(crms=crms, sandbox_url="https://127.0.0.1:9", ca_bundle=ca)
        for old, new in (replace or {}).items():
            assert old in text, old
            text = text.replace(old, new)
        path = tmp_path / "leadq.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    return make


def line_of(path: Path, needle: str, *, exact: bool = False) -> int:
    """The 1-based number of the first line of `path` containing `needle` (or being it, stripped)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(n for n, text in enumerate(lines, 1) if (text.strip() == needle if exact else needle in text))


def assert_not_started(path: Path, cycles: list[Any]) -> None:
    assert cycles == []
    assert not (path.parent / "leadq.db").exists()
    assert not (path.parent / ".leadq").exists()


def start_daemon(path: Path) -> tuple[StartupError, list[Any]]:
    cycles: list[Any] = []
    with pytest.raises(StartupError) as caught:
        serve(path, port=0, cycle=cycles.append, max_cycles=1)  # type: ignore[arg-type]
    return caught.value, cycles


def sync_once(path: Path) -> tuple[int, list[Any]]:
    cycles: list[Any] = []
    with pytest.raises(typer.Exit) as caught:
        run_once(path, dry_run=False, as_json=False, cycle=lambda ctx, **_: cycles.append(ctx))  # type: ignore[arg-type]
    return caught.value.exit_code, cycles


# (case, replacements, needle on the line the message must name, words the message must hold)
LOAD_ERRORS = [
    ("broken YAML", {"  sla_hours: 24": "  sla_hours: 24: hours"}, "sla_hours", ["YAML is broken", "quote a value"]),
    ("unknown key", {"  sla_hours: 24": "  sla_hourz: 24"}, "sla_hourz", ["unknown key 'sla_hourz'", "sla_hours"]),
    ("wrong type", {"  max_open_per_reviewer: 25": "  max_open_per_reviewer: many"}, "max_open_per_reviewer",
     ["not a whole number", "e.g. 25"]),
    ("missing secret", {}, "access_token: {env:", [f"{SANDBOX_TOKEN_ENV} is not set", f"export {SANDBOX_TOKEN_ENV}="]),
]  # fmt: skip


@pytest.mark.parametrize(("case", "replace", "needle", "words"), LOAD_ERRORS, ids=[c[0] for c in LOAD_ERRORS])
def test_a_config_mistake_is_one_message_with_its_line_and_fix_and_nothing_starts(
    write: Callable[..., Path], invoke: Invoke, monkeypatch: pytest.MonkeyPatch,
    case: str, replace: dict[str, str], needle: str, words: list[str],
) -> None:  # fmt: skip
    path = write(replace, crms=("salesforce",))
    if case == "missing secret":
        monkeypatch.delenv(SANDBOX_TOKEN_ENV)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    (issue,) = caught.value.issues
    assert issue.line == line_of(path, needle) and issue.fix
    message = str(caught.value)
    assert f"{path}:{issue.line}:" in message and all(w in message for w in words), message

    error, cycles = start_daemon(path)
    assert error.code == 2 and str(error) == message
    assert_not_started(path, cycles)
    code, cycles = sync_once(path)
    assert code == 2
    assert_not_started(path, cycles)
    result = invoke("check", "--config", str(path))
    assert result.exit_code == 2 and f":{issue.line}:" in result.stderr and words[0] in result.stderr


# (case, replacements, the expression's line needle, words the message must hold)
POLICY_ERRORS = [
    ("syntax", {"  policies: []": VALID_POLICY.replace(">= 1\"", ">= (\"")}, "graph.colleagues_engaged_90d >= (",
     ["policy us_engaged", "never closed"]),
    ("type", {"  policies: []": VALID_POLICY.replace(">= 1\"", ">= 'many'\"")}, ">= 'many'",
     ["policy us_engaged", "cannot compare"]),
    ("unknown variable", {"  policies: []": VALID_POLICY.replace("lead.country", "lead.contry")},
     "lead.contry", ["policy us_engaged", "unknown variable lead.contry"]),
    ("segment uses the score", {"  segments: []": "  segments:\n    - name: hot\n      when: score > 50"},
     "when: score > 50", ["segment hot", "score cannot be used here"]),
    ("review.high_value", {"  sla_hours: 24": "  sla_hours: 24\n  high_value: |\n    lead.employees >= 1000 and\n    lead.annual_revenue >"},
     "lead.annual_revenue >", ["review.high_value"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "replace", "needle", "words"), POLICY_ERRORS, ids=[c[0] for c in POLICY_ERRORS]
)
def test_a_broken_policy_expression_is_one_message_with_its_yaml_line(
    write: Callable[..., Path], case: str, replace: dict[str, str], needle: str, words: list[str]
) -> None:
    path = write(replace, crms=("salesforce",))
    config = load_config(path)  # the shape is fine: only compiling the expression finds the mistake
    with pytest.raises(ConfigError) as caught:
        validate_startup(config, path=path)
    (issue,) = caught.value.issues
    assert issue.line == line_of(path, needle), str(caught.value)
    assert issue.column is not None and issue.fix and issue.path.endswith(("when", "high_value"))
    assert all(w in str(caught.value) for w in words), str(caught.value)
    # Without the file the problem still names the expression, only not the line.
    with pytest.raises(ConfigError) as bare:
        validate_startup(config)
    assert bare.value.issues[0].line is None and words[0] in str(bare.value)


def test_every_policy_problem_of_every_crm_is_listed_once(write: Callable[..., Path]) -> None:
    path = write({"  policies: []": VALID_POLICY + """
    - name: hot_rating
      when: lead.rating == 'Hot' and lead.employees >
      action: nurture
      reason: x
    - name: rated
      when: lead.rating == 'Hot'
      action: nurture
      reason: x"""})  # fmt: skip
    with pytest.raises(ConfigError) as caught:
        validate_startup(load_config(path), path=path)
    issues = caught.value.issues
    # The syntax error fails the same way for both CRMs: once. `rating` is a Salesforce feature only.
    assert [(i.path, i.line) for i in issues] == [
        ("scoring.policies[1].when", line_of(path, "lead.employees >")),
        ("scoring.policies[2].when", line_of(path, "when: lead.rating == 'Hot'", exact=True)),
    ]
    assert "with the hubspot features" in issues[1].message and "hubspot" not in issues[0].message


def test_a_valid_config_passes(write: Callable[..., Path]) -> None:
    path = write({"  policies: []": VALID_POLICY})
    validate_startup(load_config(path), path=path)


@pytest.mark.parametrize("command", ["run", "sync", "check"])
def test_the_commands_refuse_a_broken_policy_before_starting(
    write: Callable[..., Path], invoke: Invoke, command: str
) -> None:
    if not WIRED[command]:
        pytest.skip(f"validate_startup is not called by `leadq {command}` yet")
    path = write({"  policies: []": VALID_POLICY.replace('>= 1"', '>= ("')}, crms=("salesforce",))
    line = line_of(path, "graph.colleagues_engaged_90d >= (")
    if command == "run":
        error, cycles = start_daemon(path)
        assert error.code == 2 and f":{line}:" in str(error)
        assert_not_started(path, cycles)
    elif command == "sync":
        code, cycles = sync_once(path)
        assert code == 2
        assert_not_started(path, cycles)
    else:
        result = invoke("check", "--config", str(path))
        assert result.exit_code == 2 and f":{line}:" in result.stderr
