"""AppTest: the shared sidebar as the Chat page uses it: language, API key, parameters."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from core.i18n import t
from tests.apptest_helpers import (
    assert_ok,
    click,
    en,
    errors,
    one_error,
    rendered_text,
    send,
    start,
    stored,
)
from tests.fake_llm import FakeLLMServer

KEY_WIDGET = "widget.api_key.ZHIPUAI_API_KEY"
SECRET = "sk-typed-in-the-sidebar-9f3a"


def sidebar_captions(at: AppTest) -> list[str]:
    return [c.value for c in at.sidebar.caption]


def test_every_rerun_draws_the_router_and_its_sidebar(zhipu_env: FakeLLMServer) -> None:
    """AppTest reruns ask for the page the app finished on, as a browser at /chat does."""
    at = start()
    for _ in range(2):
        at.run()
        assert_ok(at)
        assert at.sidebar.selectbox(key="widget.backend")
        assert at.button(key="chat.run")


# Language


@pytest.mark.parametrize(("locale", "lang"), [("zh-CN", "zh"), ("zh-TW", "zh"), ("en-US", "en"),
                                              ("de-DE", "en"), (None, "zh")])
def test_default_language_follows_the_browser_locale(zhipu_env: FakeLLMServer, locale: str | None,
                                                     lang: str) -> None:
    at = start(locale=locale)
    assert at.segmented_control(key="widget.lang").value == lang
    assert at.button(key="chat.run").label == t("chat.run", lang)
    assert at.title[0].value == t("chat.title", lang)


def test_language_switch(zhipu_env: FakeLLMServer) -> None:
    at = start(locale="zh-CN")
    assert at.button(key="chat.run").label == "运行"
    at.segmented_control(key="widget.lang").set_value("en").run()
    assert_ok(at)
    assert at.button(key="chat.run").label == "Run"
    assert at.sidebar.selectbox(key="widget.backend").label == "Backend"
    assert at.chat_input(key="chat.input").placeholder == en("chat.input_placeholder")
    # The choice is kept over later runs; it does not fall back to the browser's locale.
    send(at, "hi")
    assert at.button(key="chat.run").label == "Run"
    assert "prompt +" in at.chat_message[1].caption[0].value
    at.segmented_control(key="widget.lang").set_value("zh").run()
    assert at.button(key="chat.run").label == "运行"
    assert "输入" in at.chat_message[1].caption[0].value  # the stats line is translated too
    assert at.segmented_control(key="widget.lang").value == "zh"


def test_error_is_redrawn_in_the_new_language(zhipu_env: FakeLLMServer) -> None:
    at = start()
    send(at, "x [[scenario:balance_1113]]")
    assert en("error.code.1113") in one_error(at)
    at.segmented_control(key="widget.lang").set_value("zh").run()
    assert t("error.code.1113", "zh") in one_error(at)


# The API key typed in the sidebar


@pytest.fixture
def no_key_env(llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch) -> FakeLLMServer:
    """The zhipu backend pointed at the fake server, with no key anywhere."""
    monkeypatch.setenv("ZHIPUAI_BASE_URL", llm.zhipu_base_url)
    monkeypatch.setenv("PLAYGROUND_TIMEOUT_S", "5")
    return llm


def test_no_api_key_is_refused_with_the_variable_named(no_key_env: FakeLLMServer) -> None:
    at = start()
    assert en("picker.key_missing", envs="ZHIPUAI_API_KEY") in sidebar_captions(at)
    assert at.text_input(key=KEY_WIDGET).label == en("picker.key_input")
    send(at, "hi")
    error = one_error(at)
    assert en("error.missing_key.title") in error
    assert "ZHIPUAI_API_KEY" in error
    assert en("error.missing_key.fix", envs="ZHIPUAI_API_KEY") in error
    assert no_key_env.requests == []
    assert stored(at) == [("user", "hi")]


def test_missing_key_error_goes_once_a_key_is_typed(no_key_env: FakeLLMServer) -> None:
    at = start()
    send(at, "hi")
    assert errors(at)
    at.text_input(key=KEY_WIDGET).input(SECRET).run()
    assert not errors(at), "the error about the missing key must not stay under the new key"
    click(at, "chat.run")
    assert stored(at) == [("user", "hi"), ("assistant", "Echo: hi")]


def test_typed_key_is_used_hidden_and_forgotten(no_key_env: FakeLLMServer) -> None:
    at = start()
    at.text_input(key=KEY_WIDGET).input(f"  {SECRET} ").run()
    assert_ok(at)
    # Moved out of the widget at once: the box is gone and its state is empty.
    assert KEY_WIDGET not in at.session_state or at.session_state[KEY_WIDGET] == ""
    assert not [w for w in at.text_input if w.key == KEY_WIDGET]
    assert en("picker.key_typed", masked="…9f3a") in sidebar_captions(at)
    assert "9f3a" in rendered_text(at)  # the walk does see the sidebar's captions
    assert SECRET not in rendered_text(at)

    send(at, "hello with my key")
    assert no_key_env.requests[-1]["headers"]["authorization"] == f"Bearer {SECRET}"
    assert stored(at)[-1] == ("assistant", "Echo: hello with my key")
    assert SECRET not in rendered_text(at)
    assert SECRET not in str(at.query_params)
    data_dir = Path(os.environ["PLAYGROUND_DATA_DIR"])
    for path in data_dir.rglob("*"):
        if path.is_file():
            assert SECRET not in path.read_text(errors="replace"), path

    click(at, "forget.ZHIPUAI_API_KEY")
    assert at.text_input(key=KEY_WIDGET).value == ""
    assert en("picker.key_missing", envs="ZHIPUAI_API_KEY") in sidebar_captions(at)
    assert not [c for c in sidebar_captions(at) if "9f3a" in c]
    sent = len(no_key_env.requests)
    send(at, "and now?")
    assert en("error.missing_key.title") in one_error(at)
    assert len(no_key_env.requests) == sent


def test_typed_key_overrides_the_server_key(zhipu_env: FakeLLMServer) -> None:
    at = start()
    assert en("picker.key_from_env", name="ZHIPUAI_API_KEY") in sidebar_captions(at)
    box = at.text_input(key=KEY_WIDGET)
    assert box.label == en("picker.key_input_other")
    box.input(SECRET).run()
    send(at, "hi")
    assert zhipu_env.requests[-1]["headers"]["authorization"] == f"Bearer {SECRET}"
    assert SECRET not in rendered_text(at)
    click(at, "forget.ZHIPUAI_API_KEY")
    send(at, "again")
    assert zhipu_env.requests[-1]["headers"]["authorization"] == "Bearer test.key"


def test_blank_typed_key_is_ignored(no_key_env: FakeLLMServer) -> None:
    at = start()
    at.text_input(key=KEY_WIDGET).input("   ").run()
    assert at.text_input(key=KEY_WIDGET).value == ""
    assert en("picker.key_missing", envs="ZHIPUAI_API_KEY") in sidebar_captions(at)


# Parameters


def _widget(at: AppTest, slot: str, name: str) -> Any:
    """The sidebar control of parameter `name` for the backend/endpoint `slot`."""
    key = f"widget.param.{slot}.{name}"
    for kind in (at.number_input, at.slider, at.toggle, at.text_area):
        found = [w for w in kind if w.key == key]
        if found:
            return found[0]
    raise KeyError(key)


def test_switching_model_fits_max_tokens_into_range(zhipu_env: FakeLLMServer) -> None:
    at = start()
    at.selectbox(key="widget.model.zhipu/zhipu").set_value("glm-4.6").run()
    _widget(at, "zhipu/zhipu", "max_tokens").set_value(100_000).run()
    assert_ok(at)
    assert not at.sidebar.info
    at.selectbox(key="widget.model.zhipu/zhipu").set_value("glm-4-plus").run()
    assert_ok(at)
    infos = [i.value for i in at.sidebar.info]
    assert infos == [en("params.fitted", param=en("param.max_tokens"), old=100000, new=4095)]
    assert _widget(at, "zhipu/zhipu", "max_tokens").value == 4095
    send(at, "hi")
    assert zhipu_env.requests[-1]["json"]["max_tokens"] == 4095
    assert not errors(at)
    assert not at.sidebar.info  # said once, when it happened


def test_too_many_stop_words_for_glm(zhipu_env: FakeLLMServer) -> None:
    at = start()
    _widget(at, "zhipu/zhipu", "stop").input("END\nSTOP").run()
    assert_ok(at)
    warning = en("validation.stop_too_many", count=2, maximum=1, param=en("param.stop"))
    assert [w.value for w in at.sidebar.warning] == [warning]
    send(at, "hi")
    error = one_error(at)
    assert en("error.validation.title") in error
    assert warning in error
    assert zhipu_env.requests == []
    assert stored(at) == [("user", "hi")]
    # One stop word is accepted, and sent; the refusal goes with the fix.
    _widget(at, "zhipu/zhipu", "stop").input("END").run()
    assert not at.sidebar.warning
    assert not errors(at)
    click(at, "chat.run")
    assert not errors(at)
    assert zhipu_env.requests[-1]["json"]["stop"] == ["END"]


def test_openai_takes_several_stop_words(openai_env: FakeLLMServer) -> None:
    at = start()
    _widget(at, "openai/custom", "stop").input("END\n\\n\\n").run()
    assert not at.sidebar.warning
    send(at, "hi")
    assert openai_env.requests[-1]["json"]["stop"] == ["END", "\n\n"]


def test_parameters_are_sent(zhipu_env: FakeLLMServer) -> None:
    at = start()
    _widget(at, "zhipu/zhipu", "temperature").set_value(0.3).run()
    _widget(at, "zhipu/zhipu", "top_p").set_value(0.5).run()
    _widget(at, "zhipu/zhipu", "max_tokens").set_value(200).run()
    send(at, "hi")
    body = zhipu_env.requests[-1]["json"]
    assert (body["temperature"], body["top_p"], body["max_tokens"], body["do_sample"]) == (
        0.3, 0.5, 200, True)


def test_greedy_decoding_drops_temperature(zhipu_env: FakeLLMServer) -> None:
    at = start()
    _widget(at, "zhipu/zhipu", "do_sample").set_value(False).run()
    assert _widget(at, "zhipu/zhipu", "temperature").disabled
    send(at, "hi")
    body = zhipu_env.requests[-1]["json"]
    assert body["do_sample"] is False
    assert "temperature" not in body and "top_p" not in body


def test_sdk_adjustment_is_said_and_matches_what_is_sent(zhipu_env: FakeLLMServer) -> None:
    at = start()
    _widget(at, "zhipu/zhipu", "temperature").set_value(1.0).run()
    note = en("adjust.zhipu_temperature_one", requested=1.0, sent=0.99)
    assert note in sidebar_captions(at)
    send(at, "hi")
    assert zhipu_env.requests[-1]["json"]["temperature"] == 0.99


def test_reset_parameters(zhipu_env: FakeLLMServer) -> None:
    at = start()
    _widget(at, "zhipu/zhipu", "max_tokens").set_value(77).run()
    click(at, "reset.zhipu/zhipu")
    assert _widget(at, "zhipu/zhipu", "max_tokens").value == 1024
    send(at, "hi")
    assert zhipu_env.requests[-1]["json"]["max_tokens"] == 1024


def test_empty_answer_is_reported_not_kept(zhipu_env: FakeLLMServer) -> None:
    """A stop word that matches the start of the answer: nothing comes back, nothing blocks."""
    at = start()
    _widget(at, "zhipu/zhipu", "stop").input("Echo").run()
    send(at, "hello")
    assert [w.value for w in at.main.warning] == [en("chat.empty_answer")]
    assert "0 completion tokens" in " ".join(c.value for c in at.main.caption)
    assert stored(at) == [("user", "hello")]
    assert not errors(at)
    _widget(at, "zhipu/zhipu", "stop").input("").run()
    click(at, "chat.run")
    assert not at.main.warning
    assert stored(at) == [("user", "hello"), ("assistant", "Echo: hello")]


def test_answer_cut_by_max_tokens_says_so(zhipu_env: FakeLLMServer) -> None:
    at = start()
    _widget(at, "zhipu/zhipu", "max_tokens").set_value(3).run()
    send(at, "[[tokens:10]] count")
    assert stored(at)[-1] == ("assistant", "w0 w1 w2 ")
    caption = at.chat_message[-1].caption[0].value
    assert en("stats.length") in caption
    assert "3 completion tokens" in caption
    assert not errors(at)
