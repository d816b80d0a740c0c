"""Import question / answer pairs from a spreadsheet: CSV (any encoding core/finetune/encoding.py
reads) or XLSX, with a column mapping (question, answer, optional system) and a default system
prompt for rows that have none."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from core.errors import ErrorKind, PlaygroundError
from core.finetune.dataset import Example
from core.finetune.encoding import decode_bytes
from core.finetune.formats import ImportResult, check_size
from core.finetune.validation import WARNING, Problem

# Header names people use, lower-cased, for a first guess of the mapping.
QUESTION_NAMES = ("question", "questions", "q", "prompt", "query", "input", "instruction", "user",
                  "问题", "提问", "问", "用户", "输入", "指令")
ANSWER_NAMES = ("answer", "answers", "a", "response", "reply", "output", "completion", "assistant",
                "回答", "答案", "答", "回复", "助手", "输出")
SYSTEM_NAMES = ("system", "system prompt", "system_prompt", "系统", "系统提示", "系统提示词", "人设")


@dataclass
class Table:
    """A sheet's header and rows as text; `first_row` is the file row of rows[0] (2 after a header)."""

    columns: list[str]
    rows: list[list[str]]
    first_row: int = 2
    encoding: str = "UTF-8"
    converted: bool = False
    sheet: str | None = None


@dataclass
class TableMapping:
    """Which column is the question, the answer and (optionally) the system prompt."""

    question: str | None = None
    answer: str | None = None
    system: str | None = None
    default_system: str = ""


def _refuse(key: str, **values: Any) -> PlaygroundError:
    return PlaygroundError(ErrorKind.VALIDATION, params={"key": key, **values})


def _cell(value: Any) -> str:
    """A cell as text: whole numbers without '.0', empty for nothing."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _columns(header: list[Any]) -> list[str]:
    """Header names, unique and never empty (an unnamed column is 'column 3')."""
    names: list[str] = []
    for i, value in enumerate(header, start=1):
        name = _cell(value).strip() or f"column {i}"
        while name in names:
            name = f"{name} ({i})"
        names.append(name)
    return names


def _table(rows: list[list[Any]], **extra: Any) -> Table:
    """The first non-empty row is the header; blank rows below it keep their numbers."""
    start = next((i for i, row in enumerate(rows) if any(_cell(v).strip() for v in row)), None)
    if start is None:
        raise _refuse("finetune.import.empty")
    columns = _columns(rows[start])
    if len(columns) < 2:
        raise _refuse("finetune.import.too_few_columns", count=len(columns), columns=", ".join(columns))
    body = [[_cell(v) for v in row] + [""] * (len(columns) - len(row)) for row in rows[start + 1:]]
    return Table(columns, body, first_row=start + 2, **extra)


def read_csv(data: bytes, limit: int | None = None) -> Table:
    """A CSV (comma, tab or semicolon separated) in any encoding we can read; the first row is the header."""
    check_size(len(data), limit)
    decoded = decode_bytes(data)
    text = decoded.text
    try:
        dialect: Any = csv.Sniffer().sniff(text[:20_000], delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    csv.field_size_limit(max(csv.field_size_limit(), 64 * 1024 * 1024))  # one long answer is fine
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    rows = list(reader)
    return _table(rows, encoding=decoded.encoding, converted=decoded.converted)


def read_xlsx(data: bytes, limit: int | None = None) -> Table:
    """The first sheet of an Excel workbook; the first non-empty row is the header."""
    check_size(len(data), limit)
    from openpyxl import load_workbook  # only when a workbook is imported

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as err:  # a zip that is not a workbook, a damaged file, a password
        raise _refuse("finetune.import.bad_xlsx", detail=type(err).__name__) from err
    try:
        sheet = book.worksheets[0]
        rows = [list(row) for row in sheet.iter_rows(values_only=True)]
        title = sheet.title
    finally:
        book.close()
    return _table(rows, sheet=title)


def suggest_mapping(columns: list[str]) -> TableMapping:
    """A first guess from the header names; columns it cannot tell stay None for the user to pick."""
    lowered = {c.strip().lower(): c for c in columns}

    def find(names: tuple[str, ...]) -> str | None:
        return next((lowered[n] for n in names if n in lowered), None)

    question, answer = find(QUESTION_NAMES), find(ANSWER_NAMES)
    if question is None and answer is None and len(columns) == 2:
        question, answer = columns  # two unnamed columns: question then answer
    return TableMapping(question, answer, find(SYSTEM_NAMES))


def check_mapping(table: Table, mapping: TableMapping) -> None:
    """Refuse a mapping that names no column, a missing column, or the same column twice."""
    shown = ", ".join(table.columns)
    for role in ("question", "answer"):
        column = getattr(mapping, role)
        if not column:
            raise _refuse(f"finetune.import.choose_{role}", columns=shown)
    for column in (mapping.question, mapping.answer, mapping.system):
        if column and column not in table.columns:
            raise _refuse("finetune.import.no_column", column=column, columns=shown)
    if mapping.question == mapping.answer:
        raise _refuse("finetune.import.same_column", column=mapping.question)


def table_import(table: Table, mapping: TableMapping) -> ImportResult:
    """One single-turn example per row; a row with neither question nor answer is skipped."""
    check_mapping(table, mapping)
    q = table.columns.index(mapping.question)  # type: ignore[arg-type]
    a = table.columns.index(mapping.answer)  # type: ignore[arg-type]
    s = table.columns.index(mapping.system) if mapping.system else None
    result = ImportResult("table", encoding=table.encoding, converted=table.converted, numbering="row")
    for row_no, row in enumerate(table.rows, start=table.first_row):
        question, answer = row[q].strip(), row[a].strip()
        if not question and not answer:
            continue
        system = (row[s].strip() if s is not None else "") or mapping.default_system.strip()
        if not question or not answer:
            result.problems.append(Problem(row_no, "half_row", WARNING,
                                           values={"missing": mapping.question if not question
                                                   else mapping.answer}))
        result.add(Example.single_turn(question, answer, system), row_no)
    if not result.examples:
        raise _refuse("finetune.import.no_rows")
    return result
