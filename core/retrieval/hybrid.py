"""Hybrid search: reciprocal rank fusion (RRF) of several rankings of the same chunks.

score(chunk) = sum over rankings of 1 / (k + rank), rank counted from 1; a chunk missing from a
ranking adds nothing. k = 60, as in Cormack et al. (2009). The normalised score divides by the
best possible (first in every ranking), giving 0..1.
"""

from __future__ import annotations

from collections.abc import Sequence

RRF_K = 60


def rrf(rankings: Sequence[Sequence[str]], k: int = RRF_K) -> list[tuple[str, float, float]]:
    """Fused ranking: (chunk id, RRF score, normalised 0..1), best first; ties keep first-seen order."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, chunk_id in enumerate(dict.fromkeys(ranking), start=1):
            scores[chunk_id] = scores.get(chunk_id, 0.0) + 1.0 / (k + rank)
    best = len(rankings) / (k + 1) if rankings else 1.0
    ordered = sorted(scores.items(), key=lambda item: -item[1])  # sorted() is stable
    return [(chunk_id, score, score / best) for chunk_id, score in ordered]
