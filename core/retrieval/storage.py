"""Atomic files for the retrieval store: write a temporary file in the same folder, then os.replace.

A reader sees the old file or the new one, never half of either, even if the process dies mid-write.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core import atomic_file


def write_text_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` (UTF-8) in one step, flushed to the disk; the folder is created."""
    atomic_file.write_text_atomic(path, text, newline=None, sync=True)


def write_json_atomic(path: Path, data: Any, indent: int | None = 1) -> None:
    write_text_atomic(path, json.dumps(data, ensure_ascii=False, indent=indent))


def read_json(path: Path, default: Any = None) -> Any:
    """The JSON in `path`, or `default` when the file is missing or unreadable."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return default
