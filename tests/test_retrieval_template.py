"""The prompt template (check, fill, save by name) and the exact messages an ask sends."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.error_text import explain
from core.errors import PlaygroundError
from core.retrieval.ask import cited, format_knowledge, plan_ask, plan_cloud_ask, retrieval_tool
from core.retrieval.knowledge_base import KnowledgeBaseStore
from core.retrieval.loaders import load_document
from core.retrieval.template import (
    BUILTIN,
    SEED_TEMPLATE_ZH,
    TEMPLATE_EN,
    TemplateStore,
    check_template,
    fill_template,
)


def validation_key(call) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(PlaygroundError) as caught:
        call()
    return caught.value.params["key"]


def test_builtin_templates_are_valid_and_the_seed_is_kept() -> None:
    for template in BUILTIN.values():
        assert check_template(template).ok
    assert SEED_TEMPLATE_ZH.startswith('从文档\n"""\n{{knowledge}}\n"""\n中找问题\n"""\n{{question}}\n"""')
    assert "找不到答案就用自身知识回答并告诉用户该信息不是来自文档" in SEED_TEMPLATE_ZH
    assert "不要复述问题，直接开始回答。" in SEED_TEMPLATE_ZH
    assert "{{knowledge}}" in TEMPLATE_EN and "{{question}}" in TEMPLATE_EN


def test_missing_placeholders_are_named() -> None:
    check = check_template("Answer: {{question}}")
    assert check.missing == ("knowledge",) and not check.ok
    assert check_template("nothing here").missing == ("knowledge", "question")


def test_unknown_placeholders_are_flagged_with_the_intended_name() -> None:
    check = check_template("{{knowledge}} {{question}} {{ Knowledge }} {{context}} {question}")
    assert check.unknown == ("{{ Knowledge }}", "{{context}}", "{question}")
    assert check.suggestions == {"{{ Knowledge }}": "{{knowledge}}", "{question}": "{{question}}"}
    assert not check.ok


def test_fill_replaces_each_placeholder_once_and_only_those() -> None:
    template = "K: {{knowledge}}\nQ: {{question}}\nQ again: {{question}}"
    filled = fill_template(template, knowledge="文档里写着 {{question}}", question="年假几天？")
    assert filled == "K: 文档里写着 {{question}}\nQ: 年假几天？\nQ again: 年假几天？"


def test_fill_the_seed_template() -> None:
    filled = fill_template(SEED_TEMPLATE_ZH, "年假5天。", "年假几天？")
    assert filled.startswith('从文档\n"""\n年假5天。\n"""\n中找问题\n"""\n年假几天？\n"""\n的答案')


def test_saved_templates_by_name(tmp_path: Path) -> None:
    store = TemplateStore(tmp_path)
    assert store.all() == {}
    store.save("  客服 风格 ", "请用客服口吻回答。资料：{{knowledge}} 问题：{{question}}")
    store.save("short", "{{knowledge}}\n{{question}}")
    assert set(TemplateStore(tmp_path).all()) == {"客服 风格", "short"}
    store.save("short", "Q: {{question}} K: {{knowledge}}")
    assert store.all()["short"] == "Q: {{question}} K: {{knowledge}}"
    store.delete("short")
    assert list(store.all()) == ["客服 风格"]
    assert validation_key(lambda: store.save("bad", "{{question}} only")) == \
        "retrieval.error.template_missing"
    assert validation_key(lambda: store.save(" ", "{{knowledge}}{{question}}")) == \
        "retrieval.error.template_name"
    assert list(store.all()) == ["客服 风格"]


# ---- asking ------------------------------------------------------------------------------------
@pytest.fixture
def snap(tmp_path: Path):  # type: ignore[no-untyped-def]
    kb = KnowledgeBaseStore(tmp_path).create("手册", chunk_size=50, overlap=0)
    text = ("年假规定：工作满1年不满10年的员工，每年享有带薪年假5天。\n\n"
            "病假规定：员工请病假需要提供二级以上医院开具的证明。\n\n"
            "报销规定：差旅报销需要提交发票和部门经理签字的审批单。")
    kb.add_documents([load_document("员工手册.txt", text.encode())])
    return kb.snapshot()


def test_plan_ask_builds_the_exact_messages(snap) -> None:  # type: ignore[no-untyped-def]
    plan = plan_ask(snap, "  年假有几天？ ", SEED_TEMPLATE_ZH, top_k=2)
    assert plan.question == "年假有几天？"
    assert plan.hits[0].chunk.text.startswith("年假规定") and plan.hits[0].rank == 1
    assert plan.knowledge.startswith("[1] 员工手册.txt\n年假规定")
    assert plan.messages == [{"role": "user", "content": fill_template(SEED_TEMPLATE_ZH, plan.knowledge,
                                                                       "年假有几天？")}]


def test_threshold_drops_weak_hits(snap) -> None:  # type: ignore[no-untyped-def]
    all_hits = plan_ask(snap, "年假 病假", TEMPLATE_EN, top_k=5).hits
    assert len(all_hits) == 2
    strict = plan_ask(snap, "年假 病假", TEMPLATE_EN, top_k=5, threshold=0.99).hits
    assert strict == []
    assert plan_ask(snap, "年假 病假", TEMPLATE_EN, top_k=5, threshold=0.99).knowledge == ""


def test_bad_asks_are_refused_with_the_fix(snap, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert validation_key(lambda: plan_ask(snap, "  ", SEED_TEMPLATE_ZH)) == "retrieval.error.no_question"
    assert validation_key(lambda: plan_ask(snap, "年假", "只有 {{question}}")) == \
        "retrieval.error.template_missing"
    assert validation_key(lambda: plan_ask(snap, "年假", "{{knowledge}}{{question}}{{x}}")) == \
        "retrieval.error.template_unknown"
    empty = KnowledgeBaseStore(tmp_path / "other").create("空").snapshot()
    assert validation_key(lambda: plan_ask(empty, "年假", SEED_TEMPLATE_ZH)) == "retrieval.error.empty_kb"
    assert validation_key(lambda: plan_ask(snap, "年假", SEED_TEMPLATE_ZH, method="dense")) == \
        "retrieval.error.no_vectors"


def test_error_texts_name_the_fix() -> None:
    with pytest.raises(PlaygroundError) as caught:
        retrieval_tool("kb-1", "only {{question}}")
    assert "{{knowledge}}" in explain(caught.value, "en").fix
    assert "{{knowledge}}" in explain(caught.value, "zh").fix


def test_cloud_plan_sends_the_tool_and_the_plain_question() -> None:
    plan = plan_cloud_ask(" 年假几天？", "1760000000000000000", SEED_TEMPLATE_ZH)
    assert plan.messages == [{"role": "user", "content": "年假几天？"}]
    assert plan.tools == [{"type": "retrieval", "retrieval": {"knowledge_id": "1760000000000000000",
                                                              "prompt_template": SEED_TEMPLATE_ZH}}]
    assert validation_key(lambda: plan_cloud_ask("q", " ", SEED_TEMPLATE_ZH)) == \
        "retrieval.error.no_knowledge_id"


def test_cited_sources(snap) -> None:  # type: ignore[no-untyped-def]
    hits = plan_ask(snap, "年假 病假 报销", TEMPLATE_EN, top_k=3).hits
    assert len(hits) == 3
    answer = "根据文档：工作满1年不满10年的员工，每年享有带薪年假5天。另见 [3]。"
    used = {h.rank for h in cited(answer, hits)}
    year = next(h.rank for h in hits if h.chunk.text.startswith("年假"))
    assert used == {year, 3}
    assert format_knowledge([]) == ""
