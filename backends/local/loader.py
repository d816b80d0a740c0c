"""Find a model's weights, choose its device and dtype, and load it: natively (GLM-4, glm-edge,
GLM-4-0414) or through its own code (ChatGLM2/3-6B, only with the user's opt-in).

Imported only when a model is loaded: it imports torch and transformers.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from backends.local.cache import LoadedModel, Progress
from backends.local.spec import LoadSpec, normalize_model
from core.errors import ErrorKind, PlaygroundError

WEIGHT_PATTERNS = ("*.safetensors", "*.bin", "*.pt", "*.pth")
NOT_WEIGHTS = {"training_args.bin", "optimizer.pt", "scheduler.pt", "rng_state.pth"}
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")  # e.g. THUDM/glm-4-9b-chat-hf
DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}


def _refuse(key: str, detail: str = "", **params: Any) -> PlaygroundError:
    """A load refused before anything ran, with the fix named in the catalogue entry `key`."""
    return PlaygroundError(ErrorKind.VALIDATION, detail=detail[:800], params={"key": key, **params})


def resolve_device(device: str) -> str:
    """"auto": CUDA when there is a GPU, else the CPU. CUDA asked for without one is refused."""
    if device == "cuda" and not torch.cuda.is_available():
        raise _refuse("local.error.no_cuda", detail=f"torch {torch.__version__}, cuda available: False")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device not in ("cuda", "cpu"):
        raise _refuse("local.error.bad_device", detail=device, device=device)
    return device


def resolve_dtype(device: str, dtype: str) -> str:
    """"auto": bfloat16 on a GPU that has it, else float16 on a GPU; float32 on the CPU."""
    if dtype == "auto":
        if device == "cuda":
            return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
        return "float32"
    if dtype not in DTYPES:
        raise _refuse("local.error.bad_dtype", detail=dtype, dtype=dtype)
    return dtype


def resolve_spec(spec: LoadSpec) -> LoadSpec:
    """The spec with a real device and dtype and a folder's absolute path: the cache's key."""
    device = resolve_device(spec.device)
    return replace(spec, model=normalize_model(spec.model), device=device,
                   dtype=resolve_dtype(device, spec.dtype))


def placement(device: str, gpu_count: int) -> dict[str, Any]:
    """from_pretrained's device arguments: spread over every GPU when there are several."""
    if device != "cuda":
        return {}
    return {"device_map": "auto" if gpu_count > 1 else "cuda"}


def locate(model: str) -> tuple[str, bool]:
    """(what to pass to from_pretrained, whether it is a folder here). Refuses a missing folder or
    a folder without weights; a Hugging Face id is checked when it is fetched."""
    text = model.strip()
    if not text:
        raise PlaygroundError(ErrorKind.VALIDATION, params={"key": "validation.no_model"})
    path = Path(os.path.expanduser(text))
    if path.is_dir():
        check_folder(path)
        return str(path.resolve()), True
    if path.exists():
        raise _refuse("local.error.not_a_folder", detail=str(path), path=text)
    if HUB_ID.match(text) and not text.startswith((".", "~")):
        return text, False
    raise _refuse("local.error.not_found", detail=str(path.absolute()), path=text)


def check_folder(path: Path) -> None:
    """A model folder has a config.json and at least one weights file."""
    weights = [p for pattern in WEIGHT_PATTERNS for p in path.glob(pattern) if p.name not in NOT_WEIGHTS]
    if (path / "config.json").is_file() and weights:
        return
    present = sorted(p.name for p in path.iterdir())[:12]
    raise _refuse("local.error.no_weights", detail="files: " + (", ".join(present) or "none"),
                  path=str(path))


def read_config(source: str, local: bool) -> dict[str, Any]:
    """config.json as a dict, without running any of the model's code."""
    try:
        if local:
            file = Path(source) / "config.json"
        else:
            from transformers.utils import cached_file

            file = Path(cached_file(source, "config.json"))
        return json.loads(file.read_text(encoding="utf-8"))
    except PlaygroundError:
        raise
    except (OSError, ValueError) as exc:
        key = "local.error.bad_config" if local else "local.error.hub_unavailable"
        raise _refuse(key, detail=f"{type(exc).__name__}: {exc}", model=source) from exc


def needs_remote_code(config: dict[str, Any]) -> bool:
    """True when transformers does not know the model type and the folder brings its own code."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    model_type = config.get("model_type")
    if model_type in CONFIG_MAPPING:
        return False
    if config.get("auto_map"):
        return True
    raise _refuse("local.error.unknown_model_type", detail=f"model_type={model_type!r}",
                  model_type=str(model_type))


def is_oom(exc: BaseException) -> bool:
    """True when `exc` says memory ran out, loading or generating: torch's and Python's own errors,
    any error saying "out of memory" (a CUDA error's text), and transformers / accelerate refusing
    for want of memory ("not enough memory", "offload")."""
    if isinstance(exc, torch.OutOfMemoryError | MemoryError):
        return True
    text = str(exc).lower()
    if "out of memory" in text:
        return True
    return isinstance(exc, RuntimeError | ValueError) and ("not enough memory" in text or "offload" in text)


def load_model(spec: LoadSpec, progress: Progress | None = None) -> LoadedModel:
    """Load a resolved spec (see `resolve_spec`). Every refusal is a PlaygroundError."""
    say = progress or (lambda key, values: None)
    started = time.perf_counter()
    say("local.step.checking", {"model": spec.model})
    source, local = locate(spec.model)
    config = read_config(source, local)
    remote = needs_remote_code(config)
    if remote and not spec.remote_code:
        raise _refuse("local.error.remote_code_needed", detail=f"auto_map={config.get('auto_map')}",
                      model=spec.model, model_type=str(config.get("model_type")))
    try:
        say("local.step.tokenizer", {})
        tokenizer = _tokenizer(source, spec)
        say("local.step.weights", {"device": spec.device, "dtype": spec.dtype})
        model = _weights(source, spec, config, remote)
    except PlaygroundError:
        raise
    except Exception as exc:
        raise _load_error(exc, spec) from exc
    mode = "stream_chat" if remote and callable(getattr(model, "stream_chat", None)) else "generate"
    if mode == "generate" and not getattr(tokenizer, "chat_template", None):
        raise _refuse("local.error.no_chat_template", detail=type(tokenizer).__name__, model=spec.model)
    generation_config = getattr(model, "generation_config", None)  # ChatGLM's own code may have none
    if generation_config is not None and generation_config.pad_token_id is None:
        generation_config.pad_token_id = tokenizer.eos_token_id
    window = config.get("max_position_embeddings") or config.get("seq_length")
    loaded = LoadedModel(spec=spec, model=model, tokenizer=tokenizer, mode=mode,
                         architecture=type(model).__name__,
                         context_window=int(window) if isinstance(window, int) else None,
                         parameters=sum(p.numel() for p in model.parameters()),
                         load_s=time.perf_counter() - started)
    say("local.step.done", {"seconds": loaded.load_s})
    return loaded


def _tokenizer(source: str, spec: LoadSpec) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(source, trust_remote_code=spec.remote_code)


def _weights(source: str, spec: LoadSpec, config: dict[str, Any], remote: bool) -> Any:
    from transformers import AutoModel, AutoModelForCausalLM

    auto_map = config.get("auto_map") or {}
    # ChatGLM2/3's code registers AutoModel (web_demo2.py loads it so); native models are causal LMs.
    loader = AutoModel if remote and "AutoModelForCausalLM" not in auto_map else AutoModelForCausalLM
    kwargs: dict[str, Any] = {"dtype": DTYPES[spec.dtype], "trust_remote_code": spec.remote_code}
    kwargs.update(placement(spec.device, torch.cuda.device_count() if spec.device == "cuda" else 0))
    model = loader.from_pretrained(source, **kwargs)
    return model.eval()


def _load_error(exc: BaseException, spec: LoadSpec) -> PlaygroundError:
    detail = f"{type(exc).__name__}: {exc}"
    if is_oom(exc):
        return _refuse("local.error.oom_loading", detail=detail, model=spec.model, device=spec.device,
                       dtype=spec.dtype)
    if "trust_remote_code" in str(exc):
        return _refuse("local.error.remote_code_needed", detail=detail, model=spec.model, model_type="?")
    if isinstance(exc, OSError) and not os.path.isdir(spec.model):
        return _refuse("local.error.hub_unavailable", detail=detail, model=spec.model)
    return _refuse("local.error.load_failed", detail=detail, model=spec.model)
