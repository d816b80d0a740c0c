"""Uploaded files into plain text: txt, md, pdf, docx, csv and html, with a clear error for each bad file.

Every failure is a `retrieval_error` naming the file and the fix: empty, binary, encrypted, too big,
a pdf without a text layer, a damaged file, a type we do not read.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import PurePath

from core.errors import PlaygroundError
from core.retrieval.errors import retrieval_error

MAX_FILE_BYTES = 20 * 1024 * 1024  # Streamlit accepts 50 MB; a document this big is rarely one file
TEXT_KINDS = {".txt": "txt", ".md": "md", ".markdown": "md", ".csv": "csv", ".html": "html",
              ".htm": "html", ".pdf": "pdf", ".docx": "docx"}
SUPPORTED = ("txt", "md", "pdf", "docx", "csv", "html")
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # an encrypted Office file, or an old .doc: not a zip
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_BLANK_RUN = re.compile(r"\n[ \t\u3000]*(?:\n[ \t\u3000]*){2,}")


@dataclass(frozen=True)
class LoadedDocument:
    """A document's text as extracted, with where it came from."""

    name: str
    kind: str  # one of SUPPORTED
    text: str
    size_bytes: int
    encoding: str | None = None  # for text formats: the encoding found
    pages: int | None = None  # pdf only


def document_name(filename: str) -> str:
    """The name shown for an upload: the file name without any folder part, at most 200 characters."""
    name = PurePath(str(filename).replace("\\", "/")).name.strip() or "document"
    return name[:200]


def kind_of(filename: str) -> str | None:
    """The document kind from the file name's extension; None for a type we do not read."""
    return TEXT_KINDS.get(PurePath(filename).suffix.lower())


def load_document(filename: str, data: bytes, max_bytes: int = MAX_FILE_BYTES) -> LoadedDocument:
    """Extract the text of one uploaded file; raise a PlaygroundError (VALIDATION) saying what to fix."""
    name = document_name(filename)
    kind = kind_of(name)
    if kind is None:
        raise retrieval_error("retrieval.error.unsupported", name=name, kinds=", ".join(SUPPORTED))
    if not data:
        raise retrieval_error("retrieval.error.empty_file", name=name)
    if len(data) > max_bytes:
        raise retrieval_error("retrieval.error.too_big", name=name, size_mb=f"{len(data) / 2**20:.1f}",
                              limit_mb=f"{max_bytes / 2**20:.0f}")
    encoding, pages = None, None
    if kind == "pdf":
        text, pages = _pdf_text(name, data)
    elif kind == "docx":
        text = _docx_text(name, data)
    else:
        raw, encoding = decode_text(name, data)
        text = {"csv": _csv_text, "html": _html_text}.get(kind, lambda s: s)(raw)
    text = clean_text(text)
    if not text.strip():
        raise retrieval_error("retrieval.error.no_text", name=name)
    return LoadedDocument(name=name, kind=kind, text=text, size_bytes=len(data), encoding=encoding,
                          pages=pages)


def clean_text(text: str) -> str:
    """One newline style, no control characters, at most one blank line in a row."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ")
    text = _CONTROL.sub("", text)
    return _BLANK_RUN.sub("\n\n", text).strip()


def decode_text(name: str, data: bytes) -> tuple[str, str]:
    """Bytes of a text file as text: UTF-8 first, then the encoding charset-normalizer finds
    (GBK, GB18030, Big5, UTF-16, ...). A binary file is refused rather than read as garbage."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
        encoding = "utf-8"
    except UnicodeDecodeError:
        text, encoding = _detect(name, data)
    if _looks_binary(text):
        raise retrieval_error("retrieval.error.binary", name=name)
    return text, encoding


def _detect(name: str, data: bytes) -> tuple[str, str]:
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise retrieval_error("retrieval.error.binary", name=name)
    return str(best), str(best.encoding)


def _looks_binary(text: str) -> bool:
    sample = text[:20_000]
    if not sample:
        return False
    controls = len(_CONTROL.findall(sample))
    return "\x00" in sample or controls / len(sample) > 0.02


def _pdf_text(name: str, data: bytes) -> tuple[str, int]:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise retrieval_error("retrieval.error.encrypted", name=name)
        texts = [page.extract_text() or "" for page in reader.pages]
    except PlaygroundError:
        raise
    except (FileNotDecryptedError, DependencyError) as exc:
        raise retrieval_error("retrieval.error.encrypted", name=name, detail=str(exc)) from None
    except (PdfReadError, ValueError, KeyError, TypeError, OSError, AttributeError, IndexError) as exc:
        raise retrieval_error("retrieval.error.damaged", name=name, detail=f"{type(exc).__name__}: {exc}",
                              kind="PDF") from None
    if not "".join(texts).strip():
        raise retrieval_error("retrieval.error.no_text_layer", name=name, pages=len(texts))
    return "\n\n".join(t.strip() for t in texts if t.strip()), len(texts)


def _docx_text(name: str, data: bytes) -> str:
    if data.startswith(OLE_MAGIC):
        raise retrieval_error("retrieval.error.encrypted_or_doc", name=name)
    import zipfile

    from docx import Document
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        doc = Document(io.BytesIO(data))
        parts: list[str] = []
        for element in doc.element.body.iterchildren():
            tag = element.tag.rsplit("}", 1)[-1]
            if tag == "p":
                parts.append(Paragraph(element, doc).text)
            elif tag == "tbl":
                for row in Table(element, doc).rows:
                    cells = [cell.text.strip() for cell in row.cells]
                    parts.append(" | ".join(dict.fromkeys(c for c in cells if c)))  # merged cells repeat
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, OSError, AttributeError) as exc:
        raise retrieval_error("retrieval.error.damaged", name=name, detail=f"{type(exc).__name__}: {exc}",
                              kind="Word (.docx)") from None
    return "\n".join(parts)


def _csv_text(text: str) -> str:
    """Each row as one line `header: value; header: value`, so a chunk keeps the column names."""
    sample = text[:10_000]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    rows = [row for row in csv.reader(io.StringIO(text), dialect) if any(c.strip() for c in row)]
    if not rows:
        return ""
    header = [h.strip() for h in rows[0]]
    if len(rows) == 1:
        return " | ".join(header)
    lines = []
    for row in rows[1:]:
        pairs = [f"{header[i] if i < len(header) and header[i] else f'#{i + 1}'}: {value.strip()}"
                 for i, value in enumerate(row) if value.strip()]
        lines.append("; ".join(pairs))
    return "\n".join(lines)


class _TextOfHtml(HTMLParser):
    """The visible text of an HTML page: no scripts or styles, a line break per block element."""

    SKIP = frozenset({"script", "style", "noscript", "template", "svg", "head"})
    BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section",
                        "article", "header", "footer", "table", "ul", "ol", "pre", "blockquote", "title",
                        "dt", "dd", "hr", "main", "aside", "nav", "figcaption"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0
        self.title: list[str] = []
        self.in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self.in_title = True
        elif tag in self.SKIP:
            self.skipping += 1
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
        elif tag in self.SKIP and self.skipping:
            self.skipping -= 1
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title.append(data)
        elif not self.skipping:
            self.parts.append(data)


def _html_text(text: str) -> str:
    parser = _TextOfHtml()
    parser.feed(text)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).split("\n")]
    body = "\n".join(line for line in lines if line)
    title = " ".join("".join(parser.title).split())
    return f"{title}\n{body}" if title and not body.startswith(title) else body
