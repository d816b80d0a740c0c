"""The process-wide set of loaded models: each loaded once for every session, keyed by how it was
loaded. No torch here: the sidebar asks what is loaded on every run without importing it."""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from backends.local.spec import LoadSpec, normalize_model
from backends.local.turn_queue import TurnQueue

Progress = Callable[[str, dict[str, Any]], None]  # a catalogue key and its values


@dataclass(eq=False)
class LoadedModel:
    """A model in memory with its tokenizer, ready to answer, and the line of callers in front of it."""

    spec: LoadSpec  # resolved: the real device and dtype, the folder's absolute path
    model: Any = field(repr=False)
    tokenizer: Any = field(repr=False)
    mode: str  # "generate" (native, chat template) or "stream_chat" (ChatGLM2/3 remote code)
    architecture: str
    context_window: int | None
    parameters: int
    load_s: float
    line: TurnQueue = field(default_factory=TurnQueue, repr=False)


class ModelCache:
    """Loaded models by resolved spec. Loading the same spec twice at once loads it once."""

    def __init__(self) -> None:
        self._models: dict[LoadSpec, LoadedModel] = {}
        self._locks: dict[LoadSpec, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, spec: LoadSpec) -> LoadedModel | None:
        """The model loaded for this spec ("auto" device and dtype as they resolve here), if any."""
        with self._guard:
            if not self._models:
                return None  # nothing loaded: no need to import torch to resolve "auto"
        from backends.local.loader import resolve_spec  # torch is in memory once a model is

        try:
            resolved = resolve_spec(spec)
        except Exception:  # e.g. CUDA asked for on a machine without: nothing is loaded that way
            return None
        with self._guard:
            return self._models.get(resolved)

    def for_model(self, model: str) -> LoadedModel | None:
        """The most recently loaded model the user named `model` (for its context window)."""
        wanted = normalize_model(model)
        with self._guard:
            found = [m for key, m in self._models.items() if key.model == wanted]
        return found[-1] if found else None

    def loaded(self) -> list[LoadedModel]:
        with self._guard:
            return list(self._models.values())

    def load(self, spec: LoadSpec, progress: Progress | None = None) -> LoadedModel:
        """The loaded model for `spec`, loading it first if no session has yet."""
        from backends.local.loader import load_model, resolve_spec  # torch, on first load

        resolved = resolve_spec(spec)
        with self._guard:
            found = self._models.get(resolved)
            if found is not None:
                return found
            lock = self._locks.setdefault(resolved, threading.Lock())
        with lock:  # a second session asking meanwhile waits for this load instead of repeating it
            with self._guard:
                found = self._models.get(resolved)
            if found is not None:
                return found
            loaded = load_model(resolved, progress)
            with self._guard:
                self._models[resolved] = loaded
            return loaded

    def unload(self, spec: LoadSpec | None = None) -> int:
        """Forget one model (or all with None) and give its memory back; returns how many went."""
        resolved = None
        if spec is not None:
            loaded = self.get(spec)
            if loaded is None:
                return 0
            resolved = loaded.spec
        with self._guard:
            gone = [key for key in self._models if resolved is None or key == resolved]
            for key in gone:
                del self._models[key]
        if gone:
            release_memory()
        return len(gone)


def release_memory() -> None:
    """Collect freed tensors and hand cached GPU blocks back, so memory does not creep up."""
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def hand_back_gpu_cache(model: Any) -> None:
    """After every turn, so that GPU memory stays flat from one turn to the next."""
    device = getattr(model, "device", None)
    if getattr(device, "type", None) == "cuda":
        sys.modules["torch"].cuda.empty_cache()


@dataclass(frozen=True)
class GpuMemory:
    name: str
    allocated: int
    reserved: int
    total: int


def gpu_memory() -> list[GpuMemory] | None:
    """Memory on each GPU, or None when no GPU is in use (torch not even imported, or no CUDA)."""
    torch = sys.modules.get("torch")  # never import torch just to say there is nothing to show
    if torch is None or not torch.cuda.is_available():
        return None
    out = []
    for i in range(torch.cuda.device_count()):
        out.append(GpuMemory(torch.cuda.get_device_name(i), torch.cuda.memory_allocated(i),
                             torch.cuda.memory_reserved(i), torch.cuda.get_device_properties(i).total_memory))
    return out


MODELS = ModelCache()  # one per process, shared by every session
