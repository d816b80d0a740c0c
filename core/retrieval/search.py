"""Finding the chunks for a question: BM25, dense (vectors) or hybrid, with top-k and a threshold.

Every method reports a score from 0 to 1 so that one threshold means something for each: BM25's
score divided by the best the query could reach, the cosine similarity of the vectors, and the
RRF score divided by its maximum.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from core.retrieval.errors import retrieval_error
from core.retrieval.hybrid import rrf
from core.retrieval.kb_index import Snapshot, StoredChunk

METHODS = ("bm25", "dense", "hybrid")
MAX_TOP_K = 50


@dataclass(frozen=True)
class DenseQuery:
    """Dense search for one knowledge base: its embedding model, a question's vector, the vector search."""

    model_key: str
    embed_query: Callable[[str], list[float]]
    search: Callable[[list[float], int], list[tuple[str, float]]]  # (vector, limit) -> (chunk id, cosine)


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its rank (from 1) and score (0..1), and each method's own figures."""

    chunk: StoredChunk
    rank: int
    score: float
    method: str
    details: dict[str, float] = field(default_factory=dict)


def check_question(snap: Snapshot, question: str) -> str:
    question = (question or "").strip()
    if not question:
        raise retrieval_error("retrieval.error.no_question")
    if snap.empty:
        raise retrieval_error("retrieval.error.empty_kb")
    return question


def can_search_dense(snap: Snapshot, dense: DenseQuery | None) -> bool:
    return dense is not None and snap.embedded_with == dense.model_key and not snap.empty


def retrieve(snap: Snapshot, question: str, method: str = "bm25", top_k: int = 5, threshold: float = 0.0,
             dense: DenseQuery | None = None, query_vector: list[float] | None = None) -> list[Hit]:
    """The best `top_k` chunks for `question` whose score reaches `threshold`, best first.

    `query_vector` may be given to reuse a question's vector (evaluation runs several methods).
    """
    question = check_question(snap, question)
    if method not in METHODS:
        raise ValueError(f"unknown retrieval method {method!r}")
    top_k = max(1, min(int(top_k), MAX_TOP_K))
    if method != "bm25" and not can_search_dense(snap, dense):
        raise retrieval_error("retrieval.error.no_vectors")
    pool = top_k if method != "hybrid" else max(top_k * 4, 20)
    bm25 = [] if method == "dense" else snap.bm25.search(question, pool)
    vectors: list[tuple[str, float]] = []
    if method != "bm25" and dense is not None:
        vector = query_vector if query_vector is not None else dense.embed_query(question)
        # Ask for more: vectors of chunks no longer in the index may still be in the store.
        vectors = [(cid, s) for cid, s in dense.search(vector, pool * 2 + 10) if cid in snap.chunks][:pool]
    if method == "bm25":
        ranked = [(cid, norm, {"bm25": raw}) for cid, raw, norm in bm25]
    elif method == "dense":
        ranked = [(cid, cos, {"cosine": cos}) for cid, cos in vectors]
    else:
        bm25_rank = {cid: n for n, (cid, _, _) in enumerate(bm25, start=1)}
        dense_rank = {cid: n for n, (cid, _) in enumerate(vectors, start=1)}
        ranked = [(cid, norm, {"rrf": raw, "bm25_rank": bm25_rank.get(cid, 0),
                               "dense_rank": dense_rank.get(cid, 0)})
                  for cid, raw, norm in rrf([list(bm25_rank), list(dense_rank)])]
    hits = []
    for cid, score, details in ranked:
        if len(hits) == top_k:
            break
        if score >= threshold and cid in snap.chunks:
            hits.append(Hit(snap.chunks[cid], len(hits) + 1, float(score), method, details))
    return hits
