"""The fake server's failure scenarios, seen through the real SDKs (what each SDK raises: see
test_fake_llm_server.py's docstring)."""


from __future__ import annotations

import json
import time

import httpx
import openai
import pytest
import zhipuai
from zhipuai.core import _errors as zerr

from tests.fake_llm import FakeLLMServer
from tests.fake_llm_clients import chat, drain


@pytest.fixture(autouse=True)
def _clean(srv: FakeLLMServer) -> None:
    srv.reset()


# ---- HTTP error scenarios ------------------------------------------------------------------
OPENAI_ERRORS = [
    ("auth_401", openai.AuthenticationError, "invalid_api_key"),
    ("balance_1113", openai.RateLimitError, "1113"),
    ("concurrency_1302", openai.RateLimitError, "1302"),
    ("system_only_1214", openai.BadRequestError, "1214"),
    ("too_long_1261", openai.BadRequestError, "1261"),
    ("sensitive_1301", openai.BadRequestError, "1301"),
    ("server_500", openai.InternalServerError, "500"),
    ("overloaded_503", openai.InternalServerError, "1305"),
]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(("name", "exc", "code"), OPENAI_ERRORS)
def test_openai_errors(
    srv: FakeLLMServer, oc: openai.OpenAI, name: str, exc: type, code: str, stream: bool
) -> None:
    srv.queue(name)
    with pytest.raises(exc) as ei:
        chat(oc, "hi", stream=stream)
    assert ei.value.code == code


ZHIPU_ERRORS = [
    ("auth_401", zerr.APIAuthenticationError, "1002"),
    ("balance_1113", zerr.APIReachLimitError, "1113"),
    ("concurrency_1302", zerr.APIReachLimitError, "1302"),
    ("system_only_1214", zerr.APIRequestFailedError, "1214"),
    ("too_long_1261", zerr.APIRequestFailedError, "1261"),
    ("sensitive_1301", zerr.APIRequestFailedError, "1301"),
    ("server_500", zerr.APIInternalError, "500"),
    ("overloaded_503", zerr.APIServerFlowExceedError, "1305"),
]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(("name", "exc", "code"), ZHIPU_ERRORS)
def test_zhipu_errors(
    srv: FakeLLMServer,
    zc: zhipuai.ZhipuAI,
    name: str,
    exc: type,
    code: str,
    stream: bool,
) -> None:
    srv.queue(name)
    with pytest.raises(exc) as ei:
        chat(zc, "hi", stream=stream)
    assert json.loads(ei.value.response.text)["error"]["code"] == code


# ---- timing scenarios ------------------------------------------------------------------------
def test_timeout_scenario(srv: FakeLLMServer) -> None:
    oc = openai.OpenAI(
        base_url=srv.openai_base_url, api_key="t", max_retries=0, timeout=0.3
    )
    zc = zhipuai.ZhipuAI(
        base_url=srv.zhipu_base_url, api_key="t", max_retries=0, timeout=0.3
    )
    srv.queue("timeout", delay=5)
    with pytest.raises(openai.APITimeoutError):
        chat(oc, "hi", stream=True)
    srv.queue("timeout", delay=5)
    with pytest.raises(zerr.APITimeoutError):
        chat(zc, "hi")


def test_slow_first_token(
    srv: FakeLLMServer, oc: openai.OpenAI, zc: zhipuai.ZhipuAI
) -> None:
    srv.queue("slow_first_token", delay=0.3)
    start = time.monotonic()
    stream = chat(oc, "hello", stream=True)
    first = next(iter(stream))
    assert (
        time.monotonic() - start >= 0.3 and first.choices[0].delta.content == "Echo: "
    )
    srv.queue("slow_first_token", delay=0.3)
    start = time.monotonic()
    assert chat(zc, "hello").choices[0].message.content == "Echo: hello"
    assert time.monotonic() - start >= 0.3


# ---- broken streams ----------------------------------------------------------------------------
def test_drop_mid_stream(
    srv: FakeLLMServer, oc: openai.OpenAI, zc: zhipuai.ZhipuAI
) -> None:
    prompt = "one two three four five"
    srv.queue("drop_mid_stream", after=2)
    text: list[str] = []
    with pytest.raises(openai.APIConnectionError):
        drain(chat(oc, prompt, stream=True), text)
    assert text == ["Echo: ", "one "]
    srv.queue("drop_mid_stream")
    text = []
    with pytest.raises(httpx.RemoteProtocolError):  # zhipuai does NOT wrap it
        drain(chat(zc, prompt, stream=True), text)
    assert text == ["Echo: ", "one ", "two "]
    srv.queue("drop_mid_stream")
    with pytest.raises(openai.APIConnectionError):
        chat(oc, prompt)
    srv.queue("drop_mid_stream")
    with pytest.raises(zerr.APIConnectionError):
        chat(zc, prompt)


@pytest.mark.parametrize("sdk", ["openai", "zhipuai"])
def test_malformed_sse(
    srv: FakeLLMServer, oc: openai.OpenAI, zc: zhipuai.ZhipuAI, sdk: str
) -> None:
    client = oc if sdk == "openai" else zc
    srv.queue("malformed_sse")
    text: list[str] = []
    with pytest.raises(json.JSONDecodeError):
        drain(chat(client, "one two three", stream=True), text)
    assert text == ["Echo: ", "one "]
    srv.queue("malformed_sse")
    with pytest.raises(json.JSONDecodeError):
        chat(client, "one two three")


def test_sse_error(srv: FakeLLMServer, oc: openai.OpenAI, zc: zhipuai.ZhipuAI) -> None:
    srv.queue("sse_error")
    text: list[str] = []
    with pytest.raises(openai.APIError) as ei:
        drain(chat(oc, "one two three", stream=True), text)
    assert not isinstance(ei.value, openai.APIStatusError)
    assert ei.value.code == "1301" and text == ["Echo: ", "one "]
    srv.queue("sse_error")
    text = []
    with pytest.raises(zerr.APIResponseError) as zi:
        drain(chat(zc, "one two three", stream=True), text)
    assert zi.value.json_data["code"] == "1301" and text == ["Echo: ", "one "]
    srv.queue("sse_error")
    with pytest.raises(zerr.APIRequestFailedError):
        chat(zc, "one two three")


def test_content_filter(
    srv: FakeLLMServer, oc: openai.OpenAI, zc: zhipuai.ZhipuAI
) -> None:
    srv.queue("content_filter")
    chunks = drain(chat(zc, "one two three", stream=True), [])
    assert chunks[-1].choices[0].finish_reason == "sensitive" and chunks[-1].usage
    srv.queue("content_filter")
    chunks = drain(chat(oc, "one two three", stream=True), [])
    assert chunks[-1].choices[0].finish_reason == "content_filter"
    srv.queue("content_filter", after=1)
    assert chat(zc, "one two").choices[0].finish_reason == "sensitive"


