"""core/finetune/dataset: datasets on disk (create, rename, duplicate, delete, Chinese names), written
atomically; the example edits of the editor and of the table view."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from components.finetune_table import apply_table_edits, table_rows
from core.errors import PlaygroundError
from core.finetune.dataset import DATASETS_DIR, Dataset, DatasetStore, Example


def conv(*pairs: tuple[str, str]) -> dict:
    return {"messages": [{"role": r, "content": c} for r, c in pairs]}


@pytest.fixture
def store(tmp_path: Path) -> DatasetStore:
    return DatasetStore(tmp_path)


def test_create_save_load_with_chinese_name_and_content(store: DatasetStore, tmp_path: Path) -> None:
    record = conv(("user", "你好"), ("assistant", "你好！有什么可以帮你？"))
    dataset = store.create("  客服 问答\n样本 ", [Example(record), Example(["not", "an", "object"])])
    assert dataset.name == "客服 问答 样本"  # one line, spaces tidied
    folder = tmp_path / DATASETS_DIR / dataset.id
    assert sorted(p.name for p in folder.iterdir()) == ["examples.jsonl", "meta.json"]
    raw = (folder / "examples.jsonl").read_text(encoding="utf-8")
    assert "你好" in raw and "\\u" not in raw  # Chinese kept readable
    loaded = store.load(dataset.id)
    assert loaded is not None and loaded.name == "客服 问答 样本"
    assert loaded.records() == [record, ["not", "an", "object"]]
    [info] = store.list_datasets()
    assert (info.id, info.name, info.count) == (dataset.id, "客服 问答 样本", 2)


def test_names_are_checked(store: DatasetStore) -> None:
    store.create("Support")
    for name, key in (("", "finetune.dataset.name_empty"), ("x" * 81, "finetune.dataset.name_too_long"),
                      ("support", "finetune.dataset.name_taken")):
        with pytest.raises(PlaygroundError) as caught:
            store.create(name)
        assert caught.value.params["key"] == key
    assert [d.name for d in store.list_datasets()] == ["Support"]


def test_rename_duplicate_delete(store: DatasetStore) -> None:
    first = store.create("销售话术", [Example(conv(("user", "q"), ("assistant", "a")))])
    first.settings["epochs"] = 5
    store.save(first)
    renamed = store.rename(first.id, "销售话术 v2")
    assert store.load(first.id).name == "销售话术 v2" and renamed.id == first.id  # type: ignore[union-attr]
    copy = store.duplicate(first.id, store.copy_name("销售话术 v2", "（副本）"))
    assert copy.name == "销售话术 v2 （副本）" and copy.id != first.id
    assert store.load(copy.id).records() == store.load(first.id).records()  # type: ignore[union-attr]
    assert store.load(copy.id).settings == {"epochs": 5}  # type: ignore[union-attr]
    assert store.copy_name("销售话术 v2", "（副本）") == "销售话术 v2 （副本） 2"
    with pytest.raises(PlaygroundError):
        store.rename(copy.id, "销售话术 V2")  # taken, whatever the case
    store.delete(first.id)
    assert [d.id for d in store.list_datasets()] == [copy.id]
    assert store.load(first.id) is None


def test_a_failed_write_leaves_the_saved_file_whole(store: DatasetStore, monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    dataset = store.create("atomic", [Example(conv(("user", "q"), ("assistant", "a")))])
    before = (tmp_path / DATASETS_DIR / dataset.id / "examples.jsonl").read_bytes()
    dataset.examples.append(Example(conv(("user", "q2"), ("assistant", "a2"))))

    def refuse(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError):
        store.save(dataset)
    monkeypatch.undo()
    folder = tmp_path / DATASETS_DIR / dataset.id
    assert (folder / "examples.jsonl").read_bytes() == before
    assert not list(folder.glob(".*.tmp"))  # no half-written leftovers
    store.save(dataset)
    assert len(store.load(dataset.id).examples) == 2  # type: ignore[union-attr]


def test_unreadable_or_foreign_folders_are_skipped(store: DatasetStore, tmp_path: Path) -> None:
    good = store.create("good")
    bad = store.create("bad")
    (tmp_path / DATASETS_DIR / bad.id / "meta.json").write_text("{broken", encoding="utf-8")
    (tmp_path / DATASETS_DIR / "not-an-id").mkdir()
    assert [d.id for d in store.list_datasets()] == [good.id]
    assert store.load(bad.id) is None and store.load("../../etc") is None
    with pytest.raises(ValueError):
        store.save(Dataset(name="x", id="../escape"))


def test_message_edits_of_the_editor() -> None:
    example = Example.single_turn("q", "a", system="s")
    example.add_message(example.next_role(), "more?")
    assert example.next_role() == "assistant"
    example.move_message(3, -1)
    example.set_message(0, content="system text")
    example.set_message(1, role="assistant")
    example.delete_message(2)
    assert example.record == conv(("system", "system text"), ("assistant", "q"), ("assistant", "a"))
    example.move_message(0, -1)  # at the top: nothing happens
    assert example.messages[0]["role"] == "system"  # type: ignore[index]
    with pytest.raises(ValueError):
        Example("raw").add_message("user")


def test_single_turn_parts_and_unknown_keys() -> None:
    assert Example.single_turn("q", "a", "s").single_turn_parts() == ("s", "q", "a")
    assert Example.single_turn("q", "a").single_turn_parts() == ("", "q", "a")
    multi = Example(conv(("user", "q"), ("assistant", "a"), ("user", "q2"), ("assistant", "a2")))
    assert multi.single_turn_parts() is None
    extra = Example({"messages": [{"role": "user", "content": "q", "name": "li"},
                                  {"role": "assistant", "content": "a"}], "id": 3})
    assert extra.single_turn_parts() is None
    assert extra.strip_unknown_keys() is True
    assert extra.record == conv(("user", "q"), ("assistant", "a"))
    assert extra.strip_unknown_keys() is False


def test_table_view_edits_map_to_examples_by_id() -> None:
    multi = Example(conv(("user", "q"), ("assistant", "a"), ("user", "q2"), ("assistant", "a2")))
    dataset = Dataset("t", [Example.single_turn("苹果多少钱", "五元", "你是店员"), multi,
                            Example.single_turn("香蕉呢", "三元"), Example.single_turn("橙子", "四元")])
    ids, rows = table_rows(dataset, "元")  # a search: the multi-turn one is never in the table
    assert [r["line"] for r in rows] == [1, 3, 4]
    ids, rows = table_rows(dataset, "香蕉")
    assert rows == [{"line": 3, "system": "", "user": "香蕉呢", "assistant": "三元"}]
    ids, rows = table_rows(dataset)
    edits = {"edited_rows": {"1": {"assistant": "三块五"}, "0": {"system": None}},
             "deleted_rows": [2], "added_rows": [{"user": "葡萄", "assistant": "十元"}]}
    assert apply_table_edits(dataset, ids, edits, default_system="默认")
    assert dataset.records() == [conv(("user", "苹果多少钱"), ("assistant", "五元")), multi.record,
                                 conv(("user", "香蕉呢"), ("assistant", "三块五")),
                                 conv(("system", "默认"), ("user", "葡萄"), ("assistant", "十元"))]
    assert apply_table_edits(dataset, ids, None) is False


def test_to_line_is_one_json_line() -> None:
    line = Example(conv(("user", "多行\n文本"), ("assistant", "ok"))).to_line()
    assert "\n" not in line and json.loads(line)["messages"][0]["content"] == "多行\n文本"
