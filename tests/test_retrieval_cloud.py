"""Cloud retrieval below the page: Zhipu's retrieval tool passed through the backends unchanged (both
SDKs), and documents uploaded to a Zhipu knowledge base through the real zhipuai SDK."""

from __future__ import annotations

from dataclasses import replace

import pytest

from backends.base import Connection
from backends.openai_compat import OpenAICompatBackend
from backends.zhipu import ZhipuBackend
from backends.zhipu_knowledge import upload_to_knowledge_base
from core.errors import ErrorKind, PlaygroundError
from core.retrieval.ask import plan_cloud_ask
from core.retrieval.template import SEED_TEMPLATE_ZH
from tests.fake_llm import FakeLLMServer


def zhipu_conn(llm: FakeLLMServer, key: str | None = "test.key") -> Connection:
    return Connection(base_url=llm.zhipu_base_url, api_key=key, timeout_s=5)


@pytest.mark.parametrize("stream", [True, False])
def test_the_retrieval_tool_goes_through_the_zhipu_backend(llm: FakeLLMServer, stream: bool) -> None:
    plan = plan_cloud_ask("年假几天？", "kb-1", SEED_TEMPLATE_ZH)
    backend = ZhipuBackend()
    endpoint = backend.endpoints[0]
    request = backend.prepare(endpoint, "glm-4-plus", plan.messages, {"temperature": 0.5}, stream)
    request = replace(request, params={**request.params, "tools": plan.tools})
    record = backend.open_stream(request, endpoint, zhipu_conn(llm)).collect()
    assert record.outcome == "ok" and record.text == "Echo: 年假几天？"
    sent = llm.requests[-1]["json"]
    assert sent["tools"] == [{"type": "retrieval", "retrieval": {"knowledge_id": "kb-1",
                                                                 "prompt_template": SEED_TEMPLATE_ZH}}]
    assert sent["messages"] == [{"role": "user", "content": "年假几天？"}] and sent["temperature"] == 0.5


def test_the_retrieval_tool_goes_through_the_openai_sdk_to_zhipu(llm: FakeLLMServer) -> None:
    plan = plan_cloud_ask("年假几天？", "kb-2", SEED_TEMPLATE_ZH)
    backend = OpenAICompatBackend()
    endpoint = backend.endpoint("zhipu_compat")
    request = backend.prepare(endpoint, "glm-4-air", plan.messages, {}, True)
    request = replace(request, params={**request.params, "tools": plan.tools})
    conn = Connection(base_url=llm.openai_base_url, api_key="test.key", timeout_s=5)
    assert backend.open_stream(request, endpoint, conn).collect().outcome == "ok"
    assert llm.requests[-1]["json"]["tools"][0]["retrieval"]["knowledge_id"] == "kb-2"


def test_upload_a_document_to_a_zhipu_knowledge_base(llm: FakeLLMServer) -> None:
    found = upload_to_knowledge_base(zhipu_conn(llm), " kb-9 ", "产品手册.pdf", b"%PDF-1.4 ...")
    assert found.id.startswith("kbfile-") and found.filename == "产品手册.pdf" and found.size_bytes == 12
    assert found.status == "processing"
    sent = llm.requests[-1]
    assert sent["path"] == "/api/paas/v4/files"
    assert sent["json"] == {"purpose": "retrieval", "knowledge_id": "kb-9", "filename": "产品手册.pdf",
                            "bytes": 12}
    assert sent["headers"]["authorization"] == "Bearer test.key"


def test_upload_problems(llm: FakeLLMServer) -> None:
    with pytest.raises(PlaygroundError) as caught:
        upload_to_knowledge_base(zhipu_conn(llm, key=None), "kb", "a.txt", b"x")
    assert caught.value.kind is ErrorKind.MISSING_KEY and caught.value.params["envs"] == "ZHIPUAI_API_KEY"
    with pytest.raises(PlaygroundError) as caught:
        upload_to_knowledge_base(zhipu_conn(llm), "  ", "a.txt", b"x")
    assert caught.value.params["key"] == "retrieval.error.no_knowledge_id"
    assert llm.requests == []
    llm.queue("auth_401")
    with pytest.raises(PlaygroundError) as caught:
        upload_to_knowledge_base(zhipu_conn(llm), "kb", "a.txt", b"x")
    assert caught.value.kind is ErrorKind.AUTH and caught.value.code == "1002"
