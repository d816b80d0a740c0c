"""AppTest of the Retrieval page: knowledge bases, upload with per-file results, ask, persistence."""

from __future__ import annotations

import json
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from core.config import Settings
from core.i18n import t
from core.retrieval.knowledge_base import KnowledgeBaseStore
from core.usage_ledger import Ledger, UsageFilter
from tests.apptest_helpers import assert_ok, en, start

PAGE = "app_pages/retrieval.py"
HANDBOOK = ("员工手册\n\n公司员工每年享有带薪年假。工作满1年不满10年的员工，年假5天；满10年的，年假10天。\n\n"
            "病假需要提供二级以上医院开具的证明。\n\n差旅报销需要在30天内提交发票和审批单。")
POLICY = "Travel policy.\n\nHotels are capped at 150 USD per night. Book economy flights in TravelDesk."


def open_page(locale: str = "en-US") -> AppTest:
    at = start(locale)
    at.switch_page(PAGE).run()
    assert_ok(at)
    return at


def run(at: AppTest) -> AppTest:
    at.run()
    assert_ok(at)
    return at


def click(at: AppTest, key: str) -> AppTest:
    at.button(key=key).click()
    return run(at)


def create_kb(at: AppTest, name: str) -> str:
    at.text_input(key="retrieval.kb.new_name").set_value(name)
    click(at, "retrieval.kb.create")
    return at.session_state["retrieval.kb_id"]


def upload(at: AppTest, files: list[tuple[str, bytes, str]]) -> AppTest:
    at.file_uploader[0].set_value(files)
    run(at)
    return click(at, "retrieval.docs.add")


def show_tab(at: AppTest, name: str, lang: str = "en") -> AppTest:
    """Open a tab of the page (documents, ask, cloud, evaluate), as a click on it does."""
    at.session_state["retrieval.tab"] = t(f"retrieval.tab.{name}", lang)
    return run(at)


def texts(elements: Any) -> list[str]:
    """What the elements say, Markdown escapes removed (names are escaped to show as typed)."""
    return [e.value.replace("\\", "") for e in elements]


def question_key(at: AppTest) -> str:
    return f"retrieval.question.{at.session_state['retrieval.kb_id']}"


def store() -> KnowledgeBaseStore:
    return KnowledgeBaseStore(Settings.load().data_dir)


def ledger_rows(page: str) -> list[Any]:
    ledger = Ledger.open(Settings.load())
    try:
        return ledger.rows(UsageFilter(pages=(page,)))
    finally:
        ledger.close()


def test_page_without_a_knowledge_base_offers_to_create_one() -> None:
    at = open_page()
    assert en("retrieval.title") in [t.value for t in at.title]
    assert en("retrieval.kb.none_yet") in texts(at.info)
    kb_id = create_kb(at, "产品手册 2025")
    assert store().get(kb_id).name == "产品手册 2025"
    assert at.selectbox(key="widget.retrieval.kb").value == kb_id
    assert at.query_params["kb"] in (kb_id, [kb_id])


def test_bad_name_keeps_what_was_typed() -> None:
    at = open_page()
    create_kb(at, "售后")
    at.text_input(key="retrieval.kb.new_name").set_value("售后")
    click(at, "retrieval.kb.create")
    assert any("售后" in e for e in texts(at.error))
    assert at.text_input(key="retrieval.kb.new_name").value == "售后"


def test_upload_reports_each_file_and_fills_the_table() -> None:
    at = open_page()
    kb_id = create_kb(at, "手册")
    upload(at, [("员工手册.txt", HANDBOOK.encode("gbk"), "text/plain"), ("empty.txt", b"", "text/plain"),
                ("policy.md", POLICY.encode(), "text/markdown")])
    successes = " ".join(texts(at.success))
    assert "员工手册.txt" in successes and "policy.md" in successes
    errors = " ".join(texts(at.error))
    assert "empty.txt" in errors and en("retrieval.error.empty_file", name="empty.txt") in errors
    snap = store().get(kb_id).snapshot()
    assert sorted(d.name for d in snap.documents) == ["policy.md", "员工手册.txt"]
    table = at.dataframe[0].value
    assert set(table[en("retrieval.docs.col_name")]) == {"policy.md", "员工手册.txt"}
    assert sum(table[en("retrieval.docs.col_chunks")]) == len(snap.chunks)


def test_search_only_shows_chunks_and_messages_without_calling_a_model(zhipu_env) -> None:  # type: ignore[no-untyped-def]
    at = open_page()
    create_kb(at, "手册")
    upload(at, [("员工手册.txt", HANDBOOK.encode(), "text/plain")])
    show_tab(at, "ask")
    at.text_area(key=question_key(at)).set_value("年假有几天？")
    click(at, "retrieval.ask.search")
    assert zhipu_env.requests == []
    captions = " ".join(texts(at.caption))
    assert "[1] 员工手册.txt" in captions and "score" in captions
    assert any("年假5天" in t for t in texts(at.text))
    messages = json.loads(at.code[-1].value)["messages"]
    assert messages[0]["role"] == "user" and "年假5天" in messages[0]["content"]
    assert "年假有几天？" in messages[0]["content"] and "{{knowledge}}" not in messages[0]["content"]


def test_ask_streams_the_answer_and_records_it(zhipu_env) -> None:  # type: ignore[no-untyped-def]
    at = open_page()
    create_kb(at, "手册")
    upload(at, [("员工手册.txt", HANDBOOK.encode(), "text/plain")])
    show_tab(at, "ask")
    at.text_area(key=question_key(at)).set_value("病假需要什么证明？")
    click(at, "retrieval.ask.ask")
    sent = zhipu_env.requests[-1]["json"]
    assert sent["messages"][0]["content"].startswith('From the documents\n"""\n[1] 员工手册.txt\n')
    assert "二级以上医院" in sent["messages"][0]["content"]
    answer = at.chat_message[0].markdown[0].value
    assert answer.startswith("Echo: From the documents") and "二级以上医院" in answer
    assert any(en("retrieval.answer.sources") in m.value for m in at.markdown)
    rows = ledger_rows("retrieval")
    assert len(rows) == 1 and rows[0].model == "glm-4-plus" and rows[0].params["retrieval"] == "bm25"
    assert rows[0].params["chunks_sent"] >= 1 and "tools" not in rows[0].params


def test_the_result_and_settings_survive_a_refresh(zhipu_env) -> None:  # type: ignore[no-untyped-def]
    at = open_page()
    kb_id = create_kb(at, "手册")
    upload(at, [("员工手册.txt", HANDBOOK.encode(), "text/plain")])
    show_tab(at, "ask")
    at.slider(key="retrieval.top_k").set_value(2)
    at.text_area(key=question_key(at)).set_value("差旅报销多久内提交？")
    click(at, "retrieval.ask.ask")
    fresh = AppTest.from_file(str(at._script_path), default_timeout=30)  # a new browser session
    fresh.context["locale"] = "en-US"
    fresh.query_params["kb"] = kb_id
    run(fresh)
    fresh.switch_page(PAGE).run()
    assert_ok(fresh)
    show_tab(fresh, "ask")
    assert fresh.session_state["retrieval.kb_id"] == kb_id
    assert fresh.text_area(key=f"retrieval.question.{kb_id}").value == "差旅报销多久内提交？"
    assert fresh.slider(key="retrieval.top_k").value == 2
    assert "30天内提交发票" in fresh.chat_message[0].markdown[0].value


def test_template_without_a_placeholder_blocks_asking() -> None:
    at = open_page()
    kb_id = create_kb(at, "kb")
    show_tab(at, "ask")
    at.text_area(key=f"retrieval.template.{kb_id}").set_value("Answer: {{question}} {{Knowledge}}")
    run(at)
    errors = " ".join(texts(at.error))
    assert "{{knowledge}}" in errors
    warnings = " ".join(texts(at.warning))
    assert "{{Knowledge}}" in warnings and "Did you mean {{knowledge}}" in warnings
    assert at.button(key="retrieval.ask.ask").disabled
    assert at.button(key="retrieval.template.save").disabled


def test_question_on_an_empty_knowledge_base() -> None:
    at = open_page()
    create_kb(at, "空的")
    show_tab(at, "ask")
    at.text_area(key=question_key(at)).set_value("年假几天？")
    click(at, "retrieval.ask.search")
    assert en("retrieval.error.empty_kb") in texts(at.error)


def test_load_a_template_and_undo() -> None:
    at = open_page()
    kb_id = create_kb(at, "kb")
    show_tab(at, "ask")
    editor = f"retrieval.template.{kb_id}"
    assert at.selectbox(key="retrieval.template.choice").value == "english"  # what the editor holds
    at.text_area(key=editor).set_value("My {{knowledge}} and {{question}}")
    run(at)
    at.selectbox(key="retrieval.template.choice").set_value("seed_zh")
    click(at, "retrieval.template.load")
    assert at.text_area(key=editor).value.startswith("从文档")
    click(at, "retrieval.template.undo")
    assert at.text_area(key=editor).value == "My {{knowledge}} and {{question}}"
    at.text_input(key="retrieval.template.name").set_value("mine")
    click(at, "retrieval.template.save")
    assert "Saved: mine" in at.selectbox(key="retrieval.template.choice").options


def test_remove_a_document_and_rebuild() -> None:
    at = open_page()
    kb_id = create_kb(at, "kb")
    upload(at, [("a.txt", (HANDBOOK * 4).encode(), "text/plain"), ("b.md", POLICY.encode(), "text/markdown")])
    kb = store().get(kb_id)
    at.number_input(key=f"retrieval.chunk_size.{kb_id}").set_value(100)
    run(at)
    assert kb.chunk_settings[0] == 100
    assert any("Rebuild" in w for w in texts(at.warning))
    before = len(kb.snapshot().chunks)
    click(at, "retrieval.docs.rebuild")
    assert len(kb.snapshot().chunks) > before and kb.stale_documents() == []
    at.selectbox(key=f"retrieval.docs.pick.{kb_id}").set_value(
        next(d.id for d in kb.snapshot().documents if d.name == "b.md"))
    click(at, "retrieval.docs.remove")
    assert [d.name for d in kb.snapshot().documents] == ["a.txt"]


def test_rename_and_delete() -> None:
    at = open_page("zh-CN")
    kb_id = create_kb(at, "旧名字")
    at.text_input(key=f"retrieval.kb.rename.{kb_id}").set_value("新名字")
    click(at, "retrieval.kb.rename")
    assert store().get(kb_id).name == "新名字"
    assert at.button(key="retrieval.kb.delete").disabled
    at.checkbox(key=f"retrieval.kb.confirm.{kb_id}").check()
    run(at)
    click(at, "retrieval.kb.delete")
    assert store().list() == []
    assert any("新名字" in s for s in texts(at.success))


@pytest.mark.parametrize("locale", ["en-US", "zh-CN"])
def test_sample_and_evaluation(locale: str) -> None:
    at = open_page(locale)
    click(at, "retrieval.kb.sample")
    kb_id = at.session_state["retrieval.kb_id"]
    assert len(store().get(kb_id).snapshot().documents) == 7
    show_tab(at, "evaluate", locale[:2])
    click(at, "retrieval.eval.run")
    last = json.loads((store().get(kb_id).dir / "last_eval.json").read_text())
    assert last["k"] == 5 and len(last["questions"]) == 32
    assert last["scores"]["bm25"]["hit_rate"] >= 0.9
    table = at.dataframe[-2].value  # results, then the per-question ranks
    assert len(table) == 1


def test_names_are_shown_as_typed_not_as_markdown() -> None:
    at = open_page()
    create_kb(at, "kb")
    upload(at, [("**bold** :red[x] $y$.md", b"Some text.", "text/markdown")])
    raw = [s.value for s in at.success]
    assert any(r"\*\*bold\*\* \:red\[x\] \$y\$\.md" in r for r in raw), raw
