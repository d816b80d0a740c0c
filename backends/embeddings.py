"""Embedding calls: Zhipu embedding-3 / embedding-2 (zhipuai SDK), OpenAI text-embedding-3-small
(openai SDK), or a local sentence-transformers model directory (imported only when used).

Texts go in batches; every batch is reported to `on_call` (the page records it in the usage
ledger), failed ones too. Errors speak the common vocabulary: a missing key is MISSING_KEY naming
the variable, a provider's refusal is translated as for chat.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from backends.base import Connection
from core.errors import ErrorKind, PlaygroundError


@dataclass(frozen=True)
class EmbeddingModel:
    """A cloud embedding model the playground offers, as data."""

    provider: str  # zhipu | openai
    model: str
    key_envs: tuple[str, ...]
    batch_size: int
    dimensions: int  # of the vectors by default


CLOUD_MODELS: dict[str, EmbeddingModel] = {
    "zhipu:embedding-3": EmbeddingModel("zhipu", "embedding-3", ("ZHIPUAI_API_KEY",), 64, 2048),
    "zhipu:embedding-2": EmbeddingModel("zhipu", "embedding-2", ("ZHIPUAI_API_KEY",), 16, 1024),
    "openai:text-embedding-3-small": EmbeddingModel("openai", "text-embedding-3-small", ("OPENAI_API_KEY",),
                                                    128, 1536),
}
LOCAL_BATCH = 32
LOCAL = "local"


@dataclass(frozen=True)
class EmbeddingSpec:
    """Which embedding: a cloud model's id, or a local model directory for provider "local"."""

    provider: str
    model: str

    @property
    def key(self) -> str:
        """Names the vectors it makes: chunks embedded under one key are searched with the same."""
        return f"{self.provider}:{self.model}"

    @property
    def batch_size(self) -> int:
        info = CLOUD_MODELS.get(self.key)
        return info.batch_size if info else LOCAL_BATCH

    @property
    def key_envs(self) -> tuple[str, ...]:
        info = CLOUD_MODELS.get(self.key)
        return info.key_envs if info else ()

    def to_dict(self) -> dict[str, str]:
        return {"provider": self.provider, "model": self.model}

    @classmethod
    def from_dict(cls, data: Any) -> EmbeddingSpec | None:
        if not isinstance(data, dict) or not data.get("provider") or not data.get("model"):
            return None
        spec = cls(str(data["provider"]), str(data["model"]))
        return spec if spec.provider == LOCAL or spec.key in CLOUD_MODELS else None


@dataclass(frozen=True)
class EmbeddingCall:
    """One batch as the usage ledger needs it."""

    spec: EmbeddingSpec
    texts: list[str]
    prompt_tokens: int | None
    latency_s: float
    error: PlaygroundError | None = None
    request_id: str | None = None


OnCall = Callable[[EmbeddingCall], None]


def embed_texts(spec: EmbeddingSpec, texts: list[str], conn: Connection | None = None,
                on_call: OnCall | None = None) -> list[list[float]]:
    """One vector per text, in order, batch by batch. `conn` is needed for a cloud model."""
    vectors: list[list[float]] = []
    size = spec.batch_size
    for start in range(0, len(texts), size):
        vectors.extend(_one_batch(spec, texts[start:start + size], conn, on_call))
    return vectors


def _one_batch(spec: EmbeddingSpec, batch: list[str], conn: Connection | None,
               on_call: OnCall | None) -> list[list[float]]:
    started = time.perf_counter()
    try:
        if spec.provider == LOCAL:
            vectors, tokens, request_id = _local(spec.model, batch), None, None
        else:
            vectors, tokens, request_id = _cloud(spec, batch, conn)
    except PlaygroundError as err:
        _report(on_call, EmbeddingCall(spec, batch, None, time.perf_counter() - started, err, err.request_id))
        raise
    _report(on_call, EmbeddingCall(spec, batch, tokens, time.perf_counter() - started, None, request_id))
    return vectors


def _report(on_call: OnCall | None, call: EmbeddingCall) -> None:
    if on_call is None:
        return
    try:
        on_call(call)
    except Exception:
        pass  # recording never breaks the work


def _cloud(spec: EmbeddingSpec, batch: list[str],
           conn: Connection | None) -> tuple[list[list[float]], Any, Any]:
    if conn is None or not conn.api_key:
        raise PlaygroundError(ErrorKind.MISSING_KEY, params={"envs": ", ".join(spec.key_envs)})
    if spec.provider == "zhipu":
        from backends.zhipu import _client, translate_zhipu_error

        translate = translate_zhipu_error
    else:
        from backends.openai_compat import _client, translate_openai_error

        translate = translate_openai_error
    try:
        response = _client(conn).embeddings.create(input=batch, model=spec.model)
    except Exception as exc:
        raise translate(exc, False) from None
    data = sorted(response.data, key=lambda item: item.index if item.index is not None else 0)
    if len(data) != len(batch):
        raise PlaygroundError(ErrorKind.SERVER_ERROR,
                              detail=f"{len(batch)} texts sent, {len(data)} vectors received")
    usage = getattr(response, "usage", None)
    tokens = getattr(usage, "prompt_tokens", None) if usage is not None else None
    return [list(item.embedding) for item in data], tokens, getattr(response, "id", None)


_local_lock = threading.Lock()


@lru_cache(maxsize=2)
def _local_model(path: str) -> Any:
    from sentence_transformers import SentenceTransformer  # torch: imported only when used

    return SentenceTransformer(path, device="cpu", local_files_only=True)


def _local(path: str, batch: list[str]) -> list[list[float]]:
    from pathlib import Path

    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise PlaygroundError(ErrorKind.VALIDATION,
                              params={"key": "retrieval.error.local_model", "path": path})
    try:
        with _local_lock:  # one encode at a time: the model is shared by every session
            model = _local_model(str(folder.resolve()))
            vectors = model.encode(batch, batch_size=LOCAL_BATCH, normalize_embeddings=True,
                                   show_progress_bar=False)
    except Exception as exc:
        raise PlaygroundError(ErrorKind.VALIDATION, detail=f"{type(exc).__name__}: {exc}",
                              params={"key": "retrieval.error.local_model", "path": path}) from None
    return [list(map(float, v)) for v in vectors]
