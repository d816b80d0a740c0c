"""A knowledge base's index on disk, replaced whole and atomically: one folder per generation.

`<kb>/index/<generation>/` holds documents.json, chunks.json and bm25.npz; `<kb>/current.json`
names the generation in use. A change writes a complete new generation folder (under a temporary
name, renamed when whole) and only then switches `current.json` with os.replace. A crash or an
error at any point leaves the previous generation in use, untouched: nothing is half-written.
Loaded generations are cached per process, so a page rerun does not re-read the files.
"""

from __future__ import annotations

import shutil
import threading
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.retrieval.bm25 import BM25Index
from core.retrieval.storage import read_json, write_json_atomic

CURRENT = "current.json"
INDEX_DIR = "index"
KEEP_GENERATIONS = 2  # the one in use and the one before (a reader may still be opening it)


@dataclass(frozen=True)
class DocumentInfo:
    """A document in a knowledge base, as its table shows it."""

    id: str
    name: str
    kind: str
    size_bytes: int
    chars: int
    chunks: int
    added: str  # ISO time, UTC
    chunk_size: int | None = None  # the settings it was split with
    overlap: int | None = None


@dataclass(frozen=True)
class StoredChunk:
    """A chunk as indexed: its document, its number in the document, where it lies, its text."""

    id: str
    doc_id: str
    doc_name: str
    position: int
    start: int
    end: int
    text: str


@dataclass
class Snapshot:
    """One generation of a knowledge base's index: what every search reads."""

    generation: int = 0
    documents: list[DocumentInfo] = field(default_factory=list)
    chunks: dict[str, StoredChunk] = field(default_factory=dict)
    bm25: BM25Index = field(default_factory=BM25Index)
    chunk_size: int | None = None
    overlap: int | None = None
    embedded_with: str | None = None  # the embedding model every chunk has a vector from, if any

    @property
    def empty(self) -> bool:
        return not self.chunks

    def document(self, doc_id: str) -> DocumentInfo | None:
        return next((d for d in self.documents if d.id == doc_id), None)


_cache: OrderedDict[str, Snapshot] = OrderedDict()
_cache_lock = threading.Lock()
MAX_CACHED = 16


def current_generation(kb_dir: Path) -> int:
    data = read_json(Path(kb_dir) / CURRENT, {})
    try:
        return int(data.get("generation", 0)) if isinstance(data, dict) else 0
    except (TypeError, ValueError):
        return 0


def _gen_dir(kb_dir: Path, generation: int) -> Path:
    return Path(kb_dir) / INDEX_DIR / f"{generation:06d}"


def load_snapshot(kb_dir: Path) -> Snapshot:
    """The generation in use (an empty snapshot for a new knowledge base), cached per process."""
    generation = current_generation(kb_dir)
    key = str(Path(kb_dir).resolve())
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None and cached.generation == generation:
            _cache.move_to_end(key)
            return cached
    snapshot = _read(kb_dir, generation) if generation else Snapshot()
    remember(kb_dir, snapshot)
    return snapshot


def remember(kb_dir: Path, snapshot: Snapshot) -> None:
    key = str(Path(kb_dir).resolve())
    with _cache_lock:
        _cache[key] = snapshot
        _cache.move_to_end(key)
        while len(_cache) > MAX_CACHED:
            _cache.popitem(last=False)


def forget(kb_dir: Path) -> None:
    with _cache_lock:
        _cache.pop(str(Path(kb_dir).resolve()), None)


def _read(kb_dir: Path, generation: int) -> Snapshot:
    folder = _gen_dir(kb_dir, generation)
    manifest = read_json(folder / "manifest.json", {})
    documents = [DocumentInfo(**d) for d in read_json(folder / "documents.json", [])]
    chunks = {c["id"]: StoredChunk(**c) for c in read_json(folder / "chunks.json", [])}
    bm25 = BM25Index.load(folder / "bm25.npz")
    return Snapshot(generation=generation, documents=documents, chunks=chunks, bm25=bm25,
                    chunk_size=manifest.get("chunk_size"), overlap=manifest.get("overlap"),
                    embedded_with=manifest.get("embedded_with"))


def commit(kb_dir: Path, snapshot: Snapshot) -> Snapshot:
    """Write `snapshot` as the next generation and switch to it; return it with its number.

    Call with the knowledge base's lock held (one writer at a time).
    """
    kb_dir = Path(kb_dir)
    index_root = kb_dir / INDEX_DIR
    index_root.mkdir(parents=True, exist_ok=True)
    generation = max([current_generation(kb_dir), *_generations(kb_dir)]) + 1
    final = _gen_dir(kb_dir, generation)
    staging = index_root / f".{generation:06d}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        manifest: dict[str, Any] = {"generation": generation, "chunk_size": snapshot.chunk_size,
                                    "overlap": snapshot.overlap, "embedded_with": snapshot.embedded_with}
        write_json_atomic(staging / "documents.json", [asdict(d) for d in snapshot.documents])
        write_json_atomic(staging / "chunks.json", [asdict(c) for c in snapshot.chunks.values()], indent=None)
        snapshot.bm25.save(staging / "bm25.npz")
        write_json_atomic(staging / "manifest.json", manifest)
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    write_json_atomic(kb_dir / CURRENT, {"generation": generation})  # the switch
    snapshot.generation = generation
    remember(kb_dir, snapshot)
    _drop_old(kb_dir, generation)
    return snapshot


def _generations(kb_dir: Path) -> list[int]:
    root = Path(kb_dir) / INDEX_DIR
    if not root.is_dir():
        return []
    return [int(p.name) for p in root.iterdir() if p.is_dir() and p.name.isdigit()]


def _drop_old(kb_dir: Path, generation: int) -> None:
    root = Path(kb_dir) / INDEX_DIR
    for old in _generations(kb_dir):
        if old <= generation - KEEP_GENERATIONS:
            shutil.rmtree(_gen_dir(kb_dir, old), ignore_errors=True)
    for leftover in root.glob(".*.tmp"):  # staging left by a crash
        shutil.rmtree(leftover, ignore_errors=True)
