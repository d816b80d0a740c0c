"""AppTest of the fine-tune page: datasets, import (JSONL with broken lines, GBK CSV with a mapping,
XLSX), the check table and its jump to the example, the editor, export downloads, and training
against the fake server, whose finished model then shows in the chat page's model list."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from streamlit.testing.v1 import AppTest

from core.finetune import formats
from core.finetune.dataset import Dataset, DatasetStore, Example
from core.finetune.jobs import JobStore
from core.finetune.model_registry import model_ids
from tests.apptest_helpers import assert_ok, en, start
from tests.fake_llm import FakeLLMServer
from tests.fake_llm.finetune_api import state
from tests.usage_page_helpers import downloaded, record_downloads

PAGE = "app_pages/finetune.py"
SECTION = "widget.ft.section"


def conv(*pairs: tuple[str, str]) -> dict[str, Any]:
    return {"messages": [{"role": r, "content": c} for r, c in pairs]}


GOOD = [conv(("system", "你是客服"), ("user", f"问题{i}？"), ("assistant", f"回答{i}。"))
        for i in range(1, 4)]


def data_dir() -> Path:
    return Path(os.environ["PLAYGROUND_DATA_DIR"])


def store() -> DatasetStore:
    return DatasetStore(data_dir())


def only_dataset() -> Dataset:
    [info] = store().list_datasets()
    found = store().load(info.id)
    assert found is not None
    return found


def page(locale: str = "en-US") -> AppTest:
    at = start(locale)
    at.switch_page(PAGE).run()
    assert_ok(at)
    return at


def section(at: AppTest, name: str) -> AppTest:
    at.segmented_control(key=SECTION).set_value(name).run()
    assert_ok(at)
    return at


def click(at: AppTest, key: str) -> AppTest:
    at.button(key=key).click().run()
    assert_ok(at)
    return at


def upload(at: AppTest, name: str, data: bytes, mime: str = "application/octet-stream") -> AppTest:
    at.file_uploader[0].set_value((name, data, mime)).run()
    assert_ok(at)
    return at


def texts(elements: Any) -> list[str]:
    return [e.value for e in elements]


def seeded(records: list[Any], name: str = "客服问答") -> Dataset:
    return store().create(name, [Example(json.loads(json.dumps(r))) for r in records])


# ---- datasets -------------------------------------------------------------------------------------
def test_first_visit_offers_to_create_and_manages_datasets() -> None:
    at = page()
    assert at.title[0].value == en("finetune.title")
    assert texts(at.info) == [en("finetune.dataset.none")]
    at.text_input(key="widget.ft.new_name").set_value("销售 话术").run()
    click(at, "ft.create")
    assert texts(at.success) == [en("finetune.dataset.created", name="销售 话术")]
    assert only_dataset().name == "销售 话术"
    at.text_input(key="widget.ft.rename").set_value("销售话术 v2").run()
    click(at, "ft.rename")
    assert only_dataset().name == "销售话术 v2"
    click(at, "ft.duplicate")
    assert sorted(d.name for d in store().list_datasets()) == ["销售话术 v2", "销售话术 v2 (copy)"]
    click(at, "ft.delete")  # the copy is open: it goes
    assert [d.name for d in store().list_datasets()] == ["销售话术 v2"]
    at.text_input(key="widget.ft.new_name").set_value("销售话术 V2").run()
    click(at, "ft.create")
    assert texts(at.error) == [en("finetune.dataset.not_created",
                                  reason=en("finetune.dataset.name_taken", name="销售话术 V2"))]


def test_the_page_speaks_chinese() -> None:
    seeded(GOOD)
    at = page("zh-CN")
    assert at.title[0].value == "微调数据"
    section(at, "check")
    assert texts(at.success) == ["所有样本都有效。"]


# ---- import, check, jump, fix, export -----------------------------------------------------------
def test_jsonl_with_broken_lines_imports_the_valid_part_then_check_fix_and_export(
        monkeypatch: pytest.MonkeyPatch) -> None:
    no_answer = conv(("user", "没有回答的问题"))
    lines = [json.dumps(r, ensure_ascii=False) for r in [*GOOD, no_answer, GOOD[0]]]
    lines.insert(2, '{"messages": [ broken')
    at = page()
    upload(at, "客服.jsonl", "\n".join(lines).encode("utf-8"), "application/jsonl")
    assert en("finetune.import.found", count=5, format=en("finetune.format.messages")) in texts(at.markdown)
    assert texts(at.warning) == [en("finetune.import.left_out", count=1)]
    problems = at.dataframe[0].value
    assert list(problems["where"]) == ["Line 3"] and "not valid JSON" in problems["problem"][0]
    click(at, "ft.import")
    assert texts(at.success) == [en("finetune.import.done", count=5, name="客服", left_out=1)]
    dataset = only_dataset()
    assert dataset.name == "客服" and dataset.records() == [*GOOD, no_answer, GOOD[0]]

    section(at, "check")
    shown = {m.label: m.value for m in at.metric}
    assert shown == {"Examples": "5", "Valid": "4", "With errors": "1", "Only warnings": "1"}
    table = at.dataframe[-1].value
    assert list(table["where"]) == ["Line 4", "Line 4, message 1", "Line 5"]
    assert table["problem"][2] == en("finetune.rule.duplicate", first=1)
    at.selectbox(key="widget.ft.jump").set_value(4).run()
    click(at, "ft.open_line")
    assert at.segmented_control(key=SECTION).value == "examples"
    assert [t for t in texts(at.markdown) if t.startswith("**Line")] == ["**Line 4**"]  # only that one
    ex_id = at.session_state["finetune.workspace"].dataset.examples[3].id  # the page's own ids
    click(at, f"ft.ex.{ex_id}.add")  # "Add assistant message"
    at.text_area(key=f"widget.ft.msg.{ex_id}.1.content").set_value("这是补上的回答。").run()
    assert_ok(at)
    assert only_dataset().records()[3] == conv(("user", "没有回答的问题"), ("assistant", "这是补上的回答。"))
    assert texts(at.caption).count(en("finetune.editor.valid")) == 1

    files = record_downloads(monkeypatch)
    at = page()  # a fresh session picks up the downloads recorder
    section(at, "export")
    shown = {m.label: m.value for m in at.metric}
    assert shown == {"Training examples": "4", "Validation examples": "1", "Left out (errors)": "0"}
    train = downloaded(at, "ft.download_train", files).decode("utf-8")
    validation = downloaded(at, "ft.download_validation", files).decode("utf-8")
    assert "回答1。" in train + validation and "\\u" not in train
    exported = [json.loads(x) for x in (train + validation).splitlines()]
    assert sorted(map(json.dumps, exported)) == sorted(map(json.dumps, only_dataset().records()))
    at.slider(key="widget.ft.ratio").set_value(0).run()
    assert_ok(at)
    assert only_dataset().settings["validation_ratio"] == 0
    assert [b.key for b in at.download_button] == ["ft.download_train"]


def test_gbk_csv_with_unknown_headers_goes_through_the_mapping_step() -> None:
    seeded(GOOD[:1])
    csv = "编号,客户的话,标准回复\n1,营业时间？,每天九点到六点。\n2,能开发票吗？,可以，请提供抬头。\n"
    at = page()
    section(at, "import")
    upload(at, "faq.csv", csv.encode("gbk"), "text/csv")
    assert texts(at.info)[0] == en("finetune.import.converted", encoding="GB18030 (GBK)")
    assert texts(at.error) == [en("finetune.import.choose_question", columns="编号, 客户的话, 标准回复")]
    at.selectbox(key="widget.ft.map.question").set_value("客户的话").run()
    at.selectbox(key="widget.ft.map.answer").set_value("标准回复").run()
    at.text_area(key="widget.ft.default_system").set_value("你是前台").run()
    assert_ok(at)
    assert not at.error
    click(at, "ft.import")
    assert only_dataset().records()[1:] == [
        conv(("system", "你是前台"), ("user", "营业时间？"), ("assistant", "每天九点到六点。")),
        conv(("system", "你是前台"), ("user", "能开发票吗？"), ("assistant", "可以，请提供抬头。"))]


def test_xlsx_import_into_a_new_dataset() -> None:
    seeded(GOOD[:1], "old")
    book = Workbook()
    book.active.append(["question", "answer", "system"])
    book.active.append(["1+1?", 2, "math tutor"])
    out = io.BytesIO()
    book.save(out)
    at = page()
    section(at, "import")
    upload(at, "math.xlsx", out.getvalue())
    at.radio(key="widget.ft.import_target").set_value("new").run()
    assert at.text_input(key="widget.ft.import_name").value == "math"
    click(at, "ft.import")
    new = next(d for d in store().list_datasets() if d.name == "math")
    assert store().load(new.id).records() == [  # type: ignore[union-attr]
        conv(("system", "math tutor"), ("user", "1+1?"), ("assistant", "2"))]
    assert len(store().load(next(d.id for d in store().list_datasets() if d.name == "old")).examples) == 1


def test_a_file_over_the_limit_is_refused_and_nothing_is_lost(monkeypatch: pytest.MonkeyPatch) -> None:
    seeded(GOOD)
    monkeypatch.setattr(formats, "MAX_IMPORT_BYTES", 100)  # as if the file were 200 MB
    at = page()
    section(at, "import")
    upload(at, "big.jsonl", b"x" * 200)
    assert texts(at.error) == [en("finetune.import.too_big", size="0.0", limit=f"{100 / formats.MB:g}")]
    assert not [b for b in at.button if b.key == "ft.import"]
    assert only_dataset().records() == GOOD


def test_table_view_edits_single_turn_examples() -> None:
    seeded([*GOOD, conv(("user", "a"), ("assistant", "b"), ("user", "c"), ("assistant", "d"))])
    at = page()
    at.radio(key="widget.ft.view").set_value("table").run()
    assert_ok(at)
    assert en("finetune.table.others", count=1) in texts(at.caption)
    editor = at.data_editor[0]
    assert list(editor.value["user"]) == ["问题1？", "问题2？", "问题3？"]
    at.session_state[editor.key] = {"edited_rows": {1: {"assistant": "改过的回答"}}, "deleted_rows": [0],
                                    "added_rows": [{"user": "新问题", "assistant": "新回答"}]}
    at.run()
    assert_ok(at)
    records = only_dataset().records()
    assert records[0] == conv(("system", "你是客服"), ("user", "问题2？"), ("assistant", "改过的回答"))
    assert records[-1] == conv(("user", "新问题"), ("assistant", "新回答"))
    assert len(records) == 4
    at.text_input(key="widget.ft.table_search").set_value("新问").run()
    assert list(at.data_editor[0].value["line"]) == [4]


def test_statistics_and_a_training_price_typed_when_unknown() -> None:
    seeded(GOOD)
    at = page()
    section(at, "stats")
    shown = {m.label: m.value for m in at.metric}
    assert shown["Examples"] == "3" and shown["Without a system message"] == "0"
    assert len(at.get("plotly_chart")) == 3
    assert texts(at.warning) == [en("finetune.cost.unknown", model="glm-4-flash")]
    assert shown["Estimated cost"] == "—"
    at.number_input(key="widget.ft.price").set_value(5.0).run()
    click(at, "ft.save_price")
    shown = {m.label: m.value for m in at.metric}
    tokens = int(shown["Training tokens"].replace(",", ""))
    assert tokens == 3 * 3 * (8 + 8 + 8)  # 3 examples x 3 epochs x 3 messages of 4 characters + 4
    assert shown["Estimated cost"] == "¥0.0011"  # 216 tokens x 5 CNY / 1M
    assert en("finetune.cost.saved", model="glm-4-flash", price="¥5.00") in texts(at.success)


# ---- training ---------------------------------------------------------------------------------------
@pytest.fixture
def ft(zhipu_env: FakeLLMServer) -> Iterator[FakeLLMServer]:
    state(zhipu_env).reset()
    yield zhipu_env
    state(zhipu_env).reset()


def test_train_flow_until_the_model_is_in_the_chat_model_list(ft: FakeLLMServer) -> None:
    dataset = seeded([*GOOD, conv(("user", "坏样本"))])
    at = page()
    section(at, "train")
    assert en("finetune.train.summary", train=2, validation=1, left_out=1) in texts(at.caption)  # 10 %
    at.slider(key="widget.ft.ratio").set_value(0).run()
    assert en("finetune.train.summary", train=3, validation=0, left_out=1) in texts(at.caption)
    at.text_input(key="widget.ft.suffix").set_value("cs").run()
    at.number_input(key="widget.ft.train_epochs").set_value(2).run()
    click(at, "ft.train_start")
    [record] = JobStore(data_dir()).load()
    assert texts(at.success)[0] == en("finetune.train.started", job=record.job_id, count=3)
    assert (record.dataset_id, record.suffix, record.hyperparameters["n_epochs"]) == (dataset.id, "cs", 2)
    sent = state(ft).files[record.training_file]["content"].decode("utf-8").splitlines()
    assert [json.loads(x) for x in sent] == GOOD  # the invalid example was not uploaded
    statuses = []
    while not model_ids(data_dir()) and len(statuses) < 5:  # the fake job moves on at each look
        click(at, "ft.job_refresh")
        statuses.append(JobStore(data_dir()).get(record.job_id).status)  # type: ignore[union-attr]
    assert statuses[-1] == "succeeded" and "running" in statuses
    model = f"glm-4-flash-ft-cs-{record.job_id.split('-')[-1]}"
    assert model_ids(data_dir()) == [model]
    assert any(en("finetune.train.model_ready", model=model) == s for s in texts(at.success))
    assert not [b for b in at.button if b.key == "ft.job_cancel"]  # finished: nothing to cancel
    at.switch_page("app_pages/chat.py").run()
    assert_ok(at)
    picker = at.sidebar.selectbox(key="widget.model.zhipu/zhipu")
    assert f"{model} — {en('finetune.model_note')}" in picker.options
    picker.set_value(model).run()
    assert_ok(at)
    assert model in at.caption[0].value  # the chat's subtitle names the chosen model


def test_cancel_and_a_provider_error_on_start(ft: FakeLLMServer) -> None:
    seeded(GOOD)
    at = page()
    section(at, "train")
    ft.queue("balance_1113")
    click(at, "ft.train_start")
    assert any("1113" in e for e in texts(at.error))
    assert JobStore(data_dir()).load() == []
    click(at, "ft.train_start")
    [record] = JobStore(data_dir()).load()
    click(at, "ft.job_cancel")
    assert en("finetune.train.cancelled", job=record.job_id) in texts(at.info)
    assert JobStore(data_dir()).get(record.job_id).status == "cancelled"  # type: ignore[union-attr]


def test_train_without_a_key_says_how_to_add_one(llm: FakeLLMServer) -> None:
    seeded(GOOD)
    at = page()
    section(at, "train")
    assert texts(at.info) == [en("finetune.train.no_key", envs="ZHIPUAI_API_KEY")]
    assert not [b for b in at.button if b.key == "ft.train_start"]
    assert llm.requests == []


# ---- the chat page's "Add to dataset" -----------------------------------------------------------
def test_add_the_chat_conversation_to_a_new_dataset(zhipu_env: FakeLLMServer) -> None:
    at = start()
    at.text_area(key="widget.system").set_value("你是导游").run()
    at.chat_input(key="chat.input").set_value("介绍一下长城").run()
    assert_ok(at)
    at.selectbox(key="widget.chat.ft_dataset").set_value("__new__").run()
    at.text_input(key="widget.chat.ft_name").set_value("导游对话").run()
    click(at, "chat.ft_add")
    dataset = only_dataset()
    [record] = dataset.records()
    assert dataset.name == "导游对话"
    assert [(m["role"], m["content"][:6]) for m in record["messages"]][:2] == [("system", "你是导游"),
                                                                               ("user", "介绍一下长城")]
    assert record["messages"][-1]["role"] == "assistant" and record["messages"][-1]["content"]
    assert [t.value for t in at.toast] == [en("finetune.chat.added", name="导游对话", line=1)]
    click(at, "chat.ft_add")  # the same dataset is now chosen: a second line
    assert len(only_dataset().examples) == 2
