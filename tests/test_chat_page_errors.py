"""AppTest: every failure of the fake server is explained on the Chat page, the conversation kept."""

from __future__ import annotations

import pytest

from tests.apptest_helpers import captions, conversation, en, errors, one_error, send, shown, start, stored
from tests.fake_llm import FakeLLMServer

# scenario -> (title key, fix key, code line or None) on the zhipu backend.
HTTP_FAILURES = {
    "auth_401": ("error.auth.title", "error.code.1002", ("1002", 401)),
    "balance_1113": ("error.quota.title", "error.code.1113", ("1113", 429)),
    "concurrency_1302": ("error.rate_limit.title", "error.code.1302", ("1302", 429)),
    "system_only_1214": ("error.invalid_request.title", "error.code.1214", ("1214", 400)),
    "too_long_1261": ("error.prompt_too_long.title", "error.code.1261", ("1261", 400)),
    "sensitive_1301": ("error.content_filtered.title", "error.code.1301", ("1301", 400)),
    "server_500": ("error.server_error.title", "error.server_error.fix", ("500", 500)),
    "overloaded_503": ("error.rate_limit.title", "error.code.1305", ("1305", 503)),
}


def code_line(code: str, status: int) -> str:
    return en("error.code_and_status", code=code, status=status)


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
@pytest.mark.parametrize("scenario", sorted(HTTP_FAILURES))
def test_http_failure_is_explained_and_the_question_kept(
        zhipu_env: FakeLLMServer, scenario: str, stream: bool) -> None:
    at = start()
    if not stream:
        at.toggle(key="widget.stream").set_value(False).run()
    text = f"please answer [[scenario:{scenario}]]"
    send(at, text)
    title, fix, (code, status) = HTTP_FAILURES[scenario]
    error = one_error(at)
    assert en(title) in error
    assert en(fix) in error
    assert code_line(code, status) in error
    assert stored(at) == [("user", text)]
    assert shown(at) == [("user", text)]
    assert len(zhipu_env.requests) == 1
    assert zhipu_env.requests[-1]["json"]["stream"] is stream


def test_balance_error_names_the_code_and_the_fix(zhipu_env: FakeLLMServer) -> None:
    at = start()
    send(at, "hi [[scenario:balance_1113]]")
    error = one_error(at)
    assert "1113" in error
    assert "Top up" in error and "glm-4-flash" in error
    # The provider's own words are kept, folded, for support.
    details = [e for e in at.main.expander if e.label == en("error.details")]
    assert len(details) == 1
    assert "您的账户已欠费" in details[0].code[0].value


@pytest.mark.parametrize("scenario", ["auth_401", "balance_1113", "too_long_1261", "server_500"])
def test_http_failure_on_the_openai_backend(openai_env: FakeLLMServer, scenario: str) -> None:
    at = start()
    text = f"hello [[scenario:{scenario}]]"
    send(at, text)
    error = one_error(at)
    title, fix, _ = HTTP_FAILURES[scenario]
    assert en(title) in error
    if scenario == "auth_401":  # the /v1 route answers OpenAI-style, without a Zhipu code
        assert en("error.auth.fix") in error
        assert code_line("invalid_api_key", 401) in error
    else:
        assert en(fix) in error
    assert stored(at) == [("user", text)]


def test_error_goes_away_on_the_next_good_answer(zhipu_env: FakeLLMServer) -> None:
    at = start()
    send(at, "one [[scenario:concurrency_1302]]")
    assert errors(at)
    send(at, "two")
    assert not errors(at)
    assert stored(at) == [("user", "one [[scenario:concurrency_1302]]"), ("user", "two"),
                          ("assistant", "Echo: two")]


def test_timeout(zhipu_env: FakeLLMServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLAYGROUND_TIMEOUT_S", "1")
    at = start()
    text = "slow please [[scenario:timeout delay=4]]"
    send(at, text)
    error = one_error(at)
    assert en("error.timeout.title") in error
    assert en("error.timeout.fix") in error
    assert stored(at) == [("user", text)]


@pytest.mark.parametrize("env", ["zhipu_env", "openai_env"])
def test_timeout_while_waiting_for_the_first_token(env: str, request: pytest.FixtureRequest,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    request.getfixturevalue(env)
    monkeypatch.setenv("PLAYGROUND_TIMEOUT_S", "1")
    at = start()
    send(at, "x [[scenario:slow_first_token delay=4]]")
    assert en("error.timeout.title") in one_error(at)
    assert [role for role, _ in stored(at)] == ["user"]


def test_slow_first_token_within_the_timeout_is_answered(zhipu_env: FakeLLMServer) -> None:
    at = start()
    send(at, "wait a bit [[scenario:slow_first_token delay=1]]")
    assert not errors(at)
    assert stored(at)[-1] == ("assistant", "Echo: wait a bit")
    ttft = conversation(at).messages[-1].stats["ttft_s"]
    assert ttft >= 1.0


# Failures after some text arrived: the partial answer is kept, marked, and the error shown.
CUT_STREAMS = {
    # scenario -> (title key, fix key, chunks received before the failure)
    "drop_mid_stream": ("error.stream_broken.title", "error.stream_broken.fix", 3),
    "malformed_sse": ("error.stream_broken.title", "error.stream_broken.fix", 2),
    "sse_error": ("error.content_filtered.title", "error.code.1301", 2),
    "content_filter": ("error.content_filtered.title", "error.code.1301", 2),
}


@pytest.mark.parametrize("scenario", sorted(CUT_STREAMS))
def test_stream_cut_keeps_the_partial_answer(zhipu_env: FakeLLMServer, scenario: str) -> None:
    at = start()
    text = f"alpha beta gamma delta epsilon [[scenario:{scenario}]]"
    send(at, text)
    title, fix, received = CUT_STREAMS[scenario]
    partial = "".join(["Echo: ", "alpha ", "beta ", "gamma "][:received])
    error = one_error(at)
    assert en(title) in error
    assert en(fix) in error
    assert stored(at) == [("user", text), ("assistant", partial)]
    answer = conversation(at).messages[-1]
    assert answer.stopped is True
    assert shown(at)[-1] == ("assistant", partial.strip())
    (caption,) = captions(at.chat_message[-1])
    assert en("stats.cut") in caption
    # The next message is sent with the partial answer as history.
    send(at, "go on")
    assert zhipu_env.requests[-1]["json"]["messages"][1] == {"role": "assistant", "content": partial}


def test_content_filter_on_the_openai_backend(openai_env: FakeLLMServer) -> None:
    at = start()
    text = "alpha beta gamma [[scenario:content_filter]]"
    send(at, text)
    error = one_error(at)
    assert en("error.content_filtered.title") in error
    assert en("error.content_filtered.fix") in error
    assert stored(at) == [("user", text), ("assistant", "Echo: alpha ")]
    assert conversation(at).messages[-1].stopped is True


def test_drop_mid_stream_on_the_openai_backend(openai_env: FakeLLMServer) -> None:
    at = start()
    text = "alpha beta gamma delta [[scenario:drop_mid_stream]]"
    send(at, text)
    assert en("error.stream_broken.title") in one_error(at)
    assert stored(at) == [("user", text), ("assistant", "Echo: alpha beta ")]
    assert en("stats.cut") in captions(at.chat_message[-1])[0]


@pytest.mark.parametrize("scenario", ["drop_mid_stream", "malformed_sse"])
def test_broken_whole_answer_keeps_the_question(zhipu_env: FakeLLMServer, scenario: str) -> None:
    """Streaming off: nothing partial can be kept, the error is shown, the question stays."""
    at = start()
    at.toggle(key="widget.stream").set_value(False).run()
    text = f"alpha beta [[scenario:{scenario}]]"
    send(at, text)
    assert one_error(at)
    assert stored(at) == [("user", text)]


def test_server_unreachable(zhipu_env: FakeLLMServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZHIPUAI_BASE_URL", "http://127.0.0.1:9/api/paas/v4")
    at = start()
    send(at, "anyone there?")
    error = one_error(at)
    assert en("error.unreachable.title") in error
    assert stored(at) == [("user", "anyone there?")]
