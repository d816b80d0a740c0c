"""BM25 over jieba tokens: known answers on a small corpus, updates, persistence, normalised scores."""

from __future__ import annotations

from pathlib import Path

from core.retrieval.bm25 import BM25Index, tokenize

CORPUS = {
    "leave": "公司员工每年享有带薪年假，工作满1年不满10年的员工年假5天。",
    "sick": "病假需要提供二级以上医院开具的证明。",
    "expense": "差旅报销需要提交发票和部门经理签字的审批单。",
    "hotel": "The travel policy caps hotels at 150 USD per night in most cities.",
    "flight": "Employees must book economy flights through the company travel portal.",
    "glm": "GLM-4 支持 128K 上下文，知识库检索通过 retrieval 工具调用。",
}


def index() -> BM25Index:
    ix = BM25Index()
    for chunk_id, text in CORPUS.items():
        ix.add(chunk_id, text)
    return ix


def top(ix: BM25Index, query: str) -> str:
    return ix.search(query, 1)[0][0]


def test_tokenize_chinese_search_mode_and_english_lowercase() -> None:
    tokens = tokenize("智谱的知识库检索 Hello World，ChatGLM3！")
    assert "知识库" in tokens and "知识" in tokens  # search mode: the long word and its parts
    assert "hello" in tokens and "world" in tokens and "chatglm3" in tokens
    assert "，" not in tokens and "！" not in tokens and " " not in tokens


def test_known_answers() -> None:
    ix = index()
    assert top(ix, "年假有几天？") == "leave"
    assert top(ix, "病假要什么证明") == "sick"
    assert top(ix, "报销要交哪些材料，发票吗") == "expense"
    assert top(ix, "What is the hotel limit per night?") == "hotel"
    assert top(ix, "how do I book flights") == "flight"
    assert top(ix, "GLM-4 的上下文多长") == "glm"


def test_scores_sorted_and_normalised() -> None:
    results = index().search("travel policy hotels flights", 5)
    assert [r[0] for r in results][:2] in (["hotel", "flight"], ["flight", "hotel"])
    scores = [r[1] for r in results]
    assert scores == sorted(scores, reverse=True)
    assert all(0 < r[2] <= 1 for r in results)


def test_no_shared_term_no_result() -> None:
    ix = index()
    assert ix.search("量子计算", 5) == []
    assert ix.search("。？！", 5) == []
    assert BM25Index().search("年假", 5) == []


def test_k_limits_the_results() -> None:
    assert len(index().search("的 员工 公司 travel", 2)) == 2


def test_update_add_and_remove() -> None:
    ix = index()
    ix.add("leave2", "年假可以顺延到下一年第一季度，年假不休不补。")
    assert {r[0] for r in ix.search("年假顺延", 2)} == {"leave", "leave2"}
    assert top(ix, "年假顺延") == "leave2"
    ix.remove(["leave2", "nonexistent"])
    assert "leave2" not in ix and len(ix) == len(CORPUS)
    assert top(ix, "年假顺延") == "leave"


def test_copy_is_independent() -> None:
    ix = index()
    other = ix.copy()
    other.remove(["leave"])
    other.add("new", "全新的文档")
    assert "leave" in ix and "new" not in ix
    assert top(ix, "年假") == "leave" and top(other, "全新") == "new"


def test_save_and_load_give_the_same_ranking(tmp_path: Path) -> None:
    ix = index()
    path = tmp_path / "bm25.npz"
    ix.save(path)
    loaded = BM25Index.load(path)
    for query in ("年假", "hotel travel", "发票 报销", "GLM 知识库"):
        assert loaded.search(query, 3) == ix.search(query, 3)
    assert not list(tmp_path.glob("*.tmp"))


def test_idf_prefers_rare_terms() -> None:
    ix = BM25Index()
    for n in range(20):
        ix.add(f"common{n}", "员工 公司 规定")
    ix.add("rare", "员工 公司 规定 年假")
    assert top(ix, "员工 年假") == "rare"


def test_a_loaded_index_can_be_updated(tmp_path: Path) -> None:
    path = tmp_path / "bm25.npz"
    index().save(path)
    loaded = BM25Index.load(path)
    assert len(loaded) == len(CORPUS) and "leave" in loaded and set(loaded.ids) == set(CORPUS)
    changed = loaded.copy()
    changed.remove(["hotel"])
    changed.add("hotel2", "Hotel cap is 200 USD in Tokyo.")
    assert top(changed, "hotel cap Tokyo") == "hotel2" and "hotel" not in changed
    assert top(loaded, "hotels per night") == "hotel", "the loaded index itself is unchanged"
    assert top(changed, "年假有几天？") == "leave"


def test_empty_index_saves_and_loads(tmp_path: Path) -> None:
    path = tmp_path / "bm25.npz"
    BM25Index().save(path)
    assert len(BM25Index.load(path)) == 0 and BM25Index.load(path).search("年假", 3) == []
