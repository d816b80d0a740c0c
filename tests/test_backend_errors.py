"""Every fake-server failure, through both real SDKs, ends as the right ErrorKind and code."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any

import pytest

from backends.base import Backend, Connection, Endpoint
from backends.openai_compat import OpenAICompatBackend
from backends.zhipu import ZHIPU_ENDPOINT, ZhipuBackend
from core.chat import ChatRecord
from core.error_text import explain
from core.errors import ErrorKind
from tests.fake_llm import FakeLLMServer

PROMPT = "one two three four five"


@dataclass(frozen=True)
class Route:
    """One backend + endpoint, pointed at one of the fake server's routes."""

    name: str
    backend: Backend
    endpoint: Endpoint
    model: str
    zhipu_shape: bool  # the fake answers with Zhipu's bodies and finish reasons

    def url(self, llm: FakeLLMServer) -> str:
        return llm.zhipu_base_url if self.zhipu_shape else llm.openai_base_url

    def ask(self, llm: FakeLLMServer, stream: bool = True, text: str = PROMPT, timeout_s: float = 5.0,
            base_url: str | None = None) -> ChatRecord:
        conn = Connection(base_url=base_url or self.url(llm), api_key="test.key", timeout_s=timeout_s)
        request = self.backend.prepare(self.endpoint, self.model, [{"role": "user", "content": text}], {},
                                       stream)
        return self.backend.open_stream(request, self.endpoint, conn).collect()


_OPENAI = OpenAICompatBackend()
ROUTES = [
    Route("zhipu", ZhipuBackend(), ZHIPU_ENDPOINT, "glm-4-flash", True),
    Route("openai-custom", _OPENAI, _OPENAI.endpoint("custom"), "fake-gpt", False),
    Route("openai-zhipu_compat", _OPENAI, _OPENAI.endpoint("zhipu_compat"), "glm-4-flash", True),
]
ROUTE_IDS = [r.name for r in ROUTES]

# scenario -> (kind, code on a Zhipu route, code on the /v1 route, HTTP status)
HTTP_ERRORS: dict[str, tuple[ErrorKind, str, str, int]] = {
    "auth_401": (ErrorKind.AUTH, "1002", "invalid_api_key", 401),
    "balance_1113": (ErrorKind.QUOTA, "1113", "1113", 429),
    "concurrency_1302": (ErrorKind.RATE_LIMIT, "1302", "1302", 429),
    "system_only_1214": (ErrorKind.INVALID_REQUEST, "1214", "1214", 400),
    "too_long_1261": (ErrorKind.PROMPT_TOO_LONG, "1261", "1261", 400),
    "sensitive_1301": (ErrorKind.CONTENT_FILTERED, "1301", "1301", 400),
    "server_500": (ErrorKind.SERVER_ERROR, "500", "500", 500),
    "overloaded_503": (ErrorKind.RATE_LIMIT, "1305", "1305", 503),
}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
@pytest.mark.parametrize("scenario", sorted(HTTP_ERRORS))
@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_http_errors(llm: FakeLLMServer, route: Route, scenario: str, stream: bool) -> None:
    kind, zhipu_code, openai_code, status = HTTP_ERRORS[scenario]
    llm.queue(scenario)
    rec = route.ask(llm, stream)
    assert rec.outcome == "error" and rec.text == ""
    err = rec.error
    assert err is not None
    code = zhipu_code if route.zhipu_shape else openai_code
    assert (err.kind, err.code, err.status) == (kind, code, status)
    assert err.detail  # the provider's own words are kept for the details box
    assert len(llm.requests) == 1  # no SDK retry
    assert rec.stats()["error_kind"] == kind.value


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_error_explained_with_the_code_fix(llm: FakeLLMServer, route: Route) -> None:
    llm.queue("balance_1113")
    err = route.ask(llm).error
    assert err is not None
    assert "1113" in explain(err, "en").fix and "1113" in explain(err, "zh").fix


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_timeout(llm: FakeLLMServer, route: Route, stream: bool) -> None:
    llm.queue("timeout", delay=3)
    rec = route.ask(llm, stream, timeout_s=0.3)
    assert rec.outcome == "error" and rec.error is not None and rec.error.kind is ErrorKind.TIMEOUT
    assert rec.text == ""


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_silence_after_the_headers_is_a_timeout(llm: FakeLLMServer, route: Route) -> None:
    # zhipuai lets the raw httpx.ReadTimeout out of a stream; it must still read as a timeout
    llm.queue("slow_first_token", delay=3)
    rec = route.ask(llm, stream=True, timeout_s=0.3)
    assert rec.error is not None and rec.error.kind is ErrorKind.TIMEOUT and rec.text == ""


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_silence_mid_stream_is_a_timeout_with_the_text_kept(llm: FakeLLMServer, route: Route) -> None:
    llm.queue("ok", token_delay=3)
    rec = route.ask(llm, stream=True, timeout_s=0.3)
    assert rec.outcome == "error" and rec.error is not None and rec.error.kind is ErrorKind.TIMEOUT
    assert rec.text == "Echo: "


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_slow_first_token_is_fine(llm: FakeLLMServer, route: Route, stream: bool) -> None:
    llm.queue("slow_first_token", delay=0.3)
    rec = route.ask(llm, stream, text="hello")
    assert rec.outcome == "ok" and rec.text == "Echo: hello"
    assert rec.ttft_s is not None and rec.ttft_s >= 0.3


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_drop_mid_stream_keeps_the_partial_text(llm: FakeLLMServer, route: Route) -> None:
    llm.queue("drop_mid_stream", after=3)
    rec = route.ask(llm)
    assert rec.outcome == "error" and rec.error is not None and rec.error.kind is ErrorKind.STREAM_BROKEN
    assert rec.text == "Echo: one two "
    assert rec.request_id and rec.request_id.startswith("fake-")
    assert rec.stats()["outcome"] == "error"


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_drop_of_a_whole_answer_is_broken_not_unreachable(llm: FakeLLMServer, route: Route) -> None:
    llm.queue("drop_mid_stream")
    rec = route.ask(llm, stream=False)
    assert rec.error is not None and rec.error.kind is ErrorKind.STREAM_BROKEN  # the server was reached
    assert "RemoteProtocolError" in rec.error.detail


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_malformed_sse_keeps_the_partial_text(llm: FakeLLMServer, route: Route) -> None:
    llm.queue("malformed_sse", after=2)
    rec = route.ask(llm)
    assert rec.outcome == "error" and rec.error is not None and rec.error.kind is ErrorKind.STREAM_BROKEN
    assert rec.text == "Echo: one "
    assert "JSONDecodeError" in rec.error.detail


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_malformed_whole_answer(llm: FakeLLMServer, route: Route) -> None:
    llm.queue("malformed_sse")
    rec = route.ask(llm, stream=False)
    assert rec.error is not None and rec.error.kind is ErrorKind.STREAM_BROKEN and rec.text == ""


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_sse_error_event(llm: FakeLLMServer, route: Route) -> None:
    llm.queue("sse_error", after=2)
    rec = route.ask(llm)
    assert rec.outcome == "error" and rec.text == "Echo: one "
    assert rec.error is not None and (rec.error.kind, rec.error.code) == (ErrorKind.CONTENT_FILTERED, "1301")
    assert "敏感" in rec.error.detail


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_sse_error_whole_answer_is_http_400(llm: FakeLLMServer, route: Route) -> None:
    llm.queue("sse_error")
    rec = route.ask(llm, stream=False)
    assert rec.error is not None
    assert (rec.error.kind, rec.error.code, rec.error.status) == (ErrorKind.CONTENT_FILTERED, "1301", 400)


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_content_filter_finish_keeps_the_text(llm: FakeLLMServer, route: Route, stream: bool) -> None:
    llm.queue("content_filter", after=2)
    rec = route.ask(llm, stream)
    assert rec.outcome == "error" and rec.text == "Echo: one "
    assert rec.error is not None and rec.error.kind is ErrorKind.CONTENT_FILTERED
    expected: dict[str, Any] = {"finish": "sensitive", "code": "1301"} if route.zhipu_shape else {
        "finish": "content_filter", "code": None}
    assert rec.finish_reason == expected["finish"] and rec.error.code == expected["code"]
    assert rec.usage is not None and rec.usage.completion_tokens == 2


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_unreachable(route: Route, stream: bool) -> None:
    port = closed_port()
    path = "/api/paas/v4" if route.zhipu_shape else "/v1"
    rec = route.ask(None, stream, base_url=f"http://127.0.0.1:{port}{path}", timeout_s=2)  # type: ignore[arg-type]
    assert rec.outcome == "error" and rec.error is not None and rec.error.kind is ErrorKind.UNREACHABLE
    assert "ConnectError" in rec.error.detail


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_base_url_without_scheme_is_unreachable(route: Route) -> None:
    rec = route.ask(None, base_url="127.0.0.1:8000/v1", timeout_s=2)  # type: ignore[arg-type]
    assert rec.error is not None and rec.error.kind is ErrorKind.UNREACHABLE
    assert "http://" in rec.error.detail  # the SDK's hint is kept for the user
