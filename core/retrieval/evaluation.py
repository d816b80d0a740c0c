"""Evaluating retrieval: a question set per knowledge base, scored as hit rate@k and MRR per method.

A question is answered by a chunk when the chunk contains the expected passage (spaces ignored),
or either half of a long passage (one cut by a chunk boundary), or when the expected text is the
chunk's document name. Hit rate@k: the share of questions with an answering chunk in the top k.
MRR: the mean of 1 / rank of the first answering chunk (0 when none is in the top k).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from core.retrieval.errors import retrieval_error
from core.retrieval.kb_index import Snapshot, StoredChunk
from core.retrieval.search import DenseQuery, retrieve
from core.retrieval.storage import read_json, write_json_atomic

QUESTIONS_FILE = "questions.json"
MIN_HALF = 10  # characters: a passage at least twice this long also matches by either half
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class EvalQuestion:
    question: str
    expected: str  # a passage (or phrase) that answers it, or a document's name


@dataclass
class MethodScore:
    method: str
    k: int
    ranks: list[int | None] = field(default_factory=list)  # rank of the first answering chunk, per question

    @property
    def questions(self) -> int:
        return len(self.ranks)

    @property
    def hit_rate(self) -> float:
        return sum(1 for r in self.ranks if r is not None) / len(self.ranks) if self.ranks else 0.0

    @property
    def mrr(self) -> float:
        return sum(1.0 / r for r in self.ranks if r) / len(self.ranks) if self.ranks else 0.0


def _squash(text: str) -> str:
    return _SPACES.sub("", text).casefold()


def answers(chunk: StoredChunk, expected: str) -> bool:
    """Whether `chunk` holds the expected passage (see the module's rule)."""
    want = _squash(expected)
    if not want:
        return False
    if expected.strip() == chunk.doc_name:
        return True
    have = _squash(chunk.text)
    if want in have:
        return True
    if len(want) >= 2 * MIN_HALF:
        half = len(want) // 2
        return want[:half] in have or want[half:] in have
    return False


def clean_questions(rows: Sequence[EvalQuestion]) -> list[EvalQuestion]:
    """The rows with both a question and an expected answer, trimmed; blank rows dropped."""
    kept = []
    for row in rows:
        question, expected = (row.question or "").strip(), (row.expected or "").strip()
        if question and expected:
            kept.append(EvalQuestion(question, expected))
    return kept


def load_questions(kb_dir: Path) -> list[EvalQuestion]:
    data = read_json(Path(kb_dir) / QUESTIONS_FILE, [])
    rows = [EvalQuestion(str(d.get("question", "")), str(d.get("expected", "")))
            for d in data if isinstance(d, dict)] if isinstance(data, list) else []
    return clean_questions(rows)


def save_questions(kb_dir: Path, rows: Sequence[EvalQuestion]) -> list[EvalQuestion]:
    kept = clean_questions(rows)
    write_json_atomic(Path(kb_dir) / QUESTIONS_FILE,
                      [{"question": q.question, "expected": q.expected} for q in kept])
    return kept


def evaluate(snap: Snapshot, questions: Sequence[EvalQuestion], methods: Sequence[str], k: int = 5,
             dense: DenseQuery | None = None,
             embed_questions: Callable[[list[str]], list[list[float]]] | None = None,
             progress: Callable[[str, int, int], None] | None = None) -> dict[str, MethodScore]:
    """Score each method on the question set. The questions' vectors are computed once (in one
    batched call when `embed_questions` is given) and shared by dense and hybrid."""
    rows = clean_questions(questions)
    if not rows:
        raise retrieval_error("retrieval.error.no_questions")
    if snap.empty:
        raise retrieval_error("retrieval.error.empty_kb")
    vectors: list[list[float]] | None = None
    if any(m != "bm25" for m in methods) and dense is not None:
        texts = [q.question for q in rows]
        vectors = embed_questions(texts) if embed_questions else [dense.embed_query(q) for q in texts]
    scores = {}
    total = len(rows) * len(methods)
    for m_index, method in enumerate(methods):
        score = MethodScore(method, k)
        for q_index, row in enumerate(rows):
            if progress:
                progress("evaluate", m_index * len(rows) + q_index, total)
            hits = retrieve(snap, row.question, method, k, 0.0, dense,
                            query_vector=vectors[q_index] if vectors is not None else None)
            score.ranks.append(next((h.rank for h in hits if answers(h.chunk, row.expected)), None))
        scores[method] = score
    if progress:
        progress("evaluate", total, total)
    return scores
