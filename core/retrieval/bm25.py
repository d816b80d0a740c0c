"""BM25 over jieba-tokenised text: works offline, no model. An index you can update, save and load.

Chinese is cut with jieba's search mode (a long word also yields its shorter words, so 知识库 matches
知识); Latin words are lowercased; punctuation and whitespace are dropped. Scores are Okapi BM25
(k1 = 1.5, b = 0.75). `normalised` scores divide by the best a chunk could score for that query,
giving 0..1.

Searching reads postings packed in numpy arrays (term -> the rows holding it, with their counts);
they are what is saved (an .npz file), so a reopened index searches at once. The per-chunk term
counts that updates need are unpacked from them only when the index is changed.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from core.atomic_file import write_atomic

K1 = 1.5
B = 0.75
FORMAT = "playground-bm25/2"
_WORD = re.compile(r"\w", re.UNICODE)
_jieba_lock = threading.Lock()
_jieba_ready = False


def _jieba() -> Any:
    """jieba, quiet and initialised once (its dictionary takes about a second to load)."""
    global _jieba_ready
    import jieba

    if not _jieba_ready:
        with _jieba_lock:
            if not _jieba_ready:
                jieba.setLogLevel(logging.WARNING)
                jieba.initialize()
                _jieba_ready = True
    return jieba


def tokenize(text: str) -> list[str]:
    """The search terms of a text: jieba words (search mode), lowercased, without punctuation."""
    return [tok.lower() for tok in _jieba().lcut_for_search(text) if _WORD.search(tok)]


class _Postings:
    """The packed index: rows (chunk ids), vocabulary, postings sorted by term, row lengths."""

    def __init__(self, ids: list[str], terms: list[str], indptr: np.ndarray, rows: np.ndarray,
                 counts: np.ndarray, lengths: np.ndarray) -> None:
        self.ids, self.terms = ids, terms
        self.vocab = {term: i for i, term in enumerate(terms)}
        self.indptr, self.rows, self.counts, self.lengths = indptr, rows, counts, lengths
        avg = float(lengths.mean()) if len(ids) else 1.0
        self.norm = K1 * (1.0 - B + B * lengths / (avg or 1.0))

    @property
    def n(self) -> int:
        return len(self.ids)

    @classmethod
    def pack(cls, docs: dict[str, dict[str, int]]) -> _Postings:
        ids = list(docs)
        vocab: dict[str, int] = {}
        term_ids: list[int] = []
        counts: list[int] = []
        sizes: list[int] = []
        for chunk_id in ids:
            counted = docs[chunk_id]
            term_ids.extend(vocab.setdefault(term, len(vocab)) for term in counted)
            counts.extend(counted.values())
            sizes.append(len(counted))
        term_arr = np.asarray(term_ids, dtype=np.int64)
        row_arr = np.repeat(np.arange(len(ids), dtype=np.int32), sizes)
        count_arr = np.asarray(counts, dtype=np.float32)
        order = np.argsort(term_arr, kind="stable")
        indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
        np.cumsum(np.bincount(term_arr, minlength=len(vocab)), out=indptr[1:])
        lengths = np.bincount(row_arr, weights=count_arr, minlength=len(ids)).astype(np.float64)
        return cls(ids, list(vocab), indptr, row_arr[order], count_arr[order], lengths)

    def unpack(self) -> dict[str, dict[str, int]]:
        """Per-chunk term counts, for an update."""
        docs: dict[str, dict[str, int]] = {chunk_id: {} for chunk_id in self.ids}
        term_of = np.repeat(np.arange(len(self.terms)), np.diff(self.indptr))
        for term_index, row, count in zip(term_of.tolist(), self.rows.tolist(), self.counts.tolist(),
                                          strict=True):
            docs[self.ids[row]][self.terms[term_index]] = int(count)
        return docs


class BM25Index:
    """A BM25 index of chunks by id: add, remove, search, save, load."""

    def __init__(self) -> None:
        self._docs: dict[str, dict[str, int]] | None = {}  # chunk id -> term -> count, or None: packed only
        self._packed: _Postings | None = None

    def _counts(self) -> dict[str, dict[str, int]]:
        if self._docs is None:
            self._docs = self._packed.unpack() if self._packed is not None else {}
        return self._docs

    def _postings(self) -> _Postings:
        if self._packed is None:
            self._packed = _Postings.pack(self._counts())
        return self._packed

    def __len__(self) -> int:
        return len(self._docs) if self._docs is not None else self._postings().n

    def __contains__(self, chunk_id: object) -> bool:
        if self._docs is not None:
            return chunk_id in self._docs
        return chunk_id in set(self._postings().ids)

    @property
    def ids(self) -> list[str]:
        return list(self._docs) if self._docs is not None else list(self._postings().ids)

    def add(self, chunk_id: str, text: str) -> None:
        """Index (or re-index) one chunk."""
        self.add_tokens(chunk_id, tokenize(text))

    def add_tokens(self, chunk_id: str, tokens: Iterable[str]) -> None:
        self._counts()[chunk_id] = dict(Counter(tokens))
        self._packed = None

    def remove(self, chunk_ids: Iterable[str]) -> None:
        docs = self._counts()
        for chunk_id in chunk_ids:
            docs.pop(chunk_id, None)
        self._packed = None

    def copy(self) -> BM25Index:
        """A copy to change without touching this one (the live index stays as it was until commit)."""
        other = BM25Index()
        other._docs = dict(self._counts())  # the per-chunk dicts are replaced, never changed in place
        return other

    def search(self, query: str, k: int = 5) -> list[tuple[str, float, float]]:
        """The best `k` chunks for `query`: (chunk id, BM25 score, normalised 0..1), best first.

        Chunks that share no term with the query are not returned.
        """
        terms = list(dict.fromkeys(tokenize(query)))
        packed = self._postings()
        if not terms or packed.n == 0 or k <= 0:
            return []
        scores = np.zeros(packed.n, dtype=np.float64)
        best_possible = 0.0
        for term in terms:
            index = packed.vocab.get(term)
            if index is None:
                continue
            start, end = int(packed.indptr[index]), int(packed.indptr[index + 1])
            rows, tf = packed.rows[start:end], packed.counts[start:end]
            idf = math.log(1.0 + (packed.n - (end - start) + 0.5) / (end - start + 0.5))
            scores[rows] += idf * tf * (K1 + 1.0) / (tf + packed.norm[rows])
            best_possible += idf * (K1 + 1.0)
        hits = np.flatnonzero(scores > 0)
        if hits.size == 0:
            return []
        if hits.size > k:
            hits = hits[np.argpartition(-scores[hits], k - 1)[:k]]
        order = hits[np.argsort(-scores[hits], kind="stable")]
        return [(packed.ids[i], float(scores[i]), float(scores[i] / best_possible)) for i in order]

    # ---- persistence ----------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        """Write the packed index atomically (a temporary file, then os.replace)."""
        packed = self._postings()

        def write(fh: BinaryIO) -> None:
            np.savez(fh, format=np.asarray(FORMAT), ids=np.asarray(packed.ids, dtype=str),
                     terms=np.asarray(packed.terms, dtype=str), indptr=packed.indptr, rows=packed.rows,
                     counts=packed.counts, lengths=packed.lengths)

        write_atomic(Path(path), write, sync=True)

    @classmethod
    def load(cls, path: Path) -> BM25Index:
        with np.load(Path(path), allow_pickle=False) as data:
            if str(data["format"]) != FORMAT:
                raise ValueError("not a BM25 index file")
            packed = _Postings(data["ids"].tolist(), data["terms"].tolist(), data["indptr"], data["rows"],
                               data["counts"], data["lengths"])
        index = cls()
        index._docs, index._packed = None, packed
        return index
