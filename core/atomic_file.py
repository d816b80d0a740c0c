"""Files replaced in one step: write a temporary file in the same folder, then os.replace.

A reader sees the old file or the new one, never half of either, even if the process dies
mid-write. Every store in core/ (conversations, presets, prices, datasets, knowledge bases) writes
through here.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_text_atomic(path: Path, text: str, newline: str | None = "\n", sync: bool = False) -> None:
    """Replace `path` with `text` (UTF-8), creating its folder if needed. `newline` as for open();
    `sync` also flushes the file to the disk before the switch (indexes that are costly to rebuild)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline=newline) as fh:
            fh.write(text)
            if sync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
