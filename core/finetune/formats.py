"""Import fine-tune data: the `messages` JSONL format, Alpaca and ShareGPT (JSONL or a JSON array),
detected from the records and converted to messages. CSV and XLSX are in core/finetune/tables.py.

Lines in the `messages` format are taken as they are, mistakes included, so the editor can fix
them; a line that is not JSON, or an Alpaca / ShareGPT record that cannot be converted, is left
out and reported with its line number. The valid part of a file is always usable.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from core.errors import ErrorKind, PlaygroundError
from core.finetune.dataset import Example
from core.finetune.encoding import DecodedText, decode_bytes
from core.finetune.validation import Problem

MB = 1024 * 1024
MAX_IMPORT_BYTES = 100 * MB  # the page's uploader takes the same limit
FORMATS: tuple[str, ...] = ("messages", "alpaca", "sharegpt", "table")
TABLE_EXTENSIONS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx"}
JSON_EXTENSIONS = {".jsonl", ".json", ".ndjson"}

# ShareGPT speaker names -> chat roles. Anything else is kept as written: validation names it.
SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                  "chatgpt": "assistant", "bing": "assistant", "bard": "assistant", "model": "assistant",
                  "system": "system"}


@dataclass
class ImportResult:
    """What an import produced: examples with the line each came from, and what was left out."""

    format: str  # one of FORMATS
    examples: list[Example] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)  # source line (or row / item) of each example
    problems: list[Problem] = field(default_factory=list)  # lines left out, with why
    encoding: str = "UTF-8"
    converted: bool = False  # the text was not plain UTF-8 and was converted
    numbering: str = "line"  # "line" (JSONL), "item" (a JSON array), "row" (a table)

    def add(self, example: Example, line: int) -> None:
        self.examples.append(example)
        self.lines.append(line)


def _refuse(key: str, **values: Any) -> PlaygroundError:
    return PlaygroundError(ErrorKind.VALIDATION, params={"key": key, **values})


def check_size(size: int, limit: int | None = None) -> None:
    """Refuse a file over the import limit, naming both sizes and what to do."""
    limit = MAX_IMPORT_BYTES if limit is None else limit
    if size > limit:
        raise _refuse("finetune.import.too_big", size=f"{size / MB:.1f}", limit=f"{limit / MB:g}")


def file_kind(filename: str) -> str:
    """'json' for JSONL / JSON, 'csv' or 'xlsx' for a table; refuse anything else."""
    suffix = PurePath(filename or "").suffix.lower()
    if suffix in JSON_EXTENSIONS:
        return "json"
    if suffix in TABLE_EXTENSIONS:
        return TABLE_EXTENSIONS[suffix]
    if suffix == ".xls":
        raise _refuse("finetune.import.old_excel")
    raise _refuse("finetune.import.unknown_type", name=PurePath(filename or "?").name)


def record_format(record: Any) -> str | None:
    """Which format one parsed record is in, from its keys; None when it is none of them."""
    if not isinstance(record, dict):
        return None
    if "messages" in record:
        return "messages"
    if "conversations" in record:
        return "sharegpt"
    if "instruction" in record or "output" in record:
        return "alpaca"
    return None


def alpaca_messages(record: dict[str, Any]) -> list[dict[str, Any]]:
    """An Alpaca record (instruction, input, output, system, history) as chat messages."""
    messages: list[dict[str, Any]] = []
    system = record.get("system")
    if isinstance(system, str) and system.strip():
        messages.append({"role": "system", "content": system})
    history = record.get("history") or []
    if not isinstance(history, list):
        raise ValueError("history")
    for pair in history:
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise ValueError("history")
        messages += [{"role": "user", "content": pair[0]}, {"role": "assistant", "content": pair[1]}]
    instruction, extra = record.get("instruction"), record.get("input")
    if isinstance(instruction, str) and isinstance(extra, str) and extra.strip():
        user: Any = f"{instruction}\n\n{extra}" if instruction.strip() else extra
    else:
        user = instruction if instruction is not None else ""
    messages.append({"role": "user", "content": user})
    messages.append({"role": "assistant", "content": record.get("output", "")})
    return messages


def sharegpt_messages(record: dict[str, Any]) -> list[dict[str, Any]]:
    """A ShareGPT record (`conversations` of `from` / `value`, optional `system`) as chat messages."""
    turns = record.get("conversations")
    if not isinstance(turns, list):
        raise ValueError("conversations")
    messages: list[dict[str, Any]] = []
    system = record.get("system")
    if isinstance(system, str) and system.strip():
        messages.append({"role": "system", "content": system})
    for turn in turns:
        if not isinstance(turn, dict):
            raise ValueError("conversations")
        speaker = turn.get("from", turn.get("role"))
        value = turn.get("value", turn.get("content"))
        role = SHAREGPT_ROLES.get(str(speaker).strip().lower(), speaker)
        messages.append({"role": role, "content": value})
    return messages


def _convert(record: Any, fmt: str) -> Any:
    """The record in the messages format; raises ValueError (the field at fault) when impossible."""
    kind = record_format(record)
    if kind == "messages" or (kind is None and fmt == "messages"):
        return record  # kept as written: validation says what is wrong with it
    if kind == "alpaca":
        return {"messages": alpaca_messages(record)}
    if kind == "sharegpt":
        return {"messages": sharegpt_messages(record)}
    raise ValueError("format")


def _parsed(text: str) -> tuple[list[tuple[int, Any]], list[Problem], str]:
    """(line, record) pairs and the lines that are not JSON; a whole-file JSON array counts by item."""
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            whole = json.loads(text)
        except ValueError:
            whole = None
        if isinstance(whole, list):
            return list(enumerate(whole, start=1)), [], "item"
    records: list[tuple[int, Any]] = []
    problems: list[Problem] = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append((line_no, json.loads(line)))
        except ValueError as err:
            detail = f"{err.msg}, column {err.colno}" if isinstance(err, json.JSONDecodeError) else str(err)
            problems.append(Problem(line_no, "invalid_json", values={"detail": detail}))
    return records, problems, "line"


def detect_format(records: Iterable[Any]) -> str:
    """The format most records are in ('messages' when none is recognised)."""
    counts = Counter(kind for kind in map(record_format, records) if kind)
    return counts.most_common(1)[0][0] if counts else "messages"


def import_json_text(text: str, encoding: str = "UTF-8", converted: bool = False) -> ImportResult:
    """Examples from JSONL (or a JSON array) text in the messages, Alpaca or ShareGPT format."""
    records, problems, numbering = _parsed(text)
    fmt = detect_format(record for _, record in records)
    result = ImportResult(fmt, problems=problems, encoding=encoding, converted=converted,
                          numbering=numbering)
    for line_no, record in records:
        try:
            result.add(Example(_convert(record, fmt)), line_no)
        except ValueError as err:
            result.problems.append(Problem(line_no, "not_convertible",
                                           values={"format": fmt, "field": str(err)}))
    result.problems.sort(key=lambda p: p.line)
    if not result.examples and not result.problems:
        raise _refuse("finetune.import.empty")
    return result


def import_json_bytes(data: bytes, limit: int | None = None) -> ImportResult:
    """Size check, encoding detection (converted and said so), then import_json_text."""
    check_size(len(data), limit)
    decoded: DecodedText = decode_bytes(data)
    return import_json_text(decoded.text, decoded.encoding, decoded.converted)
