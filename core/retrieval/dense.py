"""Dense vectors in Qdrant: local mode on disk by default, a Qdrant server with PLAYGROUND_QDRANT_URL.

One collection per knowledge base and embedding model (`kb_<kb id>_<hash of the model key>`),
cosine distance; a point's id is its chunk id as a UUID, with the chunk id in its payload. Local
mode keeps `<data_dir>/qdrant/`, which one process at a time may open: a team, or a second
process, uses a server (`PLAYGROUND_QDRANT_URL`, with `PLAYGROUND_QDRANT_API_KEY` if it has one).
An unreachable server or a locked folder is a clear VALIDATION error naming the setting to check.
"""

from __future__ import annotations

import atexit
import hashlib
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from core.config import Settings
from core.errors import PlaygroundError
from core.retrieval.errors import retrieval_error

QDRANT_URL_ENV = "PLAYGROUND_QDRANT_URL"
QDRANT_KEY_ENV = "PLAYGROUND_QDRANT_API_KEY"
TIMEOUT_S = 10
MAX_CLIENTS = 8
T = TypeVar("T")

_clients: OrderedDict[str, Any] = OrderedDict()
_clients_lock = threading.Lock()
_call_locks: dict[str, threading.RLock] = {}


def _lock_for(location: str) -> threading.RLock:
    with _clients_lock:
        return _call_locks.setdefault(location, threading.RLock())


def collection_name(kb_id: str, model_key: str) -> str:
    return f"kb_{kb_id}_{hashlib.sha1(model_key.encode('utf-8')).hexdigest()[:12]}"


def point_id(chunk_id: str) -> str:
    return str(uuid.UUID(hex=chunk_id))


class QdrantStore:
    """The vector store for every knowledge base (see the module). Connects on first use."""

    def __init__(self, url: str | None = None, path: Path | None = None, api_key: str | None = None) -> None:
        if not url and path is None:
            raise ValueError("a Qdrant URL or a local folder is needed")
        self.url, self.path, self._api_key = url, path, api_key

    @property
    def where(self) -> str:
        """Where the vectors are, for messages (never the API key)."""
        return self.url or str(self.path)

    @property
    def exists(self) -> bool:
        """Whether there can be vectors at all (a server, or a local folder already made)."""
        return bool(self.url) or Path(self.path or "").is_dir()

    @classmethod
    def from_settings(cls, settings: Settings) -> QdrantStore:
        url = settings.get(QDRANT_URL_ENV)
        if url:
            return cls(url=url, api_key=settings.get(QDRANT_KEY_ENV))
        return cls(path=settings.data_dir / "qdrant")

    # ---- connection -------------------------------------------------------------------------------
    def _client(self) -> Any:
        key = self.url or str(Path(self.path or "").resolve())
        with _clients_lock:
            client = _clients.get(key)
            if client is not None:
                _clients.move_to_end(key)
                return client
            client = self._connect()
            _clients[key] = client
            while len(_clients) > MAX_CLIENTS:
                _close(_clients.popitem(last=False)[1])
            return client

    def _connect(self) -> Any:
        from qdrant_client import QdrantClient

        if self.url:
            try:
                client = QdrantClient(url=self.url, api_key=self._api_key, timeout=TIMEOUT_S,
                                      check_compatibility=False)
                client.get_collections()  # a wrong URL fails here, not in the middle of an upload
            except Exception as exc:
                raise self._unreachable(exc) from None
            return client
        try:
            Path(self.path or "").mkdir(parents=True, exist_ok=True)
            return QdrantClient(path=str(self.path))
        except RuntimeError as exc:  # another process holds the folder
            raise retrieval_error("retrieval.error.qdrant_locked", detail=str(exc), path=str(self.path),
                                  env=QDRANT_URL_ENV) from None
        except OSError as exc:
            raise retrieval_error("retrieval.error.disk", detail=str(exc)) from None

    def _unreachable(self, exc: BaseException) -> PlaygroundError:
        return retrieval_error("retrieval.error.qdrant_unreachable", detail=f"{type(exc).__name__}: {exc}",
                               url=self.url or "", env=QDRANT_URL_ENV)

    def _call(self, action: Callable[[Any], T]) -> T:
        """Run one operation; a lost server becomes the same clear error as an unreachable one.

        One operation at a time per store location: every session shares the one client, and
        local mode is not meant for concurrent calls.
        """
        with _lock_for(self.url or str(Path(self.path or "").resolve())):
            client = self._client()
            try:
                return action(client)
            except PlaygroundError:
                raise
            except Exception as exc:
                if self.url:
                    self.forget()
                    raise self._unreachable(exc) from None
                raise retrieval_error("retrieval.error.qdrant_failed", detail=f"{type(exc).__name__}: {exc}",
                                      path=self.where) from None

    def forget(self) -> None:
        """Close this store's client (the next call connects again)."""
        key = self.url or str(Path(self.path or "").resolve())
        with _clients_lock:
            client = _clients.pop(key, None)
        if client is not None:
            _close(client)

    # ---- the VectorSink protocol and search --------------------------------------------------------
    def upsert(self, kb_id: str, model_key: str, ids: list[str], vectors: list[list[float]]) -> None:
        if not ids:
            return
        from qdrant_client import models

        name = collection_name(kb_id, model_key)

        def action(client: Any) -> None:
            if not client.collection_exists(name):
                client.create_collection(name, vectors_config=models.VectorParams(
                    size=len(vectors[0]), distance=models.Distance.COSINE))
            points = [models.PointStruct(id=point_id(cid), vector=list(map(float, vec)),
                                         payload={"chunk_id": cid})
                      for cid, vec in zip(ids, vectors, strict=True)]
            client.upsert(name, points=points, wait=True)

        self._call(action)

    def delete(self, kb_id: str, model_key: str, ids: list[str]) -> None:
        from qdrant_client import models

        name = collection_name(kb_id, model_key)

        def action(client: Any) -> None:
            if client.collection_exists(name):
                client.delete(name, points_selector=models.PointIdsList(points=[point_id(i) for i in ids]),
                              wait=True)

        self._call(action)

    def search(self, kb_id: str, model_key: str, vector: list[float], limit: int) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity), best first; nothing when the collection does not exist."""
        name = collection_name(kb_id, model_key)

        def action(client: Any) -> list[tuple[str, float]]:
            if not client.collection_exists(name):
                return []
            found = client.query_points(name, query=list(map(float, vector)), limit=limit, with_payload=True)
            return [(str(p.payload.get("chunk_id")), float(p.score)) for p in found.points if p.payload]

        return self._call(action)

    def count(self, kb_id: str, model_key: str) -> int:
        name = collection_name(kb_id, model_key)
        return self._call(lambda c: c.count(name).count if c.collection_exists(name) else 0)

    def drop_kb(self, kb_id: str) -> None:
        prefix = f"kb_{kb_id}_"

        def action(client: Any) -> None:
            for collection in client.get_collections().collections:
                if collection.name.startswith(prefix):
                    client.delete_collection(collection.name)

        self._call(action)


def _close(client: Any) -> None:
    try:
        client.close()
    except Exception:
        pass


def close_all() -> None:
    """Close every cached client (tests, and a clean shutdown)."""
    with _clients_lock:
        clients = list(_clients.values())
        _clients.clear()
    for client in clients:
        _close(client)


atexit.register(close_all)  # local mode releases its folder lock before the interpreter tears down
