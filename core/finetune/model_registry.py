"""Fine-tuned models the playground has seen finish, kept in `<data dir>/finetune/models.json`.

The chat page's model list reads this file (components/finetune_models.py), so a finished job's
model can be picked like any other.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from core.atomic_file import write_text_atomic

FOLDER = "finetune"
MODELS_FILE = "models.json"


@dataclass(frozen=True)
class FineTunedModel:
    id: str  # the model id to call, as the provider named it
    base_model: str = ""
    job_id: str = ""
    dataset: str = ""  # the dataset's name when the job started
    created_at: str = ""


def _path(data_dir: Path) -> Path:
    return Path(data_dir) / FOLDER / MODELS_FILE


def load_models(data_dir: Path) -> list[FineTunedModel]:
    """The registered models, newest first; an unreadable file counts as none."""
    try:
        data = json.loads(_path(data_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(data, list):
        return []
    out = []
    for item in data:
        if isinstance(item, dict) and isinstance(item.get("id"), str) and item["id"].strip():
            known = {k: str(item.get(k) or "") for k in FineTunedModel.__dataclass_fields__}
            out.append(FineTunedModel(**known))
    return out


def model_ids(data_dir: Path) -> list[str]:
    return [m.id for m in load_models(data_dir)]


def register_model(data_dir: Path, model: FineTunedModel) -> bool:
    """Add a model (newest first); False when it was already there. Raises OSError."""
    models = load_models(data_dir)
    if any(m.id == model.id for m in models):
        return False
    path = _path(data_dir)
    records: list[dict[str, Any]] = [asdict(m) for m in [model, *models]]
    write_text_atomic(path, json.dumps(records, ensure_ascii=False, indent=1) + "\n")
    return True


def forget_model(data_dir: Path, model_id: str) -> None:
    models = [m for m in load_models(data_dir) if m.id != model_id]
    path = _path(data_dir)
    if path.exists():
        write_text_atomic(path, json.dumps([asdict(m) for m in models], ensure_ascii=False, indent=1) + "\n")
