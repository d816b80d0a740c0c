"""Export a dataset for training: only valid examples, split into train / validation by a ratio
and a seed (the same seed gives the same split), as UTF-8 JSONL with Chinese kept readable."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from core.errors import ErrorKind, PlaygroundError
from core.finetune.validation import Report

MAX_VALIDATION_RATIO = 0.5


@dataclass
class ExportResult:
    """The files' bytes and what went where. Lines are the dataset's 1-based line numbers."""

    train: bytes
    validation: bytes | None
    train_lines: list[int] = field(default_factory=list)
    validation_lines: list[int] = field(default_factory=list)
    left_out: list[int] = field(default_factory=list)  # examples with errors, not exported

    @property
    def train_count(self) -> int:
        return len(self.train_lines)

    @property
    def validation_count(self) -> int:
        return len(self.validation_lines)


def to_jsonl(records: Sequence[Any]) -> bytes:
    """One JSON object per line, UTF-8, non-ASCII written as itself (`ensure_ascii=False`)."""
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")


def split_lines(lines: Sequence[int], ratio: float, seed: int) -> tuple[list[int], list[int]]:
    """(train, validation): `ratio` of the lines drawn at random with `seed` for validation.

    Each part keeps the dataset's order. With a ratio above 0 and two or more lines, both parts
    get at least one line.
    """
    if not 0 <= ratio <= MAX_VALIDATION_RATIO:
        raise PlaygroundError(ErrorKind.VALIDATION, params={
            "key": "finetune.export.bad_ratio", "max": int(MAX_VALIDATION_RATIO * 100)})
    n = len(lines)
    size = 0 if ratio == 0 or n < 2 else min(n - 1, max(1, round(n * ratio)))
    chosen = set(random.Random(seed).sample(range(n), size))
    train = [line for i, line in enumerate(lines) if i not in chosen]
    validation = [line for i, line in enumerate(lines) if i in chosen]
    return train, validation


def export_dataset(records: Sequence[Any], report: Report, ratio: float = 0.0,
                   seed: int = 42) -> ExportResult:
    """The train (and, with a ratio, validation) JSONL of the records without errors.

    `report` is validate_records(records, ...) for the same records, numbered from line 1.
    """
    bad = report.error_lines
    valid = [line for line in range(1, len(records) + 1) if line not in bad]
    train, validation = split_lines(valid, ratio, seed)
    if not train:
        raise PlaygroundError(ErrorKind.VALIDATION, params={"key": "finetune.export.nothing_valid"})
    return ExportResult(
        train=to_jsonl([records[line - 1] for line in train]),
        validation=to_jsonl([records[line - 1] for line in validation]) if validation else None,
        train_lines=train, validation_lines=validation, left_out=sorted(bad))
