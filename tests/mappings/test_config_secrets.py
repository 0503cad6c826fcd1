"""Secrets are references only; resolved values never show in repr, str, dumps or error messages."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mappings import ConfigError, SecretRef, SecretUnavailableError, load_config, parse_config

SECRET = "s3cr3t-Value-42"

SALESFORCE_PASSWORD = """\
salesforce:
  connection:
    login_url: https://login.salesforce.com
    auth:
      method: password
      client_id: my-app
      client_secret: {client_secret}
      username: integration@acme.com
      password: {password}
"""


@pytest.mark.parametrize(
    "clear",
    [SECRET, "'s3cr3t with spaces'", "12345", "true", "[a, b]", "{value: hunter2}"],
)
def test_a_secret_in_clear_is_an_error_that_says_where_to_move_it(clear: str) -> None:
    text = SALESFORCE_PASSWORD.format(client_secret="{env: SF_SECRET}", password=clear)
    with pytest.raises(ConfigError) as caught:
        parse_config(text, resolve=False)
    (issue,) = caught.value.issues
    assert (issue.path, issue.line, issue.column) == ("salesforce.connection.auth.password", 9, 7)
    assert issue.message == "a secret is written in clear in the config"
    assert "{env: SALESFORCE_PASSWORD}" in issue.fix
    assert "{file:" in issue.fix
    assert SECRET not in str(caught.value)
    assert "hunter2" not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


@pytest.mark.parametrize(
    ("auth", "field"),
    [
        ("{method: private_app, token: pat-na1-abc}", "token"),
        (
            "{method: oauth_refresh, client_id: x, client_secret: {env: S}, refresh_token: abc}",
            "refresh_token",
        ),
    ],
)
def test_hubspot_secrets_in_clear(auth: str, field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(f"hubspot:\n  connection:\n    auth: {auth}\n", resolve=False)
    (issue,) = caught.value.issues
    assert issue.path == f"hubspot.connection.auth.{field}"
    assert f"HUBSPOT_{field.upper()}" in issue.fix


def test_env_and_file_secrets_resolve_and_stay_hidden(
    write_config: Callable[[str], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "password").write_text(SECRET + "\n", encoding="utf-8")
    monkeypatch.setenv("SF_SECRET", SECRET + "-env")
    path = write_config(
        SALESFORCE_PASSWORD.format(client_secret="{env: SF_SECRET}", password="{file: secrets/password}")
    )
    config = load_config(path)
    auth = config.salesforce.connection.auth if config.salesforce else None
    assert auth is not None and auth.method == "password"
    assert auth.client_secret.reveal() == SECRET + "-env"
    assert auth.password.reveal() == SECRET  # trailing newline of the file dropped
    assert auth.password.file == tmp_path / "secrets" / "password"
    assert auth.password.source == f"file {tmp_path / 'secrets' / 'password'}"
    for shown in (repr(config), str(config), repr(auth), str(config.model_dump()), config.model_dump_json()):
        assert SECRET not in shown


def test_unresolved_references_cannot_be_revealed() -> None:
    config = parse_config(
        SALESFORCE_PASSWORD.format(client_secret="{env: SF_SECRET}", password="{env: SF_PASSWORD}"),
        resolve=False,
    )
    auth = config.salesforce.connection.auth if config.salesforce else None
    assert auth is not None and auth.method == "password"
    assert not auth.password.resolved
    with pytest.raises(SecretUnavailableError, match="env SF_PASSWORD"):
        auth.password.reveal()


def test_missing_env_and_unreadable_file_are_reported_at_their_lines(
    write_config: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SF_SECRET", raising=False)
    path = write_config(
        SALESFORCE_PASSWORD.format(client_secret="{env: SF_SECRET}", password="{file: nowhere/password}")
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    first, second = caught.value.issues
    assert (first.line, first.path) == (7, "salesforce.connection.auth.client_secret.env")
    assert "SF_SECRET is not set" in first.message
    assert first.fix == "export SF_SECRET=... before starting leadq"
    assert (second.line, second.path) == (9, "salesforce.connection.auth.password.file")
    assert "cannot read secret file" in second.message


def test_empty_secret_file_and_bad_references(tmp_path: Path) -> None:
    (tmp_path / "empty").write_text("\n", encoding="utf-8")
    text = SALESFORCE_PASSWORD.format(client_secret="{file: empty}", password="{env: A, file: b}")
    with pytest.raises(ConfigError) as caught:
        parse_config(text, base_dir=tmp_path)
    messages = [issue.message for issue in caught.value.issues]
    assert any("is empty" in m for m in messages)
    assert any("names both `env:` and `file:`" in m for m in messages)

    text = SALESFORCE_PASSWORD.format(client_secret="{}", password="{envv: X}")
    with pytest.raises(ConfigError) as caught:
        parse_config(text, resolve=False)
    fixes = [issue.fix for issue in caught.value.issues]
    assert any("{env: VARIABLE_NAME}" in f for f in fixes)
    assert any("did you mean 'env'" in f for f in fixes)


def test_ca_bundle_must_exist_when_resolving(tmp_path: Path) -> None:
    text = (
        "hubspot:\n  connection:\n    auth: {method: private_app, token: {env: HS_TOKEN}}\n"
        "    ca_bundle: certs/ca.pem\n"
    )
    config = parse_config(text, base_dir=tmp_path, resolve=False)
    assert config.hubspot is not None and config.hubspot.connection.ca_bundle == tmp_path / "certs" / "ca.pem"
    with pytest.raises(ConfigError) as caught:
        parse_config(text, base_dir=tmp_path)
    assert [i.path for i in caught.value.issues] == [
        "hubspot.connection.auth.token.env",
        "hubspot.connection.ca_bundle",
    ]


def test_secret_ref_model_directly() -> None:
    ref = SecretRef.model_validate({"env": "X"})
    assert ref.source == "env X"
    assert "value" not in ref.model_dump()
