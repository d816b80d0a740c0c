"""A Chinese-aware text splitter: paragraphs and lines first, then sentence ends, then size.

Sizes are in characters (a Chinese character is one). A chunk is always an exact slice of the
document's text, so its position (start, end) points back into the document. Sentences end at
。！？；!?; and at `.` only before a space or a line end (so 3.14, v1.2 and URLs stay whole); a
closing quote or bracket after the mark stays with its sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.retrieval.errors import retrieval_error

DEFAULT_CHUNK_SIZE = 500
DEFAULT_OVERLAP = 50
MIN_CHUNK_SIZE = 50
MAX_CHUNK_SIZE = 8000

_CLOSERS = "\"'”’」』）)】》〉\\]"
# A sentence: anything up to an end mark (plus closers), or up to the end of a line.
_SENTENCE = re.compile(
    rf"[^\n]*?(?:[。！？；!?;…]+[{_CLOSERS}]*|\.(?=[\s{_CLOSERS}]|$)[{_CLOSERS}]*|(?=\n)|$)")
_SPACE = re.compile(r"\s")


@dataclass(frozen=True)
class Span:
    """A piece of the text: text[start:end]."""

    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class TextChunk:
    """One chunk: its number in the document, where it lies in the text, and the text itself."""

    position: int
    start: int
    end: int
    text: str


def check_settings(chunk_size: int, overlap: int) -> None:
    """Raise a clear VALIDATION error for sizes the splitter cannot honour."""
    if not MIN_CHUNK_SIZE <= int(chunk_size) <= MAX_CHUNK_SIZE:
        raise retrieval_error("retrieval.error.chunk_size", low=MIN_CHUNK_SIZE, high=MAX_CHUNK_SIZE)
    if not 0 <= int(overlap) <= int(chunk_size) // 2:
        raise retrieval_error("retrieval.error.overlap", high=int(chunk_size) // 2)


def sentence_spans(text: str) -> list[Span]:
    """Sentences and lines of `text`, as spans without surrounding whitespace, in order."""
    spans = []
    for match in _SENTENCE.finditer(text):
        start, end = match.start(), match.end()
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            spans.append(Span(start, end))
    return spans


def _cut_long(text: str, span: Span, limit: int) -> list[Span]:
    """A sentence longer than `limit` in pieces of at most `limit`, cut at a space where one is near."""
    pieces, start = [], span.start
    while span.end - start > limit:
        cut = start + limit
        near = start + limit * 3 // 4
        space = max(text.rfind(" ", near, cut), text.rfind("\n", near, cut))
        if space > start:
            cut = space
        pieces.append(Span(start, cut))
        start = cut
        while start < span.end and text[start].isspace():
            start += 1
    if start < span.end:
        pieces.append(Span(start, span.end))
    return pieces


def split_text(text: str, chunk_size: int = DEFAULT_CHUNK_SIZE,
               overlap: int = DEFAULT_OVERLAP) -> list[TextChunk]:
    """Cut `text` into chunks of at most `chunk_size` characters, whole sentences where possible.

    A paragraph break ends a chunk that is at least half full. Otherwise consecutive chunks share up
    to `overlap` characters: the previous chunk's last whole sentences that fit, or else its last
    `overlap` characters.
    """
    check_settings(chunk_size, overlap)
    units: list[Span] = []
    for span in sentence_spans(text):
        units.extend(_cut_long(text, span, chunk_size - overlap) if span.length > chunk_size - overlap
                     else [span])
    chunks: list[TextChunk] = []
    start: int | None = None
    members: list[Span] = []
    for unit in units:
        if start is not None:
            new_paragraph = "\n\n" in text[members[-1].end:unit.start]
            too_long = unit.end - start > chunk_size
            if too_long or (new_paragraph and members[-1].end - start >= chunk_size // 2):
                end = members[-1].end
                chunks.append(TextChunk(len(chunks), start, end, text[start:end]))
                start, members = (None, []) if new_paragraph else _overlap_start(text, members, end, overlap)
                if start is not None and unit.end - start > chunk_size:
                    start, members = None, []  # the gap before `unit` leaves no room to overlap
        if start is None:
            start = unit.start
        members.append(unit)
    if start is not None and members:
        end = members[-1].end
        chunks.append(TextChunk(len(chunks), start, end, text[start:end]))
    return chunks


def _overlap_start(text: str, members: list[Span], end: int, overlap: int) -> tuple[int | None, list[Span]]:
    """Where the next chunk starts: inside the previous one by at most `overlap` characters."""
    if overlap <= 0:
        return None, []
    kept: list[Span] = []
    for span in reversed(members):
        if end - span.start > overlap:
            break
        kept.insert(0, span)
    if kept and len(kept) < len(members):
        return kept[0].start, kept
    start = max(end - overlap, members[-1].start + 1)
    while start < end and text[start].isspace():
        start += 1
    # In English, begin at a word rather than inside one.
    if start < end and start > 0 and not text[start - 1].isspace() and text[start].isascii():
        space = _SPACE.search(text, start, end)
        if space is not None:
            start = space.end()
    if start >= end:
        return None, []
    return start, [Span(start, end)]
