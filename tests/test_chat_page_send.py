"""AppTest: sending from the Chat page on each backend, streaming off, backend and model switching."""

from __future__ import annotations

import pytest

from tests.apptest_helpers import (
    assert_ok,
    captions,
    click,
    en,
    errors,
    send,
    sent_messages,
    shown,
    start,
    stored,
)
from tests.fake_llm import FakeLLMServer


def test_send_on_zhipu_shows_question_answer_and_stats(zhipu_env: FakeLLMServer) -> None:
    at = start()
    send(at, "hello there")
    assert shown(at) == [("user", "hello there"), ("assistant", "Echo: hello there")]
    assert stored(at) == [("user", "hello there"), ("assistant", "Echo: hello there")]
    assert not errors(at)
    request = zhipu_env.requests[-1]
    assert request["path"] == "/api/paas/v4/chat/completions"
    assert request["json"]["model"] == "glm-4-plus"
    assert request["json"]["stream"] is True
    assert request["headers"]["authorization"] == "Bearer test.key"
    (caption,) = captions(at.chat_message[1])
    assert caption.startswith("glm-4-plus · first token ")
    # "Echo: hello there" is three chunks; the prompt "hello there" is 11 chars -> 6 tokens.
    assert "6 prompt + 3 completion tokens" in caption
    assert en("stats.not_streamed") not in caption
    assert not captions(at.chat_message[0])


def test_send_on_openai_backend(openai_env: FakeLLMServer) -> None:
    at = start()
    send(at, "how are you")
    assert shown(at) == [("user", "how are you"), ("assistant", "Echo: how are you")]
    request = openai_env.requests[-1]
    assert request["path"] == "/v1/chat/completions"
    assert request["json"]["model"] == "fake-gpt"
    assert request["json"]["stream"] is True
    assert request["headers"]["authorization"] == "Bearer sk-test-key-0000"
    (caption,) = captions(at.chat_message[1])
    assert caption.startswith("fake-gpt · first token ")
    assert "6 prompt + 4 completion tokens" in caption


def test_second_turn_sends_the_history(zhipu_env: FakeLLMServer) -> None:
    at = start()
    send(at, "one")
    send(at, "two")
    assert sent_messages(zhipu_env) == [
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "Echo: one"},
        {"role": "user", "content": "two"},
    ]
    assert [role for role, _ in shown(at)] == ["user", "assistant", "user", "assistant"]
    assert len(zhipu_env.requests) == 2


def test_blank_chat_input_sends_nothing(zhipu_env: FakeLLMServer) -> None:
    at = start()
    send(at, "   ")
    assert stored(at) == []
    assert zhipu_env.requests == []
    assert not errors(at)


@pytest.mark.parametrize("env", ["zhipu_env", "openai_env"])
def test_streaming_off(env: str, request: pytest.FixtureRequest) -> None:
    llm: FakeLLMServer = request.getfixturevalue(env)
    at = start()
    toggle = at.toggle(key="widget.stream")
    assert toggle.label == en("chat.stream")
    assert toggle.value is True
    toggle.set_value(False).run()
    assert_ok(at)
    send(at, "no stream please")
    assert llm.requests[-1]["json"]["stream"] is False
    assert "stream_options" not in llm.requests[-1]["json"]
    assert shown(at)[-1] == ("assistant", "Echo: no stream please")
    (caption,) = captions(at.chat_message[1])
    assert en("stats.not_streamed") in caption
    assert "prompt +" in caption
    # The choice holds for the next message too.
    assert at.toggle(key="widget.stream").value is False
    send(at, "again")
    assert llm.requests[-1]["json"]["stream"] is False


def test_zhipu_model_choice_is_sent(zhipu_env: FakeLLMServer) -> None:
    at = start()
    at.selectbox(key="widget.model.zhipu/zhipu").set_value("glm-4-flash").run()
    assert_ok(at)
    assert "glm-4-flash" in at.caption[0].value  # the page's subtitle names the model
    send(at, "hi")
    assert zhipu_env.requests[-1]["json"]["model"] == "glm-4-flash"
    assert captions(at.chat_message[1])[0].startswith("glm-4-flash · ")


def test_zhipu_custom_model_id_is_sent(zhipu_env: FakeLLMServer) -> None:
    at = start()
    at.selectbox(key="widget.model.zhipu/zhipu").set_value("__custom__").run()
    at.text_input(key="widget.custom.zhipu/zhipu").input("  my-finetune-001 ").run()
    assert_ok(at)
    send(at, "hi")
    assert zhipu_env.requests[-1]["json"]["model"] == "my-finetune-001"


def test_custom_model_left_empty_is_refused(zhipu_env: FakeLLMServer) -> None:
    at = start()
    at.selectbox(key="widget.model.zhipu/zhipu").set_value("__custom__").run()
    send(at, "hi")
    assert zhipu_env.requests == []
    assert en("validation.no_model") in errors(at)[0]
    assert stored(at) == [("user", "hi")]


def test_switch_backend_to_openai_custom_url(zhipu_env: FakeLLMServer) -> None:
    """From the zhipu backend to a custom OpenAI-compatible URL typed in the sidebar."""
    at = start()
    send(at, "first")
    at.selectbox(key="widget.backend").set_value("openai").run()
    assert_ok(at)
    assert at.selectbox(key="widget.endpoint.openai").value == "openai"
    at.selectbox(key="widget.endpoint.openai").set_value("custom").run()
    at.text_input(key="widget.base_url.openai/custom").input(zhipu_env.openai_base_url).run()
    at.selectbox(key="widget.model.openai/custom").set_value("__custom__").run()
    at.text_input(key="widget.custom.openai/custom").input("llama-local").run()
    assert_ok(at)
    send(at, "second")
    request = zhipu_env.requests[-1]
    assert request["path"] == "/v1/chat/completions"
    assert request["json"]["model"] == "llama-local"
    # The custom endpoint needs no key: ZHIPUAI_API_KEY is not sent to a stranger's server.
    assert request["headers"]["authorization"] != "Bearer test.key"
    assert shown(at)[-1] == ("assistant", "Echo: second")
    assert len(zhipu_env.requests) == 2
    # Back to zhipu: its choices were kept.
    at.selectbox(key="widget.backend").set_value("zhipu").run()
    send(at, "third")
    assert zhipu_env.requests[-1]["path"] == "/api/paas/v4/chat/completions"
    assert zhipu_env.requests[-1]["json"]["model"] == "glm-4-plus"


def test_switch_openai_endpoint_to_zhipu_compat(openai_env: FakeLLMServer,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The Zhipu OpenAI-compatible preset sends to its fixed URL (here unreachable on purpose)."""
    at = start()
    at.selectbox(key="widget.endpoint.openai").set_value("zhipu_compat").run()
    assert_ok(at)
    assert at.selectbox(key="widget.model.openai/zhipu_compat").value == "glm-4-plus"
    assert "open.bigmodel.cn" in " ".join(c.value for c in at.sidebar.caption)
    # The preset's key is ZHIPUAI_API_KEY or OPENAI_API_KEY; openai_env sets the second.
    assert en("picker.key_from_env", name="OPENAI_API_KEY") in [c.value for c in at.sidebar.caption]
    # Back to the custom URL: the fake server answers with the model chosen there.
    at.selectbox(key="widget.endpoint.openai").set_value("custom").run()
    send(at, "hi")
    assert openai_env.requests[-1]["json"]["model"] == "fake-gpt"


def test_clearing_the_chat_input_does_not_resend(zhipu_env: FakeLLMServer) -> None:
    """A rerun after an answer (any widget change) does not send the conversation again."""
    at = start()
    send(at, "only once")
    at.toggle(key="widget.stream").set_value(False).run()
    at.run()
    assert_ok(at)
    assert len(zhipu_env.requests) == 1
    assert len(stored(at)) == 2


def test_run_button_after_answer_asks_for_a_user_message(zhipu_env: FakeLLMServer) -> None:
    at = start()
    send(at, "hi")
    click(at, "chat.run")
    assert len(zhipu_env.requests) == 1
    assert en("validation.last_not_user") in errors(at)[0]


def test_base_url_typed_in_the_sidebar_is_used(openai_env: FakeLLMServer) -> None:
    at = start()
    box = at.text_input(key="widget.base_url.openai/custom")
    assert box.value == openai_env.openai_base_url  # from OPENAI_BASE_URL
    box.input("http://127.0.0.1:9/v1").run()  # nothing listens on port 9
    send(at, "hi")
    assert openai_env.requests == []
    assert en("error.unreachable.title") in errors(at)[0]
    at.text_input(key="widget.base_url.openai/custom").input(openai_env.openai_base_url).run()
    click(at, "chat.run")
    assert len(openai_env.requests) == 1
    assert stored(at)[-1] == ("assistant", "Echo: hi")
