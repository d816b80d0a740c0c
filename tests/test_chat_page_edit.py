"""AppTest: editing the conversation on the Chat page, Run, Regenerate and Clear."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.apptest_helpers import (
    assert_ok,
    captions,
    click,
    conversation,
    en,
    errors,
    message_ids,
    send,
    sent_messages,
    shown,
    start,
    stored,
)
from tests.fake_llm import FakeLLMServer


def add(at: AppTest, role: str, text: str | None = None) -> str:
    """Press "User message" / "Assistant message", type `text` in its box; returns its id."""
    click(at, f"add.{role}")
    mid = message_ids(at)[-1]
    if text is not None:
        at.text_area(key=f"widget.msg.{mid}").input(text).run()
        assert_ok(at)
    return mid


def set_system(at: AppTest, text: str) -> None:
    at.text_area(key="widget.system").input(text).run()
    assert_ok(at)


def test_add_messages_without_running(zhipu_env: FakeLLMServer) -> None:
    at = start()
    assert [c.value for c in at.main.caption if c.value == en("chat.empty")]
    uid = add(at, "user")
    box = at.text_area(key=f"widget.msg.{uid}")
    assert box.value == ""
    assert box.placeholder == en("chat.placeholder_user")
    box.input("What is 2 + 2?").run()
    aid = add(at, "assistant", "4")
    assert stored(at) == [("user", "What is 2 + 2?"), ("assistant", "4")]
    assert at.text_area(key=f"widget.msg.{aid}").placeholder == en("chat.placeholder_assistant")
    assert zhipu_env.requests == []
    # "Done" closes the boxes: the text is then shown as markdown in the chat bubbles.
    click(at, f"msg.{uid}.edit")
    click(at, f"msg.{aid}.edit")
    assert shown(at) == [("user", "What is 2 + 2?"), ("assistant", "4")]
    assert at.button(key=f"msg.{uid}.edit").label == en("chat.edit")
    # An empty message, closed, says how to fill it.
    eid = add(at, "user")
    click(at, f"msg.{eid}.edit")
    assert en("chat.empty_message") in captions(at.chat_message[2])


def test_edit_switch_delete_move_then_run_sends_exactly_that(zhipu_env: FakeLLMServer) -> None:
    at = start()
    set_system(at, "Answer briefly.")
    first = add(at, "user", "first question")
    answer = add(at, "assistant", "first answer")
    second = add(at, "assistant", "second question")
    click(at, f"msg.{second}.role")  # it was meant to be the user's
    assert at.button(key=f"msg.{second}.role").label == en("chat.make_role",
                                                           role=en("role.assistant"))
    junk = add(at, "user", "to be deleted")
    click(at, f"msg.{junk}.delete")
    note = add(at, "user", "a note")
    # Move the note up above "second question", and "second question" back down... and up.
    assert at.button(key=f"msg.{note}.down").disabled
    assert at.button(key=f"msg.{first}.up").disabled
    click(at, f"msg.{note}.up")
    assert message_ids(at) == [first, answer, note, second]
    click(at, f"msg.{note}.down")
    click(at, f"msg.{note}.up")
    # Re-edit the first message after the others.
    at.text_area(key=f"widget.msg.{first}").input("first question, edited").run()
    assert_ok(at)
    assert len(zhipu_env.requests) == 0

    click(at, "chat.run")
    assert not errors(at)
    assert sent_messages(zhipu_env) == [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "first question, edited"},
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": "a note"},
        {"role": "user", "content": "second question"},
    ]
    assert stored(at)[-1] == ("assistant", "Echo: second question")
    assert [m.name for m in at.chat_message] == ["user", "assistant", "user", "user", "assistant"]
    assert at.chat_message[-1].markdown[0].value == "Echo: second question"
    assert len(zhipu_env.requests) == 1


def test_editing_a_sent_message_then_run(zhipu_env: FakeLLMServer) -> None:
    """Edit an answer that came from the model, add a question, run: the edit is what is sent."""
    at = start()
    send(at, "hello")
    aid = message_ids(at)[1]
    click(at, f"msg.{aid}.edit")
    assert at.text_area(key=f"widget.msg.{aid}").value == "Echo: hello"
    at.text_area(key=f"widget.msg.{aid}").input("Hi! I am a pirate.").run()
    send(at, "who are you?")
    assert sent_messages(zhipu_env)[1] == {"role": "assistant", "content": "Hi! I am a pirate."}
    assert stored(at)[-1] == ("assistant", "Echo: who are you?")


def test_system_message_is_sent_first_and_kept(zhipu_env: FakeLLMServer) -> None:
    at = start()
    set_system(at, "You are a poet.")
    send(at, "a line please")
    assert sent_messages(zhipu_env)[0] == {"role": "system", "content": "You are a poet."}
    assert at.text_area(key="widget.system").value == "You are a poet."
    assert conversation(at).system == "You are a poet."
    send(at, "another")
    assert sent_messages(zhipu_env)[0] == {"role": "system", "content": "You are a poet."}
    # A blank system box sends no system message.
    set_system(at, "   ")
    send(at, "third")
    assert sent_messages(zhipu_env)[0]["role"] == "user"


def test_regenerate_replaces_the_last_answer(zhipu_env: FakeLLMServer) -> None:
    at = start()
    send(at, "tell me a joke")
    first_id = conversation(at).messages[-1].stats["request_id"]
    assert not at.button(key="chat.regenerate").disabled
    click(at, "chat.regenerate")
    assert len(zhipu_env.requests) == 2
    assert sent_messages(zhipu_env) == [{"role": "user", "content": "tell me a joke"}]
    assert stored(at) == [("user", "tell me a joke"), ("assistant", "Echo: tell me a joke")]
    assert conversation(at).messages[-1].stats["request_id"] != first_id
    assert [m.name for m in at.chat_message] == ["user", "assistant"]


def test_regenerate_after_a_failed_answer_asks_again(zhipu_env: FakeLLMServer) -> None:
    at = start()
    zhipu_env.queue("server_500")
    send(at, "try")
    assert stored(at) == [("user", "try")]
    assert errors(at)
    click(at, "chat.regenerate")
    assert stored(at) == [("user", "try"), ("assistant", "Echo: try")]
    assert not errors(at)


def test_clear_empties_the_conversation(zhipu_env: FakeLLMServer) -> None:
    at = start()
    assert at.button(key="chat.clear").disabled
    set_system(at, "Keep me.")
    send(at, "one")
    send(at, "two")
    click(at, "chat.clear")
    assert stored(at) == []
    assert not at.chat_message
    assert en("chat.empty") in [c.value for c in at.main.caption]
    assert at.button(key="chat.clear").disabled
    assert at.button(key="chat.regenerate").disabled
    # The system message is a setting, not part of the history: it stays.
    assert at.text_area(key="widget.system").value == "Keep me."
    assert len(zhipu_env.requests) == 2
    send(at, "fresh start")
    assert sent_messages(zhipu_env) == [{"role": "system", "content": "Keep me."},
                                        {"role": "user", "content": "fresh start"}]


def test_clear_removes_an_error(zhipu_env: FakeLLMServer) -> None:
    at = start()
    send(at, "x [[scenario:server_500]]")
    assert errors(at)
    click(at, "chat.clear")
    assert not errors(at)
    assert stored(at) == []


# Validation: refused before anything is sent, with the catalogue's words; nothing changes.


def refused(at: AppTest, llm: FakeLLMServer, key: str, **values: object) -> None:
    """Press Run: the refusal `key` is shown, nothing is sent, the conversation is unchanged."""
    before = list(stored(at)), conversation(at).system
    sent_before = len(llm.requests)
    click(at, "chat.run")
    error = errors(at)
    assert len(error) == 1, error
    assert en("error.validation.title") in error[0]
    assert en(key, **values) in error[0]
    assert len(llm.requests) == sent_before
    assert (stored(at), conversation(at).system) == before


def test_refused_nothing_to_send(zhipu_env: FakeLLMServer) -> None:
    at = start()
    refused(at, zhipu_env, "validation.no_messages")


def test_refused_only_a_system_message(zhipu_env: FakeLLMServer) -> None:
    at = start()
    set_system(at, "You are helpful.")
    refused(at, zhipu_env, "validation.only_system")
    assert "1214" in errors(at)[0]


def test_refused_an_empty_message(zhipu_env: FakeLLMServer) -> None:
    at = start()
    add(at, "user", "fine")
    add(at, "assistant")  # left empty
    add(at, "user", "and this")
    refused(at, zhipu_env, "validation.empty_message", position=2, role=en("role.assistant"))
    # With a system message the numbering still matches the editor (system is not counted).
    set_system(at, "sys")
    refused(at, zhipu_env, "validation.empty_message", position=2, role=en("role.assistant"))


def test_refused_last_message_from_the_assistant(zhipu_env: FakeLLMServer) -> None:
    at = start()
    add(at, "user", "q")
    add(at, "assistant", "a")
    refused(at, zhipu_env, "validation.last_not_user")


def test_refused_no_user_message(zhipu_env: FakeLLMServer) -> None:
    at = start()
    add(at, "assistant", "only me")
    refused(at, zhipu_env, "validation.no_user_message")


def test_refusal_goes_away_once_the_conversation_is_fixed(zhipu_env: FakeLLMServer) -> None:
    at = start()
    uid = add(at, "user")
    refused(at, zhipu_env, "validation.empty_message", position=1, role=en("role.user"))
    at.text_area(key=f"widget.msg.{uid}").input("now filled").run()
    assert not errors(at), "the refusal no longer applies once the user fixed the message"
    click(at, "chat.run")
    assert not errors(at)
    assert stored(at)[-1] == ("assistant", "Echo: now filled")
