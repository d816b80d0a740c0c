"""core/finetune import: messages JSONL, Alpaca, ShareGPT, CSV (UTF-8, BOM, GBK) and XLSX with a
column mapping; broken lines reported with the valid part usable; a file too big refused."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from openpyxl import Workbook

from core.error_text import explain
from core.errors import ErrorKind, PlaygroundError
from core.finetune import formats
from core.finetune.encoding import decode_bytes
from core.finetune.formats import MB, check_size, file_kind, import_json_bytes, import_json_text
from core.finetune.tables import TableMapping, read_csv, read_xlsx, suggest_mapping, table_import
from core.finetune.validation import validate_records


def jsonl(*records: Any) -> str:
    return "\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n"


def fix_text(err: PlaygroundError, lang: str = "en") -> str:
    return explain(err, lang).fix


def conversation(*pairs: tuple[str, str]) -> dict[str, Any]:
    return {"messages": [{"role": r, "content": c} for r, c in pairs]}


# ---- JSON formats ---------------------------------------------------------------------------------
def test_messages_jsonl_is_taken_as_written_mistakes_included() -> None:
    good = conversation(("system", "你是助手"), ("user", "你好"), ("assistant", "你好！"))
    flawed = {"messages": [{"role": "user", "content": "hi"}], "extra": 1}
    result = import_json_text(jsonl(good, flawed))
    assert result.format == "messages" and result.numbering == "line"
    assert [e.record for e in result.examples] == [good, flawed]
    assert result.lines == [1, 2] and result.problems == []


def test_broken_lines_are_reported_and_the_valid_part_is_imported() -> None:
    good = conversation(("user", "q"), ("assistant", "a"))
    text = jsonl(good) + '{"messages": [{"role": "user"\n' + "\n" + jsonl(good)[:-1] + "\nnot json at all\n"
    result = import_json_text(text)
    assert len(result.examples) == 2 and result.lines == [1, 4]
    assert [(p.line, p.code) for p in result.problems] == [(2, "invalid_json"), (5, "invalid_json")]


def test_alpaca_with_input_system_and_history() -> None:
    record = {"instruction": "翻译成英文", "input": "你好", "output": "Hello", "system": "你是翻译",
              "history": [["早上好", "Good morning"]]}
    plain = {"instruction": "1+1=?", "input": "", "output": "2"}
    result = import_json_text(jsonl(record, plain))
    assert result.format == "alpaca"
    assert result.examples[0].record == conversation(
        ("system", "你是翻译"), ("user", "早上好"), ("assistant", "Good morning"),
        ("user", "翻译成英文\n\n你好"), ("assistant", "Hello"))
    assert result.examples[1].record == conversation(("user", "1+1=?"), ("assistant", "2"))


def test_alpaca_as_a_json_array_counts_items() -> None:
    items = [{"instruction": "a", "output": "b"}, {"instruction": "c", "output": "d", "history": "oops"}]
    result = import_json_text(json.dumps(items, ensure_ascii=False, indent=2))
    assert result.numbering == "item" and result.lines == [1]
    found = [(p.line, p.code, p.values["field"]) for p in result.problems]
    assert found == [(2, "not_convertible", "history")]


def test_sharegpt_from_value_with_system_and_unknown_speaker() -> None:
    record = {"id": "x1", "system": "be brief",
              "conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"},
                                {"from": "observation", "value": "?"}]}
    result = import_json_text(jsonl(record))
    assert result.format == "sharegpt"
    assert result.examples[0].record == conversation(("system", "be brief"), ("user", "hi"),
                                                     ("assistant", "hello"), ("observation", "?"))
    # the speaker it does not know is kept, so the check names it
    assert "unknown_role" in [p.code for p in validate_records([result.examples[0].record]).problems]


def test_a_mixed_file_converts_each_record_by_its_own_keys() -> None:
    text = jsonl({"instruction": "q1", "output": "a1"}, {"instruction": "q2", "output": "a2"},
                 conversation(("user", "q3"), ("assistant", "a3")), {"title": "nothing we know"})
    result = import_json_text(text)
    assert result.format == "alpaca" and len(result.examples) == 3
    assert [(p.line, p.code) for p in result.problems] == [(4, "not_convertible")]


def test_empty_file_is_refused() -> None:
    with pytest.raises(PlaygroundError) as caught:
        import_json_text("\n\n")
    assert "empty" in fix_text(caught.value)


# ---- encodings ----------------------------------------------------------------------------------
def test_utf8_bom_and_utf16_are_converted_and_said_so() -> None:
    text = jsonl(conversation(("user", "你好"), ("assistant", "您好")))
    plain = import_json_bytes(text.encode("utf-8"))
    assert (plain.encoding, plain.converted) == ("UTF-8", False)
    bom = import_json_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert (bom.encoding, bom.converted) == ("UTF-8 with BOM", True)
    assert bom.examples[0].record == plain.examples[0].record
    utf16 = decode_bytes(text.encode("utf-16"))
    assert utf16.text == text and utf16.converted


def test_gbk_jsonl_is_converted() -> None:
    answer = "北京是中国的首都，有三千多年历史。"
    text = jsonl(conversation(("user", "请介绍一下北京"), ("assistant", answer)))
    result = import_json_bytes(text.encode("gbk"))
    assert result.converted and "GB18030" in result.encoding
    assert result.examples[0].record["messages"][1]["content"] == answer


def test_binary_file_is_refused() -> None:
    with pytest.raises(PlaygroundError) as caught:
        decode_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe")
    assert caught.value.params["key"] == "finetune.import.binary"


# ---- the size limit -------------------------------------------------------------------------------
def test_a_200_mb_file_is_refused_by_its_size_alone() -> None:
    with pytest.raises(PlaygroundError) as caught:
        check_size(200 * MB)  # the size is all the check needs: nothing of 200 MB is made
    err = caught.value
    assert err.kind is ErrorKind.VALIDATION
    assert fix_text(err).startswith("This file is 200.0 MB; the limit is 100 MB. Split it")
    assert "200.0 MB" in fix_text(err, "zh") and "拆" in fix_text(err, "zh")
    check_size(100 * MB)  # exactly at the limit is fine


def test_every_reader_checks_the_size_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(formats, "MAX_IMPORT_BYTES", 10)
    data = jsonl(conversation(("user", "q"), ("assistant", "a"))).encode()
    for read in (import_json_bytes, read_csv, read_xlsx):
        with pytest.raises(PlaygroundError) as caught:
            read(data)
        assert caught.value.params["key"] == "finetune.import.too_big"


@pytest.mark.parametrize(("name", "kind"), [("a.jsonl", "json"), ("B.JSON", "json"), ("q.csv", "csv"),
                                            ("q.tsv", "csv"), ("q.xlsx", "xlsx")])
def test_file_kinds(name: str, kind: str) -> None:
    assert file_kind(name) == kind


@pytest.mark.parametrize(("name", "key"), [("old.xls", "finetune.import.old_excel"),
                                           ("notes.docx", "finetune.import.unknown_type")])
def test_other_file_types_are_refused_with_what_to_do(name: str, key: str) -> None:
    with pytest.raises(PlaygroundError) as caught:
        file_kind(name)
    assert caught.value.params["key"] == key


# ---- CSV and XLSX -------------------------------------------------------------------------------
GBK_CSV = ("问题,回答,系统\n你们几点开门？,早上九点。,\n可以退货吗？,七天内可以。,你是售后客服\n,,\n"
           "怎么付款？,,\n")


def test_gbk_csv_from_excel_with_mapping_and_default_system() -> None:
    table = read_csv(GBK_CSV.encode("gbk"))
    assert table.converted and "GB18030" in table.encoding
    assert table.columns == ["问题", "回答", "系统"] and table.first_row == 2
    mapping = suggest_mapping(table.columns)
    assert (mapping.question, mapping.answer, mapping.system) == ("问题", "回答", "系统")
    mapping.default_system = "你是客服"
    result = table_import(table, mapping)
    assert result.numbering == "row" and result.lines == [2, 3, 5]  # row 4 is blank
    assert [e.record for e in result.examples] == [
        conversation(("system", "你是客服"), ("user", "你们几点开门？"), ("assistant", "早上九点。")),
        conversation(("system", "你是售后客服"), ("user", "可以退货吗？"), ("assistant", "七天内可以。")),
        conversation(("system", "你是客服"), ("user", "怎么付款？"), ("assistant", ""))]
    assert [(p.line, p.code, p.severity) for p in result.problems] == [(5, "half_row", "warning")]


def test_utf8_bom_csv_with_semicolons_and_quoted_newlines() -> None:
    text = 'prompt;response\n"line one\nline two";"ok; fine"\n'
    table = read_csv(b"\xef\xbb\xbf" + text.encode())
    result = table_import(table, suggest_mapping(table.columns))
    assert result.examples[0].record == conversation(("user", "line one\nline two"),
                                                     ("assistant", "ok; fine"))


def test_wrong_columns_get_a_clear_message() -> None:
    table = read_csv(b"name,city,age\nLi,Beijing,30\n")
    guess = suggest_mapping(table.columns)
    assert (guess.question, guess.answer) == (None, None)
    with pytest.raises(PlaygroundError) as caught:
        table_import(table, guess)
    assert fix_text(caught.value) == ("Choose which column holds the questions (the file's columns: "
                                      "name, city, age).")
    with pytest.raises(PlaygroundError) as caught:
        table_import(table, TableMapping("question", "answer"))
    assert fix_text(caught.value).startswith(
        "The file has no column “question”. Its columns are: name, city, age.")
    with pytest.raises(PlaygroundError) as caught:
        table_import(table, TableMapping("name", "name"))
    assert "both question and answer" in fix_text(caught.value)
    assert table_import(table, TableMapping("name", "city")).examples[0].record == conversation(
        ("user", "Li"), ("assistant", "Beijing"))


def test_one_column_csv_says_the_separator_was_not_recognised() -> None:
    with pytest.raises(PlaygroundError) as caught:
        read_csv(b"question|answer\nq|a\n")
    assert "separator" in fix_text(caught.value) and "question|answer" in fix_text(caught.value)


def test_two_unnamed_columns_are_question_then_answer() -> None:
    table = read_csv("今天天气,晴\n明天呢,多云\n".encode())
    mapping = suggest_mapping(table.columns)
    assert (mapping.question, mapping.answer) == ("今天天气", "晴")


def xlsx_bytes(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "问答"
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_xlsx_with_numbers_blank_rows_and_a_header_below_a_title_gap() -> None:
    data = xlsx_bytes([[None, None], ["Question", "Answer"], ["1+1 等于几？", 2], [None, None],
                       ["圆周率约等于？", 3.14]])
    table = read_xlsx(data)
    assert table.sheet == "问答" and table.columns == ["Question", "Answer"] and table.first_row == 3
    result = table_import(table, suggest_mapping(table.columns))
    assert [e.record for e in result.examples] == [
        conversation(("user", "1+1 等于几？"), ("assistant", "2")),
        conversation(("user", "圆周率约等于？"), ("assistant", "3.14"))]
    assert result.lines == [3, 5]


def test_damaged_xlsx_is_refused() -> None:
    with pytest.raises(PlaygroundError) as caught:
        read_xlsx(b"PK\x03\x04 not really a workbook")
    assert caught.value.params["key"] == "finetune.import.bad_xlsx"
