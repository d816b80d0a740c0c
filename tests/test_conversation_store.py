"""The open conversation survives a refresh: saved atomically, ids checked, bad files ignored."""

from __future__ import annotations

from pathlib import Path

from core.conversation_store import ConversationStore, new_conversation_id, valid_id
from core.messages import Conversation, Role


def _conversation() -> Conversation:
    conv = Conversation(system="你是旅行社的助手。")
    conv.add(Role.USER, "杭州三日游怎么安排？")
    answer = conv.add(Role.ASSISTANT, "第一天：西湖……")
    answer.stats = {"model": "glm-4-flash", "ttft_s": 0.4}
    answer.stopped = True
    return conv


def test_round_trip_keeps_text_roles_stats_and_stopped_mark(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path)
    cid = new_conversation_id()
    original = _conversation()
    assert store.save(cid, original)
    loaded = store.load(cid)
    assert loaded is not None
    assert loaded.to_dict() == original.to_dict()
    assert [m.role for m in loaded.messages] == [Role.USER, Role.ASSISTANT]
    assert loaded.system == "你是旅行社的助手。"
    assert loaded.messages[1].stats == {"model": "glm-4-flash", "ttft_s": 0.4}
    assert loaded.messages[1].stopped is True
    # Chinese stays readable on disk.
    assert "杭州" in (tmp_path / "conversations" / f"{cid}.json").read_text(encoding="utf-8")


def test_ids_from_urls_cannot_name_other_paths(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path)
    for bad in ("../../etc/passwd", "", None, "ABCDEF0123456789", "12", "a" * 64):
        assert not valid_id(bad)
        assert store.load(bad) is None
    assert valid_id(new_conversation_id())


def test_missing_or_corrupt_file_loads_as_none(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path)
    cid = new_conversation_id()
    assert store.load(cid) is None
    (tmp_path / "conversations").mkdir()
    (tmp_path / "conversations" / f"{cid}.json").write_text("{broken", encoding="utf-8")
    assert store.load(cid) is None


def test_save_replaces_and_delete_removes(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path)
    cid = new_conversation_id()
    conv = _conversation()
    store.save(cid, conv)
    conv.clear()
    store.save(cid, conv)
    loaded = store.load(cid)
    assert loaded is not None and loaded.messages == []
    assert not list((tmp_path / "conversations").glob("*.tmp"))
    store.delete(cid)
    assert store.load(cid) is None


def test_unwritable_directory_reports_false(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert ConversationStore(blocker).save(new_conversation_id(), _conversation()) is False
