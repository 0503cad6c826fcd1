"""Versioned model artifacts in the state folder, with a champion, challengers and rollback.

Layout under `<state>/models/`:

    <version>/model.skops    the estimator, written by skops (never pickle)
    <version>/meta.json      version, created, features and their sources, category orders, training
                             window, label counts, data hash, holdout metrics, library versions, and
                             the sha256 of model.skops
    registry.json            {"champion": version, "previous": [older champions, oldest first]}

Loading checks the artifact's sha256 against its metadata first (a changed file is refused with
`TamperedArtifact`, naming the file and both checksums), then lets skops rebuild only the types in
`TRUSTED_TYPES`. Nothing is ever unpickled.

`promote_if_better` promotes a challenger only if its AUC on a holdout is not worse than the champion's
by more than `tolerance`; `promote` and `rollback` move the champion by hand. `list_models`,
`promote_version` and `rollback_champion` are what `leadq model list|promote|rollback` call.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import pandas as pd
import skops.io as sio

from scoring.features import FeatureFrame, FrameSchema
from scoring.metrics import Quality, quality
from scoring.model import LeadModel, SegmentedModel
from scoring.training import TrainedModel, predict

__all__ = [
    "DEFAULT_TOLERANCE",
    "TRUSTED_TYPES",
    "ModelInfo",
    "ModelRegistry",
    "Promotion",
    "RegistryError",
    "TamperedArtifact",
    "better_or_equal",
    "file_sha256",
    "list_models",
    "promote_version",
    "rollback_champion",
]

TRUSTED_TYPES: tuple[str, ...] = (
    "scoring.model.LeadModel",
    "scoring.model.SegmentedModel",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.utils.validation.check_array",
    "functools.partial",
)
"""Types skops may rebuild beyond its defaults (scikit-learn estimators, numpy, builtins)."""
DEFAULT_TOLERANCE = 0.005
"""AUC a challenger may lose against the champion on the holdout and still be promoted."""
_LIBRARIES = ("scikit-learn", "shap", "skops", "numpy", "pandas")
_KEPT = ("data_hash", "training_rows", "drift_baseline", "training_window", "holdout")
MODEL_FILE = "model.skops"
META_FILE = "meta.json"
INDEX_FILE = "registry.json"


class RegistryError(Exception):
    """A registry operation that cannot be done (unknown version, nothing to roll back to...)."""


class TamperedArtifact(RegistryError):
    """A model file whose checksum differs from the one recorded when it was saved."""


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """One stored version, as `list_models` shows it."""

    version: str
    created: str
    champion: bool
    metrics: Mapping[str, Any]
    positives: int
    negatives: int
    training_rows: int | None = None
    data_hash: str = ""


@dataclass(frozen=True, slots=True)
class Promotion:
    """What `promote_if_better` decided and why."""

    promoted: bool
    challenger: str
    champion: str | None
    challenger_quality: Quality
    champion_quality: Quality | None
    reason: str


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def better_or_equal(
    challenger: Quality, champion: Quality | None, tolerance: float = DEFAULT_TOLERANCE
) -> bool:
    """Whether a challenger is not worse than the champion on the same holdout (AUC within tolerance)."""
    return champion is None or challenger.auc >= champion.auc - tolerance


def _metadata(
    trained: TrainedModel, version: str, created: datetime, extra: Mapping[str, Any]
) -> dict[str, Any]:
    model = trained.model
    base = model.global_ if isinstance(model, SegmentedModel) else model
    return {
        "version": version,
        "created": created.isoformat(),
        "features": [
            {"column": c, "source": trained.sources.get(c, ""), "label": trained.labels.get(c, c)}
            for c in trained.schema.columns
        ],
        "schema": trained.schema.to_dict(),
        "label_counts": {"positive": trained.positives, "negative": trained.negatives},
        "metrics": trained.metrics.to_dict() if trained.metrics is not None else {},
        "model": {
            "kind": type(model).__name__,
            "params": {k: v for k, v in base.get_params().items() if isinstance(v, int | float | str | None)},
            "calibration": getattr(base, "calibration_", None),
            "iterations": getattr(base, "n_iter_", None),
            "segments": sorted(model.models_) if isinstance(model, SegmentedModel) else [],
        },
        "libraries": {name: package_version(name) for name in _LIBRARIES}
        | {"python": platform.python_version()},
        **dict(trained.extra),
        **dict(extra),
    }


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(data, indent=2, sort_keys=True, default=str), encoding="utf-8")
    temporary.replace(path)


class ModelRegistry:
    """The model versions of one state folder."""

    def __init__(self, state_dir: Path | str) -> None:
        self.root = Path(state_dir) / "models"

    def _index(self) -> dict[str, Any]:
        path = self.root / INDEX_FILE
        if not path.exists():
            return {"champion": None, "previous": []}
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return data

    def _folder(self, version: str) -> Path:
        folder = self.root / version
        if not (folder / META_FILE).exists():
            raise RegistryError(f"no model version {version!r} in {self.root}")
        return folder

    def save(self, trained: TrainedModel, **extra: Any) -> str:
        """Store `trained` as a new version (not yet champion) and return its id.

        `extra` goes into the metadata as is, e.g. `training_window={"from": ..., "to": ...}`.
        """
        created = datetime.now(UTC)
        self.root.mkdir(parents=True, exist_ok=True)
        staging = self.root / f".staging-{os.getpid()}-{created.timestamp():.0f}"
        staging.mkdir()
        sio.dump(trained.model, staging / MODEL_FILE)
        checksum = file_sha256(staging / MODEL_FILE)
        version = f"{created:%Y%m%d-%H%M%S}-{checksum[:8]}"
        suffix = 1
        while (self.root / version).exists():  # the same model saved twice within a second
            suffix += 1
            version = f"{created:%Y%m%d-%H%M%S}-{checksum[:8]}-{suffix}"
        meta = _metadata(trained, version, created, extra) | {"sha256": checksum, "artifact": MODEL_FILE}
        _write_json(staging / META_FILE, meta)
        staging.replace(self.root / version)
        return version

    def metadata(self, version: str) -> dict[str, Any]:
        """The stored metadata of `version`."""
        data: dict[str, Any] = json.loads((self._folder(version) / META_FILE).read_text(encoding="utf-8"))
        return data

    def verify(self, version: str) -> dict[str, Any]:
        """Check `version`'s artifact against its recorded sha256 and its types against `TRUSTED_TYPES`
        (raises `TamperedArtifact`); returns its metadata."""
        meta = self.metadata(version)
        path = self._folder(version) / MODEL_FILE
        if not path.exists():
            raise TamperedArtifact(f"{path}: the artifact of model {version} is missing")
        actual = file_sha256(path)
        if actual != meta["sha256"]:
            raise TamperedArtifact(
                f"{path}: sha256 {actual} does not match {meta['sha256']} recorded in its {META_FILE}; "
                "the artifact was changed after it was saved and will not be loaded"
            )
        try:
            untrusted = set(sio.get_untrusted_types(file=path))
        except Exception as exc:  # skops raises whatever its zip and JSON readers raise on a broken file
            raise TamperedArtifact(f"{path}: is not a readable skops artifact ({exc})") from exc
        unknown = sorted(untrusted - set(TRUSTED_TYPES))
        if unknown:
            raise TamperedArtifact(f"{path}: holds types that are not trusted: {', '.join(unknown)}")
        return meta

    def load(self, version: str) -> TrainedModel:
        """The model of `version`, after checking its checksum and the types in it (`verify`)."""
        meta = self.verify(version)
        path = self._folder(version) / MODEL_FILE
        model = sio.load(path, trusted=list(TRUSTED_TYPES))
        if not isinstance(model, LeadModel | SegmentedModel):
            raise TamperedArtifact(f"{path}: holds a {type(model).__name__}, not a leadq model")
        features = meta["features"]
        metrics = meta.get("metrics") or None
        return TrainedModel(
            model=model,
            schema=FrameSchema.from_dict(meta["schema"]),
            sources={f["column"]: f["source"] for f in features},
            labels={f["column"]: f["label"] for f in features},
            positives=int(meta["label_counts"]["positive"]),
            negatives=int(meta["label_counts"]["negative"]),
            metrics=Quality(**metrics) if metrics else None,
            version=version,
            extra={key: meta[key] for key in _KEPT if key in meta},
        )

    def versions(self) -> list[ModelInfo]:
        """Every stored version, oldest first."""
        champion = self.champion()
        out = []
        for meta_path in sorted(self.root.glob(f"*/{META_FILE}")):
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            counts = meta.get("label_counts", {})
            info = ModelInfo(
                version=meta["version"],
                created=meta["created"],
                champion=meta["version"] == champion,
                metrics=meta.get("metrics", {}),
                positives=int(counts.get("positive", 0)),
                negatives=int(counts.get("negative", 0)),
                training_rows=meta.get("training_rows"),
                data_hash=str(meta.get("data_hash", "")),
            )
            out.append(info)
        return sorted(out, key=lambda info: info.created)

    def champion(self) -> str | None:
        """The version that scores now (None before the first promotion)."""
        champion: str | None = self._index().get("champion")
        return champion

    def load_champion(self) -> TrainedModel | None:
        """The champion's model, or None when there is none."""
        champion = self.champion()
        return self.load(champion) if champion else None

    def promote(self, version: str) -> None:
        """Make `version` the champion; the current one can be restored with `rollback`.

        A tampered artifact is refused (`TamperedArtifact`, see `verify`): it could never be loaded.
        """
        self.verify(version)
        index = self._index()
        if index.get("champion") == version:
            return
        if index.get("champion"):
            index["previous"] = [*index.get("previous", []), index["champion"]]
        index["champion"] = version
        _write_json(self.root / INDEX_FILE, index)

    def rollback(self) -> str:
        """Make the previous champion the champion again (after `verify`ing its artifact); returns it."""
        index = self._index()
        previous = list(index.get("previous", []))
        if not previous:
            raise RegistryError("there is no previous champion to roll back to")
        self.verify(previous[-1])
        index["champion"], index["previous"] = previous[-1], previous[:-1]
        _write_json(self.root / INDEX_FILE, index)
        return str(index["champion"])

    def promote_if_better(
        self,
        challenger: str,
        holdout: FeatureFrame,
        outcome: pd.Series,
        *,
        segments: pd.Series | None = None,
        tolerance: float = DEFAULT_TOLERANCE,
    ) -> Promotion:
        """Promote `challenger` if, on the same holdout, its AUC is not below the champion's by more than
        `tolerance` (the first model is always promoted)."""
        known = pd.to_numeric(outcome.reindex(holdout.data.index), errors="coerce")
        rows = holdout.data.index[known.notna().to_numpy()]
        frame = FeatureFrame(
            holdout.data.loc[rows], holdout.columns, holdout.context, holdout.completeness, holdout.now
        )
        y = (known.loc[rows] > 0).astype(int).to_numpy()
        challenger_quality = quality(y, predict(self.load(challenger), frame, segments=segments))
        champion = self.champion()
        champion_quality = (
            quality(y, predict(self.load(champion), frame, segments=segments)) if champion else None
        )
        promoted = better_or_equal(challenger_quality, champion_quality, tolerance)
        if champion_quality is None:
            reason = "no champion yet"
        else:
            verdict = "not worse than" if promoted else "worse than"
            reason = (
                f"holdout AUC {challenger_quality.auc:.4f} is {verdict} the champion's "
                f"{champion_quality.auc:.4f} (tolerance {tolerance})"
            )
        if promoted:
            self.promote(challenger)
        return Promotion(promoted, challenger, champion, challenger_quality, champion_quality, reason)


def list_models(state_dir: Path | str) -> list[ModelInfo]:
    """`leadq model list`: the stored versions, oldest first, the champion flagged."""
    return ModelRegistry(state_dir).versions()


def promote_version(state_dir: Path | str, version: str) -> None:
    """`leadq model promote VERSION`."""
    ModelRegistry(state_dir).promote(version)


def rollback_champion(state_dir: Path | str) -> str:
    """`leadq model rollback`: returns the version that is champion again."""
    return ModelRegistry(state_dir).rollback()
