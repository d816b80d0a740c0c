"""Knowledge bases on disk: create, list, rename, delete; add and remove documents; rebuild.

Each knowledge base is a folder `<data_dir>/knowledge_bases/<id>/` named by an id we make, never
by its name (a Chinese or any other name is only data in kb.json). The extracted text of each
document is kept under sources/, so a rebuild with other chunk settings needs no re-upload. The
index itself is replaced whole and atomically (core/retrieval/kb_index.py): a failed upload,
embedding or rebuild leaves what was indexed before exactly as it was. Who may see and change one
(owner, "shared with the team"): core/ownership.py, core/retrieval/kb_access.py.
"""

from __future__ import annotations

import re
import shutil
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from core.ownership import can_manage, ownership, visible
from core.retrieval import kb_access, kb_index
from core.retrieval.bm25 import BM25Index
from core.retrieval.errors import retrieval_error
from core.retrieval.kb_index import DocumentInfo, Snapshot, StoredChunk
from core.retrieval.loaders import LoadedDocument
from core.retrieval.splitter import DEFAULT_CHUNK_SIZE, DEFAULT_OVERLAP, check_settings, split_text
from core.retrieval.storage import read_json, write_json_atomic, write_text_atomic

ROOT_NAME = "knowledge_bases"
MAX_NAME = 60
_ID = re.compile(r"^[0-9a-f]{16}$")
_BAD_NAME = re.compile(r"[\x00-\x1f\x7f]")

Progress = Callable[[str, int, int], None]  # (stage, done, total); stages: index, embed, save


class VectorSink(Protocol):
    """Where dense vectors go (core/retrieval/dense.py): one collection per knowledge base and model."""

    def upsert(self, kb_id: str, model_key: str, ids: list[str], vectors: list[list[float]]) -> None: ...

    def delete(self, kb_id: str, model_key: str, ids: list[str]) -> None: ...

    def drop_kb(self, kb_id: str) -> None: ...


@dataclass(frozen=True)
class Embedding:
    """How to give chunks vectors: the model's key, a call for one batch of texts, and the store."""

    model_key: str
    embed: Callable[[list[str]], list[list[float]]]
    sink: VectorSink
    batch_size: int = 16


@dataclass(frozen=True)
class AddedDocument:
    info: DocumentInfo
    replaced: bool  # a document of the same name was there and is replaced


def new_id(length: int = 32) -> str:
    return uuid.uuid4().hex[:length]


def _now(timespec: str = "seconds") -> str:
    return datetime.now(UTC).isoformat(timespec=timespec)


def _quiet(_stage: str, _done: int, _total: int) -> None: ...


_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock_for(path: Path) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(str(path.resolve()), threading.Lock())


class KnowledgeBase:
    """One knowledge base: its settings (kb.json), its documents' text and its current index.

    `viewer` is who opened it (None without sign-in); `can_manage` whether they may change it (the
    store sets both): anyone may read one they can open, only its owner changes it.
    """

    def __init__(self, folder: Path, viewer: str | None = None, can_manage: bool = True) -> None:
        self.dir = Path(folder)
        self.id = self.dir.name
        self.viewer = viewer
        self.can_manage = can_manage
        self._lock = _lock_for(self.dir)

    # ---- settings -------------------------------------------------------------------------------
    def meta(self) -> dict[str, Any]:
        data = read_json(self.dir / "kb.json", {})
        return data if isinstance(data, dict) else {}

    def _write_meta(self, data: dict[str, Any]) -> None:
        write_json_atomic(self.dir / "kb.json", data)

    def update_meta(self, **changes: Any) -> dict[str, Any]:
        """Change some of kb.json's fields (name, chunk settings, embedding, ask, cloud) at once."""
        self._check_change()
        with self._lock:
            data = self.meta() | changes
            self._write_meta(data)
            return data

    @property
    def name(self) -> str:
        return str(self.meta().get("name") or self.id)

    def ownership(self) -> tuple[str, bool]:
        """(owner, shared): who made it ("" without sign-in: the whole team's), and whether it is shared."""
        return ownership(self.meta())

    def _check_change(self) -> None:
        if not self.can_manage:
            raise kb_access.not_owner(self.ownership()[0])

    @property
    def chunk_settings(self) -> tuple[int, int]:
        meta = self.meta()
        return int(meta.get("chunk_size") or DEFAULT_CHUNK_SIZE), int(meta.get("overlap", DEFAULT_OVERLAP))

    def set_chunk_settings(self, chunk_size: int, overlap: int) -> None:
        """Settings for the next upload and rebuild (already indexed documents keep theirs)."""
        self._check_change()
        check_settings(chunk_size, overlap)
        self.update_meta(chunk_size=int(chunk_size), overlap=int(overlap))

    # ---- reading --------------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        return kb_index.load_snapshot(self.dir)

    def source_text(self, doc_id: str) -> str | None:
        try:
            return (self.dir / "sources" / f"{doc_id}.txt").read_text(encoding="utf-8")
        except OSError:
            return None

    def stale_documents(self) -> list[DocumentInfo]:
        """Documents split with other settings than the current ones (a rebuild would change them)."""
        size, overlap = self.chunk_settings
        return [d for d in self.snapshot().documents if (d.chunk_size, d.overlap) != (size, overlap)]

    # ---- changing -------------------------------------------------------------------------------
    def add_documents(self, docs: list[LoadedDocument], embedding: Embedding | None = None,
                      progress: Progress | None = None) -> list[AddedDocument]:
        """Split, index (and embed) `docs` in one atomic change. A document with the name of one
        already there replaces it. On any error nothing changes and the error is raised."""
        self._check_change()
        progress = progress or _quiet
        with self._lock:
            snap = self.snapshot()
            size, overlap = self.chunk_settings
            documents, chunks, bm25 = list(snap.documents), dict(snap.chunks), snap.bm25.copy()
            results, new_chunks, dropped, written = [], [], [], []
            try:
                for number, doc in enumerate(docs):
                    progress("index", number, len(docs))
                    old = next((d for d in documents if d.name == doc.name), None)
                    if old is not None:
                        documents.remove(old)
                        dropped.append(old)
                    doc_id = new_id()
                    write_text_atomic(self.dir / "sources" / f"{doc_id}.txt", doc.text)
                    written.append(doc_id)
                    info = DocumentInfo(id=doc_id, name=doc.name, kind=doc.kind, size_bytes=doc.size_bytes,
                                        chars=len(doc.text), chunks=0, added=_now(), chunk_size=size,
                                        overlap=overlap)
                    pieces = self._chunk(info, doc.text, size, overlap)
                    for piece in pieces:
                        chunks[piece.id] = piece
                        bm25.add(piece.id, piece.text)
                    new_chunks.extend(pieces)
                    info = replace(info, chunks=len(pieces))
                    documents.append(info)
                    results.append(AddedDocument(info, replaced=old is not None))
                progress("index", len(docs), len(docs))
                gone = self._drop_chunks(dropped, chunks, bm25)
                embedded = self._embed_new(snap, chunks, new_chunks, embedding, progress)
                progress("save", 0, 1)
                kb_index.commit(self.dir, Snapshot(documents=documents, chunks=chunks, bm25=bm25,
                                                   chunk_size=size, overlap=overlap, embedded_with=embedded))
            except BaseException:
                for doc_id in written:
                    (self.dir / "sources" / f"{doc_id}.txt").unlink(missing_ok=True)
                raise
            self._forget_sources(dropped)
            self._delete_vectors(snap, gone, embedding)
            progress("save", 1, 1)
            return results

    def remove_document(self, doc_id: str, embedding: Embedding | None = None) -> DocumentInfo:
        """Take one document and its chunks out of the index (atomically)."""
        self._check_change()
        with self._lock:
            snap = self.snapshot()
            doc = snap.document(doc_id)
            if doc is None:
                raise retrieval_error("retrieval.error.no_document")
            chunks, bm25 = dict(snap.chunks), snap.bm25.copy()
            gone = self._drop_chunks([doc], chunks, bm25)
            documents = [d for d in snap.documents if d.id != doc_id]
            kb_index.commit(self.dir, Snapshot(documents=documents, chunks=chunks, bm25=bm25,
                                               chunk_size=snap.chunk_size, overlap=snap.overlap,
                                               embedded_with=snap.embedded_with if chunks else None))
            self._forget_sources([doc])
            self._delete_vectors(snap, gone, embedding)
            return doc

    def rebuild(self, embedding: Embedding | None = None, progress: Progress | None = None) -> Snapshot:
        """Split every document again with the current chunk settings, re-index (and re-embed)."""
        self._check_change()
        progress = progress or _quiet
        with self._lock:
            snap = self.snapshot()
            size, overlap = self.chunk_settings
            documents: list[DocumentInfo] = []
            chunks: dict[str, StoredChunk] = {}
            bm25 = BM25Index()
            for number, doc in enumerate(snap.documents):
                progress("index", number, len(snap.documents))
                text = self.source_text(doc.id)
                if text is None:
                    raise retrieval_error("retrieval.error.source_missing", name=doc.name)
                pieces = self._chunk(doc, text, size, overlap)
                for piece in pieces:
                    chunks[piece.id] = piece
                    bm25.add(piece.id, piece.text)
                documents.append(replace(doc, chunks=len(pieces), chunk_size=size, overlap=overlap))
            progress("index", len(snap.documents), len(snap.documents))
            embedded = None
            if embedding is not None and chunks:
                _embed_chunks(list(chunks.values()), embedding, self.id, progress)
                embedded = embedding.model_key
            progress("save", 0, 1)
            new = kb_index.commit(self.dir, Snapshot(documents=documents, chunks=chunks, bm25=bm25,
                                                     chunk_size=size, overlap=overlap,
                                                     embedded_with=embedded))
            self._delete_vectors(snap, list(snap.chunks), embedding)
            progress("save", 1, 1)
            return new

    def embed_all(self, embedding: Embedding, progress: Progress | None = None) -> Snapshot:
        """Give every chunk a vector from `embedding` (for dense and hybrid search)."""
        self._check_change()
        progress = progress or _quiet
        with self._lock:
            snap = self.snapshot()
            if snap.empty:
                raise retrieval_error("retrieval.error.empty_kb")
            _embed_chunks(list(snap.chunks.values()), embedding, self.id, progress)
            return kb_index.commit(self.dir, replace(snap, embedded_with=embedding.model_key))

    # ---- helpers --------------------------------------------------------------------------------
    @staticmethod
    def _chunk(doc: DocumentInfo, text: str, size: int, overlap: int) -> list[StoredChunk]:
        return [StoredChunk(id=new_id(), doc_id=doc.id, doc_name=doc.name, position=piece.position,
                            start=piece.start, end=piece.end, text=piece.text)
                for piece in split_text(text, size, overlap)]

    @staticmethod
    def _drop_chunks(docs: list[DocumentInfo], chunks: dict[str, StoredChunk], bm25: Any) -> list[str]:
        ids = {d.id for d in docs}
        gone = [cid for cid, chunk in chunks.items() if chunk.doc_id in ids]
        for cid in gone:
            del chunks[cid]
        bm25.remove(gone)
        return gone

    def _embed_new(self, snap: Snapshot, chunks: dict[str, StoredChunk], new_chunks: list[StoredChunk],
                   embedding: Embedding | None, progress: Progress) -> str | None:
        """Vectors for what lacks one; the model every chunk now has a vector from (None if not all do)."""
        if embedding is None:
            return snap.embedded_with if not new_chunks else None
        todo = new_chunks if snap.embedded_with == embedding.model_key else list(chunks.values())
        _embed_chunks(todo, embedding, self.id, progress)
        return embedding.model_key if chunks else None

    def _forget_sources(self, docs: list[DocumentInfo]) -> None:
        for doc in docs:
            (self.dir / "sources" / f"{doc.id}.txt").unlink(missing_ok=True)

    def _delete_vectors(self, snap: Snapshot, ids: list[str], embedding: Embedding | None) -> None:
        """Best effort: a stale vector is harmless (searches keep only chunks of the index in use)."""
        if embedding is None or not ids or snap.embedded_with != embedding.model_key:
            return
        try:
            embedding.sink.delete(self.id, embedding.model_key, ids)
        except Exception:
            pass


def _embed_chunks(chunks: list[StoredChunk], embedding: Embedding, kb_id: str, progress: Progress) -> None:
    size = max(1, embedding.batch_size)
    for start in range(0, len(chunks), size):
        progress("embed", start, len(chunks))
        batch = chunks[start:start + size]
        vectors = embedding.embed([c.text for c in batch])
        embedding.sink.upsert(kb_id, embedding.model_key, [c.id for c in batch], vectors)
    progress("embed", len(chunks), len(chunks))


class KnowledgeBaseStore:
    """All knowledge bases under `<data_dir>/knowledge_bases/` that `viewer` may see (None: every one;
    the rules are in core/ownership.py)."""

    def __init__(self, data_dir: Path, viewer: str | None = None) -> None:
        self.root = Path(data_dir) / ROOT_NAME
        self.viewer = viewer

    def _open(self, folder: Path) -> KnowledgeBase | None:
        """The knowledge base in `folder` as this viewer may use it; None when it is not theirs to see."""
        if not (folder / "kb.json").is_file():
            return None
        owner, shared = ownership(KnowledgeBase(folder).meta())
        if not visible(self.viewer, owner, shared):
            return None
        return KnowledgeBase(folder, self.viewer, can_manage(self.viewer, owner))

    def list(self) -> list[KnowledgeBase]:
        """Every knowledge base this viewer may see, oldest first."""
        if not self.root.is_dir():
            return []
        found = [kb for p in self.root.iterdir() if _ID.match(p.name) and (kb := self._open(p)) is not None]
        return sorted(found, key=lambda kb: (str(kb.meta().get("created", "")), kb.id))

    def get(self, kb_id: str | None) -> KnowledgeBase | None:
        """The knowledge base with this id; None for an unknown or malformed id (from a URL, say) and
        for one this viewer may not see (nothing of it, not even its name, reaches them)."""
        if not kb_id or not _ID.match(kb_id):
            return None
        return self._open(self.root / kb_id)

    def _check_name(self, name: str, except_id: str | None = None) -> str:
        name = " ".join(str(name or "").split())
        if not name:
            raise retrieval_error("retrieval.error.name_empty")
        if len(name) > MAX_NAME or _BAD_NAME.search(name):
            raise retrieval_error("retrieval.error.name_long", limit=MAX_NAME)
        if any(kb.name.casefold() == name.casefold() and kb.id != except_id for kb in self.list()):
            raise retrieval_error("retrieval.error.name_taken", name=name)
        return name

    def create(self, name: str, chunk_size: int = DEFAULT_CHUNK_SIZE,
               overlap: int = DEFAULT_OVERLAP) -> KnowledgeBase:
        name = self._check_name(name)
        check_settings(chunk_size, overlap)
        kb_id = new_id(16)
        folder = self.root / kb_id
        folder.mkdir(parents=True)
        meta: dict[str, Any] = {"id": kb_id, "name": name, "created": _now("microseconds"),
                                "chunk_size": int(chunk_size), "overlap": int(overlap), "embedding": None}
        if self.viewer is not None:
            meta |= {"owner": self.viewer, "shared": False}  # private until its owner shares it
        write_json_atomic(folder / "kb.json", meta)
        return KnowledgeBase(folder, self.viewer)

    def rename(self, kb_id: str, name: str) -> KnowledgeBase:
        kb = self._existing(kb_id, manage=True)
        kb.update_meta(name=self._check_name(name, except_id=kb_id))
        return kb

    def set_shared(self, kb_id: str, shared: bool) -> KnowledgeBase:
        """Share a knowledge base with the team, or stop sharing it (its owner only)."""
        kb = self._existing(kb_id, manage=True)
        kb.update_meta(shared=bool(shared))
        return kb

    def delete(self, kb_id: str, sink: VectorSink | None = None) -> None:
        """Remove the knowledge base, its documents and (when a sink is given) its vectors."""
        kb = self._existing(kb_id, manage=True)
        with kb._lock:
            if sink is not None:
                try:
                    sink.drop_kb(kb.id)
                except Exception:
                    pass  # vectors of a deleted knowledge base are never searched again
            # Renamed first, so a half-finished delete never leaves a knowledge base half there.
            trash = self.root / f".deleted-{kb.id}-{new_id(8)}"
            kb.dir.rename(trash)
            kb_index.forget(kb.dir)
            shutil.rmtree(trash, ignore_errors=True)

    def _existing(self, kb_id: str, manage: bool = False) -> KnowledgeBase:
        kb = self.get(kb_id)
        if kb is None:
            raise retrieval_error("retrieval.error.no_kb")
        if manage:
            kb._check_change()
        return kb
