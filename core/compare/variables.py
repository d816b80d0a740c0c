"""Prompt variables: `{{name}}` in the system prompt and messages, filled from a table of test cases.

A case is one row of the table: a value per variable. A case without a value for a variable its
prompt uses is flagged, never sent with the placeholder left in. The case x target grid of answers
is exported as CSV (UTF-8 with BOM, so spreadsheet programs read Chinese correctly).
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

VARIABLE = re.compile(r"\{\{\s*(\w+)\s*\}\}")  # \w is Unicode: Chinese names work too
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run these as formulas


def variable_names(texts: Iterable[str]) -> list[str]:
    """The variables the texts use, in the order they first appear, each once."""
    seen: dict[str, None] = {}
    for text in texts:
        for name in VARIABLE.findall(text or ""):
            seen.setdefault(name, None)
    return list(seen)


def names_in_messages(messages: Sequence[Mapping[str, Any]]) -> list[str]:
    return variable_names(str(m.get("content") or "") for m in messages)


def value_text(value: Any) -> str:
    """A table cell as text: empty for nothing (None, NaN from a data editor)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def fill(text: str, values: Mapping[str, Any]) -> str:
    """Every {{name}} with a value replaced; a name without one is left as it is."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        return value_text(values[name]) if name in values else match.group(0)

    return VARIABLE.sub(one, text or "")


def fill_messages(messages: Sequence[Mapping[str, Any]], values: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{**m, "content": fill(str(m.get("content") or ""), values)} for m in messages]


@dataclass(frozen=True)
class MissingValue:
    """Case `case` (1-based, as the table numbers it) has no value for `name`."""

    case: int
    name: str


def clean_cases(rows: Iterable[Mapping[str, Any]], names: Sequence[str]) -> list[dict[str, str]]:
    """The table's rows as text per variable; rows with nothing in any cell are left out."""
    out = []
    for row in rows:
        case = {name: value_text(row.get(name)) for name in names}
        if any(v.strip() for v in case.values()):
            out.append(case)
    return out


def missing_values(names: Sequence[str], cases: Sequence[Mapping[str, Any]]) -> list[MissingValue]:
    """Every (case, variable) whose cell is blank."""
    return [MissingValue(i, name) for i, case in enumerate(cases, 1) for name in names
            if not value_text(case.get(name)).strip()]


@dataclass(frozen=True)
class GridCell:
    """One case answered by one target."""

    case: int
    target: str
    model: str
    output: str
    outcome: str
    latency_s: float | None = None
    ttft_s: float | None = None
    completion_tokens: int | None = None
    cost: float | None = None
    currency: str | None = None
    error: str = ""


CSV_COLUMNS = ("case", "target", "model", "outcome", "output", "latency_s", "ttft_s",
               "completion_tokens", "cost", "currency", "error")


def safe_cell(value: Any) -> Any:
    """A cell a spreadsheet shows as text, never runs as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return "" if value is None else value


def grid_csv(cells: Sequence[GridCell], names: Sequence[str],
             cases: Sequence[Mapping[str, Any]]) -> bytes:
    """The grid as CSV: one row per case and target, with the case's variable values."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["case", *names, *CSV_COLUMNS[1:]])
    for cell in cells:
        values = cases[cell.case - 1] if 0 < cell.case <= len(cases) else {}
        row = [cell.case, *(value_text(values.get(n)) for n in names), cell.target, cell.model,
               cell.outcome, cell.output, _round(cell.latency_s), _round(cell.ttft_s),
               cell.completion_tokens, _round(cell.cost, 6), cell.currency, cell.error]
        writer.writerow([safe_cell(v) for v in row])
    return out.getvalue().encode("utf-8-sig")


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)
