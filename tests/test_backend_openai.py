"""OpenAICompatBackend through the real openai SDK against the fake server, on every preset."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest

from backends.base import Connection, Endpoint
from backends.openai_compat import OpenAICompatBackend, translate_openai_error
from core.chat import ChatRecord
from core.errors import ErrorKind, PlaygroundError
from tests.fake_llm import FakeLLMServer

BACKEND = OpenAICompatBackend()
CUSTOM = BACKEND.endpoint("custom")
ZHIPU_COMPAT = BACKEND.endpoint("zhipu_compat")
OPENAI = BACKEND.endpoint("openai")
DASHSCOPE = BACKEND.endpoint("dashscope")
JOIN_S = 10.0  # upper bound for a background call to end; not a speed assertion


def url_for(llm: FakeLLMServer, endpoint: Endpoint) -> str:
    """Presets point at the fake server: GLM's rules at the Zhipu route, the rest at /v1."""
    return llm.zhipu_base_url if endpoint.family == "glm" else llm.openai_base_url


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def ask(llm: FakeLLMServer, endpoint: Endpoint = CUSTOM, model: str = "fake-gpt", text: str = "hello world",
        stream: bool = True, values: dict[str, Any] | None = None, **conn_kw: Any) -> ChatRecord:
    conn = Connection(base_url=url_for(llm, endpoint), api_key=conn_kw.pop("api_key", "sk-test-0000"),
                      timeout_s=conn_kw.pop("timeout_s", 5.0), **conn_kw)
    request = BACKEND.prepare(endpoint, model, user(text), values or {}, stream)
    return BACKEND.open_stream(request, endpoint, conn).collect()


def sent(llm: FakeLLMServer) -> dict[str, Any]:
    return llm.requests[-1]["json"]


# ---- happy path, both usage shapes ----------------------------------------------------------------
def test_custom_stream_with_openai_usage_chunk(llm: FakeLLMServer) -> None:
    rec = ask(llm)
    assert rec.outcome == "ok" and rec.text == "Echo: hello world"
    # The usage came on the final `choices == []` chunk that include_usage asks for
    assert rec.usage is not None and (rec.usage.prompt_tokens, rec.usage.completion_tokens,
                                      rec.usage.total_tokens) == (6, 3, 9)
    assert rec.finish_reason == "stop" and rec.request_id and rec.request_id.startswith("fake-")
    assert rec.ttft_s is not None and rec.tokens_per_s is not None
    req = llm.requests[-1]
    assert req["path"] == "/v1/chat/completions"
    assert req["headers"]["authorization"] == "Bearer sk-test-0000"
    assert req["json"]["stream"] is True and req["json"]["stream_options"] == {"include_usage": True}


def test_zhipu_compat_stream_with_zhipu_usage_shape(llm: FakeLLMServer) -> None:
    rec = ask(llm, ZHIPU_COMPAT, "glm-4-flash")
    assert rec.outcome == "ok" and rec.text == "Echo: hello world"
    assert rec.usage is not None and rec.usage.total_tokens == 9  # usage with finish_reason, choices kept
    assert rec.finish_reason == "stop" and rec.request_id and rec.request_id.startswith("fake-")
    assert llm.requests[-1]["path"] == "/api/paas/v4/chat/completions"
    # GLM puts usage in its last chunk unasked; an OpenAI-only field is not sent to it.
    assert "stream_options" not in llm.requests[-1]["json"]


@pytest.mark.parametrize(("endpoint", "model"), [(CUSTOM, "fake-gpt"), (ZHIPU_COMPAT, "glm-4-flash")])
def test_non_stream(llm: FakeLLMServer, endpoint: Endpoint, model: str) -> None:
    rec = ask(llm, endpoint, model, "你好 world", stream=False)
    assert rec.outcome == "ok" and rec.text == "Echo: 你好 world" and rec.streamed is False
    assert rec.usage is not None and rec.usage.completion_tokens == 4 and rec.finish_reason == "stop"
    assert rec.request_id and rec.request_id.startswith("fake-")
    body = sent(llm)
    assert body["stream"] is False and "stream_options" not in body


def test_openai_preset_sends_include_usage_and_its_parameters(llm: FakeLLMServer) -> None:
    rec = ask(llm, OPENAI, "gpt-4o-mini", values={"temperature": 1.5, "presence_penalty": 0.5,
                                                   "frequency_penalty": -0.5, "seed": 42, "stop": ["a", "b"]})
    body = sent(llm)
    assert rec.outcome == "ok" and body["stream_options"] == {"include_usage": True}
    assert (body["temperature"], body["presence_penalty"], body["frequency_penalty"], body["seed"]) == (
        1.5, 0.5, -0.5, 42)
    assert body["stop"] == ["a", "b"] and body["max_tokens"] == 2048 and body["model"] == "gpt-4o-mini"
    assert "do_sample" not in body


def test_openai_preset_leaves_unset_seed_out(llm: FakeLLMServer) -> None:
    ask(llm, OPENAI, "gpt-4o")
    assert "seed" not in sent(llm) and "stop" not in sent(llm)


def test_custom_endpoint_needs_no_key(llm: FakeLLMServer) -> None:
    rec = ask(llm, api_key=None)
    assert rec.outcome == "ok" and llm.requests[-1]["headers"]["authorization"] == "Bearer EMPTY"


# ---- GLM rules on Zhipu's OpenAI-compatible URL --------------------------------------------------------
def test_zhipu_compat_sends_do_sample_in_the_body_and_no_clamping(llm: FakeLLMServer) -> None:
    ask(llm, ZHIPU_COMPAT, "glm-4-flash", values={"temperature": 1.0, "top_p": 1.0})
    body = sent(llm)
    assert body["do_sample"] is True  # extra_body: the openai SDK has no such argument
    assert body["temperature"] == 1.0 and body["top_p"] == 1.0  # the openai SDK sends values unchanged
    assert BACKEND.schema(ZHIPU_COMPAT, BACKEND.model_info(ZHIPU_COMPAT, "glm-4-flash")).adjustments(
        {"temperature": 1.0, "top_p": 1.0, "do_sample": True}) == []


def test_zhipu_compat_greedy_drops_temperature_and_top_p(llm: FakeLLMServer) -> None:
    rec = ask(llm, ZHIPU_COMPAT, "glm-4-flash", values={"do_sample": False})
    body = sent(llm)
    assert rec.outcome == "ok" and body["do_sample"] is False
    assert "temperature" not in body and "top_p" not in body


def test_zhipu_compat_glm_limits_apply_before_sending(llm: FakeLLMServer) -> None:
    for values in ({"stop": ["a", "b"]}, {"top_p": 0.0}, {"temperature": 1.2}, {"presence_penalty": 1.0}):
        try:
            request = BACKEND.prepare(ZHIPU_COMPAT, "glm-4-flash", user("hi"), values)
        except PlaygroundError as err:
            assert err.kind is ErrorKind.VALIDATION
        else:  # an unknown parameter for GLM is dropped, never sent
            assert values == {"presence_penalty": 1.0} and "presence_penalty" not in request.params
    assert llm.requests == []


def test_zhipu_compat_one_stop_word(llm: FakeLLMServer) -> None:
    rec = ask(llm, ZHIPU_COMPAT, "glm-4-flash", "a bXc d", values={"stop": ["X"]})
    assert sent(llm)["stop"] == ["X"] and rec.text == "Echo: a b"


# ---- DashScope ---------------------------------------------------------------------------------------
def test_dashscope_stream_only_model_streams_even_when_not_asked(llm: FakeLLMServer) -> None:
    assert BACKEND.model_info(DASHSCOPE, "glm-4.5").stream_only
    rec = ask(llm, DASHSCOPE, "glm-4.5", "hello world", stream=False)
    body = sent(llm)
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert rec.outcome == "ok" and rec.text == "Echo: hello world"
    assert rec.usage is not None and rec.usage.total_tokens == 9
    assert rec.streamed is False  # the user asked for the whole answer: shown as such


def test_dashscope_other_models_follow_the_request(llm: FakeLLMServer) -> None:
    rec = ask(llm, DASHSCOPE, "qwen-plus", stream=False)
    assert sent(llm)["stream"] is False and rec.text == "Echo: hello world"
    assert sent(llm)["temperature"] == 0.7 and "frequency_penalty" not in sent(llm)


# ---- retries and keys ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("endpoint", "model"), [(CUSTOM, "fake-gpt"), (ZHIPU_COMPAT, "glm-4-flash")])
def test_no_retry_by_default(llm: FakeLLMServer, endpoint: Endpoint, model: str) -> None:
    llm.queue("balance_1113")
    rec = ask(llm, endpoint, model)
    assert rec.error is not None and rec.error.code == "1113" and len(llm.requests) == 1


@pytest.mark.parametrize("endpoint", [OPENAI, ZHIPU_COMPAT, DASHSCOPE])
def test_missing_key_sends_nothing(llm: FakeLLMServer, endpoint: Endpoint) -> None:
    model = endpoint.models[0].id
    request = BACKEND.prepare(endpoint, model, user("hi"), {})
    with pytest.raises(PlaygroundError) as info:
        BACKEND.open_stream(request, endpoint, Connection(base_url=url_for(llm, endpoint)))
    assert info.value.kind is ErrorKind.MISSING_KEY
    assert info.value.params["envs"] == ", ".join(endpoint.key_envs)
    assert llm.requests == []


def test_prepare_checks() -> None:
    with pytest.raises(PlaygroundError) as info:
        BACKEND.prepare(CUSTOM, "", user("hi"), {})
    assert info.value.params["key"] == "validation.no_model"
    with pytest.raises(PlaygroundError) as info:
        BACKEND.prepare(CUSTOM, "m", [{"role": "system", "content": "s"}], {})
    assert info.value.code == "1214"
    with pytest.raises(PlaygroundError) as info:
        BACKEND.prepare(OPENAI, "gpt-4o", user("hi"), {"temperature": 2.5})
    assert info.value.params["key"] == "validation.param_range" and info.value.params["maximum"] == 2.0
    with pytest.raises(PlaygroundError) as info:
        BACKEND.prepare(DASHSCOPE, "qwen-plus", user("hi"), {"temperature": 2.0})  # DashScope: [0, 2)
    assert info.value.params["maximum"] == 1.99


def test_every_preset_is_declared() -> None:
    assert [e.id for e in BACKEND.endpoints] == ["openai", "zhipu_compat", "dashscope", "custom"]
    assert CUSTOM.base_url_editable and not CUSTOM.key_required
    assert ZHIPU_COMPAT.base_url == "https://open.bigmodel.cn/api/paas/v4/"
    assert DASHSCOPE.base_url == "https://dashscope.aliyuncs.com/compatible-mode/v1"


# ---- stop -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("endpoint", "model"), [(CUSTOM, "fake-gpt"), (ZHIPU_COMPAT, "glm-4-flash")])
def test_stop_mid_stream_keeps_the_text_so_far(llm: FakeLLMServer, endpoint: Endpoint, model: str) -> None:
    llm.queue("ok", token_delay=0.05)
    request = BACKEND.prepare(endpoint, model, user("[[tokens:200]]"), {"max_tokens": 1000})
    conn = Connection(base_url=url_for(llm, endpoint), api_key="k", timeout_s=5)
    stream = BACKEND.open_stream(request, endpoint, conn)
    got: list[str] = []
    for delta in stream.events(poll_s=0.01):
        if delta:
            got.append(delta)
        if len(got) == 3:
            break
    rec = stream.stop()
    assert rec.outcome == "stopped" and rec.error is None
    assert rec.text.startswith("w0 w1 w2 ") and len(rec.text.split()) < 200
    assert stream.join(JOIN_S)


# ---- translation of what the openai SDK raises ------------------------------------------------------
def test_raw_httpx2_and_json_errors() -> None:
    request = httpx2.Request("POST", "http://x/v1/chat/completions")
    cases = [
        (httpx2.RemoteProtocolError("cut", request=request), True, ErrorKind.STREAM_BROKEN),
        (httpx2.ReadTimeout("slow", request=request), False, ErrorKind.TIMEOUT),
        (httpx2.ConnectError("refused", request=request), False, ErrorKind.UNREACHABLE),
        (json.JSONDecodeError("Expecting value", "{not json", 1), True, ErrorKind.STREAM_BROKEN),
        (ValueError("odd"), False, ErrorKind.UNKNOWN),
    ]
    for exc, started, kind in cases:
        assert translate_openai_error(exc, started).kind is kind, exc
