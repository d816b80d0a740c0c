"""AppTest: the Chat page on the legacy ChatGLM HTTP API, against the fake `/chatglm` server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from backends.chatglm_http import DEFAULT_URL
from core.config import Settings
from core.token_estimate import estimate_tokens
from core.usage_ledger import SQLITE_FILE, Ledger, UsageFilter
from tests.apptest_helpers import (
    assert_ok,
    captions,
    click,
    en,
    errors,
    one_error,
    send,
    shown,
    start,
    stored,
)
from tests.fake_chatglm import FakeChatGLM, refused_url, reply_text
from tests.test_usage_ledger import _own_ledger_env  # noqa: F401 - fixture: no shared ledger

SLOT = "chatglm_http/chatglm"
URL_WIDGET = f"widget.base_url.{SLOT}"


@pytest.fixture(autouse=True)
def _no_chatglm_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PLAYGROUND_CHATGLM_URL", raising=False)


@pytest.fixture
def chatglm_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeChatGLM]:
    """The app starts on the chatglm_http backend, PLAYGROUND_CHATGLM_URL at the fake server."""
    with FakeChatGLM(slow_s=1.5) as server:
        monkeypatch.setenv("PLAYGROUND_BACKEND", "chatglm_http")
        monkeypatch.setenv("PLAYGROUND_CHATGLM_URL", server.url)
        monkeypatch.setenv("PLAYGROUND_TIMEOUT_S", "5")
        yield server


def test_the_sidebar_shows_the_editable_url_and_no_key_box(chatglm_env: FakeChatGLM) -> None:
    at = start()
    assert at.selectbox(key="widget.backend").value == "chatglm_http"
    box = at.text_input(key=URL_WIDGET)
    assert (box.label, box.value) == (en("picker.base_url"), chatglm_env.url)
    assert box.help == en("endpoint.chatglm_http.url_help")
    assert not [w for w in at.text_input if (w.key or "").startswith("widget.api_key")]
    assert at.selectbox(key=f"widget.model.{SLOT}").value == "chatglm2-6b"
    assert at.slider(key=f"widget.param.{SLOT}.temperature").value == 0.95
    assert at.slider(key=f"widget.param.{SLOT}.top_p").value == 0.7
    length = at.number_input(key=f"widget.param.{SLOT}.max_length")
    assert (length.label, length.value) == (en("param.max_length"), 2048)
    assert en("chatglm_http.max_length_help") in (length.help or "")


def test_switching_to_the_backend_shows_the_seed_url(monkeypatch: pytest.MonkeyPatch) -> None:
    at = start()
    assert at.selectbox(key="widget.backend").value == "zhipu"
    at.selectbox(key="widget.backend").set_value("chatglm_http").run()
    assert_ok(at)
    assert at.text_input(key=URL_WIDGET).value == DEFAULT_URL
    assert en("backend.chatglm_http") in at.caption[0].value  # the page's subtitle names it


def test_a_message_gets_its_answer_and_stats(chatglm_env: FakeChatGLM) -> None:
    at = start()
    send(at, "hello there")
    assert shown(at) == [("user", "hello there"), ("assistant", reply_text("hello there"))]
    assert stored(at) == shown(at)
    assert not errors(at)
    assert chatglm_env.last == {"prompt": "hello there", "history": [], "max_length": 2048,
                                "top_p": 0.7, "temperature": 0.95}
    (caption,) = captions(at.chat_message[1])
    assert caption.startswith("chatglm2-6b · ")
    assert en("stats.total", seconds=0).split()[0] in caption  # "total … s"
    assert en("stats.not_streamed") in caption and en("stats.no_usage") in caption


def test_the_call_is_a_ledger_row_with_estimated_tokens(chatglm_env: FakeChatGLM) -> None:
    at = start()
    send(at, "你好")
    ledger = Ledger(f"sqlite:///{Settings.load().data_dir / SQLITE_FILE}")
    (row,) = ledger.rows(UsageFilter())
    ledger.close()
    assert (row.page, row.backend, row.endpoint, row.model) == ("chat", "chatglm_http", "chatglm",
                                                                "chatglm2-6b")
    assert row.tokens_estimated is True and row.streamed is False and row.outcome == "ok"
    assert row.completion_tokens == estimate_tokens(reply_text("你好"))
    assert row.prompt_tokens is not None and row.prompt_tokens > 0
    assert row.base_url_host == f"127.0.0.1:{chatglm_env.port}"


def test_history_system_message_and_parameters_are_sent(chatglm_env: FakeChatGLM) -> None:
    at = start()
    at.text_area(key="widget.system").input("Answer briefly.").run()
    at.number_input(key=f"widget.param.{SLOT}.max_length").set_value(4096).run()
    at.slider(key=f"widget.param.{SLOT}.temperature").set_value(0.3).run()
    send(at, "one")
    send(at, "two")
    first = "Answer briefly.\n\none"
    assert chatglm_env.requests[0]["json"]["prompt"] == first
    assert chatglm_env.last == {"prompt": "two", "history": [[first, reply_text(first)]],
                                "max_length": 4096, "top_p": 0.7, "temperature": 0.3}
    assert [role for role, _ in shown(at)] == ["user", "assistant", "user", "assistant"]


def test_server_down_is_said_in_plain_words_and_the_message_kept(
        monkeypatch: pytest.MonkeyPatch) -> None:
    down = refused_url()
    monkeypatch.setenv("PLAYGROUND_BACKEND", "chatglm_http")
    monkeypatch.setenv("PLAYGROUND_CHATGLM_URL", down)
    at = start()
    send(at, "are you there?")
    error = one_error(at)
    assert en("error.unreachable.title") in error
    assert en("chatglm_http.error.not_running", url=down) in error
    assert stored(at) == [("user", "are you there?")]
    assert shown(at) == [("user", "are you there?")]
    # Start the server (here: point the sidebar at a running one) and run again: it answers.
    with FakeChatGLM() as server:
        at.text_input(key=URL_WIDGET).input(server.url).run()
        assert_ok(at)
        click(at, "chat.run")
        assert not errors(at)
        assert stored(at) == [("user", "are you there?"), ("assistant", reply_text("are you there?"))]


def test_a_failing_server_keeps_the_question_and_says_why(chatglm_env: FakeChatGLM) -> None:
    at = start()
    send(at, "crash please [[chatglm:http_500]]")
    error = one_error(at)
    assert en("error.server_error.title") in error
    assert en("chatglm_http.error.server_failed", url=chatglm_env.url) in error
    assert en("error.status_only", status=500) in error
    assert stored(at) == [("user", "crash please [[chatglm:http_500]]")]


def test_an_address_without_http_is_refused_before_sending(chatglm_env: FakeChatGLM) -> None:
    at = start()
    at.text_input(key=URL_WIDGET).input("127.0.0.1:7030/chatglm").run()
    send(at, "hi")
    error = one_error(at)
    assert en("error.validation.title") in error
    assert en("chatglm_http.bad_url", url="127.0.0.1:7030/chatglm") in error
    assert stored(at) == [("user", "hi")] and chatglm_env.requests == []


def test_the_chinese_page_explains_a_server_that_is_down(monkeypatch: pytest.MonkeyPatch) -> None:
    from core.i18n import t

    down = refused_url()
    monkeypatch.setenv("PLAYGROUND_BACKEND", "chatglm_http")
    monkeypatch.setenv("PLAYGROUND_CHATGLM_URL", down)
    at = start(locale="zh-CN")
    assert at.text_input(key=URL_WIDGET).help == t("endpoint.chatglm_http.url_help", "zh")
    send(at, "你好")
    error = one_error(at)
    assert t("error.unreachable.title", "zh") in error
    assert t("chatglm_http.error.not_running", "zh", url=down) in error
    assert stored(at) == [("user", "你好")]
