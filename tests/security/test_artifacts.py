"""Model artifacts are never unpickled, and a tampered one is refused with a clear error.

The registry checks the skops file's sha256 against its meta.json, then lets skops rebuild only the
types in `TRUSTED_TYPES`. These tests tamper with the artifact every way an attacker with write access to
the state folder could (a flipped byte, an edited checksum, a pickle or a hostile skops file with a
matching checksum) and check both `ModelRegistry.load` and the cycle's champion loading refuse it; a
structural test holds every module of leadq to never importing a pickle-based loader.
"""

from __future__ import annotations

import ast
import json
import logging
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import skops.io as sio
from sklearn.preprocessing import FunctionTransformer

from mappings import SANDBOX_TOKEN_ENV, load_config, write_default_config
from scoring.registry import TRUSTED_TYPES, ModelRegistry, TamperedArtifact, file_sha256
from sync.context import CycleContext
from sync.state import StateStore
from tests.scoring.model_fixtures import one_thread, trained_model

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("connector", "mappings", "scoring", "sync")
PICKLERS = {"pickle", "_pickle", "cPickle", "joblib", "dill", "cloudpickle", "shelve", "marshal", "torch"}
MARKER = "leadq-pickle-ran"


class Boom:
    """Unpickling this runs `open(marker, "w")`: proof that a pickle was (or was not) loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.marker), "w"))


@pytest.fixture(autouse=True)
def _single_thread() -> Iterator[None]:
    with one_thread():
        yield


@pytest.fixture()
def saved(tmp_path: Path) -> tuple[ModelRegistry, str, Path]:
    registry = ModelRegistry(tmp_path / "salesforce")
    version = registry.save(trained_model())
    registry.promote(version)
    return registry, version, registry.root / version


def _set_checksum(folder: Path, value: str) -> None:
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    meta["sha256"] = value
    (folder / "meta.json").write_text(json.dumps(meta), encoding="utf-8")


def _flip(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("where", [0.1, 0.5, 0.9])
def test_a_flipped_byte_is_refused_naming_the_file_and_both_checksums(
    saved: tuple[ModelRegistry, str, Path], where: float
) -> None:
    registry, version, folder = saved
    artifact = folder / "model.skops"
    recorded = file_sha256(artifact)
    _flip(artifact, int(artifact.stat().st_size * where))
    with pytest.raises(TamperedArtifact) as info:
        registry.load(version)
    message = str(info.value)
    assert str(artifact) in message and recorded in message and file_sha256(artifact) in message
    assert "will not be loaded" in message
    with pytest.raises(TamperedArtifact):
        registry.load_champion()


def test_an_edited_checksum_is_refused(saved: tuple[ModelRegistry, str, Path]) -> None:
    registry, version, folder = saved
    _set_checksum(folder, "0" * 64)
    with pytest.raises(TamperedArtifact, match=r"does not match 0{64} recorded in its meta\.json"):
        registry.load(version)


def test_a_missing_artifact_is_refused(saved: tuple[ModelRegistry, str, Path]) -> None:
    registry, version, folder = saved
    (folder / "model.skops").unlink()
    with pytest.raises(TamperedArtifact, match="is missing"):
        registry.load(version)


def test_a_pickle_with_a_matching_checksum_is_never_unpickled(
    saved: tuple[ModelRegistry, str, Path], tmp_path: Path
) -> None:
    registry, version, folder = saved
    marker = tmp_path / MARKER
    artifact = folder / "model.skops"
    artifact.write_bytes(pickle.dumps(Boom(marker)))
    _set_checksum(folder, file_sha256(artifact))  # the attacker fixed the checksum too
    with pytest.raises(TamperedArtifact, match="is not a readable skops artifact"):
        registry.load(version)
    assert not marker.exists(), "the pickle was loaded"
    pickle.loads(artifact.read_bytes())  # noqa: S301 (the positive control: loading it would run it)
    assert marker.exists()


def test_a_skops_file_with_untrusted_types_and_a_matching_checksum_is_refused(
    saved: tuple[ModelRegistry, str, Path],
) -> None:
    registry, version, folder = saved
    artifact = folder / "model.skops"
    sio.dump(FunctionTransformer(func=eval), artifact)
    _set_checksum(folder, file_sha256(artifact))
    with pytest.raises(TamperedArtifact, match=r"holds types that are not trusted: builtins\.eval"):
        registry.load(version)
    with pytest.raises(TamperedArtifact):
        registry.promote(version)


def test_the_cycles_champion_loading_refuses_a_tampered_model_and_scores_by_rules(
    saved: tuple[ModelRegistry, str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    feedback = pytest.importorskip("sync.feedback")
    load_champion = getattr(feedback, "load_champion", None)
    if load_champion is None:
        pytest.skip("sync.feedback.load_champion is not there yet")
    _registry, version, folder = saved
    monkeypatch.setenv(SANDBOX_TOKEN_ENV, "sandbox")
    path = write_default_config(
        tmp_path / "leadq.yaml", crms=("salesforce",), sandbox_url="https://127.0.0.1:9", overwrite=True
    )
    text = path.read_text(encoding="utf-8")
    assert "min_labels_per_class: 200" in text
    path.write_text(text.replace("min_labels_per_class: 200", "min_labels_per_class: 1"), encoding="utf-8")
    config = load_config(path)
    store = StateStore.open(f"sqlite:///{tmp_path / 'state.db'}")
    ctx = CycleContext(config=config, store=store, connectors={}, state_dir=tmp_path)
    try:
        loaded = load_champion(ctx, "salesforce")
        assert loaded is not None and loaded.version == version, "the untouched champion scores"
        _flip(folder / "model.skops", 100)
        with caplog.at_level(logging.ERROR):
            assert load_champion(ctx, "salesforce") is None
        failures = [e for e in store.audit_export() if e["action"] == "model_load_failed"]
        assert len(failures) == 1 and failures[0]["model_version"] == version
        assert "does not match" in json.dumps(failures[0], default=str)
        assert any(version in r.getMessage() and "rule-based" in r.getMessage() for r in caplog.records)
    finally:
        store.close()


# ------------------------------------------------------------------------------------ structure
def _modules() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def _problems(path: Path, root: Path = ROOT) -> Iterator[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    where = path.relative_to(root)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in PICKLERS:
                    yield f"{where}:{node.lineno}: imports {alias.name}"
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in PICKLERS:
            yield f"{where}:{node.lineno}: imports from {node.module}"
        elif isinstance(node, ast.Call):
            name = ast.unparse(node.func)
            keywords = {k.arg: k.value for k in node.keywords}
            if name.endswith(("read_pickle", "to_pickle", "torch.load", "__import__")):
                yield f"{where}:{node.lineno}: calls {name}"
            if name.endswith("np.load") or name.endswith("numpy.load"):
                allow = keywords.get("allow_pickle")
                if isinstance(allow, ast.Constant) and allow.value is True:
                    yield f"{where}:{node.lineno}: np.load with allow_pickle=True"
            if name in ("sio.load", "sio.loads", "skops.io.load", "skops.io.loads"):
                trusted = keywords.get("trusted")
                if trusted is None or (isinstance(trusted, ast.Constant) and trusted.value is True):
                    yield f"{where}:{node.lineno}: {name} without an explicit trusted list"


def test_no_module_of_leadq_can_unpickle() -> None:
    modules = _modules()
    assert len(modules) > 50
    assert [p for path in modules for p in _problems(path)] == []
    loaders = [p for p in modules if "sio.load(" in p.read_text(encoding="utf-8")]
    assert [p.relative_to(ROOT).as_posix() for p in loaders] == ["scoring/registry.py"]
    assert TRUSTED_TYPES and all("pickle" not in t and "builtins" not in t for t in TRUSTED_TYPES)


def test_the_structural_check_catches_each_pickle_route(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    source = (
        "import pickle\nfrom joblib import load\nimport dill.settings\nimport numpy as np\nimport torch\n"
        "import pandas as pd\nimport skops.io as sio\n"
        "pd.read_pickle('x')\ntorch.load('m.pt')\nnp.load('a.npy', allow_pickle=True)\n"
        "sio.load('m.skops', trusted=True)\nsio.load('m.skops')\n"
    )
    bad.write_text(source, encoding="utf-8")
    found = list(_problems(bad, tmp_path))
    assert len(found) == 9, found
