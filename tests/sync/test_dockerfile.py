"""The Dockerfile, read as instructions: non-root, no secrets baked in, runs `leadq run`, health-checked."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SECRET_NAME = re.compile(r"(?i)(secret|token|password|passwd|api_?key|private_?key|credential)")


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, args = line.partition(" ")
        out.append((keyword.upper(), args.strip()))
    assert not pending, "the Dockerfile ends inside a continued line"
    return out


def stages(parsed: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    out: list[list[tuple[str, str]]] = []
    for keyword, args in parsed:
        if keyword == "FROM":
            out.append([])
        out[-1].append((keyword, args))
    return out


def env_pairs(args: str) -> dict[str, str]:
    words = shlex.split(args)
    if len(words) >= 2 and "=" not in words[0]:  # legacy `ENV KEY value`
        return {words[0]: " ".join(words[1:])}
    pairs: dict[str, str] = {}
    for word in words:
        name, _, value = word.partition("=")
        pairs[name] = value
    return pairs


@pytest.fixture(scope="module")
def final() -> list[tuple[str, str]]:
    parsed = instructions((ROOT / "Dockerfile").read_text())
    return stages(parsed)[-1]


def test_every_stage_is_python_slim() -> None:
    parsed = instructions((ROOT / "Dockerfile").read_text())
    bases = [args.split()[0] for keyword, args in parsed if keyword == "FROM"]
    assert bases and all(base == "python:3.12-slim" for base in bases)


def test_the_image_runs_as_uid_10001(final: list[tuple[str, str]]) -> None:
    users = [args for keyword, args in final if keyword == "USER"]
    assert users, "the final stage must switch to a non-root USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    assert user == "10001"
    runs = " ".join(args for keyword, args in final if keyword == "RUN")
    assert "--uid 10001" in runs


def test_no_secret_is_baked_into_env_or_arg() -> None:
    parsed = instructions((ROOT / "Dockerfile").read_text())
    for keyword, args in parsed:
        if keyword == "ENV":
            for name, value in env_pairs(args).items():
                assert not SECRET_NAME.search(name), f"ENV {name} looks like a secret"
                assert not SECRET_NAME.search(value), f"ENV {name}={value} looks like a secret"
        if keyword == "ARG":
            name, _, default = args.partition("=")
            assert not SECRET_NAME.search(name), f"ARG {name} looks like a secret"
            assert not default or not SECRET_NAME.search(default)
        if keyword == "COPY":
            assert not re.search(r"\.ya?ml\b|\.env\b|\.pem\b|\.key\b", args), f"COPY {args} may carry secrets"


def test_cmd_runs_leadq_run_with_the_mounted_config(final: list[tuple[str, str]]) -> None:
    (cmd,) = [args for keyword, args in final if keyword == "CMD"]
    argv = json.loads(cmd)  # exec form: leadq is PID 1 and gets SIGTERM itself
    assert argv[:2] == ["leadq", "run"]
    assert argv[argv.index("--config") + 1] == "/config/leadq.yaml"
    assert not [args for keyword, args in final if keyword == "ENTRYPOINT"]


def test_port_health_check_and_state_volume(final: list[tuple[str, str]]) -> None:
    assert ("EXPOSE", "9464") in final
    (check,) = [args for keyword, args in final if keyword == "HEALTHCHECK"]
    assert "CMD" in check and "/healthz" in check and "9464" in check
    assert "curl" not in check and "wget" not in check  # neither is in the slim image
    env: dict[str, str] = {}
    for keyword, args in final:
        if keyword == "ENV":
            env.update(env_pairs(args))
    assert env.get("LEADQ_STATE_DIR") == "/state"
    assert any(keyword == "VOLUME" and "/state" in args for keyword, args in final)


def test_install_uses_no_dev_extras_and_no_cache() -> None:
    parsed = instructions((ROOT / "Dockerfile").read_text())
    pip = [args for keyword, args in parsed if keyword == "RUN" and "pip " in args]
    assert pip
    for args in pip:
        assert "--no-cache-dir" in args
        assert "[dev]" not in args and ".[" not in args


def test_dockerignore_keeps_state_secrets_and_the_venv_out() -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    for pattern in (".git", ".venv", ".leadq", "**/*.db", "**/*.pem", "*.yaml", ".env", "tests"):
        assert pattern in ignored
