"""Fine-tuned models in the chat page's model list: the registry core/finetune/model_registry.py
keeps in the data dir, offered on the endpoints that can call them (Zhipu's, by either SDK)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from backends.base import Endpoint, ModelInfo
from core.finetune.model_registry import FOLDER, MODELS_FILE, load_models

NOTE = "finetune.model_note"  # the model list's description of a fine-tuned model


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size


@lru_cache(maxsize=8)
def _models(data_dir: str, stamp: tuple[int, int] | None) -> tuple[ModelInfo, ...]:
    return tuple(ModelInfo(m.id, note=NOTE) for m in load_models(Path(data_dir)))


def fine_tuned_models(endpoint: Endpoint, data_dir: Path) -> tuple[ModelInfo, ...]:
    """The registered fine-tuned models when `endpoint` is Zhipu's (the file is read again only
    when it changes)."""
    if endpoint.family != "glm" or "ZHIPUAI_API_KEY" not in endpoint.key_envs:
        return ()
    known = {m.id for m in endpoint.models}
    found = _models(str(data_dir), _stamp(Path(data_dir) / FOLDER / MODELS_FILE))
    return tuple(m for m in found if m.id not in known)
