"""ZhipuBackend through the real zhipuai SDK against the fake server: wire body, records, stop."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from backends.base import Connection
from backends.chunks import generic_translate
from backends.registry import get_backend
from backends.zhipu import ZHIPU_ENDPOINT, ZhipuBackend, translate_zhipu_error
from core.chat import ChatRecord, ChatRequest
from core.errors import ErrorKind, PlaygroundError
from tests.fake_llm import FakeLLMServer

BACKEND = ZhipuBackend()
MODEL = "glm-4-flash"
JOIN_S = 10.0  # upper bound for a background call to end; not a speed assertion


def conn(llm: FakeLLMServer, **kw: Any) -> Connection:
    return Connection(base_url=llm.zhipu_base_url, api_key=kw.pop("api_key", "test.key"),
                      timeout_s=kw.pop("timeout_s", 5.0), **kw)


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def ask(llm: FakeLLMServer, text: str = "hello world", stream: bool = True,
        values: dict[str, Any] | None = None, **conn_kw: Any) -> ChatRecord:
    request = BACKEND.prepare(ZHIPU_ENDPOINT, MODEL, user(text), values or {}, stream)
    return BACKEND.open_stream(request, ZHIPU_ENDPOINT, conn(llm, **conn_kw)).collect()


def sent(llm: FakeLLMServer) -> dict[str, Any]:
    return llm.requests[-1]["json"]


# ---- happy path ----------------------------------------------------------------------------------
def test_stream_echo_usage_and_request_id(llm: FakeLLMServer) -> None:
    rec = ask(llm, "hello world")
    assert rec.outcome == "ok" and rec.error is None
    assert rec.text == "Echo: hello world"
    # Zhipu sends usage with finish_reason on the last chunk (choices still present)
    assert rec.usage is not None and (rec.usage.prompt_tokens, rec.usage.completion_tokens,
                                      rec.usage.total_tokens) == (6, 3, 9)
    assert rec.finish_reason == "stop" and rec.streamed is True
    assert rec.request_id is not None and rec.request_id.startswith("fake-")
    assert rec.ttft_s is not None and rec.latency_s is not None and rec.tokens_per_s is not None
    req = llm.requests[-1]
    assert req["path"] == "/api/paas/v4/chat/completions"
    assert req["headers"]["authorization"] == "Bearer test.key"
    assert req["json"]["stream"] is True and req["json"]["model"] == MODEL
    assert req["json"]["messages"] == user("hello world")


def test_non_stream(llm: FakeLLMServer) -> None:
    rec = ask(llm, "你好 world", stream=False)
    assert rec.outcome == "ok" and rec.text == "Echo: 你好 world" and rec.streamed is False
    assert rec.usage is not None and rec.usage.completion_tokens == 4
    assert rec.finish_reason == "stop" and rec.request_id and rec.request_id.startswith("fake-")
    assert sent(llm)["stream"] is False


def test_system_prompt_sent_first(llm: FakeLLMServer) -> None:
    messages = [{"role": "system", "content": "Be brief."}, *user("hi")]
    request = BACKEND.prepare(ZHIPU_ENDPOINT, MODEL, messages, {})
    rec = BACKEND.open_stream(request, ZHIPU_ENDPOINT, conn(llm)).collect()
    assert rec.text == "Echo: hi" and sent(llm)["messages"] == messages


def test_length_finish(llm: FakeLLMServer) -> None:
    rec = ask(llm, "[[tokens:10]]", values={"max_tokens": 3})
    assert rec.outcome == "ok" and rec.text == "w0 w1 w2 " and rec.finish_reason == "length"
    assert sent(llm)["max_tokens"] == 3


def test_registry_default_is_zhipu() -> None:
    assert isinstance(get_backend(None), ZhipuBackend) and isinstance(get_backend("nope"), ZhipuBackend)
    assert get_backend("zhipu").endpoint("anything") is ZHIPU_ENDPOINT


# ---- parameters on the wire ----------------------------------------------------------------------
def test_defaults_on_the_wire(llm: FakeLLMServer) -> None:
    ask(llm)
    body = sent(llm)
    assert (body["temperature"], body["top_p"]) == (0.95, 0.7)
    assert (body["do_sample"], body["max_tokens"]) == (True, 1024)
    assert "stop" not in body and "stream_options" not in body


def test_sdk_clamps_one_to_099(llm: FakeLLMServer) -> None:
    values = {"temperature": 1.0, "top_p": 1.0}
    schema = BACKEND.schema(ZHIPU_ENDPOINT, BACKEND.model_info(ZHIPU_ENDPOINT, MODEL))
    predicted = {a.name: a.sent for a in schema.adjustments(schema.merge(values))}
    ask(llm, values=values)
    body = sent(llm)
    assert body["temperature"] == 0.99 and body["top_p"] == 0.99
    assert predicted == {"temperature": body["temperature"], "top_p": body["top_p"]}  # the UI says the truth


def test_sdk_clamps_temperature_zero_to_greedy(llm: FakeLLMServer) -> None:
    ask(llm, values={"temperature": 0.0})
    body = sent(llm)
    assert body["temperature"] == 0.01 and body["do_sample"] is False


def test_greedy_drops_temperature_and_top_p(llm: FakeLLMServer) -> None:
    rec = ask(llm, values={"do_sample": False, "temperature": 1.0, "top_p": 0.5})
    body = sent(llm)
    assert rec.outcome == "ok" and body["do_sample"] is False
    assert "temperature" not in body and "top_p" not in body


def test_glm_stop_word_sent_and_applied(llm: FakeLLMServer) -> None:
    rec = ask(llm, "a bXc d", values={"stop": ["X"]})
    assert sent(llm)["stop"] == ["X"] and rec.text == "Echo: a b"


def test_glm_stop_keeps_one_word_even_if_more_reach_the_backend(llm: FakeLLMServer) -> None:
    request = ChatRequest(model=MODEL, messages=user("a bXc dYe"), params={"stop": ["Y", "X"]})
    rec = BACKEND.open_stream(request, ZHIPU_ENDPOINT, conn(llm)).collect()
    assert sent(llm)["stop"] == ["Y"] and rec.text == "Echo: a bXc d"


def test_glm_refuses_two_stop_words_before_sending(llm: FakeLLMServer) -> None:
    with pytest.raises(PlaygroundError) as info:
        BACKEND.prepare(ZHIPU_ENDPOINT, MODEL, user("hi"), {"stop": ["a", "b"]})
    assert info.value.params["key"] == "validation.stop_too_many" and llm.requests == []


def test_no_retry_by_default(llm: FakeLLMServer) -> None:
    llm.queue("balance_1113")
    rec = ask(llm)
    assert rec.error is not None and rec.error.code == "1113"
    assert len(llm.requests) == 1  # the SDK would retry a 1113 three times by itself


def test_max_retries_is_passed_to_the_sdk(llm: FakeLLMServer) -> None:
    llm.queue("concurrency_1302")
    rec = ask(llm, max_retries=1)  # the retry gets the default answer
    assert rec.outcome == "ok" and rec.text == "Echo: hello world" and len(llm.requests) == 2


# ---- checks before sending -----------------------------------------------------------------------
@pytest.mark.parametrize("model", ["", "   "])
def test_prepare_needs_a_model(model: str) -> None:
    with pytest.raises(PlaygroundError) as info:
        BACKEND.prepare(ZHIPU_ENDPOINT, model, user("hi"), {})
    assert info.value.kind is ErrorKind.VALIDATION and info.value.params["key"] == "validation.no_model"


def test_prepare_refuses_only_system() -> None:
    with pytest.raises(PlaygroundError) as info:
        BACKEND.prepare(ZHIPU_ENDPOINT, MODEL, [{"role": "system", "content": "s"}], {})
    assert info.value.kind is ErrorKind.VALIDATION and info.value.code == "1214"


@pytest.mark.parametrize(("name", "value"), [("temperature", 1.5), ("top_p", 0.0), ("max_tokens", 5000)])
def test_prepare_refuses_out_of_range(name: str, value: float) -> None:
    with pytest.raises(PlaygroundError) as info:
        BACKEND.prepare(ZHIPU_ENDPOINT, MODEL, user("hi"), {name: value})
    assert info.value.kind is ErrorKind.VALIDATION and info.value.params["param"] == name
    assert info.value.params["key"] == "validation.param_range"


def test_prepare_strips_the_model_id_and_drops_unknown_params() -> None:
    request = BACKEND.prepare(ZHIPU_ENDPOINT, " glm-4-plus ", user("hi"), {"seed": 3, "temperature": 0.5},
                              stream=False)
    assert request.model == "glm-4-plus" and request.stream is False
    assert "seed" not in request.params and request.params["temperature"] == 0.5


def test_custom_model_id_gets_a_wide_max_tokens(llm: FakeLLMServer) -> None:
    request = BACKEND.prepare(ZHIPU_ENDPOINT, "my-fine-tune", user("hi"), {"max_tokens": 50_000})
    assert BACKEND.open_stream(request, ZHIPU_ENDPOINT, conn(llm)).collect().text == "Echo: hi"
    assert sent(llm)["model"] == "my-fine-tune" and sent(llm)["max_tokens"] == 50_000


@pytest.mark.parametrize("key", [None, ""])
def test_missing_key_sends_nothing(llm: FakeLLMServer, key: str | None) -> None:
    request = BACKEND.prepare(ZHIPU_ENDPOINT, MODEL, user("hi"), {})
    with pytest.raises(PlaygroundError) as info:
        BACKEND.open_stream(request, ZHIPU_ENDPOINT, conn(llm, api_key=key))
    assert info.value.kind is ErrorKind.MISSING_KEY
    assert info.value.params["envs"] == "ZHIPUAI_API_KEY"
    assert llm.requests == []


def test_connection_repr_never_shows_the_key() -> None:
    secret = "0123456789abcdef.SECRETSECRET"
    c = Connection(base_url="https://open.bigmodel.cn/api/paas/v4", api_key=secret)
    for shown in (repr(c), str(c), f"{c}", f"{c!r}", repr([c]), repr({"c": c})):
        assert secret not in shown and "SECRET" not in shown and "***" in shown
    assert "api_key=None" in repr(Connection(base_url="u"))


# ---- stop ----------------------------------------------------------------------------------------
def test_stop_mid_stream_keeps_the_text_so_far(llm: FakeLLMServer) -> None:
    llm.queue("ok", token_delay=0.05)
    request = BACKEND.prepare(ZHIPU_ENDPOINT, MODEL, user("[[tokens:200]]"), {"max_tokens": 1000})
    stream = BACKEND.open_stream(request, ZHIPU_ENDPOINT, conn(llm))
    got: list[str] = []
    for delta in stream.events(poll_s=0.01):
        if delta:
            got.append(delta)
        if len(got) == 2:
            break
    rec = stream.stop()
    assert rec.outcome == "stopped" and rec.error is None
    assert rec.text.startswith("w0 w1 ") and len(rec.text.split()) < 200
    assert stream.join(JOIN_S)  # the background call ended (its response was closed)


def test_stop_while_waiting_for_the_first_token(llm: FakeLLMServer) -> None:
    llm.queue("slow_first_token", delay=0.5)
    request = BACKEND.prepare(ZHIPU_ENDPOINT, MODEL, user("hello"), {})
    stream = BACKEND.open_stream(request, ZHIPU_ENDPOINT, conn(llm))
    assert next(stream.events(poll_s=0.01)) is None  # still waiting
    rec = stream.stop()
    assert rec.outcome == "stopped" and rec.text == "" and rec.error is None
    assert stream.join(JOIN_S) and stream.record.text == ""


# ---- translation of what the zhipuai SDK raises --------------------------------------------------
def test_raw_httpx_errors_zhipuai_does_not_wrap() -> None:
    request = httpx.Request("POST", "http://x/chat/completions")
    cut = httpx.RemoteProtocolError("peer closed connection", request=request)
    assert translate_zhipu_error(cut, True).kind is ErrorKind.STREAM_BROKEN
    assert translate_zhipu_error(cut, False).kind is ErrorKind.STREAM_BROKEN
    slow = httpx.ReadTimeout("timed out", request=request)
    assert translate_zhipu_error(slow, False).kind is ErrorKind.TIMEOUT
    assert translate_zhipu_error(slow, True).kind is ErrorKind.TIMEOUT
    bad = json.JSONDecodeError("Expecting value", "{not json", 1)
    err = translate_zhipu_error(bad, True)
    assert err.kind is ErrorKind.STREAM_BROKEN and "JSONDecodeError" in err.detail
    refused = httpx.ConnectError("refused", request=request)
    assert translate_zhipu_error(refused, False).kind is ErrorKind.UNREACHABLE


def test_unexplained_errors() -> None:
    assert generic_translate(KeyError("x"), False).kind is ErrorKind.UNKNOWN
    assert generic_translate(KeyError("x"), True).kind is ErrorKind.STREAM_BROKEN  # text had arrived


def test_a_wrapped_cause_is_found() -> None:
    request = httpx.Request("POST", "http://x")
    try:
        try:
            raise httpx.ReadError("reset", request=request)
        except httpx.ReadError as inner:
            raise RuntimeError("wrapper") from inner
    except RuntimeError as outer:
        err = generic_translate(outer, False)
    assert err.kind is ErrorKind.STREAM_BROKEN and "ReadError" in err.detail



def test_failed_request_keeps_the_providers_request_id(llm: FakeLLMServer) -> None:
    llm.queue("balance_1113")
    backend = ZhipuBackend()
    endpoint = backend.endpoints[0]
    conn = Connection(base_url=llm.zhipu_base_url, api_key="test.key", timeout_s=5)
    request = backend.prepare(endpoint, "glm-4-flash", [{"role": "user", "content": "hi"}], {})
    rec = backend.open_stream(request, endpoint, conn).collect()
    assert rec.error is not None and rec.error.code == "1113"
    assert rec.error.request_id and rec.error.request_id.startswith("fake-")
