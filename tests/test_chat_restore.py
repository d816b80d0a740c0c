"""A browser refresh (a new session with the same ?c= URL) brings the conversation back."""

from __future__ import annotations

import os
from pathlib import Path

from streamlit.testing.v1 import AppTest

from core.conversation_store import ConversationStore, new_conversation_id
from core.messages import Conversation, Role
from tests.fake_llm import FakeLLMServer

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def _messages(at: AppTest) -> list[tuple[str, str]]:
    return [(m.name, " ".join(x.value for x in m.markdown)) for m in at.chat_message]


def test_refresh_restores_conversation_and_answer_stats(zhipu_env: FakeLLMServer) -> None:
    at = AppTest.from_file(APP, default_timeout=30).run()
    at.text_area(key="widget.system").set_value("你是旅行社的助手。").run()
    at.chat_input[0].set_value("杭州三日游").run()
    assert not at.exception
    conversation_id = at.query_params["c"]
    before = _messages(at)
    assert before == [("user", "杭州三日游"), ("assistant", "Echo: 杭州三日游")]

    refreshed = AppTest.from_file(APP, default_timeout=30)
    refreshed.query_params["c"] = conversation_id
    refreshed.run()
    assert _messages(refreshed) == before
    assert refreshed.text_area(key="widget.system").value == "你是旅行社的助手。"
    captions = [c.value for m in refreshed.chat_message for c in m.caption]
    assert any("glm-4-plus" in c for c in captions)


def test_unknown_or_forged_id_starts_a_new_conversation(zhipu_env: FakeLLMServer) -> None:
    for forged in ("../../etc/passwd", "0123456789abcdef0123456789abcdef"):
        at = AppTest.from_file(APP, default_timeout=30)
        at.query_params["c"] = forged
        at.run()
        assert not at.exception
        assert _messages(at) == []
        if forged.startswith(".."):
            assert at.query_params["c"] != forged


def test_edited_answer_is_marked_and_failed_send_suggests_run(zhipu_env: FakeLLMServer) -> None:
    at = AppTest.from_file(APP, default_timeout=30)
    at.context["locale"] = "en-US"
    at.run()
    at.chat_input[0].set_value("hello").run()
    answer = at.session_state["chat.conversation"].messages[-1]
    at.button(key=f"msg.{answer.id}.edit").click().run()
    at.text_area(key=f"widget.msg.{answer.id}").set_value("A better answer.").run()
    captions = [c.value for m in at.chat_message for c in m.caption]
    assert any("edited after it arrived" in c for c in captions)

    at.chat_input[0].set_value("[[scenario:server_500]] again").run()
    assert at.error, "the failure is shown"
    assert any("press Run to send it again" in c.value for c in at.caption)


def test_refresh_restores_model_and_parameters_but_never_a_key(zhipu_env: FakeLLMServer) -> None:
    at = AppTest.from_file(APP, default_timeout=30)
    at.context["locale"] = "en-US"
    at.run()
    at.selectbox(key="widget.model.zhipu/zhipu").set_value("glm-4-flash").run()
    at.slider(key="widget.param.zhipu/zhipu.temperature").set_value(0.3).run()
    at.text_input(key="widget.api_key.ZHIPUAI_API_KEY").set_value("typed-secret-key-123456").run()
    at.chat_input[0].set_value("hello").run()
    assert zhipu_env.requests[-1]["json"]["model"] == "glm-4-flash"

    refreshed = AppTest.from_file(APP, default_timeout=30)
    refreshed.context["locale"] = "en-US"
    refreshed.query_params["c"] = at.query_params["c"]
    refreshed.run()
    assert refreshed.selectbox(key="widget.model.zhipu/zhipu").value == "glm-4-flash"
    assert refreshed.slider(key="widget.param.zhipu/zhipu.temperature").value == 0.3
    assert "picker.typed_keys" not in refreshed.session_state or not refreshed.session_state[
        "picker.typed_keys"]
    for path in Path(os.environ["PLAYGROUND_DATA_DIR"]).rglob("*.json"):
        assert "typed-secret-key" not in path.read_text(encoding="utf-8")


def test_saved_settings_that_no_longer_fit_fall_back_to_defaults(zhipu_env: FakeLLMServer) -> None:
    store = ConversationStore(Path(os.environ["PLAYGROUND_DATA_DIR"]))
    cid = new_conversation_id()
    conv = Conversation()
    conv.add(Role.USER, "hi")
    store.save(cid, conv, settings={"backend": "retired", "model": {"zhipu/zhipu": "glm-0"},
                                    "params": "not a dict", "stream": "yes"})
    at = AppTest.from_file(APP, default_timeout=30)
    at.query_params["c"] = cid
    at.run()
    assert not at.exception
    assert at.selectbox(key="widget.backend").value == "zhipu"
    assert at.selectbox(key="widget.model.zhipu/zhipu").value == "glm-4-plus"
    assert [m.name for m in at.chat_message] == ["user"]
