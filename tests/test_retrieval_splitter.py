"""The Chinese-aware splitter: sentence ends, paragraphs, sizes and overlap, in Chinese and English."""

from __future__ import annotations

import itertools
import random

import pytest

from core.errors import PlaygroundError
from core.retrieval.splitter import sentence_spans, split_text

ZH = ("第一章 总则\n\n"
      "公司员工每年享有带薪年假。年假天数按工龄计算：工作满1年不满10年的，年假5天；满10年不满20年的，"
      "年假10天！满20年的，年假15天？病假需提供医院证明；事假需提前申请。\n\n"
      "第二章 报销\n\n"
      "差旅费用凭发票报销。“住宿标准是多少？”每晚不超过500元。")
EN = ("Travel policy.\n\nEmployees book flights through the portal. Version 3.14 of the portal is live; "
      "see https://example.com/a.b for details! Hotels are capped at 150 USD a night. Questions?")


def texts(text: str) -> list[str]:
    return [text[s.start:s.end] for s in sentence_spans(text)]


def test_chinese_sentences_end_at_chinese_marks() -> None:
    assert texts(ZH)[:7] == ["第一章 总则", "公司员工每年享有带薪年假。",
                             "年假天数按工龄计算：工作满1年不满10年的，年假5天；",
                             "满10年不满20年的，年假10天！", "满20年的，年假15天？",
                             "病假需提供医院证明；", "事假需提前申请。"]


def test_closing_quote_stays_with_its_sentence() -> None:
    assert "“住宿标准是多少？”" in texts(ZH)
    assert texts(ZH)[-1] == "每晚不超过500元。"


def test_english_periods_split_only_before_a_space() -> None:
    assert texts(EN) == ["Travel policy.", "Employees book flights through the portal.",
                         "Version 3.14 of the portal is live;", "see https://example.com/a.b for details!",
                         "Hotels are capped at 150 USD a night.", "Questions?"]


def test_chunks_are_exact_slices_within_the_size() -> None:
    for text in (ZH, EN):
        chunks = split_text(text, chunk_size=60, overlap=10)
        assert len(chunks) > 2
        for number, chunk in enumerate(chunks):
            assert chunk.position == number
            assert chunk.text == text[chunk.start:chunk.end]
            assert 0 < len(chunk.text) <= 60


def test_chinese_chunks_end_at_sentence_ends() -> None:
    chunks = split_text(ZH, chunk_size=80, overlap=0)
    for chunk in chunks:
        assert chunk.text[-1] in "。！？；”则销", chunk.text


def test_paragraph_break_ends_a_half_full_chunk() -> None:
    chunks = split_text(ZH, chunk_size=150, overlap=20)
    assert any(c.text.endswith("事假需提前申请。") for c in chunks)
    assert any(c.text.startswith("第二章 报销") for c in chunks)


def test_overlap_repeats_whole_sentences_when_they_fit() -> None:
    chunks = split_text(ZH, chunk_size=60, overlap=20)
    pairs = list(itertools.pairwise(chunks))
    shared = [a.text[b.start - a.start:] for a, b in pairs if b.start < a.end]
    assert shared, "some consecutive chunks share text"
    assert "病假需提供医院证明；" in shared
    for a, b in pairs:
        assert a.end - b.start <= 20


def test_no_overlap_means_disjoint_chunks() -> None:
    chunks = split_text(EN, chunk_size=60, overlap=0)
    for a, b in itertools.pairwise(chunks):
        assert b.start >= a.end


def test_a_sentence_longer_than_the_chunk_is_cut() -> None:
    text = "无标点的长句" * 100  # 600 characters, no sentence end at all
    chunks = split_text(text, chunk_size=100, overlap=10)
    assert all(len(c.text) <= 100 for c in chunks)
    assert "".join(c.text[max(0, prev.end - c.start) if prev else 0:]
                   for prev, c in zip([None, *chunks], chunks, strict=False)) == text


def test_english_long_sentence_cut_at_spaces() -> None:
    text = " ".join(f"word{i}" for i in range(200))
    for chunk in split_text(text, chunk_size=80, overlap=0):
        assert not chunk.text.startswith(" ") and chunk.text.split()[0].startswith("word")
        assert all(w.startswith("word") and w[4:].isdigit() for w in chunk.text.split())


def test_everything_is_covered_on_random_text() -> None:
    rng = random.Random(7)
    for _ in range(200):
        text = "".join(rng.choice("甲乙丙丁abc de。！？\n\n. ,") for _ in range(rng.randint(0, 500)))
        size = rng.randint(50, 120)
        overlap = rng.randint(0, size // 2)
        chunks = split_text(text, size, overlap)
        covered = set()
        for chunk in chunks:
            assert 0 < len(chunk.text) <= size and chunk.text == text[chunk.start:chunk.end]
            covered.update(range(chunk.start, chunk.end))
        assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())


def test_empty_text_gives_no_chunks() -> None:
    assert split_text("   \n\n  ") == []


@pytest.mark.parametrize(("size", "overlap", "key"), [(10, 0, "chunk_size"), (100_000, 0, "chunk_size"),
                                                      (100, 60, "overlap"), (100, -1, "overlap")])
def test_bad_settings_are_refused(size: int, overlap: int, key: str) -> None:
    with pytest.raises(PlaygroundError) as caught:
        split_text("text", size, overlap)
    assert caught.value.params["key"] == f"retrieval.error.{key}"
