"""Evaluation: which chunk answers a question, hit rate@k and MRR, the saved question set, the sample."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import PlaygroundError
from core.retrieval.evaluation import (
    EvalQuestion,
    MethodScore,
    answers,
    evaluate,
    load_questions,
    save_questions,
)
from core.retrieval.kb_index import StoredChunk
from core.retrieval.knowledge_base import KnowledgeBaseStore
from core.retrieval.loaders import load_document
from core.retrieval.sample import load_sample_kb, sample_documents, sample_questions


def chunk(text: str, doc: str = "a.txt") -> StoredChunk:
    return StoredChunk(id="c", doc_id="d", doc_name=doc, position=0, start=0, end=len(text), text=text)


def test_what_counts_as_the_answer() -> None:
    text = "工作满 1 年不满 10 年的，年假 5 天；满 10 年不满 20 年的，年假 10 天。"
    assert answers(chunk(text), "年假5天")  # spaces ignored
    assert answers(chunk("Hotels are CAPPED at 150 USD."), "capped at 150 usd")  # case ignored
    assert answers(chunk("anything", doc="员工手册.md"), "员工手册.md")
    assert not answers(chunk(text), "病假证明")
    assert not answers(chunk(text), "   ")
    # A long passage cut by a chunk boundary still counts by either half.
    passage = "满 10 年不满 20 年的，年假 10 天；满 20 年的，年假 15 天"
    assert answers(chunk("……满 10 年不满 20 年的，年假 10 天；"), passage)
    assert not answers(chunk("满 10 年"), "满 10 年不满 20 年的年假")


def test_hit_rate_and_mrr() -> None:
    score = MethodScore("bm25", 5, ranks=[1, 2, None, 4])
    assert score.questions == 4
    assert score.hit_rate == pytest.approx(0.75)
    assert score.mrr == pytest.approx((1 + 1 / 2 + 0 + 1 / 4) / 4)
    assert MethodScore("bm25", 5).hit_rate == 0.0 and MethodScore("bm25", 5).mrr == 0.0


def test_question_set_is_saved_without_blank_rows(tmp_path: Path) -> None:
    rows = [EvalQuestion(" 年假几天？ ", " 年假 5 天 "), EvalQuestion("", "x"), EvalQuestion("q", "  ")]
    assert save_questions(tmp_path, rows) == [EvalQuestion("年假几天？", "年假 5 天")]
    assert load_questions(tmp_path) == [EvalQuestion("年假几天？", "年假 5 天")]
    assert load_questions(tmp_path / "nowhere") == []


def test_evaluate_ranks_per_question(tmp_path: Path) -> None:
    kb = KnowledgeBaseStore(tmp_path).create("kb", chunk_size=60, overlap=0)
    handbook = "年假规定：员工年假五天，满十年十天。\n\n病假规定：需要医院证明。"
    kb.add_documents([load_document("手册.txt", handbook.encode()),
                      load_document("travel.md", b"Hotels are capped at 150 USD per night.")])
    questions = [EvalQuestion("年假几天", "员工年假五天"), EvalQuestion("hotel cap per night", "travel.md"),
                 EvalQuestion("量子计算", "医院证明")]
    scores = evaluate(kb.snapshot(), questions, ["bm25"], k=3)
    assert scores["bm25"].ranks == [1, 1, None]
    assert scores["bm25"].hit_rate == pytest.approx(2 / 3)


def test_evaluate_refuses_what_cannot_be_scored(tmp_path: Path) -> None:
    kb = KnowledgeBaseStore(tmp_path).create("kb")
    with pytest.raises(PlaygroundError) as caught:
        evaluate(kb.snapshot(), [EvalQuestion("q", "a")], ["bm25"])
    assert caught.value.params["key"] == "retrieval.error.empty_kb"
    with pytest.raises(PlaygroundError) as caught:
        evaluate(kb.snapshot(), [EvalQuestion("", "")], ["bm25"])
    assert caught.value.params["key"] == "retrieval.error.no_questions"


def test_the_shipped_sample(tmp_path: Path) -> None:
    docs = sample_documents()
    assert {d.kind for d in docs} == {"md", "txt", "html", "csv"} and len(docs) == 7
    questions = sample_questions()
    assert len(questions) == 32
    for question in questions:  # every expected passage is in exactly one document
        assert sum(question.expected in d.text for d in docs) == 1, question
    store = KnowledgeBaseStore(tmp_path)
    first = load_sample_kb(store, "示例")
    second = load_sample_kb(store, "示例")
    assert (first.name, second.name) == ("示例", "示例 2")
    assert load_questions(first.dir) == questions
    assert evaluate(first.snapshot(), questions, ["bm25"], k=5)["bm25"].hit_rate >= 0.9
