"""Tests of the fake LLM server (tests/fake_llm) through the real openai and zhipuai SDKs.

Observed SDK behaviour (openai 3.52.0 on httpx2, zhipuai 2.1.5.20250825 on httpx), which
the app's error handling has to cope with:

- drop_mid_stream (socket closed mid chunked body, no [DONE]):
    openai  stream:     openai.APIConnectionError ("Connection error.", cause
                        httpx2.RemoteProtocolError) raised while iterating, after text.
    zhipuai stream:     httpx.RemoteProtocolError, RAW and unwrapped ("peer closed
                        connection without sending complete message body ...").
    non-stream (both):  <sdk>.APIConnectionError (cause RemoteProtocolError).
- malformed_sse (`data: {not json` mid stream): both SDKs raise a raw
    json.JSONDecodeError (a ValueError) while iterating, after the good chunks; a
    non-stream 200 with a non-JSON body also gives json.JSONDecodeError in both.
- sse_error (`data: {"error": {"code": "1301", ...}}` mid stream):
    openai:  openai.APIError (base class, not APIStatusError; no status_code),
             .code == "1301", .message is the Chinese error message, .body the error.
    zhipuai: zhipuai.core._errors.APIResponseError, message "An error occurred during
             streaming", .json_data == {"code": "1301", "message": ...}.
    non-stream sse_error is answered as HTTP 400 code 1301 (BadRequestError /
    APIRequestFailedError).
- Both SDKs post to `<base_url>/chat/completions`: openai to /v1/chat/completions,
  zhipuai (base_url .../api/paas/v4) to /api/paas/v4/chat/completions; both send
  `Authorization: Bearer <api_key>` (zhipuai does not sign a JWT by default, so any
  key string works).
"""


from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import openai
import pytest
import zhipuai

from tests.fake_llm import FakeLLMServer, Scenario
from tests.fake_llm_clients import HELLO, ROOT, chat, drain, http, user


@pytest.fixture(autouse=True)
def _clean(srv: FakeLLMServer) -> None:
    srv.reset()


# ---- happy path -------------------------------------------------------------------------
def test_openai_stream_echo_and_usage_chunk(
    srv: FakeLLMServer, oc: openai.OpenAI
) -> None:
    text: list[str] = []
    stream = chat(oc, HELLO, stream=True, stream_options={"include_usage": True})
    chunks = drain(stream, text)
    assert text == ["Echo: ", "hello ", "world"]
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == []
    # prompt_tokens = chars of all contents // 2 + 1 = (7 + 11) // 2 + 1
    assert chunks[-1].usage.model_dump(
        include={"prompt_tokens", "completion_tokens", "total_tokens"}
    ) == {
        "prompt_tokens": 10,
        "completion_tokens": 3,
        "total_tokens": 13,
    }
    assert all(c.usage is None for c in chunks[:-1])
    assert (
        chunks[0].id.startswith("fake-") and chunks[0].object == "chat.completion.chunk"
    )
    req = srv.requests[-1]
    assert req["path"] == "/v1/chat/completions"
    assert req["headers"]["authorization"] == "Bearer test"
    assert req["json"]["stream"] is True


def test_openai_stream_without_include_usage_has_no_usage(oc: openai.OpenAI) -> None:
    chunks = drain(chat(oc, "hi", stream=True), [])
    assert all(c.choices and c.usage is None for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_zhipu_stream_echo_usage_with_finish(
    srv: FakeLLMServer, zc: zhipuai.ZhipuAI
) -> None:
    text: list[str] = []
    chunks = drain(chat(zc, HELLO, stream=True), text)
    assert "".join(text) == "Echo: hello world"
    last = chunks[-1]
    assert last.choices and last.choices[0].finish_reason == "stop"
    assert (
        last.usage.prompt_tokens,
        last.usage.completion_tokens,
        last.usage.total_tokens,
    ) == (10, 3, 13)
    assert all(
        c.usage is None and c.choices[0].finish_reason is None for c in chunks[:-1]
    )
    req = srv.requests[-1]
    assert req["path"] == "/api/paas/v4/chat/completions"
    assert req["headers"]["authorization"] == "Bearer test.key"


def test_openai_sdk_on_zhipu_route_gets_zhipu_shape(srv: FakeLLMServer) -> None:
    client = openai.OpenAI(base_url=srv.zhipu_base_url, api_key="k", max_retries=0)
    text: list[str] = []
    chunks = drain(chat(client, "hi there", stream=True), text)
    assert "".join(text) == "Echo: hi there"
    assert chunks[-1].choices[0].finish_reason == "stop" and chunks[-1].usage
    assert srv.requests[-1]["path"] == "/api/paas/v4/chat/completions"
    srv.queue("auth_401")
    with pytest.raises(openai.AuthenticationError) as ei:
        chat(client, "hi")
    assert ei.value.code == "1002"


def test_cjk_chunked_per_char_and_tokens_marker(
    zc: zhipuai.ZhipuAI, oc: openai.OpenAI
) -> None:
    text: list[str] = []
    drain(chat(zc, "你好世界", stream=True), text)
    assert text == ["Echo: ", "你", "好", "世", "界"]
    text = []
    chunks = drain(
        chat(
            oc, "go [[tokens:50]]", stream=True, stream_options={"include_usage": True}
        ),
        text,
    )
    assert text == [f"w{i} " for i in range(50)]
    assert chunks[-1].usage.completion_tokens == 50


def test_non_stream_both_shapes(oc: openai.OpenAI, zc: zhipuai.ZhipuAI) -> None:
    raw = oc.chat.completions.with_raw_response.create(model="m", messages=HELLO)
    resp = raw.parse()
    assert resp.choices[0].message.content == "Echo: hello world"
    assert resp.choices[0].finish_reason == "stop"
    assert resp.usage.total_tokens == 13
    assert raw.headers["x-request-id"] == resp.id and resp.id.startswith("fake-")
    zresp = chat(zc, HELLO)
    assert zresp.choices[0].message.content == "Echo: hello world"
    assert zresp.usage.completion_tokens == 3 and zresp.request_id == zresp.id


def test_stop_and_max_tokens(oc: openai.OpenAI, zc: zhipuai.ZhipuAI) -> None:
    resp = chat(oc, "alpha beta STOP gamma", stop=["STOP", "zzz"])
    assert resp.choices[0].message.content == "Echo: alpha beta "
    assert resp.choices[0].finish_reason == "stop"
    text: list[str] = []
    chunks = drain(chat(zc, "a bXc d", stop="X", stream=True), text)
    assert (
        "".join(text) == "Echo: a b" and chunks[-1].choices[0].finish_reason == "stop"
    )
    resp = chat(oc, "[[tokens:10]]", max_tokens=4)
    assert resp.choices[0].message.content == "w0 w1 w2 w3 "
    assert (
        resp.choices[0].finish_reason == "length" and resp.usage.completion_tokens == 4
    )
    text = []
    chunks = drain(chat(zc, "[[tokens:10]]", max_tokens=2, stream=True), text)
    assert text == ["w0 ", "w1 "] and chunks[-1].choices[0].finish_reason == "length"


def test_token_delay_paces_the_stream(srv: FakeLLMServer, oc: openai.OpenAI) -> None:
    srv.queue("ok", token_delay=0.05)
    start = time.monotonic()
    text: list[str] = []
    drain(chat(oc, "[[tokens:5]]", stream=True), text)
    assert len(text) == 5 and time.monotonic() - start >= 0.2


# ---- scenario selection --------------------------------------------------------------------
def test_queue_fifo_beats_marker_and_marker_beats_default(
    srv: FakeLLMServer, oc: openai.OpenAI
) -> None:
    srv.queue("balance_1113")
    srv.queue("content_filter", after=1)
    with pytest.raises(openai.RateLimitError):
        chat(oc, "x [[scenario:too_long_1261]]")
    resp = chat(oc, "x [[scenario:too_long_1261]]")
    assert resp.choices[0].finish_reason == "content_filter"
    with pytest.raises(openai.BadRequestError) as ei:
        chat(oc, "x [[scenario:too_long_1261]]")
    assert ei.value.code == "1261"
    assert chat(oc, "plain").choices[0].message.content == "Echo: plain"
    with pytest.raises(ValueError, match="unknown"):
        srv.queue("nope")
    with pytest.raises(openai.BadRequestError, match="unknown fake-llm scenario"):
        chat(oc, "[[scenario:nope]]")
    assert Scenario("timeout").options == {"delay": 30.0}



# ---- control plane / lifecycle -------------------------------------------------------------------
def test_control_endpoints(srv: FakeLLMServer, oc: openai.OpenAI) -> None:
    assert http(srv, "/health") == (200, "ok")
    assert http(srv, "/_fake/queue", {"scenario": "too_long_1261"}) == (
        200,
        {"ok": True},
    )
    assert (
        http(srv, "/_fake/queue", {"scenario": "ok", "options": {"token_delay": 0}})[0]
        == 200
    )
    assert http(srv, "/_fake/queue", {"scenario": "bogus"})[0] == 400
    with pytest.raises(openai.BadRequestError):
        chat(oc, "hi")
    assert chat(oc, "hi").choices[0].message.content == "Echo: hi"
    status, reqs = http(srv, "/_fake/requests")
    assert status == 200 and [r["json"]["messages"][0]["content"] for r in reqs] == [
        "hi",
        "hi",
    ]
    srv.queue("server_500")
    assert http(srv, "/_fake/reset", {}) == (200, {"ok": True})
    assert http(srv, "/_fake/requests") == (200, []) and srv.requests == []
    assert chat(oc, "hi").choices[0].finish_reason == "stop"  # queue was cleared too


def test_stop_is_prompt_while_a_handler_sleeps() -> None:
    server = FakeLLMServer().start()
    server.queue("timeout", delay=30)
    body = json.dumps({"model": "m", "messages": user("hi")}).encode()
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    time.sleep(0.2)
    start = time.monotonic()
    server.stop()
    assert time.monotonic() - start < 1.5
    sock.settimeout(2)
    assert sock.recv(100) == b""  # cut off, nothing sent
    sock.close()
    assert not [t for t in threading.enumerate() if t.name == f"fake-llm-{server.port}"]


def test_cli_subprocess_serves_health() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fake_llm",
            "--port",
            "0",
            "--token-delay",
            "0.01",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = proc.stdout.readline().strip() if proc.stdout else ""
        assert line.startswith("fake-llm listening on http://127.0.0.1:")
        url = line.rsplit(" ", 1)[1]
        with urllib.request.urlopen(url + "/health", timeout=5) as resp:
            assert resp.read() == b"ok"
        client = openai.OpenAI(base_url=url + "/v1", api_key="t", max_retries=0)
        assert chat(client, "hi").choices[0].message.content == "Echo: hi"
    finally:
        proc.terminate()
        proc.wait(timeout=5)
    assert proc.returncode == 0

