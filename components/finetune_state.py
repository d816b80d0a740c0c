"""The fine-tune page's session: the open dataset, the section shown, and what is computed from it.

The open dataset is kept in memory and written to disk after every change (atomically, by
core/finetune/dataset.py), so a failed write loses nothing typed: the page says so and the next
change tries again. Validation, statistics and the export are recomputed only when the dataset
or a setting they depend on changed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import streamlit as st

from components.backend_picker import load_settings
from components.error_box import show_error
from components.identity import owner_id
from components.state import durable
from core.error_text import explain
from core.errors import ErrorKind, PlaygroundError
from core.finetune.base_models import DEFAULT_BASE_MODEL, base_model
from core.finetune.dataset import Dataset, DatasetStore, valid_dataset_id
from core.finetune.stats import DatasetStats, dataset_stats
from core.finetune.validation import Report, validate_records
from core.i18n import t
from core.markup import md

STATE_KEY = "finetune.workspace"
SECTIONS: tuple[str, ...] = ("examples", "import", "check", "stats", "export", "train")
DEFAULTS: dict[str, Any] = {"base_model": DEFAULT_BASE_MODEL, "limit": None, "epochs": 3,
                            "validation_ratio": 0.1, "seed": 42}
T = TypeVar("T")


@dataclass
class Workspace:
    dataset: Dataset | None = None
    revision: int = 0  # goes up with every change to the open dataset
    section: str = "examples"
    focus: int | None = None  # a line opened from the check table
    flash: tuple[str, str, dict[str, Any]] | None = None  # (kind, catalogue key, values) for one run
    cache: dict[str, tuple[Any, Any]] = field(default_factory=dict)


def workspace() -> Workspace:
    return durable(STATE_KEY, Workspace)


def data_dir() -> Path:
    return load_settings().data_dir


def store() -> DatasetStore:
    return DatasetStore(data_dir(), viewer=owner_id())  # the signed-in user's and shared ones


def attempt(ws: Workspace, action: Callable[[], T], refused_key: str, lang: str) -> T | None:
    """Run a dataset store action; a refusal (flash `refused_key` with its reason) or a disk error
    (flash "finetune.save_failed") becomes the page's message and None."""
    try:
        return action()
    except PlaygroundError as err:
        ws.flash = ("error", refused_key, {"reason": problem_text(err, lang)})
    except OSError as err:
        ws.flash = ("error", "finetune.save_failed", {"reason": str(err)})
    return None


def open_dataset(ws: Workspace, dataset_id: str | None) -> Dataset | None:
    """Open a dataset by id (from the list or the page URL); None when it cannot be read."""
    dataset = store().load(dataset_id) if valid_dataset_id(dataset_id) else None
    ws.dataset, ws.focus = dataset, None
    ws.revision += 1
    ws.cache.clear()
    if dataset is not None:
        st.query_params["d"] = dataset.id
    else:
        st.query_params.pop("d", None)
    return dataset


def current(ws: Workspace) -> Dataset | None:
    """The open dataset; on a fresh session, the one named in the URL (?d=<id>)."""
    if ws.dataset is None and valid_dataset_id(st.query_params.get("d")):
        open_dataset(ws, st.query_params.get("d"))
    return ws.dataset


def setting(dataset: Dataset, name: str) -> Any:
    return dataset.settings.get(name, DEFAULTS.get(name))


def limit_of(dataset: Dataset) -> int | None:
    """The length limit checked: the one typed, else the chosen model's context."""
    typed = dataset.settings.get("limit")
    if isinstance(typed, int) and typed > 0:
        return typed
    model = base_model(setting(dataset, "base_model"))
    return model.context if model else None


def save(ws: Workspace, examples_changed: bool = True) -> None:
    """Write the open dataset (only its settings when the examples did not change)."""
    dataset = ws.dataset
    if dataset is None:
        return
    ws.revision += 1
    try:
        if examples_changed:
            store().save(dataset)
        else:
            store().save_settings(dataset)
    except OSError as err:
        ws.flash = ("error", "finetune.save_failed", {"reason": str(err) or type(err).__name__})


def cached(ws: Workspace, name: str, key: Any, compute: Callable[[], T]) -> T:
    """compute() once per (revision, key)."""
    stamp = (ws.revision, key)
    found = ws.cache.get(name)
    if found is None or found[0] != stamp:
        found = (stamp, compute())
        ws.cache[name] = found
    return found[1]  # type: ignore[no-any-return]


def report(ws: Workspace, dataset: Dataset) -> Report:
    limit = limit_of(dataset)
    return cached(ws, "report", limit, lambda: validate_records(dataset.records(), limit))


def stats(ws: Workspace, dataset: Dataset) -> DatasetStats:
    limit = limit_of(dataset)
    return cached(ws, "stats", limit, lambda: dataset_stats(dataset.records(), limit))


def show_flash(ws: Workspace, lang: str) -> None:
    """The message a callback left for this run (shown once)."""
    flash, ws.flash = ws.flash, None
    if flash is None:
        return
    kind, key, values = flash
    shown = {"success": st.success, "error": st.error, "warning": st.warning, "info": st.info}[kind]
    safe = {k: md(v) if isinstance(v, str) else v for k, v in values.items()}  # names are user text
    shown(t(key, lang, **safe), icon=":material/check_circle:" if kind == "success" else None)


def show_problem(err: PlaygroundError, lang: str) -> None:
    """A refusal of what the user gave (its fix in plain words), or a provider error in full."""
    if err.kind is ErrorKind.VALIDATION:  # its values (column names, sizes) come from the user's file
        safe = {k: md(v) if isinstance(v, str) and k != "key" else v for k, v in err.params.items()}
        st.error(explain(PlaygroundError(err.kind, params=safe), lang).fix, icon=":material/error:")
    else:
        show_error(err, lang)


def problem_text(err: PlaygroundError, lang: str) -> str:
    return explain(err, lang).fix

