"""The sample knowledge base shipped in core/data/retrieval_sample: documents and a question set.

Seven short documents of a fictional company (Chinese and English; md, txt, html, csv) and 32
questions with the passage that answers each. The page loads it in one click; the benchmark
scores every method on it.
"""

from __future__ import annotations

import json
from pathlib import Path

from core.retrieval.evaluation import EvalQuestion, save_questions
from core.retrieval.knowledge_base import KnowledgeBase, KnowledgeBaseStore
from core.retrieval.loaders import LoadedDocument, load_document

SAMPLE_DIR = Path(__file__).resolve().parents[1] / "data" / "retrieval_sample"
QUESTIONS = "questions.json"
SAMPLE_CHUNK_SIZE = 200
SAMPLE_OVERLAP = 20


def sample_documents() -> list[LoadedDocument]:
    return [load_document(p.name, p.read_bytes()) for p in sorted(SAMPLE_DIR.iterdir())
            if p.is_file() and p.name != QUESTIONS]


def sample_questions() -> list[EvalQuestion]:
    data = json.loads((SAMPLE_DIR / QUESTIONS).read_text(encoding="utf-8"))
    return [EvalQuestion(d["question"], d["expected"]) for d in data]


def load_sample_kb(store: KnowledgeBaseStore, name: str) -> KnowledgeBase:
    """A new knowledge base with the sample documents and questions (its name made unique)."""
    taken = {kb.name.casefold() for kb in store.list()}
    unique, n = name, 2
    while unique.casefold() in taken:
        unique, n = f"{name} {n}", n + 1
    kb = store.create(unique, chunk_size=SAMPLE_CHUNK_SIZE, overlap=SAMPLE_OVERLAP)
    kb.add_documents(sample_documents())
    save_questions(kb.dir, sample_questions())
    return kb
