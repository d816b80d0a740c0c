"""core/atomic_file: a file is replaced whole or not at all."""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

import pytest

from core.atomic_file import write_atomic, write_text_atomic


def test_text_is_written_as_utf8_with_the_asked_line_ends(tmp_path: Path) -> None:
    path = tmp_path / "new" / "folder" / "a.json"  # folders are made
    write_text_atomic(path, "年假\nline 2\n")
    assert path.read_bytes() == "年假\nline 2\n".encode()
    write_text_atomic(path, "a\nb", newline="\r\n")
    assert path.read_bytes() == b"a\r\nb"
    write_text_atomic(path, "a\r\nb\n", newline="")
    assert path.read_bytes() == b"a\r\nb\n"
    write_text_atomic(path, "a\nb", newline=None, sync=True)
    assert path.read_bytes() == f"a{os.linesep}b".encode()


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "index.bin"
    write_atomic(path, lambda fh: fh.write(b"old"))

    def broken(fh: BinaryIO) -> None:
        fh.write(b"half of the new")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomic(path, broken, sync=True)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["index.bin"]
