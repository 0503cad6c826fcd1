"""`leadq model list | promote VERSION | rollback` and `leadq report`: the model lifecycle for admins.

Each configured CRM has its own registry, `<state>/<crm>/models/` (`scoring.registry.ModelRegistry`),
where `<state>` is `.leadq/` next to the config (`sync.context.state_dir_for`). The config is read
without its secrets (`resolve=False`): these commands never talk to a CRM.

Promotion and rollback change the registry, then write an audit entry to the state store when it can be
opened (and set the model's role there when the version is in the store's model index). A tampered
artifact is never promoted nor rolled back to: the registry checks its sha256 first.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlalchemy.engine import make_url

from mappings import ConfigError, Crm, LeadqConfig, load_config
from sync.context import state_dir_for
from sync.state import StateStore

if TYPE_CHECKING:  # the scoring stack loads in seconds: only the commands that need it import it
    from scoring.registry import ModelInfo, ModelRegistry

__all__ = ["model_app", "registry_for", "report"]

model_app = typer.Typer(
    name="model",
    help="List the stored model versions, promote one to champion, or roll back to the previous champion.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ConfigOption = Annotated[
    Path, typer.Option("--config", "-c", help="The leadq config (its folder holds .leadq/).", dir_okay=False)
]
CrmOption = Annotated[
    str | None,
    typer.Option("--crm", help="salesforce or hubspot (default: every configured CRM).", show_default=False),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
DEFAULT_CONFIG = Path("leadq.yaml")


def registry_for(config_path: Path, crm: str) -> ModelRegistry:
    """The model registry of one CRM: `<state>/<crm>/models/`."""
    from scoring.registry import ModelRegistry

    return ModelRegistry(state_dir_for(config_path) / crm)


def _fail(message: str, code: int = 1) -> typer.Exit:
    Console(stderr=True).print(Text("error: ", style="red") + Text(message))
    return typer.Exit(code)


def _config(path: Path) -> LeadqConfig:
    try:
        return load_config(path, resolve=False)
    except ConfigError as exc:
        raise _fail(str(exc), 2) from None


def _crms(config: LeadqConfig, crm: str | None) -> list[Crm]:
    if crm is None:
        return list(config.crms)
    for configured in config.crms:
        if configured == crm:
            return [configured]
    known = ", ".join(config.crms)
    raise _fail(f"--crm {crm}: not configured in the config (configured: {known})", 2)


def _console() -> Console:
    return Console(width=max(Console().width, 160))


def _no_model_message(config: LeadqConfig) -> str:
    need = config.scoring.min_labels_per_class
    return (
        "no model is trained yet: scores are rule-based (the features' points) until there are at least "
        f"{need} converted and {need} not-converted outcomes (scoring.min_labels_per_class: {need})"
    )


# ---- model list ------------------------------------------------------------------------------------


def _figure(metrics: Any, name: str) -> float | None:
    value = metrics.get(name) if isinstance(metrics, dict) else None
    return float(value) if isinstance(value, int | float) else None


def _as_dict(crm: str, info: ModelInfo) -> dict[str, Any]:
    metrics = dict(info.metrics)
    return {
        "crm": crm,
        "version": info.version,
        "created": info.created,
        "champion": info.champion,
        "auc": _figure(metrics, "auc"),
        "ece": _figure(metrics, "ece"),
        "brier": _figure(metrics, "brier"),
        "positives": info.positives,
        "negatives": info.negatives,
        "training_rows": info.training_rows,
        "data_hash": info.data_hash,
    }


def _cell(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


@model_app.command("list")
def list_command(
    config: ConfigOption = DEFAULT_CONFIG, crm: CrmOption = None, as_json: JsonOption = False
) -> None:
    """The stored model versions per CRM, oldest first, with their holdout figures; * marks the champion."""
    loaded = _config(config)
    rows = [_as_dict(c, info) for c in _crms(loaded, crm) for info in registry_for(config, c).versions()]
    if as_json:
        typer.echo(json.dumps(rows))
        return
    console = _console()
    if not rows:
        console.print(Text(_no_model_message(loaded)))
        return
    table = Table(title="leadq models", title_justify="left", header_style="bold")
    for column in (
        "CRM",
        "version",
        "created",
        "champion",
        "AUC",
        "ECE",
        "Brier",
        "training rows",
        "data hash",
    ):
        table.add_column(column, no_wrap=True)
    for row in rows:
        table.add_row(
            row["crm"],
            row["version"],
            str(row["created"])[:19],
            "*" if row["champion"] else "",
            _cell(row["auc"]),
            _cell(row["ece"]),
            _cell(row["brier"]),
            "" if row["training_rows"] is None else str(row["training_rows"]),
            row["data_hash"][:12],
        )
    console.print(table)


# ---- promote and rollback ----------------------------------------------------------------------------


def _open_store(config: LeadqConfig) -> StateStore | None:
    """The state store, or None when there is none yet (SQLite file missing) or it cannot be opened."""
    url = config.state.url
    try:
        parsed = make_url(url)
    except Exception:  # a URL SQLAlchemy cannot parse: the daemon would fail on it too
        return None
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if not database or database == ":memory:" or not Path(database).exists():
            return None
    try:
        return StateStore.open(url)
    except Exception as exc:  # the change stands; only its audit entry is missing
        # The exception's text could carry the URL and its password: name its type only.
        Console(stderr=True).print(
            Text(
                f"warning: the state store (state.url) could not be opened ({type(exc).__name__}); "
                "the change is made but not written to the audit log"
            )
        )
        return None


def _record(config: LeadqConfig, crm: Crm, action: str, old: str | None, new: str) -> bool:
    """Audit the champion change and mirror it in the store's model index; whether it was audited."""
    store = _open_store(config)
    if store is None:
        return False
    try:
        with store.transaction():
            store.audit(
                "admin", action, crm=crm, old=old, new=new, model_version=new, detail={"from": old, "to": new}
            )
            # The index only mirrors the registry: versions it does not hold are left alone.
            indexed = {entry.version for entry in store.models(crm)}
            if old is not None and old in indexed and old != new:
                store.set_model_role(crm, old, "challenger")
            if new in indexed:
                store.set_model_role(crm, new, "champion")
        return True
    finally:
        store.close()


def _registries_with(config_path: Path, crms: list[Crm], version: str) -> list[Crm]:
    return [c for c in crms if (registry_for(config_path, c).root / version / "meta.json").exists()]


@model_app.command("promote")
def promote(
    version: Annotated[str, typer.Argument(help="The version to make champion (see `leadq model list`).")],
    config: ConfigOption = DEFAULT_CONFIG,
    crm: CrmOption = None,
) -> None:
    """Make VERSION the champion that scores leads; the current champion can be restored with rollback."""
    from scoring.registry import RegistryError

    loaded = _config(config)
    crms = _crms(loaded, crm)
    holders = _registries_with(config, crms, version)
    if not holders:
        raise _fail(
            f"no model version {version!r} for {', '.join(crms)}: `leadq model list` shows the versions"
        )
    if len(holders) > 1:
        raise _fail(f"model version {version!r} exists for {' and '.join(holders)}: say which with --crm", 2)
    target = holders[0]
    registry = registry_for(config, target)
    old = registry.champion()
    try:
        registry.promote(version)
    except RegistryError as exc:
        raise _fail(f"{target}: {exc}") from None
    if old == version:
        typer.echo(f"{target}: {version} is already the champion; nothing changed")
        return
    typer.echo(f"{target}: champion {old or '(none)'} -> {version}")
    if _record(loaded, target, "model_promote", old, version):
        typer.echo("recorded in the audit log")


@model_app.command("rollback")
def rollback(config: ConfigOption = DEFAULT_CONFIG, crm: CrmOption = None) -> None:
    """Make the previous champion the champion again."""
    from scoring.registry import RegistryError

    loaded = _config(config)
    crms = _crms(loaded, crm)
    candidates = [c for c in crms if registry_for(config, c).champion() is not None]
    if not candidates:
        raise _fail(f"no champion to roll back for {', '.join(crms)}; {_no_model_message(loaded)}")
    if len(candidates) > 1:
        # Rolling back every CRM at once is rarely what is meant: one at a time.
        raise _fail(f"{' and '.join(candidates)} both have a champion: say which to roll back with --crm", 2)
    target = candidates[0]
    registry = registry_for(config, target)
    old = registry.champion()
    try:
        new = registry.rollback()
    except RegistryError as exc:
        raise _fail(f"{target}: {exc}") from None
    typer.echo(f"{target}: champion {old} -> {new} (rolled back)")
    if _record(loaded, target, "model_rollback", old, new):
        typer.echo("recorded in the audit log")


# ---- report ------------------------------------------------------------------------------------------


def report(
    config: ConfigOption = DEFAULT_CONFIG,
    crm: CrmOption = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Where to write the HTML (default: .leadq/reports/<crm>-<version>.html).",
                     dir_okay=False, show_default=False),
    ] = None,
) -> None:  # fmt: skip
    """Write the HTML model report of each CRM's champion: calibration, ROC, lift, score distribution by
    outcome, SHAP summary, drift, and the rules-only baseline next to the model."""
    from scoring.registry import RegistryError
    from scoring.report import NoHoldout, write_model_report

    loaded = _config(config)
    crms = _crms(loaded, crm)
    champions = [(c, v) for c in crms if (v := registry_for(config, c).champion()) is not None]
    if not champions:
        stored = [c for c in crms if registry_for(config, c).versions()]
        if stored:
            raise _fail(
                f"no champion for {', '.join(stored)}: promote a version with `leadq model promote VERSION`"
            )
        raise _fail(_no_model_message(loaded))
    if out is not None and len(champions) > 1:
        raise _fail("--out names one file but several CRMs have a model: add --crm", 2)
    reports = state_dir_for(config) / "reports"
    for target, version in champions:
        registry = registry_for(config, target)
        try:
            meta = registry.verify(version)
            path = out or reports / f"{target}-{version}.html"
            path.parent.mkdir(parents=True, exist_ok=True)
            written = write_model_report(
                path, meta, thresholds=loaded.scoring.drift, title=f"leadq model report: {target} {version}"
            )
        except (RegistryError, NoHoldout) as exc:
            raise _fail(f"{target}: {exc}") from None
        typer.echo(str(written))


def write_champion_report(state_dir: Path, config: LeadqConfig, crm: str) -> str:
    """Write the champion's report into `state_dir/reports` and return where, or say why there is none."""
    from scoring.registry import ModelRegistry, RegistryError
    from scoring.report import NoHoldout, write_model_report

    registry = ModelRegistry(state_dir / crm)
    version = registry.champion()
    if version is None:
        return "none yet: " + _no_model_message(config)
    try:
        meta = registry.verify(version)
        path = state_dir / "reports" / f"{crm}-{version}.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        return str(
            write_model_report(
                path, meta, thresholds=config.scoring.drift, title=f"leadq model report: {crm} {version}"
            )
        )
    except (RegistryError, NoHoldout) as exc:
        return f"not written: {exc}"
