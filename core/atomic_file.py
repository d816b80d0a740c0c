"""Files replaced in one step: write a temporary file in the same folder, then os.replace.

A reader sees the old file or the new one, never half of either, even if the process dies
mid-write. Every store in core/ (conversations, presets, prices, datasets, knowledge bases) writes
through here.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def write_atomic(path: Path, write: Callable[[BinaryIO], None], sync: bool = False) -> None:
    """Replace `path` with what `write` puts into the (binary) file it is given, creating its folder
    if needed; `sync` also flushes the file to the disk before the switch (costly to rebuild)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            if sync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path, text: str, newline: str | None = "\n", sync: bool = False) -> None:
    """Replace `path` with `text` (UTF-8), creating its folder if needed. `newline` as for open()
    (None: the platform's); `sync` as for write_atomic."""
    data = text if newline == "" else text.replace("\n", os.linesep if newline is None else newline)
    write_atomic(path, lambda fh: fh.write(data.encode("utf-8")), sync)
