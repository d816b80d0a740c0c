"""Bytes of an uploaded file to text: UTF-8 (with or without BOM), UTF-16, GBK / GB18030 and the
like, detected and converted, with the encoding named so the page can say what was done."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from core.errors import ErrorKind, PlaygroundError

# Excel on Chinese Windows saves CSV in GBK; GB18030 is its superset, so it reads both.
_CHINESE = {"gb2312": "gb18030", "gbk": "gb18030", "gb18030": "gb18030", "hz": "gb18030",
            "big5": "big5", "big5hkscs": "big5hkscs", "cp950": "cp950"}
_CJK = re.compile("[\u4e00-\u9fff]")
_SAMPLE = 1 << 20  # charset detection looks at the first 1 MiB: enough, and fast on big files


@dataclass(frozen=True)
class DecodedText:
    """The file's text, the encoding it was read with, and whether it was converted."""

    text: str
    encoding: str  # as shown to the user: "UTF-8", "UTF-8 with BOM", "GB18030 (GBK)", ...
    converted: bool  # False only for plain UTF-8: anything else was converted to it


def _refuse(key: str, **values: object) -> PlaygroundError:
    return PlaygroundError(ErrorKind.VALIDATION, params={"key": key, **values})


def decode_bytes(data: bytes) -> DecodedText:
    """Read `data` as text; raise VALIDATION when it is binary or in no encoding we can tell."""
    if data.startswith(codecs.BOM_UTF8):
        return DecodedText(data[len(codecs.BOM_UTF8):].decode("utf-8", errors="replace"),
                           "UTF-8 with BOM", True)
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return DecodedText(data.decode("utf-16"), "UTF-16", True)
        except UnicodeDecodeError as err:
            raise _refuse("finetune.import.unknown_encoding") from err
    try:
        return DecodedText(data.decode("utf-8"), "UTF-8", False)
    except UnicodeDecodeError:
        pass
    if b"\x00" in data[:8192]:
        raise _refuse("finetune.import.binary")
    guess = _guess(data[:_SAMPLE])
    candidates = [guess] if guess else []
    candidates.append("gb18030")  # the usual culprit when a guess fails: Excel's GBK
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
        if encoding == "gb18030" and guess != "gb18030" and not _CJK.search(text[:_SAMPLE]):
            continue  # decodable as GB18030 but no Chinese in it: not a GBK file
        return DecodedText(text, _label(encoding), True)
    raise _refuse("finetune.import.unknown_encoding")


def _guess(sample: bytes) -> str | None:
    from charset_normalizer import from_bytes  # a few ms to import: only for non-UTF-8 files

    best = from_bytes(sample).best()
    if best is None or not best.encoding:
        return None
    name = best.encoding.lower().replace("-", "").replace("_", "")
    return _CHINESE.get(name, best.encoding)


def _label(encoding: str) -> str:
    if encoding == "gb18030":
        return "GB18030 (GBK)"
    return encoding.upper().replace("_", "-")
