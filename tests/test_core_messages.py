"""core/messages: the editable conversation and the checks made before a call."""

from __future__ import annotations

import json

import pytest

from core.errors import ErrorKind, PlaygroundError
from core.messages import Conversation, Message, Role, check_sendable


def conv_of(*pairs: tuple[Role, str], system: str = "") -> Conversation:
    conv = Conversation(system=system)
    for role, content in pairs:
        conv.add(role, content)
    return conv


def contents(conv: Conversation) -> list[str]:
    return [m.content for m in conv.messages]


# ---- Conversation edits -------------------------------------------------------------------------
def test_add_returns_the_message_with_a_unique_id() -> None:
    conv = Conversation()
    a = conv.add(Role.USER, "hi")
    b = conv.add(Role.ASSISTANT)
    assert conv.messages == [a, b] and a.id != b.id and b.content == ""
    assert conv.find(a.id) is a and conv.find("missing") is None
    assert conv.index(b.id) == 1


def test_edit_and_set_role() -> None:
    conv = conv_of((Role.USER, "hi"))
    mid = conv.messages[0].id
    conv.edit(mid, "hello")
    conv.set_role(mid, Role.ASSISTANT)
    assert conv.messages[0].content == "hello" and conv.messages[0].role is Role.ASSISTANT


def test_toggle_role_switches_user_and_assistant() -> None:
    conv = conv_of((Role.USER, "q"), (Role.ASSISTANT, "a"))
    q, a = conv.messages
    conv.toggle_role(q.id)
    conv.toggle_role(a.id)
    assert (q.role, a.role) == (Role.ASSISTANT, Role.USER)
    conv.toggle_role(q.id)
    assert q.role is Role.USER


def test_unknown_id_raises_key_error() -> None:
    conv = conv_of((Role.USER, "q"))
    for action in (lambda: conv.edit("nope", "x"), lambda: conv.delete("nope"),
                   lambda: conv.move("nope", 1), lambda: conv.toggle_role("nope")):
        with pytest.raises(KeyError):
            action()
    assert contents(conv) == ["q"]


def test_delete() -> None:
    conv = conv_of((Role.USER, "1"), (Role.ASSISTANT, "2"), (Role.USER, "3"))
    conv.delete(conv.messages[1].id)
    assert contents(conv) == ["1", "3"]


def test_move_up_and_down() -> None:
    conv = conv_of((Role.USER, "1"), (Role.ASSISTANT, "2"), (Role.USER, "3"))
    conv.move(conv.messages[2].id, -1)
    assert contents(conv) == ["1", "3", "2"]
    conv.move(conv.messages[0].id, 1)
    assert contents(conv) == ["3", "1", "2"]


def test_move_at_the_ends_does_nothing() -> None:
    conv = conv_of((Role.USER, "1"), (Role.ASSISTANT, "2"))
    conv.move(conv.messages[0].id, -1)
    conv.move(conv.messages[-1].id, 1)
    assert contents(conv) == ["1", "2"]


def test_clear() -> None:
    conv = conv_of((Role.USER, "1"), system="sys")
    conv.clear()
    assert conv.messages == [] and conv.system == "sys"


def test_drop_last_answer_only_drops_an_assistant() -> None:
    conv = conv_of((Role.USER, "q"), (Role.ASSISTANT, "a"))
    dropped = conv.drop_last_answer()
    assert dropped is not None and dropped.content == "a" and contents(conv) == ["q"]
    assert conv.drop_last_answer() is None and contents(conv) == ["q"]
    assert Conversation().drop_last_answer() is None


# ---- to_api ---------------------------------------------------------------------------------------
def test_to_api_puts_system_first_when_it_has_text() -> None:
    conv = conv_of((Role.USER, "q"), (Role.ASSISTANT, "a"), system="Be brief.")
    assert conv.to_api() == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "q"},
                             {"role": "assistant", "content": "a"}]


@pytest.mark.parametrize("system", ["", "   ", "\n\t"])
def test_to_api_leaves_out_a_blank_system(system: str) -> None:
    assert conv_of((Role.USER, "q"), system=system).to_api() == [{"role": "user", "content": "q"}]


def test_to_api_sends_only_role_and_content() -> None:
    conv = conv_of((Role.USER, "q"))
    conv.messages[0].stats = {"model": "m"}
    conv.messages[0].stopped = True
    assert conv.to_api() == [{"role": "user", "content": "q"}]


# ---- to_dict / from_dict ----------------------------------------------------------------------------
def test_round_trip_through_json() -> None:
    conv = conv_of((Role.USER, "你好"), (Role.ASSISTANT, "partial"), system="sys")
    conv.messages[1].stats = {"model": "glm-4-flash", "usage": {"prompt_tokens": 3}}
    conv.messages[1].stopped = True
    data = json.loads(json.dumps(conv.to_dict(), ensure_ascii=False))
    assert data["messages"][0]["role"] == "user"
    back = Conversation.from_dict(data)
    assert back == conv
    assert back.messages[1].role is Role.ASSISTANT and back.messages[1].stopped is True


def test_from_dict_fills_missing_fields() -> None:
    back = Conversation.from_dict({"messages": [{"role": "user"}]})
    assert back.system == "" and back.messages[0].content == "" and back.messages[0].id
    assert back.messages[0].stats is None and back.messages[0].stopped is False
    assert Conversation.from_dict({}) == Conversation()


def test_message_from_dict_rejects_an_unknown_role() -> None:
    with pytest.raises(ValueError):
        Message.from_dict({"role": "tool", "content": "x"})


# ---- check_sendable ----------------------------------------------------------------------------------
def refused(messages: list[dict[str, str]]) -> PlaygroundError:
    with pytest.raises(PlaygroundError) as info:
        check_sendable(messages)
    assert info.value.kind is ErrorKind.VALIDATION
    return info.value


def test_a_normal_conversation_passes() -> None:
    check_sendable([{"role": "system", "content": "s"}, {"role": "user", "content": "q"}])
    check_sendable([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"},
                    {"role": "user", "content": "q2"}])


def test_nothing_to_send() -> None:
    assert refused([]).params["key"] == "validation.no_messages"


def test_empty_message_numbered_as_the_editor_shows_without_system() -> None:
    err = refused([{"role": "user", "content": "q"}, {"role": "assistant", "content": "  "},
                   {"role": "user", "content": "q2"}])
    assert err.params == {"key": "validation.empty_message", "position": 2, "role": "assistant"}


def test_empty_message_numbered_with_system_not_counted() -> None:
    err = refused([{"role": "system", "content": "s"}, {"role": "user", "content": "q"},
                   {"role": "assistant", "content": ""}, {"role": "user", "content": "q2"}])
    assert err.params["position"] == 2 and err.params["role"] == "assistant"
    first = refused([{"role": "system", "content": "s"}, {"role": "user", "content": "\n"}])
    assert first.params["position"] == 1 and first.params["role"] == "user"


def test_empty_content_of_none_is_refused_not_crashing() -> None:
    err = refused([{"role": "user", "content": None}])  # type: ignore[dict-item]
    assert err.params["key"] == "validation.empty_message" and err.params["position"] == 1


def test_only_system_is_glm_code_1214() -> None:
    err = refused([{"role": "system", "content": "You are helpful."}])
    assert err.code == "1214" and err.params["key"] == "validation.only_system"


def test_no_user_message() -> None:
    err = refused([{"role": "system", "content": "s"}, {"role": "assistant", "content": "a"}])
    assert err.params["key"] == "validation.no_user_message" and err.code is None


def test_last_message_not_user() -> None:
    err = refused([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}])
    assert err.params["key"] == "validation.last_not_user"


def test_conversation_to_api_checked() -> None:
    conv = conv_of(system="only a system prompt")
    assert refused(conv.to_api()).code == "1214"
    conv.add(Role.USER, "q")
    check_sendable(conv.to_api())
