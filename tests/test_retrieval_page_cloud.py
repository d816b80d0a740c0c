"""AppTest of the Retrieval page's dense search (embeddings from the fake server, vectors in local
Qdrant) and of cloud mode (Zhipu's retrieval tool, uploads to a Zhipu knowledge base)."""

from __future__ import annotations

from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from core.retrieval import dense as dense_module
from core.retrieval.template import TEMPLATE_EN
from core.usage_schema import PAID_BY_USER
from tests.apptest_helpers import en
from tests.test_retrieval_page import (
    HANDBOOK,
    POLICY,
    click,
    create_kb,
    ledger_rows,
    open_page,
    run,
    show_tab,
    store,
    texts,
)


@pytest.fixture(autouse=True)
def _close_qdrant() -> Any:
    yield
    dense_module.close_all()  # each test has its own data dir: release the local folders


def uploader(at: AppTest, prefix: str) -> Any:
    return next(u for u in at.file_uploader if str(u.key).startswith(prefix))


def choose_embedding(at: AppTest, kb_id: str, choice: str) -> None:
    at.selectbox(key=f"retrieval.embed_choice.{kb_id}").set_value(choice)
    run(at)


def add_files(at: AppTest, files: list[tuple[str, bytes, str]]) -> None:
    uploader(at, "retrieval.files.").set_value(files)
    run(at)
    click(at, "retrieval.docs.add")


def test_dense_and_hybrid_with_zhipu_embeddings(zhipu_env) -> None:  # type: ignore[no-untyped-def]
    at = open_page()
    kb_id = create_kb(at, "向量")
    choose_embedding(at, kb_id, "zhipu:embedding-3")
    add_files(at, [("员工手册.txt", HANDBOOK.encode(), "text/plain"),
                   ("policy.md", POLICY.encode(), "text/md")])
    snap = store().get(kb_id).snapshot()
    assert snap.embedded_with == "zhipu:embedding-3"
    embedded = [r for r in zhipu_env.requests if r["path"].endswith("/embeddings")]
    assert sum(len(r["json"]["input"]) for r in embedded) == len(snap.chunks)
    assert any(en("retrieval.dense.ready", chunks=len(snap.chunks), where="").split("(")[0] in s
               for s in texts(at.success))
    assert {r.page for r in ledger_rows("embeddings")} == {"embeddings"}
    show_tab(at, "ask")
    at.radio(key="retrieval.method").set_value("hybrid")
    at.text_area(key=f"retrieval.question.{kb_id}").set_value("What is the hotel cap per night?")
    click(at, "retrieval.ask.ask")
    chat = zhipu_env.requests[-1]
    assert chat["path"].endswith("/chat/completions") and "150 USD" in chat["json"]["messages"][0]["content"]
    assert "BM25 rank" in " ".join(texts(at.caption))
    rows = ledger_rows("retrieval")
    assert {r.model for r in rows} == {"embedding-3", "glm-4-plus"}
    assert next(r for r in rows if r.model == "glm-4-plus").params["retrieval"] == "hybrid"


def test_compute_embeddings_for_documents_already_there(zhipu_env) -> None:  # type: ignore[no-untyped-def]
    at = open_page()
    kb_id = create_kb(at, "kb")
    add_files(at, [("policy.md", POLICY.encode(), "text/md")])
    assert store().get(kb_id).snapshot().embedded_with is None
    choose_embedding(at, kb_id, "zhipu:embedding-2")
    assert en("retrieval.dense.missing") in texts(at.info)
    click(at, "retrieval.dense.compute")
    assert store().get(kb_id).snapshot().embedded_with == "zhipu:embedding-2"
    show_tab(at, "ask")
    at.radio(key="retrieval.method").set_value("dense")
    at.text_area(key=f"retrieval.question.{kb_id}").set_value("economy flights")
    click(at, "retrieval.ask.search")
    assert "[1] policy.md" in " ".join(texts(at.caption))


def test_embedding_without_a_key_loses_nothing(llm, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ZHIPUAI_BASE_URL", llm.zhipu_base_url)
    at = open_page()
    kb_id = create_kb(at, "kb")
    add_files(at, [("policy.md", POLICY.encode(), "text/md")])
    choose_embedding(at, kb_id, "zhipu:embedding-3")
    add_files(at, [("员工手册.txt", HANDBOOK.encode(), "text/plain")])
    errors = " ".join(texts(at.error))
    assert "员工手册.txt" in errors and en("error.missing_key.title") in errors
    assert "ZHIPUAI_API_KEY" in errors
    assert [d.name for d in store().get(kb_id).snapshot().documents] == ["policy.md"]
    show_tab(at, "ask")
    at.radio(key="retrieval.method").set_value("dense")
    at.text_area(key=f"retrieval.question.{kb_id}").set_value("flights")
    click(at, "retrieval.ask.search")
    assert en("retrieval.error.no_vectors") in texts(at.error)


def test_cloud_retrieval_sends_the_tool(zhipu_env) -> None:  # type: ignore[no-untyped-def]
    at = open_page()
    kb_id = create_kb(at, "kb")
    show_tab(at, "cloud")
    at.text_input(key=f"retrieval.knowledge_id.{kb_id}").set_value("1790000000000000000")
    at.text_area(key=f"retrieval.cloud_question.{kb_id}").set_value("年假有几天？")
    click(at, "retrieval.cloud.ask")
    sent = zhipu_env.requests[-1]["json"]
    assert sent["messages"] == [{"role": "user", "content": "年假有几天？"}]
    assert sent["tools"] == [{"type": "retrieval", "retrieval": {"knowledge_id": "1790000000000000000",
                                                                 "prompt_template": TEMPLATE_EN}}]
    assert any("Echo: 年假有几天？" in m.markdown[0].value for m in at.chat_message)
    row = ledger_rows("retrieval")[-1]
    assert row.params["retrieval"] == "cloud" and row.params["knowledge_id"] == "1790000000000000000"
    assert "tools" not in row.params


def test_cloud_needs_a_knowledge_id(zhipu_env) -> None:  # type: ignore[no-untyped-def]
    at = open_page()
    kb_id = create_kb(at, "kb")
    show_tab(at, "cloud")
    at.text_area(key=f"retrieval.cloud_question.{kb_id}").set_value("年假？")
    click(at, "retrieval.cloud.ask")
    assert en("retrieval.error.no_knowledge_id") in texts(at.error)
    assert zhipu_env.requests == []


def test_cloud_is_for_zhipu_endpoints(openai_env) -> None:  # type: ignore[no-untyped-def]
    at = open_page()
    create_kb(at, "kb")
    show_tab(at, "cloud")
    assert en("retrieval.cloud.needs_zhipu") in texts(at.warning)
    assert at.button(key="retrieval.cloud.ask").disabled


def test_upload_to_a_zhipu_knowledge_base(zhipu_env) -> None:  # type: ignore[no-untyped-def]
    at = open_page()
    kb_id = create_kb(at, "kb")
    show_tab(at, "cloud")
    at.text_input(key=f"retrieval.knowledge_id.{kb_id}").set_value("kb-42")
    run(at)
    uploader(at, "retrieval.cloud_files.").set_value([("手册.txt", HANDBOOK.encode(), "text/plain")])
    run(at)
    click(at, "retrieval.cloud.upload")
    sent = [r for r in zhipu_env.requests if r["path"].endswith("/files")][-1]
    assert sent["json"] == {"purpose": "retrieval", "knowledge_id": "kb-42", "filename": "手册.txt",
                            "bytes": len(HANDBOOK.encode())}
    assert any("手册.txt" in s and "kbfile-" in s for s in texts(at.success))
    zhipu_env.queue("auth_401")
    uploader(at, "retrieval.cloud_files.").set_value([("again.txt", b"text", "text/plain")])
    run(at)
    click(at, "retrieval.cloud.upload")
    assert any("again.txt" in e and en("error.auth.title") in e for e in texts(at.error))


def test_embeddings_on_the_servers_key_keep_the_limits_and_a_typed_key_pays_itself(
        zhipu_env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLAYGROUND_LIMIT_RPM", "0")  # no calls at all on the server's key
    at = open_page()
    kb_id = create_kb(at, "limited")
    choose_embedding(at, kb_id, "zhipu:embedding-3")
    add_files(at, [("policy.md", POLICY.encode(), "text/md")])
    assert not [r for r in zhipu_env.requests if r["path"].endswith("/embeddings")]  # nothing sent
    refusal = en("limits.over.zero", limit_name="requests_per_minute").split(" (")[0]
    assert any(refusal in text for text in texts(at.error) + texts(at.warning))
    assert not store().get(kb_id).snapshot().chunks  # the refused upload changed nothing
    at.text_input(key="widget.api_key.ZHIPUAI_API_KEY").set_value("my-own-key-12345678")
    run(at)
    add_files(at, [("policy.md", POLICY.encode(), "text/md")])
    embedded = [r for r in zhipu_env.requests if r["path"].endswith("/embeddings")]
    assert embedded and embedded[-1]["headers"].get("authorization", "").endswith("my-own-key-12345678")
    assert store().get(kb_id).snapshot().embedded_with == "zhipu:embedding-3"
    assert {r.paid_by for r in ledger_rows("embeddings")} == {PAID_BY_USER}
