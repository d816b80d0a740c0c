"""Ask a knowledge base: retrieve, fill the template, and the exact messages a model will be sent.

Local retrieval sends one user message: the template with `{{knowledge}}` replaced by the
numbered chunks and `{{question}}` by the question. Cloud retrieval (Zhipu's retrieval tool)
sends the question as the user message and the template in `tools`, and Zhipu fills it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from core.retrieval.errors import retrieval_error
from core.retrieval.kb_index import Snapshot
from core.retrieval.search import DenseQuery, Hit, check_question, retrieve
from core.retrieval.template import fill_template, require_valid

_CLAUSE_END = re.compile(r"[。！？；，：、!?;:\n]|[.,]\s")
MIN_QUOTE = 8  # characters of a chunk's clause found in the answer that count as using it


@dataclass(frozen=True)
class AskPlan:
    """Everything about one question before it is sent: the hits, the knowledge text, the messages."""

    question: str
    method: str
    top_k: int
    threshold: float
    hits: list[Hit]
    knowledge: str
    messages: list[dict[str, str]]
    tools: list[dict[str, Any]] = field(default_factory=list)  # cloud retrieval only


def format_knowledge(hits: list[Hit]) -> str:
    """The retrieved chunks as the model reads them: numbered, each under its document's name."""
    return "\n\n".join(f"[{hit.rank}] {hit.chunk.doc_name}\n{hit.chunk.text}" for hit in hits)


def plan_ask(snap: Snapshot, question: str, template: str, method: str = "bm25", top_k: int = 5,
             threshold: float = 0.0, dense: DenseQuery | None = None) -> AskPlan:
    """Retrieve and fill: raises a VALIDATION error for an empty question, an empty knowledge base,
    a template missing a placeholder or a method without vectors."""
    require_valid(template)
    question = check_question(snap, question)
    hits = retrieve(snap, question, method, top_k, threshold, dense)
    knowledge = format_knowledge(hits)
    content = fill_template(template, knowledge, question)
    return AskPlan(question=question, method=method, top_k=top_k, threshold=threshold, hits=hits,
                   knowledge=knowledge, messages=[{"role": "user", "content": content}])


def retrieval_tool(knowledge_id: str, template: str) -> list[dict[str, Any]]:
    """Zhipu's retrieval tool, as sent in `tools=`."""
    knowledge_id = (knowledge_id or "").strip()
    if not knowledge_id:
        raise retrieval_error("retrieval.error.no_knowledge_id")
    require_valid(template)
    return [{"type": "retrieval", "retrieval": {"knowledge_id": knowledge_id, "prompt_template": template}}]


def plan_cloud_ask(question: str, knowledge_id: str, template: str) -> AskPlan:
    """Cloud retrieval: Zhipu finds the passages in its own knowledge base and fills the template."""
    question = (question or "").strip()
    if not question:
        raise retrieval_error("retrieval.error.no_question")
    tools = retrieval_tool(knowledge_id, template)
    return AskPlan(question=question, method="cloud", top_k=0, threshold=0.0, hits=[], knowledge="",
                   messages=[{"role": "user", "content": question}], tools=tools)


def cited(answer: str, hits: list[Hit]) -> list[Hit]:
    """The hits the answer used: cited as [n], or quoting a clause of the chunk (8+ characters)."""
    used = []
    for hit in hits:
        if f"[{hit.rank}]" in answer:
            used.append(hit)
            continue
        sentences = (s.strip() for s in _CLAUSE_END.split(hit.chunk.text))
        if any(len(s) >= MIN_QUOTE and s in answer for s in sentences):
            used.append(hit)
    return used
