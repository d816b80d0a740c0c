"""Saved conversations: the list on disk (newest first, titles, rename, delete) and in the sidebar."""

from __future__ import annotations

import os
import time
from pathlib import Path

from core.config import Settings
from core.conversation_store import ConversationStore, new_conversation_id
from core.messages import Conversation, Role
from core.saved_conversations import SavedConversations, auto_title
from tests.apptest_helpers import assert_ok, click, send, start, stored
from tests.fake_llm import FakeLLMServer


def _conv(first: str, system: str = "") -> Conversation:
    conv = Conversation(system=system)
    if first:
        conv.add(Role.USER, first)
    return conv


def _save(root: Path, conv: Conversation, age_s: float = 0) -> str:
    cid = new_conversation_id()
    ConversationStore(root).save(cid, conv)
    stamp = time.time() - age_s
    os.utime(root / "conversations" / f"{cid}.json", (stamp, stamp))
    return cid


def test_newest_first_with_titles_from_the_first_message(tmp_path: Path) -> None:
    old = _save(tmp_path, _conv("What is GLM-4?"), age_s=100)
    new = _save(tmp_path, _conv("退货政策是什么？\nsecond line"), age_s=10)
    system_only = _save(tmp_path, _conv("", system="You are a poet."), age_s=50)
    _save(tmp_path, _conv(""), age_s=5)  # nothing in it: not listed
    items = SavedConversations(tmp_path).newest()
    assert [(i.id, i.title) for i in items] == [(new, "退货政策是什么？"), (system_only, "You are a poet."),
                                               (old, "What is GLM-4?")]
    assert SavedConversations(tmp_path).newest(limit=1)[0].id == new


def test_auto_title_is_shortened() -> None:
    assert auto_title("", "x" * 100) == "x" * 39 + "…"
    assert auto_title("  \n", "  ") == ""


def test_rename_survives_a_new_save_and_delete_forgets_the_title(tmp_path: Path) -> None:
    saved = SavedConversations(tmp_path)
    cid = _save(tmp_path, _conv("hello"))
    saved.rename(cid, "  My   demo  ")
    ConversationStore(tmp_path).save(cid, _conv("hello again"))  # the chat's autosave
    (item,) = saved.newest()
    assert (item.title, item.renamed) == ("My demo", True)
    saved.rename(cid, "")
    assert saved.newest()[0].title == "hello again"
    saved.rename(cid, "x")
    saved.delete(cid)
    assert saved.newest() == [] and saved.titles() == {}
    assert not list((tmp_path / "conversations").glob("*.tmp"))


def test_a_damaged_titles_file_is_ignored(tmp_path: Path) -> None:
    cid = _save(tmp_path, _conv("hi"))
    (tmp_path / "conversations" / "titles.json").write_text("[broken", encoding="utf-8")
    assert SavedConversations(tmp_path).newest()[0].title == "hi"
    SavedConversations(tmp_path).rename(cid, "fixed")
    assert SavedConversations(tmp_path).newest()[0].title == "fixed"


def test_sidebar_lists_opens_renames_and_deletes(zhipu_env: FakeLLMServer) -> None:
    at = start()
    send(at, "first conversation")
    first_id = at.session_state["chat.conversation_id"]
    assert at.button(key=f"saved.open.{first_id}").disabled  # the open one
    click(at, "saved.new")
    assert stored(at) == []
    send(at, "second one")
    second_id = at.session_state["chat.conversation_id"]
    assert second_id != first_id
    at.switch_page("app_pages/usage.py").run()
    click(at, f"saved.open.{first_id}")  # from another page (the browser test sees the switch)
    assert_ok(at)
    assert at.session_state["chat.conversation_id"] == first_id
    at.switch_page("app_pages/chat.py").run()
    assert stored(at)[0] == ("user", "first conversation")
    assert at.query_params["c"] in (first_id, [first_id])
    at.sidebar.text_input(key=f"saved.title.{second_id}").set_value("Second, renamed").run()
    click(at, f"saved.rename.{second_id}")
    assert at.button(key=f"saved.open.{second_id}").label == "Second, renamed"
    click(at, f"saved.delete.{first_id}")  # the open one: an empty conversation takes its place
    assert stored(at) == []
    items = SavedConversations(Settings.load().data_dir).newest()
    assert [i.id for i in items] == [second_id]


def test_a_refreshed_browser_finds_its_conversation_in_the_list(zhipu_env: FakeLLMServer) -> None:
    at = start()
    send(at, "keep me")
    cid = at.session_state["chat.conversation_id"]
    fresh = start()  # a new session, as after a refresh without the URL
    assert fresh.button(key=f"saved.open.{cid}").label == "keep me"
    click(fresh, f"saved.open.{cid}")
    assert stored(fresh)[:1] == [("user", "keep me")]


def test_each_signed_in_user_lists_only_their_own(tmp_path: Path) -> None:
    ConversationStore(tmp_path, owner="alice").save(new_conversation_id(), _conv("alice's question"))
    ConversationStore(tmp_path, owner="bob").save(new_conversation_id(), _conv("bob's question"))
    _save(tmp_path, _conv("before sign-in existed"))
    assert [i.title for i in SavedConversations(tmp_path, owner="alice").newest()] == ["alice's question"]
    assert [i.title for i in SavedConversations(tmp_path, owner="bob").newest()] == ["bob's question"]
    assert [i.title for i in SavedConversations(tmp_path).newest()] == ["before sign-in existed"]
